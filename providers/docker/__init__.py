"""The ``environment`` resource type: Docker images built, content-addressed,
pushed to the workspace's registry (``environment``), and the registry
helpers it needs (``registry_client``, ``buildspec``).

Nothing here imports docker-py at module import time: the CLI stays fast and
a configuration without environments never loads it.
"""

__all__ = ["environment", "registry_client", "buildspec", "credentials", "engine_ops"]
