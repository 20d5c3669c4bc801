"""init, plan, apply, destroy, show, output and graph."""

from __future__ import annotations

import json
import os
import signal
import sys

import click

from engine.cli.common import (
    color_flag, fail, get_backend_or_exit, no_color, ordered_var_args, parse_duration, print_diags,
    read_state_or_exit, var_options,
)
from engine.diagnostics import Diagnostics


def _lock_options(f):
    f = click.option("-lock", "--lock", "lock", default="true", type=click.Choice(["true", "false"]), help="Lock the state (default true).")(f)
    f = click.option("-lock-timeout", "--lock-timeout", "lock_timeout", default="0s", help="How long to retry a held lock, e.g. 30s.")(f)
    return f


def _plan_options(f):
    f = click.option("-target", "--target", "targets", multiple=True, metavar="ADDR", help="Limit planning to this resource and its dependencies.")(f)
    f = click.option("-replace", "--replace", "replace", multiple=True, metavar="ADDR", help="Force replacement of this resource instance.")(f)
    f = click.option("-refresh", "--refresh", "refresh", default="true", type=click.Choice(["true", "false"]), help="Read real objects before planning (default true).")(f)
    f = click.option("-refresh-only", "--refresh-only", "refresh_only", is_flag=True, help="Only update state to match real objects.")(f)
    f = click.option("-parallelism", "--parallelism", "parallelism", default=10, type=click.IntRange(1, 1000), help="Operations in flight at once (default 10).")(f)
    f = click.option("-input", "--input", "input_", default="true", type=click.Choice(["true", "false"]), help="Ask for missing variables on a terminal.")(f)
    return var_options(_lock_options(color_flag(f)))


def _options(destroy, refresh, refresh_only, targets, replace, parallelism):
    from engine.operations import PlanOptions

    return PlanOptions(destroy=destroy, refresh=(refresh == "true"), refresh_only=refresh_only,
                       targets=list(targets), replace=list(replace), parallelism=parallelism)


def _settings(vars, var_files, input_, lock, lock_timeout, operation, events=None):
    from engine.operations import Settings

    return Settings(cli_vars=ordered_var_args(vars, var_files), interactive=(input_ == "true"), lock=(lock == "true"),
                    lock_timeout=parse_duration(lock_timeout), operation=operation, events=events,
                    warn=lambda w: click.echo(f"Warning: {w}", err=True))


def _operation(settings, saved=None):
    """Enter an Operation, turning its user errors into printed diagnostics + exit 1."""
    from engine.operations import Operation, OperationError

    from engine.cli.main import settle_heap

    op = Operation(settings, plan_file=saved)
    try:
        entered = op.__enter__()
    except OperationError as e:
        fail(e.diagnostics)
    settle_heap()
    return entered


@click.command("init")
@click.option("-migrate-state", "--migrate-state", "migrate_state", is_flag=True, help="Copy existing state to the newly configured backend.")
@click.option("-force-copy", "--force-copy", "force_copy", is_flag=True, help="Overwrite a destination state of another lineage during migration.")
@click.option("-reconfigure", "--reconfigure", "reconfigure", is_flag=True, help="Use the new backend without migrating state.")
@color_flag
def init_cmd(migrate_state, force_copy, reconfigure):
    """Prepare the working directory: caches, backend, state."""
    from engine.cli.common import read_init_settings
    from engine.config.loader import load_config
    from engine.state import get_backend
    from engine.state.pg import same_settings, settings_to_save

    config, diags = load_config(".", cache_dir=os.path.join(".trainform", "cache"))
    if diags.has_errors or config is None:
        fail(diags)
    os.makedirs(os.path.join(".trainform", "cache"), exist_ok=True)
    new = config.module.backend or {"type": "local"}
    old = read_init_settings()
    if old is None and new.get("type") != "local" and os.path.exists("trainform.tfstate"):
        old = {"type": "local"}
    if old is not None and not same_settings(old, new) and not reconfigure:
        if not migrate_state:
            d = Diagnostics()
            d.error("Backend configuration changed", f'The backend changed from "{old.get("type")}" to "{new.get("type")}". Run "trainform init -migrate-state" to copy the existing state to the new backend, or "trainform init -reconfigure" to start using it without copying.')
            fail(d)
        from engine.state import migrate
        from engine.state.errors import StateError

        try:
            src = get_backend(old, ".")
            dst = get_backend(new, ".")
            st = migrate(src, dst, force=force_copy)
        except StateError as e:
            d = Diagnostics()
            d.error("Failed to migrate state", str(e))
            fail(d)
        click.echo(f"Successfully migrated state (serial {st.serial if st else 0}) from the {old.get('type')} backend to the {new.get('type')} backend.")
    try:
        backend = get_backend(new, ".")
        backend.read()
    except Exception as e:  # noqa: BLE001 - surfaced as a diagnostic
        d = Diagnostics()
        d.error("Failed to initialize the state backend", str(e))
        fail(d)
    with open(os.path.join(".trainform", "backend.json"), "w") as f:
        json.dump(settings_to_save(new), f)
    click.echo(f'Initializing the backend... ({new.get("type")})')
    click.echo("")
    click.echo("trainform has been successfully initialized!")


