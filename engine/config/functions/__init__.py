"""Terraform's built-in functions (Terraform 1.11 semantics).

``FUNCTIONS`` maps a name to a :class:`Function`; the evaluator checks the
argument count with :meth:`Function.check_arity` (or lets :meth:`Function.call`
raise), then calls ``FUNCTIONS[name].call(args, ctx)`` where ``ctx`` has
``.base_dir``.  Failures raise :class:`FunctionError`; its
``summary_detail()`` gives Terraform's diagnostic texts.

Marks: this package owns them.  ``call`` makes the result UNKNOWN when an
argument is/contains an unknown (unless the parameter allows unknowns) and
marks the result Sensitive when any argument contains a Sensitive mark.
``try`` and ``can`` are not here: they need unevaluated expressions.
"""

from engine.config.functions._base import (  # noqa: F401
    FUNCTIONS, CallContext, Function, FunctionError, Param, deep_unmark, register,
)
from engine.config.functions import (  # noqa: F401  (each module registers its functions)
    strings, collections, numeric, typeconv, encoding, hashing, network, filesystem,
)

__all__ = ["FUNCTIONS", "Function", "FunctionError", "Param", "CallContext", "call_function"]


def call_function(name: str, args: list, ctx=None):
    """Convenience: call a built-in by name (raises KeyError for unknown names)."""
    return FUNCTIONS[name].call(list(args), ctx)
