"""The hook :func:`providers.compute.provider.ray_backend` looks for.

Ray compute lives in :mod:`providers.compute.ray_cluster`; this module only
re-exports it under the name the compute provider imports.
"""

from providers.compute.ray_cluster import RayCompute, show_extra

__all__ = ["RayCompute", "show_extra"]