@click.command("plan")
@_plan_options
@click.option("-out", "--out", "out", metavar="FILE", help="Write the plan to FILE for a later apply.")
@click.option("-json", "--json", "json_out", is_flag=True, help="Print the plan as JSON.")
@click.option("-destroy", "--destroy", "destroy", is_flag=True, help="Plan to destroy everything.")
@click.option("-detailed-exitcode", "--detailed-exitcode", "detailed", is_flag=True, help="Exit 0 with no changes, 1 on error, 2 with changes.")
def plan_cmd(targets, replace, refresh, refresh_only, parallelism, input_, vars, var_files, lock, lock_timeout, out, json_out, destroy, detailed):
    """Show what apply would change, and why."""
    op = _operation(_settings(vars, var_files, input_, lock, lock_timeout, "OperationTypePlan"))
    try:
        plan, diags = op.plan(_options(destroy, refresh, refresh_only, targets, replace, parallelism))
        if diags.has_errors or plan.errored:
            print_diags(diags)
            raise SystemExit(1)
        print_diags(diags)
        if json_out:
            from engine.cli.render import plan_json

            click.echo(json.dumps(plan_json(plan), indent=2, sort_keys=True))
        else:
            from engine.cli.render import render_plan

            click.echo(render_plan(plan, color=not no_color()), nl=False)
        if out:
            from engine.operations import OperationError

            try:
                op.write_plan(out, plan)
            except OperationError as e:
                fail(e.diagnostics)
            if not json_out:
                click.echo("")
                click.echo(f"Saved the plan to: {out}")
                click.echo("")
                click.echo("To perform exactly these actions, run the following command to apply:")
                click.echo(f'    trainform apply "{out}"')
    finally:
        op.__exit__(None, None, None)
    if detailed and plan.has_changes:
        raise SystemExit(2)


def _install_signals(session):
    """Ctrl-C (and SIGTERM/SIGHUP: a closed terminal, a stopped job) once: finish
    in-flight work, start nothing new; twice: cancel in-flight operations too."""
    state = {"count": 0}

    def handler(signum, frame):
        if signum == getattr(signal, "SIGHUP", None):
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 1)
                os.dup2(devnull, 2)
                os.close(devnull)
            except OSError:
                pass
        state["count"] += 1
        if state["count"] == 1:
            session.stop.set()
            click.echo("\nInterrupt received.\nPlease wait for trainform to exit or data loss may occur.\nGracefully shutting down...", err=True)
        else:
            session.cancel.set()
            click.echo("\nTwo interrupts received. Exiting immediately: cancelling in-flight operations.", err=True)
            session.cancel_providers()

    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        try:
            old[sig] = signal.signal(sig, handler)
        except ValueError:  # not the main thread
            pass
    return old


def _restore_signals(old):
    for sig, h in old.items():
        signal.signal(sig, h)


