"""``trainform state list|show|rm|mv|pull`` and ``trainform force-unlock``."""

from __future__ import annotations

import json

import click

from engine.cli.common import color_flag, fail, get_backend_or_exit, lock_or_exit, parse_duration, read_state_or_exit
from engine.diagnostics import Diagnostics


def _backend():
    from engine.cli.core import _maybe_config

    return get_backend_or_exit(_maybe_config())


@click.group("state")
def state_group():
    """Advanced state management."""


@state_group.command("list")
@click.option("-id", "--id", "id_", help="Only instances with this id.")
@color_flag
@click.argument("addresses", nargs=-1)
def state_list(id_, addresses):
    """List resource instances in the state."""
    from engine.state_edits import matches

    state = read_state_or_exit(_backend())
    if state is None:
        return
    from engine.addrs import instance_sort_key

    for a, inst in sorted(state.resources.items(), key=lambda kv: instance_sort_key(kv[0])):  # Terraform's order
        if addresses and not any(matches(a, p) for p in addresses):
            continue
        if id_ and inst.attributes.get("id") != id_:
            continue
        click.echo(a)


@state_group.command("show")
@color_flag
@click.argument("address")
def state_show(address):
    """Show one resource instance's attributes (sensitive values masked)."""
    from engine.cli.render import fmt_value

    state = read_state_or_exit(_backend())
    inst = state.resources.get(address) if state else None
    if inst is None:
        d = Diagnostics()
        d.error("No instance found for the given address", f"No resource instance {address} is in the state. Run trainform state list to see what is.")
        fail(d)
    click.echo(f"# {inst.address}:" + (" (tainted)" if inst.status == "tainted" else ""))
    click.echo(f'{inst.type} "{inst.name}" {{')
    width = max((len(k) for k in inst.attributes), default=0)
    for k in sorted(inst.attributes):
        sens = any(list(p) == [k] for p in inst.sensitive_paths)
        v = "(sensitive value)" if sens else fmt_value(inst.attributes[k], 4, inst.sensitive_paths, (), (k,))
        click.echo(f"    {k.ljust(width)} = {v}")
    click.echo("}")


def _mutate(op_name: str, lock_timeout: str, fn):
    backend = _backend()
    info = lock_or_exit(backend, op_name, parse_duration(lock_timeout))
    try:
        state = read_state_or_exit(backend)
        if state is None:
            d = Diagnostics()
            d.error("No state", "There is no state to modify.")
            fail(d)
        from engine.operations import OperationError

        try:
            fn(state)
        except OperationError as e:
            fail(e.diagnostics)
        backend.write(state)
    finally:
        if info is not None:
            backend.unlock(info.id)


@state_group.command("rm")
@click.option("-lock-timeout", "--lock-timeout", "lock_timeout", default="0s")
@click.option("-dry-run", "--dry-run", "dry_run", is_flag=True)
@color_flag
@click.argument("addresses", nargs=-1, required=True)
def state_rm(lock_timeout, dry_run, addresses):
    """Forget instances (the real objects are not destroyed)."""
    from engine.state_edits import remove_instances

    def fn(state):
        gone = remove_instances(state, addresses, dry_run=dry_run)
        for a in gone:
            click.echo(("Would remove " if dry_run else "Removed ") + a)
        if dry_run:
            raise SystemExit(0)
        click.echo(f"Successfully removed {len(gone)} resource instance(s).")

    _mutate("OperationTypeStateRm", lock_timeout, fn)


@state_group.command("mv")
@click.option("-lock-timeout", "--lock-timeout", "lock_timeout", default="0s")
@color_flag
@click.argument("src")
@click.argument("dst")
def state_mv(lock_timeout, src, dst):
    """Move an instance, every instance of a resource, or a whole module in the state
    (addresses match the way moved blocks do)."""
    from engine.state_edits import move_instances

    def fn(state):
        moved = move_instances(state, src, dst)
        for a, b in moved:
            click.echo(f'Move "{a}" to "{b}"')
        click.echo(f"Successfully moved {len(moved)} object(s).")

    _mutate("OperationTypeStateMv", lock_timeout, fn)


@state_group.command("pull")
def state_pull():
    """Print the current state as JSON (secrets are digests)."""
    state = read_state_or_exit(_backend())
    if state is not None:
        click.echo(json.dumps(state.to_json(), indent=2, sort_keys=True))


@click.command("force-unlock")
@click.option("-force", "--force", "force", is_flag=True, help="Do not ask for confirmation.")
@color_flag
@click.argument("lock_id")
def force_unlock_cmd(force, lock_id):
    """Release a stuck lock. Only use it when the holder is surely gone."""
    import sys

    backend = _backend()
    if not force and sys.stdin.isatty():
        click.echo("Do you really want to force-unlock?\n  trainform will remove the lock on the remote state.\n  This will allow local trainform commands to modify this state, even though it\n  may still be in use. Only 'yes' will be accepted to confirm.\n")
        if click.prompt("  Enter a value", default="", show_default=False).strip() != "yes":
            click.echo("force-unlock cancelled.")
            raise SystemExit(1)
    from engine.state.errors import StateError

    try:
        backend.force_unlock(lock_id)
    except StateError as e:
        d = Diagnostics()
        d.error("Failed to unlock state", str(e))
        fail(d)
    click.echo("trainform state has been successfully unlocked!")
    click.echo("\nThe state has been unlocked, and trainform commands should now be able to\nobtain a new lock on the remote state.")
