"""Values for the root module's input variables, from every source Terraform reads.

Precedence, lowest first: the declaration's default, ``TRAINFORM_VAR_name``
environment variables, ``trainform.tfvars``, ``trainform.tfvars.json``,
``*.auto.tfvars`` / ``*.auto.tfvars.json`` in lexical order, then ``-var``
and ``-var-file`` in command-line order.  A value given as a raw string
(environment, ``-var``) is used as is for string variables and parsed as an
HCL expression otherwise.  A missing required value is prompted for on a
terminal and is an error otherwise.
"""

from __future__ import annotations

import glob
import json
import os
import sys
from typing import Any, Callable

from engine.config.model import Module, Variable
from engine.diagnostics import Diagnostics, Pos, Range, global_sources
from engine.values import Sensitive, UNKNOWN


class RawValue:
    """A value before conversion, with where it came from (for messages)."""

    def __init__(self, value: Any, source: str, range: Range | None = None, is_string: bool = False) -> None:
        self.value = value
        self.source = source
        self.range = range
        self.is_string = is_string  # raw text: parse as HCL unless the type is string


def _file_values(path: str, diags: Diagnostics) -> dict[str, RawValue]:
    from engine.config.expr import EvalContext, evaluate
    from engine.config.parser import parse_file

    out: dict[str, RawValue] = {}
    rel = os.path.relpath(path)
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
    except FileNotFoundError:
        diags.error("Failed to read variables file", f"Given variables file {rel} does not exist.")
        return out
    except (OSError, UnicodeDecodeError) as e:
        diags.error("Failed to read variables file", f"Could not read {rel}: {e}.")
        return out
    global_sources().add(rel, text)
    if path.endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            rng = Range(rel, Pos(e.lineno, e.colno, e.pos), Pos(e.lineno, e.colno + 1, e.pos + 1))
            diags.error("Invalid JSON in variables file", f"{e.msg}.", rng)
            return out
        if not isinstance(data, dict):
            diags.error("Invalid variables file", f"The root of {rel} must be a JSON object.")
            return out
        for k, v in data.items():
            out[k] = RawValue(v, rel)
        return out
    body, d = parse_file(rel, text)
    diags.extend(d)
    if body is None:
        return out
    for blk in body.blocks:
        diags.error("Unexpected block in variables file", 'Blocks are not allowed in a variables file; only assignments like name = "value".', blk.type_range)
    for name, attr in body.attributes.items():
        if attr.expr.references():
            diags.error("Variables not allowed", "Variables may not be used here: variables files may contain only constant values.", attr.expr.range)
            continue
        value, d2 = evaluate(attr.expr, EvalContext(variables={}, base_dir=os.path.dirname(path) or "."))
        diags.extend(d2)
        out[name] = RawValue(value, rel, attr.expr.range)
    return out


def collect(module: Module, cli_vars: list[tuple[str, str]], env: dict | None = None,
            workdir: str = ".", prompt: Callable[[Variable], str | None] | None = None) -> tuple[dict[str, Any], Diagnostics]:
    """Root variable values (converted, validated later by the graph walk).

    ``cli_vars`` holds ("var", "name=value") and ("var-file", "path") in
    command-line order.
    """
    from engine.config import types as T
    from engine.config.loader import suggest

    env = os.environ if env is None else env
    diags = Diagnostics()
    raw: dict[str, RawValue] = {}
    undeclared_files: list[tuple[str, RawValue]] = []

    for k, v in env.items():
        if k.startswith("TRAINFORM_VAR_"):
            name = k[len("TRAINFORM_VAR_"):]
            if name in module.variables:
                raw[name] = RawValue(v, f"environment variable {k}", is_string=True)

    def take_file(path):
        for name, rv in _file_values(path, diags).items():
            if name in module.variables:
                raw[name] = rv
            else:
                undeclared_files.append((name, rv))

    for fname in ("trainform.tfvars", "trainform.tfvars.json"):
        p = os.path.join(workdir, fname)
        if os.path.exists(p):
            take_file(p)
    for p in sorted(glob.glob(os.path.join(workdir, "*.auto.tfvars")) + glob.glob(os.path.join(workdir, "*.auto.tfvars.json"))):
        take_file(p)
    for kind, arg in cli_vars:
        if kind == "var-file":
            take_file(arg)
            continue
        name, sep, value = arg.partition("=")
        name = name.strip()
        if not sep or not name:
            diags.error("Invalid -var option", f'The given -var option "{arg}" is not correctly specified. It must be a variable name and value separated by an equals sign, like -var="key=value".')
            continue
        if name not in module.variables:
            diags.error("Value for undeclared variable", f'A variable named "{name}" was assigned on the command line, but the root module does not declare a variable of that name. To use this value, add a "variable" block to the configuration.{suggest(name, module.variables)}')
            continue
        raw[name] = RawValue(value, f"-var {name}", is_string=True)

    for name, rv in undeclared_files:
        diags.warning("Value for undeclared variable", f'The file {rv.source} assigns a value to variable "{name}", but the root module does not declare a variable of that name.{suggest(name, module.variables)}', rv.range)

    values: dict[str, Any] = {}
    for name, var in module.variables.items():
        rv = raw.get(name)
        if rv is None and not var.has_default:
            text = prompt(var) if prompt is not None else None
            if text is None:
                diags.error("No value for required variable", f'The root module input variable "{name}" is not set, and has no default value. Use a -var or -var-file command line argument, a TRAINFORM_VAR_{name} environment variable, or a trainform.tfvars file to provide a value for this variable.', var.range)
                values[name] = UNKNOWN
                continue
            rv = RawValue(text, f"the prompt for var.{name}", is_string=True)
        if rv is None:
            from engine.config.expr import EvalContext, evaluate

            value, d = evaluate(var.default, EvalContext(variables={}))
            diags.extend(d)
            src = var.default.range
            where = "default value"
        else:
            value = rv.value
            src = rv.range
            where = rv.source
            if rv.is_string:
                value = _parse_raw(value, var, diags, where)
        if var.type is not None and value is not UNKNOWN:
            try:
                # converted marked, so that an error cannot name a sensitive map's keys
                value = T.convert(Sensitive(value), var.type).value if var.sensitive else T.convert(value, var.type)
            except T.ConversionError as e:
                diags.error("Invalid value for input variable", f'The value for variable "{name}" from {where} is not suitable: {e}.' if rv is not None else f"This default value is not compatible with the variable's type constraint: {e}.", src or var.range)
                value = UNKNOWN
        if value is None and not var.nullable:
            diags.error("Invalid value for input variable", f'The given value is not suitable for var.{name}: required variable may not be set to null.', src or var.range)
        if var.sensitive:
            _register_secrets(rv.value if rv is not None else value)
            value = Sensitive(value)
        values[name] = value
    return values, diags