def _apply_common(destroy, targets, replace, refresh, refresh_only, parallelism, input_, vars, var_files, lock, lock_timeout, auto_approve, planfile, json_out=False):
    from engine.cli.events import CliEvents
    from engine.cli.render import render_plan
    from engine.operations import OperationError, read_plan_file

    color = not no_color()
    events = CliEvents(color=color)
    saved = None
    if planfile:
        if vars or var_files:
            d = Diagnostics()
            d.error("Can't set variables when applying a saved plan", "The -var and -var-file options cannot be used when applying a saved plan file, because a saved plan includes the variable values that were set when it was created. Sensitive values are not saved: provide them through TRAINFORM_VAR_ environment variables or *.auto.tfvars files.")
            fail(d)
        try:
            saved = read_plan_file(planfile)
        except OperationError as e:
            fail(e.diagnostics)
        destroy = saved.destroy
        auto_approve = True
    op = _operation(_settings(vars, var_files, input_, lock, lock_timeout, "OperationTypeApply", events), saved)
    try:
        if saved is None:
            plan, diags = op.plan(_options(destroy, refresh, refresh_only, targets, replace, parallelism))
            if diags.has_errors or plan.errored:
                print_diags(diags)
                raise SystemExit(1)
            print_diags(diags)
            click.echo(render_plan(plan, color=color), nl=False)
        else:
            plan = saved
            print_diags(op.warnings)
        if saved is None and not plan.has_changes and not plan.drift:
            click.echo("")
            click.echo(("Destroy" if destroy else "Apply") + " complete! Resources: 0 added, 0 changed, 0 destroyed.")
            _print_outputs(op.session_of(plan))
            return
        if not auto_approve:
            _confirm(destroy, color)
        old = {}
        try:
            try:
                result, session = op.apply(plan, parallelism=parallelism, on_session=lambda s: old.update(_install_signals(s)))
            except OperationError as e:
                fail(e.diagnostics)
        finally:
            _restore_signals(old)
            events.close()
        diags = list(result.diagnostics) + [d for d in session.diags]
        if (plan.options or {}).get("targets") and not result.failed:
            from engine.diagnostics import warning
            from engine.operations import TARGETED_APPLY_WARNING

            diags.append(warning("Applied changes may be incomplete", TARGETED_APPLY_WARNING))
        if diags:
            click.echo("")
            print_diags(diags)
        if result.interrupted:
            click.echo("Interrupted: in-flight operations finished and were saved; the rest were not started.", err=True)
        click.echo("")
        word = "Destroy" if destroy else "Apply"
        if result.failed or result.interrupted or any(d.severity == "error" for d in diags):
            extra = f" Failed: {len(result.failed)}." if result.failed else ""
            if result.skipped:
                extra += f" Skipped because a dependency failed: {', '.join(sorted(result.skipped))}."
            click.echo(f"{word} failed. Resources: {result.added} added, {result.changed} changed, {result.destroyed} destroyed.{extra}", err=True)
            raise SystemExit(1)
        if destroy:
            click.echo(f"Destroy complete! Resources: {result.destroyed} destroyed.")
        else:
            imported = f"{result.imported} imported, " if result.imported else ""
            forgotten = f", {result.forgotten} forgotten" if result.forgotten else ""
            click.echo(f"Apply complete! Resources: {imported}{result.added} added, {result.changed} changed, {result.destroyed} destroyed{forgotten}.")
            _print_outputs(session)
    finally:
        events.close()
        op.__exit__(None, None, None)


def _confirm(destroy, color):
    if not sys.stdin.isatty():
        d = Diagnostics()
        d.error("No confirmation and no terminal", "trainform asks for confirmation before changing anything, but standard input is not a terminal. Run with -auto-approve to apply without confirmation.")
        fail(d)
    click.echo("")
    q = "Do you really want to destroy all resources?" if destroy else "Do you want to perform these actions?"
    click.echo(click.style(q, bold=True) if color else q)
    click.echo("  trainform will perform the actions described above.\n  Only 'yes' will be accepted to approve.\n")
    answer = click.prompt("  Enter a value", default="", show_default=False)
    if answer.strip() != "yes":
        click.echo("\n" + ("Destroy" if destroy else "Apply") + " cancelled.")
        raise SystemExit(1)
    click.echo("")


def _print_outputs(session):
    from engine.values import Sensitive, contains_unknown

    from engine.values import to_plain

    # null outputs are not recorded, so not shown (as Terraform)
    outs = {k: v for k, v in session.root_outputs.items() if contains_unknown(v) or to_plain(v) is not None}
    if not outs or session.options.destroy:
        return
    click.echo("")
    click.echo("Outputs:")
    click.echo("")
    for name in sorted(outs):
        v = outs[name]
        if isinstance(v, Sensitive) or session.config.module.outputs[name].sensitive:
            click.echo(f"{name} = <sensitive>")
        elif contains_unknown(v):
            click.echo(f"{name} = (known after apply)")
        else:
            from engine.config.format import format_value

            click.echo(f"{name} = {format_value(v)}")


@click.command("apply")
@_plan_options
@click.option("-auto-approve", "--auto-approve", "auto_approve", is_flag=True, help="Skip interactive approval.")
@click.option("-destroy", "--destroy", "destroy", is_flag=True, help="Destroy everything (like trainform destroy).")
@click.argument("planfile", required=False)
def apply_cmd(targets, replace, refresh, refresh_only, parallelism, input_, vars, var_files, lock, lock_timeout, auto_approve, destroy, planfile):
    """Create or update infrastructure."""
    _apply_common(destroy, targets, replace, refresh, refresh_only, parallelism, input_, vars, var_files, lock, lock_timeout, auto_approve, planfile)


