"""Model registry: `create(name, image_shape, num_classes, **config)`.

Built-in models are imported here; plug-ins (entry points, `plugins = [...]`, `--plugin`)
register later, through genbench.plugins, and come after them in every listing."""

from genbench.models import (  # noqa: F401  (registration)
    ae,
    diffusion,
    flow,
    gan,
    gmm,
    two_stage,
    vae,
    vqvae,
)
from genbench.models.base import GenerativeModel, decodes
from genbench.models.registry import (
    available,
    create,
    make_config,
    model_class,
    register_model,
    set_order,
)

# The order of report rows, legends and colours: simplest families first.
set_order(["ae", "vae", "vae-conv", "beta-vae", "cvae", "vqvae", "gan", "diffusion",
           "flow"])

__all__ = ["GenerativeModel", "available", "create", "decodes", "make_config", "model_class",
           "register_model"]