def _register_secrets(value: Any) -> None:
    """Every string inside a sensitive value is redacted from crash logs."""
    from engine.cli.crash import register_secret
    from engine.values import unmark

    value = unmark(value)
    if isinstance(value, str):
        register_secret(value)
    elif isinstance(value, dict):
        for v in value.values():
            _register_secrets(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _register_secrets(v)


def _parse_raw(text: str, var: Variable, diags: Diagnostics, where: str):
    from engine.config import types as T

    if var.type is not None and var.type == T.STRING:
        return text
    if var.type is None or var.type == T.DYNAMIC:
        # Terraform: untyped variables take raw strings as strings
        return text
    if var.type in (T.NUMBER, T.BOOL):
        return text
    from engine.config.expr import EvalContext, evaluate
    from engine.config.parser import parse_expression

    expr, d = parse_expression(text, filename=f"<value for var.{var.name}>")
    if expr is None or d.has_errors:
        diags.error("Invalid value for input variable", f'The value for variable "{var.name}" from {where} could not be parsed as an HCL expression of type {var.type_text}.')
        return UNKNOWN
    value, d2 = evaluate(expr, EvalContext(variables={}))
    diags.extend(d2)
    return value


def terminal_prompt(var: Variable) -> str | None:
    """Ask for a value on a terminal (hidden input for sensitive variables)."""
    if not sys.stdin.isatty():
        return None
    import click

    desc = f"  {var.description}\n\n" if var.description else ""
    click.echo(f"var.{var.name}\n{desc}", err=True)
    try:
        return click.prompt("  Enter a value", hide_input=var.sensitive, default="", show_default=False, err=True)
    except (click.Abort, EOFError):
        return None


def check_default_validations(config) -> Diagnostics:
    """Defaults that fail their own variable's validation rules (``validate`` reports
    them before any value is given; Terraform only notices when the default is used).
    Rules that read other variables are left to plan, where those have values."""
    from engine.config import types as T
    from engine.config.expr import EvalContext, evaluate
    from engine.values import unmark

    out = Diagnostics()
    for cfg in config.walk():
        for name, var in cfg.module.variables.items():
            if not var.has_default or not var.validations or var.default.references():
                continue
            value, d = evaluate(var.default, EvalContext(variables={}))
            if d.has_errors:
                continue
            if var.type is not None and value is not None:
                try:
                    value = T.convert(value, var.type)
                except T.ConversionError:
                    continue  # reported by the loader as a type mismatch
            ctx = EvalContext(variables={"var": {name: value}}, base_dir=cfg.module.dir)
            for v in var.validations:
                refs = v.condition.references() + v.error_message.references()
                if any(r.root != "var" or not r.steps or r.steps[0][1] != name for r in refs):
                    continue  # reads something besides this variable: checked at plan time
                ok, d2 = evaluate(v.condition, ctx)
                if d2.has_errors or unmark(ok) is not False:
                    continue
                msg, d3 = evaluate(v.error_message, ctx)
                msg = unmark(msg) if not d3.has_errors else "(error message could not be evaluated)"
                out.error("Invalid default value for variable", f'{msg}\n\nThe default value of variable "{name}" fails its own validation rule at {v.range}, so every plan that does not set "{name}" would fail. Fix the default or the rule.', var.default.range)
    return out
