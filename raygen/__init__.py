"""raygen: Ray-distributed concurrent learning of Deep Potential models (DP-GEN's scheme)."""

__version__ = "0.1.0"