@click.command("destroy")
@_plan_options
@click.option("-auto-approve", "--auto-approve", "auto_approve", is_flag=True, help="Skip interactive approval.")
def destroy_cmd(targets, replace, refresh, refresh_only, parallelism, input_, vars, var_files, lock, lock_timeout, auto_approve):
    """Destroy everything trainform manages (or -target)."""
    _apply_common(True, targets, replace, refresh, refresh_only, parallelism, input_, vars, var_files, lock, lock_timeout, auto_approve, None)


@click.command("refresh")
@_plan_options
def refresh_cmd(targets, replace, refresh, refresh_only, parallelism, input_, vars, var_files, lock, lock_timeout):
    """Read every object and record what changed outside trainform (like terraform refresh)."""
    _apply_common(False, targets, replace, "true", True, parallelism, input_, vars, var_files, lock, lock_timeout, True, None)


@click.command("show")
@click.option("-json", "--json", "json_out", is_flag=True, help="Machine-readable output.")
@color_flag
@click.argument("planfile", required=False)
def show_cmd(json_out, planfile):
    """Show the state, or a saved plan."""
    if planfile:
        from engine.operations import OperationError, read_plan_file

        try:
            plan = read_plan_file(planfile)
        except OperationError as e:
            fail(e.diagnostics)
        if json_out:
            from engine.cli.render import plan_json

            click.echo(json.dumps(plan_json(plan), indent=2, sort_keys=True))
        else:
            from engine.cli.render import render_plan

            click.echo(render_plan(plan, color=not no_color()), nl=False)
        return
    backend = get_backend_or_exit(_maybe_config())
    state = read_state_or_exit(backend)
    if state is None:
        if json_out:
            click.echo(json.dumps({"format_version": 1, "values": None}))
        else:
            click.echo("No state.")
        return
    if json_out:
        click.echo(json.dumps(state.to_json(), indent=2, sort_keys=True))
        return
    from engine.cli.render import fmt_value

    from engine.addrs import show_sort_key

    for inst in sorted(state.resources.values(), key=lambda i: show_sort_key(i.address)):
        click.echo(f"# {inst.address}:" + (" (tainted)" if inst.status == "tainted" else ""))
        click.echo(f'{inst.type} "{inst.name}" {{')
        attrs = inst.attributes
        width = max((len(k) for k in attrs), default=0)
        for k in sorted(attrs):
            sens = any(list(p) == [k] for p in inst.sensitive_paths)
            v = "(sensitive value)" if sens else fmt_value(attrs[k], 4, inst.sensitive_paths, (), (k,))
            click.echo(f"    {k.ljust(width)} = {v}")
        click.echo("}")
        click.echo("")
    if state.outputs:
        click.echo("Outputs:")
        click.echo("")
        for name, o in sorted(state.outputs.items()):
            click.echo(f"{name} = " + ("(sensitive value)" if o.get("sensitive") else fmt_value(o.get("value"), 0)))
    _show_extra(state)


def _show_extra(state):
    """Providers may add derived documents to `show` (e.g. a Ray autoscaler config)."""
    from engine.providers.registry import ProviderUnavailable, new_provider

    providers = {}
    for inst in state.resources.values():
        try:
            p = providers.get(inst.type) or providers.setdefault(inst.type, new_provider(inst.type))
        except ProviderUnavailable:
            continue
        if p is not None:
            try:
                text = p.show_extra(inst.address, inst.attributes)
            except Exception:  # noqa: BLE001 - show must not fail on a provider's extra
                text = None
            if text:
                click.echo("")
                click.echo(text)


def _maybe_config():
    from engine.config.loader import load_config

    try:
        config, diags = load_config(".", cache_dir=os.path.join(".trainform", "cache"))
    except Exception:  # noqa: BLE001
        return None
    return config if not diags.has_errors else None


