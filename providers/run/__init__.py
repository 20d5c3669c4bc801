"""The ``run`` resource: snapshot, execute (Docker or host process), logs, metrics.

``provider.RunProvider`` is the resource.  Modules: ``snapshot`` (content
hashing with a stat cache, ``ignore`` rules), ``execution`` (the attempt
loop), ``executor_docker`` / ``executor_process``, ``metrics`` (the
TRAINFORM_METRICS_FILE protocol), ``records`` (the run directory layout).
"""

__all__ = ["RunProvider"]


def __getattr__(name):
    if name == "RunProvider":
        from providers.run.provider import RunProvider

        return RunProvider
    raise AttributeError(name)
