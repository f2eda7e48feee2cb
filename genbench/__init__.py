"""genbench: a comparative benchmark suite for image generative models."""

__version__ = "0.1.0"
