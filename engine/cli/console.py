"""``trainform console``: evaluate expressions read from stdin against the configuration.

Like ``terraform console``: one expression per line, each value printed the
way terraform prints it (strings quoted); an error goes to stderr and the
next line is still evaluated; exit 1 if any line failed.
"""

from __future__ import annotations

import glob
import sys

import click

from engine.cli.common import color_flag, var_options, ordered_var_args, get_backend_or_exit, read_state_or_exit
from engine.diagnostics import Diagnostics


def _scope(cli_vars):
    from engine.queries import evaluation_scope

    if not glob.glob("*.hcl"):
        return evaluation_scope(None, {}, None)
    from engine.cli.common import load_config_or_exit

    config, inputs, warnings = load_config_or_exit(cli_vars=cli_vars, interactive=False)
    backend = get_backend_or_exit(config)
    return evaluation_scope(config, inputs, read_state_or_exit(backend))


CONSOLE_FILE = "<console-input>"


def evaluate_line(scope, line: str) -> tuple[str | None, Diagnostics]:
    """One console line: (printed value, diagnostics).  References are checked
    against the configuration first, so a typo gets Terraform's "undeclared"
    message with a suggestion rather than a bare unknown-variable error."""
    from engine.config.expr import evaluate
    from engine.config.format import format_value
    from engine.config.parser import parse_expression
    from engine.diagnostics import global_sources
    from engine.evaluate import resolve_reference

    global_sources().add(CONSOLE_FILE, line)
    expr, d = parse_expression(line, filename=CONSOLE_FILE)
    if expr is None or d.has_errors:
        return None, d
    refs = Diagnostics()
    for ref in expr.references():
        resolve_reference(scope.cfg, ref, refs)
    if refs.has_errors:
        return None, refs
    value, d = evaluate(expr, scope.ctx())
    if d.has_errors:
        return None, d
    return format_value(value), d


@click.command("console")
@var_options
@color_flag
def console_cmd(vars, var_files):
    """Evaluate expressions read from stdin, one per line."""
    from engine.cli.common import no_color
    from engine.diagnostics import render

    scope = _scope(ordered_var_args(vars, var_files))
    color = not no_color() and sys.stderr.isatty()
    failed = False
    while True:
        line = sys.stdin.readline()
        if not line:
            break
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        if line.strip() == "exit":
            break
        text, d = evaluate_line(scope, line)
        for x in d:
            click.echo(render(x, color=color), err=True)
        if text is None:
            failed = True
            continue
        click.echo(text)
        sys.stdout.flush()
    if failed:
        raise SystemExit(1)
