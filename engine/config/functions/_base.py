"""The function-definition machinery shared by every function family.

A :class:`Function` declares its parameters' types; :meth:`Function.call`
does what cty's function layer does before the implementation runs:

* an argument that is (or contains) an unknown makes the result
  :data:`~engine.values.UNKNOWN`, unless the parameter allows unknowns;
* null arguments are rejected unless the parameter allows null;
* arguments are converted to the parameter type (errors name the parameter);
* sensitive marks anywhere in the arguments are stripped before the
  implementation runs and the *result* is marked :class:`Sensitive`.  This
  side (the functions package) owns mark propagation, so the evaluator passes
  marked values straight through.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

from engine.config.types import DYNAMIC, ConversionError, Type, convert
from engine.values import TList, TMap, TSet, Sensitive, Unknown, UNKNOWN, contains_unknown, contains_sensitive

__all__ = ["Param", "Function", "FunctionError", "CallContext", "FUNCTIONS", "register", "deep_unmark"]


class FunctionError(Exception):
    """A function call failed.

    ``arg_index`` set: the argument at that index was invalid -- Terraform says
    "Invalid function argument" / 'Invalid value for "<param>" parameter: <message>.'.
    ``arg_index`` None: "Error in function call" / 'Call to function "<name>" failed: <message>.'.
    :meth:`summary_detail` gives both texts.
    """

    def __init__(self, message: str, arg_index: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.arg_index = arg_index
        self.param_name: str | None = None
        self.function_name: str | None = None

    def summary_detail(self) -> tuple[str, str]:
        msg = self.message
        if not msg.endswith((".", "?", "!")):
            msg += "."
        if self.arg_index is not None:
            name = self.param_name or f"argument {self.arg_index + 1}"
            return "Invalid function argument", f'Invalid value for "{name}" parameter: {msg}'
        return "Error in function call", f'Call to function "{self.function_name}" failed: {msg}'

    def __str__(self) -> str:
        return self.summary_detail()[1]


@dataclass
class Param:
    name: str
    type: Type = DYNAMIC
    allow_null: bool = False
    allow_unknown: bool = False
    allow_sensitive: bool = True


@dataclass
class CallContext:
    """What file functions need: the module directory paths are relative to."""

    base_dir: str = "."


def deep_unmark(v: Any) -> Any:
    """Strip every Sensitive mark, keeping collection classes and element types."""
    if isinstance(v, Sensitive):
        return deep_unmark(v.value)
    if isinstance(v, TList):
        return TList([deep_unmark(x) for x in v], v.elem_type)
    if isinstance(v, TSet):
        return TSet([deep_unmark(x) for x in v], v.elem_type)
    if isinstance(v, TMap):
        return TMap({k: deep_unmark(x) for k, x in v.items()}, v.elem_type)
    if isinstance(v, dict):
        return {k: deep_unmark(x) for k, x in v.items()}
    if isinstance(v, list):
        return [deep_unmark(x) for x in v]
    return v


@dataclass
class Function:
    name: str
    params: list[Param]
    impl: Callable[..., Any]
    variadic: Param | None = None
    needs_ctx: bool = False
    # Some functions (sensitive, nonsensitive, issensitive) handle marks themselves.
    handles_marks: bool = False

    def check_arity(self, n: int) -> str | None:
        """The Terraform error detail for a wrong argument count, or None."""
        np = len(self.params)
        if n < np:
            missing = self.params[n].name
            return f'Function "{self.name}" expects {np} argument(s). Missing value for "{missing}".'
        if n > np and self.variadic is None:
            return f'Function "{self.name}" expects only {np} argument(s).'
        return None

    def call(self, args: list, ctx: Any = None) -> Any:
        err = self.check_arity(len(args))
        if err:
            e = FunctionError(err)
            e.function_name = self.name
            raise e
        try:
            sensitive = False
            if not self.handles_marks and any(contains_sensitive(a) for a in args):
                sensitive = True
                args = [deep_unmark(a) for a in args]
            conv = []
            for i, a in enumerate(args):
                p = self.params[i] if i < len(self.params) else self.variadic
                if isinstance(a, Unknown) or (not p.allow_unknown and contains_unknown(a)):
                    if not p.allow_unknown:
                        return UNKNOWN
                if a is None and not p.allow_null:
                    raise FunctionError("argument must not be null", i)
                try:
                    conv.append(a if p.allow_unknown and contains_unknown(a) else convert(a, p.type))
                except ConversionError as ce:
                    raise FunctionError(ce.full_message(), i) from None
            if self.needs_ctx:
                result = self.impl(*conv, ctx=ctx if ctx is not None else CallContext(os.getcwd()))
            else:
                result = self.impl(*conv)
            if sensitive and not isinstance(result, Sensitive):
                result = Sensitive(result)
            return result
        except FunctionError as fe:
            fe.function_name = self.name
            if fe.arg_index is not None:
                p = self.params[fe.arg_index] if fe.arg_index < len(self.params) else self.variadic
                fe.param_name = p.name if p else None
            raise


FUNCTIONS: dict[str, Function] = {}


def register(name: str, params: list[Param], variadic: Param | None = None, *,
             needs_ctx: bool = False, handles_marks: bool = False):
    """Decorator: register ``impl`` as Terraform function ``name``."""
    def deco(impl):
        FUNCTIONS[name] = Function(name, params, impl, variadic, needs_ctx, handles_marks)
        return impl
    return deco
