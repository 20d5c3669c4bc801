"""trainform's engine: configuration language, graph, plan, state and apply.

The engine knows nothing about Docker or Ray; providers plug in through
``engine.providers``.
"""

__version__ = "0.1.0"
