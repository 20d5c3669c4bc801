"""Shared plumbing for commands: options, loading, diagnostics output, locking."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

import click

from engine.diagnostics import Diagnostics

CACHE_DIR = os.path.join(".trainform", "cache")


def no_color(ctx: click.Context | None = None) -> bool:
    ctx = ctx or click.get_current_context(silent=True)
    root = ctx.find_root() if ctx else None
    if root is not None and root.obj and root.obj.get("no_color"):
        return True
    if os.environ.get("NO_COLOR"):
        return True
    return not sys.stdout.isatty()


def color_flag(f):
    """Every command accepts -no-color too (Terraform puts it after the verb)."""
    def cb(ctx, param, value):
        if value:
            root = ctx.find_root()
            root.ensure_object(dict)
            root.obj["no_color"] = True
        return value

    return click.option("-no-color", "--no-color", "no_color_flag", is_flag=True, expose_value=False, callback=cb, help="Disable colored output.")(f)


def var_options(f):
    """-var and -var-file, kept in command-line order."""
    def cb_var(ctx, param, value):
        ctx.ensure_object(dict)
        return value

    f = click.option("-var", "--var", "vars", multiple=True, metavar="NAME=VALUE", help="Set a value for an input variable.")(f)
    f = click.option("-var-file", "--var-file", "var_files", multiple=True, metavar="FILE", help="Load variable values from a file.")(f)
    return f


def ordered_var_args(vars: tuple, var_files: tuple) -> list[tuple[str, str]]:
    """Rebuild command-line order of -var/-var-file from sys.argv (click groups them)."""
    out: list[tuple[str, str]] = []
    argv = sys.argv[1:]
    vi = fi = 0
    i = 0
    while i < len(argv):
        a = argv[i]
        for flag, kind in (("var-file", "var-file"), ("var", "var")):
            for prefix in ("-" + flag, "--" + flag):
                if a == prefix or a.startswith(prefix + "="):
                    if kind == "var" and vi < len(vars):
                        out.append(("var", vars[vi])); vi += 1
                    elif kind == "var-file" and fi < len(var_files):
                        out.append(("var-file", var_files[fi])); fi += 1
                    break
            else:
                continue
            break
        i += 1
    out += [("var", v) for v in vars[vi:]] + [("var-file", v) for v in var_files[fi:]]
    return out


def print_diags(diags, json_out: bool = False) -> None:
    from engine.diagnostics import render

    color = not no_color() and sys.stderr.isatty()
    for d in diags:
        click.echo(render(d, color=color), err=True)
        click.echo("", err=True)


def fail(diags) -> None:
    print_diags(diags)
    raise SystemExit(1)


def parse_duration(text: str) -> float:
    """A duration flag (-lock-timeout=30s) in seconds; a bad one is a usage error."""
    from engine.durations import parse_duration as parse

    if not text:
        return 0.0
    try:
        return parse(text)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


@dataclass
class Loaded:
    config: Any
    inputs: dict
    backend: Any
    diags: Diagnostics = field(default_factory=Diagnostics)


def load_config_or_exit(require_vars: bool = True, cli_vars=None, interactive: bool = True):
    from engine.config.loader import load_config

    config, diags = load_config(".", cache_dir=CACHE_DIR)
    if diags.has_errors or config is None:
        fail(diags)
    warnings = Diagnostics([d for d in diags if d.severity != "error"])
    inputs = {}
    if require_vars:
        from engine.config.variables import collect, terminal_prompt

        inputs, vd = collect(config.module, cli_vars or [], prompt=terminal_prompt if interactive else None)
        if vd.has_errors:
            fail(Diagnostics(list(warnings) + list(vd)))
        warnings.extend(vd)
    return config, inputs, warnings


def get_backend_or_exit(config):
    from engine.state import get_backend

    settings = config.module.backend if config is not None else None
    saved = read_init_settings()
    if settings is None and saved is not None:
        settings = saved
    try:
        return get_backend(settings, ".")
    except Exception as e:
        from engine.errors import TrainformError

        if isinstance(e, TrainformError):
            d = Diagnostics()
            d.error("Failed to configure the state backend", str(e))
            fail(d)
        raise


def read_init_settings():
    import json

    p = os.path.join(".trainform", "backend.json")
    try:
        with open(p) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def read_state_or_exit(backend):
    from engine.state.errors import StateError

    try:
        state = backend.read()
        _warnings(backend)
        return state
    except StateError as e:
        d = Diagnostics()
        d.error("Failed to load state", str(e))
        fail(d)


def lock_or_exit(backend, operation: str, timeout: float, enabled: bool = True):
    from engine.state.errors import LockError

    if not enabled:
        return None
    try:
        info = backend.lock(operation, timeout)
        _warnings(backend)
        return info
    except LockError as e:
        d = Diagnostics()
        d.error("Error acquiring the state lock", str(e) + "\n\ntrainform acquires a state lock to protect the state from being written by multiple users at the same time. Please resolve the issue above and try again. For most commands, you can disable locking with the \"-lock=false\" flag, but this is not recommended.")
        fail(d)


def _warnings(backend) -> None:
    for w in getattr(backend, "warnings", []) or []:
        click.echo(f"Warning: {w}", err=True)
    if getattr(backend, "warnings", None):
        backend.warnings.clear()
