"""Filesystem functions.  Relative paths resolve against ``ctx.base_dir``.

templatefile parses the template with the configuration parser's template
support (imported lazily: engine.config.parser.parse_template and
engine.config.expr.evaluate/EvalContext).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re

from engine.config.functions._base import FunctionError, Param, register
from engine.config.types import DYNAMIC, STRING
from engine.values import TSet

__all__ = ["glob_to_regex"]

_MISSING = ("no file exists at {path!s}; this function works only with files that are distributed as part of "
            "the configuration source code, so if this file will be created by a resource in this configuration "
            "you must instead obtain this result from an attribute of that resource")


def _resolve(ctx, path: str) -> str:
    path = os.path.expanduser(path)
    if os.path.isabs(path):
        return path
    return os.path.join(getattr(ctx, "base_dir", ".") or ".", path)


def _read_bytes(ctx, path: str, idx: int = 0) -> bytes:
    full = _resolve(ctx, path)
    try:
        with open(full, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise FunctionError(_MISSING.format(path=_quote(path)), idx) from None
    except IsADirectoryError:
        raise FunctionError(f"failed to read file: read {path}: is a directory", idx) from None
    except OSError as e:
        raise FunctionError(f"failed to read {path}: {e.strerror}", idx) from None


def _quote(s: str) -> str:
    from engine.config.format import go_quote
    return go_quote(s)


def _read_text(ctx, path: str, func: str) -> str:
    data = _read_bytes(ctx, path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise FunctionError(
            f"contents of {_quote(path)} are not valid UTF-8; use the filebase64 function to obtain the Base64 "
            "encoded contents or the other file functions (e.g. filemd5, filesha256) to obtain file hashing "
            "results instead", 0) from None


@register("file", [Param("path", STRING)], needs_ctx=True)
def _file(path, ctx):
    return _read_text(ctx, path, "file")


@register("filebase64", [Param("path", STRING)], needs_ctx=True)
def _filebase64(path, ctx):
    return base64.b64encode(_read_bytes(ctx, path)).decode("ascii")


@register("fileexists", [Param("path", STRING)], needs_ctx=True)
def _fileexists(path, ctx):
    full = _resolve(ctx, path)
    if not os.path.exists(full):
        return False
    if not os.path.isfile(full):
        raise FunctionError(f"{path} is not a regular file, but {'a directory' if os.path.isdir(full) else 'something else'}", 0)
    return True


def _hasher(name, b64=False):
    def impl(path, ctx):
        digest = hashlib.new(name, _read_bytes(ctx, path))
        return base64.b64encode(digest.digest()).decode("ascii") if b64 else digest.hexdigest()
    return impl


for _n in ("md5", "sha1", "sha256", "sha512"):
    register("file" + _n, [Param("path", STRING)], needs_ctx=True)(_hasher(_n))
for _n in ("sha256", "sha512"):
    register("filebase64" + _n, [Param("path", STRING)], needs_ctx=True)(_hasher(_n, True))


def glob_to_regex(pattern: str) -> re.Pattern:
    """doublestar glob (as Terraform's fileset uses) to a regex over slash paths."""
    from engine.globs import GlobError
    from engine.globs import glob_to_regex as translate

    try:
        return re.compile(translate(pattern, braces=True, strict=True) + r"\Z", re.DOTALL)
    except GlobError as e:
        raise FunctionError(str(e), 1) from None


@register("fileset", [Param("path", STRING), Param("pattern", STRING)], needs_ctx=True)
def _fileset(path, pattern, ctx):
    root = _resolve(ctx, path)
    rx = glob_to_regex(pattern)
    out = []
    if os.path.isdir(root):
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for fn in filenames:
                full = os.path.join(dirpath, fn)
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                if rx.match(rel) and os.path.isfile(full):
                    out.append(rel)
    return TSet(sorted(set(out), key=lambda s: s.encode()), STRING)


@register("templatefile", [Param("path", STRING), Param("vars", DYNAMIC)], needs_ctx=True)
def _templatefile(path, vars, ctx):
    text = _read_text(ctx, path, "templatefile")
    if not isinstance(vars, dict):
        raise FunctionError("invalid vars value: must be a map", 1)
    for k in vars:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", str(k)):
            raise FunctionError(f"invalid template variable name {_quote(str(k))}: must start with a letter, "
                                "followed by zero or more letters, digits, and underscores", 1)
    try:
        from engine.config.parser import parse_template
        from engine.config.expr import EvalContext, evaluate
    except ImportError as e:  # the template engine is not available
        raise FunctionError(f"templates are not supported in this build: {e}") from None
    return render_template(text, dict(vars), path, ctx, parse_template, evaluate, EvalContext)


def render_template(text, variables, path, ctx, parse_template, evaluate, EvalContext):
    """Parse and evaluate a template; adapts to the evaluator's API."""
    from engine.config.types import to_string
    tmpl = parse_template(text, _resolve(ctx, path))
    if isinstance(tmpl, tuple):  # (expression, diagnostics)
        tmpl, diags = tmpl
        errs = [d for d in (diags or []) if getattr(d, "severity", "error") == "error"]
        if errs or tmpl is None:
            d = errs[0] if errs else None
            where = f"{d.range}: " if d is not None and getattr(d, "range", None) else ""
            msg = f"{d.summary}; {d.detail}" if d is not None and d.detail else (d.summary if d else "invalid template")
            raise FunctionError(f"{where}{msg}", 0)
    ectx = _make_eval_context(EvalContext, variables, ctx)
    result = evaluate(tmpl, ectx)
    if isinstance(result, tuple) and len(result) == 2:  # (value, diagnostics)
        value, diags = result
        errs = [d for d in (diags or []) if getattr(d, "severity", "error") == "error"]
        if errs:
            d = errs[0]
            raise FunctionError(f"{d.summary}: {d.detail}" if getattr(d, "detail", "") else d.summary, 0)
        result = value
    return result if not isinstance(result, (int, float, bool)) else to_string(result)


def _make_eval_context(EvalContext, variables, ctx):
    import inspect
    params = inspect.signature(EvalContext).parameters
    kwargs = {}
    for name in ("variables", "vars", "scope"):
        if name in params:
            kwargs[name] = variables
            break
    if "base_dir" in params:
        kwargs["base_dir"] = getattr(ctx, "base_dir", ".")
    if "functions" in params:
        from engine.config.functions import FUNCTIONS
        kwargs["functions"] = {k: v for k, v in FUNCTIONS.items() if k != "templatefile"}
    return EvalContext(**kwargs)


@register("abspath", [Param("path", STRING)])
def _abspath(path):
    return os.path.abspath(path).replace(os.sep, "/")


def _go_clean(p: str) -> str:
    if p == "":
        return "."
    rooted = p.startswith("/")
    parts = []
    for seg in p.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(seg)
    out = ("/" if rooted else "") + "/".join(parts)
    return out or ("/" if rooted else ".")


@register("basename", [Param("path", STRING)])
def _basename(path):
    if path == "":
        return "."
    p = path.rstrip("/")
    if p == "":
        return "/"
    return p.rsplit("/", 1)[-1]


@register("dirname", [Param("path", STRING)])
def _dirname(path):
    i = path.rfind("/")
    return _go_clean(path[: i + 1])


@register("pathexpand", [Param("path", STRING)])
def _pathexpand(path):
    return os.path.expanduser(path) if path.startswith("~") else path
