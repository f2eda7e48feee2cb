"""Model registry: `create(name, image_shape, num_classes, **config)`."""

# Import order is registry order, which is the order of report rows and legends.
from genbench.models import ae, vae, vqvae, gan, diffusion  # noqa: F401, I001
from genbench.models.base import (
    GenerativeModel,
    available,
    create,
    decodes,
    make_config,
    model_class,
    register_model,
)

__all__ = ["GenerativeModel", "available", "create", "decodes", "make_config", "model_class",
           "register_model"]
