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

import contextlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.config.types import DYNAMIC, ConversionError, Type, convert
from engine.values import (
    UNKNOWN,
    Sensitive,
    TList,
    TMap,
    TSet,
    Unknown,
    contains_sensitive,
    contains_unknown,
)

__all__ = [
    "FUNCTIONS",
    "REDACTED",
    "CallContext",
    "Function",
    "FunctionError",
    "Param",
    "deep_unmark",
    "redact_message",
    "register",
    "sensitive_leaves",
]


class FunctionError(Exception):
    """A function call failed.

    ``arg_index`` set: the argument at that index was invalid -- Terraform says
    "Invalid function argument" / 'Invalid value for "<param>" parameter: <message>.'.
    ``arg_index`` None: "Error in function call" / 'Call to function "<name>" failed: <message>.'.
    :meth:`summary_detail` gives both texts.
    """

    def __init__(self, message: str, arg_index: int | None = None, *, sensitive_message: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.arg_index = arg_index
        # Terraform's own wording for when the argument was sensitive (e.g. tonumber's
        # "cannot convert this sensitive string to number"); otherwise :func:`redact_message` applies.
        self.sensitive_message = sensitive_message
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


# ------------------------------------------------------------------ error redaction
#
# One mechanism for every function: when a call had a sensitive argument, its
# error message is scrubbed of every form of every sensitive value it was given
# (Terraform redacts some functions one by one and still echoes others, e.g.
# parseint, lookup, cidrhost).  A quoted token that contains a secret becomes
# "(sensitive value)" as a whole (so `no file exists at "/dir/<secret>"` reads
# `no file exists at (sensitive value)`, like Terraform), then bare copies go.

REDACTED = "(sensitive value)"
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`')


def sensitive_leaves(v: Any, inside: bool = False, out: list | None = None) -> list:
    """Every scalar (and map key) under a Sensitive mark in ``v``."""
    out = [] if out is None else out
    if isinstance(v, Sensitive):
        return sensitive_leaves(v.value, True, out)
    if isinstance(v, dict):
        for k, x in v.items():
            if inside:
                out.append(k)
            sensitive_leaves(x, inside, out)
    elif isinstance(v, (list, tuple)):
        for x in v:
            sensitive_leaves(x, inside, out)
    elif inside and v is not None and not isinstance(v, (bool, Unknown)):
        out.append(v)
    return out


def _forms(v: Any) -> set[str]:
    """The ways a secret may be printed inside a message."""
    import json

    if isinstance(v, str):
        forms = {v, json.dumps(v, ensure_ascii=False)[1:-1], repr(v)[1:-1]}
    else:
        from engine.config.types import format_number

        forms = {str(v)}
        with contextlib.suppress(Exception):  # only a printing variant
            forms.add(format_number(v))
    return {f for f in forms if f}


def _contains(text: str, form: str) -> bool:
    if len(form) >= 3:
        return form in text
    # short secrets: only whole words, so "8" does not match inside "28"
    return re.search(r"(?<![\w.])" + re.escape(form) + r"(?![\w.])", text) is not None


def redact_message(message: str, secrets: list) -> str:
    """``message`` with every printed form of ``secrets`` replaced by "(sensitive value)"."""
    forms = set()
    for v in secrets:
        forms |= _forms(v)
    if not forms:
        return message
    ordered = sorted(forms, key=len, reverse=True)

    def quoted(m: re.Match) -> str:
        token = m.group(0)
        return REDACTED if any(_contains(token, f) for f in ordered) else token

    message = _QUOTED.sub(quoted, message)
    for f in ordered:
        if len(f) >= 3:
            message = message.replace(f, REDACTED)
        else:
            message = re.sub(r"(?<![\w.])" + re.escape(f) + r"(?![\w.])", REDACTED, message)
    return message


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
        secrets: list = []
        try:
            sensitive = False
            if not self.handles_marks and any(contains_sensitive(a) for a in args):
                sensitive = True
                secrets = sensitive_leaves(args)
                args = [deep_unmark(a) for a in args]
            conv = []
            for i, a in enumerate(args):
                p = self.params[i] if i < len(self.params) else self.variadic
                if not p.allow_unknown and contains_unknown(a):
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
            if secrets:
                fe.message = fe.sensitive_message or redact_message(fe.message, secrets)
            raise
        except ConversionError as ce:
            if secrets:
                ce.message, ce.path = redact_message(ce.full_message(), secrets), ()
            raise


FUNCTIONS: dict[str, Function] = {}


def register(name: str, params: list[Param], variadic: Param | None = None, *,
             needs_ctx: bool = False, handles_marks: bool = False):
    """Decorator: register ``impl`` as Terraform function ``name``."""
    def deco(impl):
        FUNCTIONS[name] = Function(name, params, impl, variadic, needs_ctx, handles_marks)
        return impl
    return deco
