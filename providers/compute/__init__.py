"""The ``compute`` resource: a local GPU/CPU pool (``type = "local"``) or Ray.

``provider.ComputeProvider`` is the resource; ``gpus`` detects and selects
GPUs; ``pool`` queues runs in-process.  ``type = "ray"`` is served by an
optional module ``providers.compute.ray`` (see ``provider.ray_backend``).
"""

__all__ = ["ComputeProvider"]


def __getattr__(name):
    if name == "ComputeProvider":
        from providers.compute.provider import ComputeProvider

        return ComputeProvider
    raise AttributeError(name)