@click.command("output")
@click.option("-json", "--json", "json_out", is_flag=True, help="Print all outputs as JSON.")
@click.option("-raw", "--raw", "raw", is_flag=True, help="Print a string output without quotes.")
@color_flag
@click.argument("name", required=False)
def output_cmd(json_out, raw, name):
    """Show output values from the state."""
    config = _maybe_config()
    backend = get_backend_or_exit(config)
    state = read_state_or_exit(backend)
    outputs = state.outputs if state else {}
    if name:
        if name not in outputs:
            d = Diagnostics()
            d.error("Output not found", 'The output variable requested could not be found in the state file. If you recently added it to your configuration, be sure to run `trainform apply`, since the state won\'t be updated with new output variables until that command is run.')
            fail(d)
        o = outputs[name]
        value = o.get("value")
        if o.get("sensitive"):
            value = _reevaluate_output(config, state, name)
        if json_out:
            click.echo(json.dumps(value))
        elif raw and isinstance(value, (str, int, float, bool)):
            click.echo(value if isinstance(value, str) else json.dumps(value))
        else:
            from engine.config.format import format_value

            click.echo(format_value(value))
        return
    if json_out:
        out = {}
        for n, o in sorted(outputs.items()):
            out[n] = {"sensitive": bool(o.get("sensitive")), "value": None if o.get("sensitive") else o.get("value")}
            if o.get("type") is not None:
                out[n]["type"] = o["type"]
        click.echo(json.dumps(out, indent=2, sort_keys=True))
        return
    if not outputs:
        click.echo("No outputs found.", err=True)
        return
    from engine.config.format import format_value

    for n, o in sorted(outputs.items()):
        click.echo(f"{n} = " + ("<sensitive>" if o.get("sensitive") else format_value(o.get("value"))))


def _reevaluate_output(config, state, name):
    from engine.config.variables import collect
    from engine.operations import OperationError
    from engine.queries import sensitive_output_value

    inputs = {}
    if config is not None:
        inputs, vd = collect(config.module, [])
        if vd.has_errors:
            fail(vd)
    try:
        return sensitive_output_value(config, inputs, state, name)
    except OperationError as e:
        fail(e.diagnostics)


@click.command("graph")
@click.option("-type", "--type", "graph_type", default="plan", type=click.Choice(["plan", "apply", "destroy"]), help="Which graph: plan (the configuration), apply or destroy (what executes a plan).")
@click.option("-plan", "--plan", "planfile", metavar="FILE", help="Draw the apply graph of this saved plan.")
@click.option("-o", "--o", "--output", "output", metavar="FILE", help="Write an image (.svg or .png) with graphviz's dot.")
@var_options
@color_flag
def graph_cmd(graph_type, planfile, output, vars, var_files):
    """Print the dependency graph in DOT format.

    -type=plan draws the configuration graph; -type=apply and -type=destroy
    plan first (without refreshing) and draw the graph that would execute
    that plan: one node per change, deletions ordered dependents first."""
    from engine.graph import to_dot
    from engine.graph.nodes import label_of

    if planfile or graph_type != "plan":
        g = _execution_graph(graph_type, planfile, vars, var_files)
    else:
        from engine.operations import OperationError
        from engine.queries import configuration_graph

        try:
            g = configuration_graph()
        except OperationError as e:
            fail(e.diagnostics)
    dot = to_dot(g, label=label_of)
    if output:
        import shutil
        import subprocess

        fmt = os.path.splitext(output)[1].lstrip(".").lower()
        if fmt not in ("svg", "png"):
            raise click.UsageError("-o takes a .svg or .png file name")
        if shutil.which("dot") is None:
            d = Diagnostics()
            d.error("graphviz is not installed", "Writing an image needs graphviz's dot program (Debian: apt-get install graphviz). The DOT text can still be printed without -o.")
            fail(d)
        subprocess.run(["dot", f"-T{fmt}", "-o", output], input=dot.encode(), check=True)
        click.echo(f"Wrote {output}")
        return
    click.echo(dot, nl=False)


def _execution_graph(graph_type, planfile, vars, var_files):
    """The apply graph of a saved plan, or of a fresh plan (destroy for -type=destroy)."""
    from engine.apply import Applier
    from engine.operations import Operation, OperationError, Settings, read_plan_file
    from engine.plan.model import PlanOptions

    try:
        saved = read_plan_file(planfile) if planfile else None
        settings = Settings(cli_vars=ordered_var_args(vars, var_files), lock=False)
        with Operation(settings, plan_file=saved) as op:
            if saved is not None:
                opts = saved.options or {}
                options = PlanOptions(destroy=saved.destroy, refresh=False, targets=list(opts.get("targets", [])),
                                      replace=list(opts.get("replace", [])))
            else:
                options = PlanOptions(destroy=(graph_type == "destroy"), refresh=False)
            plan, diags = op.plan(options)
            if diags.has_errors or plan.errored:
                fail(diags)
            built = Applier(op.session_of(plan), saved or plan, None, None).build()
    except OperationError as e:
        fail(e.diagnostics)
    if built.diags.has_errors:
        fail(built.diags)
    return built.graph
