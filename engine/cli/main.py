"""Entry point of the ``trainform`` command.

Commands are registered by name -> "module:attribute" and imported only when
invoked, so ``trainform --version`` stays fast (no docker, deepdiff, rich...).
Options follow Terraform's spelling (``-chdir=DIR``, ``-no-color``), and the
double-dash forms work too.
"""

from __future__ import annotations

import os
import sys

import click

from engine import __version__

# verb -> (module, attribute, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("engine.cli.core", "init_cmd", "Prepare the working directory (backend, state, caches)"),
    "validate": ("engine.cli.validate", "validate_cmd", "Check whether the configuration is valid"),
    "console": ("engine.cli.console", "console_cmd", "Evaluate expressions read from stdin"),
    "fmt": ("engine.cli.fmt", "fmt_cmd", "Rewrite configuration files to canonical format"),
    "plan": ("engine.cli.core", "plan_cmd", "Show what changes apply would make"),
    "apply": ("engine.cli.core", "apply_cmd", "Create or update infrastructure"),
    "destroy": ("engine.cli.core", "destroy_cmd", "Destroy previously-created infrastructure"),
    "refresh": ("engine.cli.core", "refresh_cmd", "Update the state to match real objects (apply -refresh-only -auto-approve)"),
    "show": ("engine.cli.core", "show_cmd", "Show the current state or a saved plan"),
    "output": ("engine.cli.core", "output_cmd", "Show output values"),
    "graph": ("engine.cli.core", "graph_cmd", "Print the dependency graph in DOT format"),
    "import": ("engine.cli.import_cmd", "import_cmd", "Adopt an existing object into the state at an address"),
    "state": ("engine.cli.state_cmds", "state_group", "Advanced state management"),
    "force-unlock": ("engine.cli.state_cmds", "force_unlock_cmd", "Release a stuck lock on the state"),
}


def _provider_command(name):
    """(module, attribute, help) of a verb a provider package contributes, or None."""
    from engine.providers.registry import provider_commands

    spec = provider_commands().get(name)
    if spec is None:
        return None
    module, _, attr = spec[0].partition(":")
    return module, attr, spec[1]


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        from engine.providers.registry import provider_commands

        return sorted(set(COMMANDS) | set(provider_commands()))

    def get_command(self, ctx, name):
        spec = COMMANDS.get(name) or _provider_command(name)
        if spec is None:
            return None
        import importlib

        module = importlib.import_module(spec[0])
        return getattr(module, spec[1])

    def format_commands(self, ctx, formatter):
        rows = [(name, (COMMANDS.get(name) or _provider_command(name))[2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "-help", "--help"]})
@click.option("-chdir", "--chdir", "chdir", metavar="DIR", help="Switch to DIR before running the command.")
@click.option("-no-color", "--no-color", "no_color", is_flag=True, help="Disable colored output.")
@click.version_option(__version__, "-version", "--version", "-v", prog_name="trainform", message="trainform v%(version)s")
@click.pass_context
def cli(ctx, chdir, no_color):
    """trainform: declarative ML training infrastructure."""
    if chdir:
        try:
            os.chdir(chdir)
        except OSError as e:
            raise click.UsageError(f"Invalid -chdir option: {e.strerror}: {chdir}")
    ctx.ensure_object(dict)
    if no_color:
        ctx.obj["no_color"] = True


def main(argv=None) -> int:
    """Run the CLI; turn any unexpected exception into a short line + crash log."""
    from engine.fileperms import restrict_umask

    restrict_umask()  # trainform's own files (logs, plans, caches, crash logs) are 0600, its directories 0700
    tune_gc()
    try:
        cli.main(args=argv, prog_name="trainform", standalone_mode=False)
        return 0
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 1
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 1
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except BaseException as e:  # noqa: BLE001 - the crash handler is the point
        from engine.cli.crash import write_crash_log

        from engine.cli.crash import redact

        path = write_crash_log(e)
        click.echo(f"trainform crashed (a bug, not your mistake): {type(e).__name__}: {redact(_short(e))} -- details in {path}", err=True)
        return 2


def tune_gc() -> None:
    """Collect young objects every 10,000 allocations instead of 700.  A plan or apply
    allocates millions of short-lived acyclic objects (values, diffs, JSON); with the
    default threshold the collector ran often enough to take 35% of a 10,000-resource
    apply, and its full collections grow with the heap (bench/bench_engine.py)."""
    import gc

    global _TUNED
    gc.set_threshold(10_000, 10, 10)
    _TUNED = True


_TUNED = False  # set by main(): the process is a trainform command, not a test calling cli directly


def settle_heap() -> None:
    """Move what is loaded now (configuration, state: alive until the command ends)
    out of the collector's sight, so its full collections no longer rescan them.
    Only for the CLI process: in-process callers (tests) keep the default."""
    import gc

    if _TUNED:
        gc.freeze()


def _short(e: BaseException) -> str:
    text = str(e).splitlines()[0] if str(e) else ""
    return text[:200]


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
