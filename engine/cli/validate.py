"""``trainform validate``: is the configuration valid, independent of variable values and state?"""

from __future__ import annotations

import json
import os

import click

from engine.cli.common import color_flag, no_color
from engine.diagnostics import Diagnostics


def validate_config() -> tuple[object, Diagnostics]:
    """Load, check the graph and evaluate every expression with unknown inputs."""
    from engine.config.loader import load_config
    from engine.core import PlanOptions, Session
    from engine.state import State
    from engine.values import UNKNOWN

    config, diags = load_config(".", cache_dir=os.path.join(".trainform", "cache"))
    if config is None or diags.has_errors:
        return config, diags
    inputs = {name: UNKNOWN for name in config.module.variables}
    s = Session(config, inputs, State.new(), PlanOptions(validate_only=True, refresh=False))
    s.build_graph()
    if not s.diags.has_errors:
        s.plan()
    out = Diagnostics(list(diags) + list(s.diags))
    return config, out


@click.command("validate")
@click.option("-json", "--json", "json_out", is_flag=True, help="Machine-readable diagnostics with ranges.")
@color_flag
def validate_cmd(json_out):
    """Check whether the configuration is valid."""
    from engine.diagnostics import render

    config, diags = validate_config()
    errors = sum(1 for d in diags if d.severity == "error")
    warnings = len(diags) - errors
    if json_out:
        click.echo(json.dumps({
            "format_version": "1.0",
            "valid": errors == 0,
            "error_count": errors,
            "warning_count": warnings,
            "diagnostics": [d.to_json() for d in diags],
        }, indent=2))
        raise SystemExit(1 if errors else 0)
    color = not no_color()
    for d in diags:
        click.echo(render(d, color=color), err=True)
        click.echo("", err=True)
    if errors:
        raise SystemExit(1)
    click.echo(("\x1b[32m\x1b[1mSuccess!\x1b[0m" if color else "Success!") + " The configuration is valid" + (", but there were some validation warnings as shown above." if warnings else "."))
