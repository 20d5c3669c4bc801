"""``trainform import ADDR ID``: adopt an existing object into the state.

The same path as an ``import`` block: a plan targeted at ADDR with the import
requested (so the provider's ``import_`` hook sees the values of what ADDR's
configuration depends on, e.g. a workspace's registry credentials), after which
only the imported object is written to the state -- nothing is created or
changed, as with ``terraform import``.
"""

from __future__ import annotations

import click

from engine.cli.common import color_flag, fail, print_diags, var_options
from engine.cli.core import _lock_options, _operation, _settings
from engine.diagnostics import Diagnostics


def _error(summary: str, detail: str):
    d = Diagnostics()
    d.error(summary, detail)
    fail(d)


@click.command("import")
@var_options
@_lock_options
@color_flag
@click.option("-input", "--input", "input_", default="true", type=click.Choice(["true", "false"]), help="Ask for missing variables on a terminal.")
@click.argument("address")
@click.argument("import_id", metavar="ID")
def import_cmd(vars, var_files, lock, lock_timeout, input_, address, import_id):
    """Import an existing object (an image, a recorded run...) into the state at ADDR."""
    from engine.addrs import AddressError, parse_instance, static_path
    from engine.plan.model import PlanOptions

    try:
        inst = parse_instance(address)
    except AddressError as e:
        _error("Invalid address", f"{e}. An import address looks like value.a, run.train[0] or module.m.environment.e[\"k\"].")
    address = str(inst)
    op = _operation(_settings(vars, var_files, input_, lock, lock_timeout, "OperationTypeImport"))
    try:
        if address in op.state.resources:
            _error("Resource already managed by trainform", f"trainform is already managing a remote object for {address}. To import to this address you must first remove the existing object from the state.")
        # the configuration of module.m["a"] is module.m's (found by probing: an import into
        # an instance of a for_each module said its configuration did not exist)
        cfg = op.config.descendant(static_path(inst.resource.module))
        res = cfg.module.resources.get(inst.resource.key) if cfg is not None else None
        if res is None:
            r = inst.resource
            _error("Configuration for import target does not exist", f'The resource address "{address}" does not exist in the configuration.\n\nBefore importing this resource, please create its configuration{" in " + str(r).rsplit("." + r.key, 1)[0] if r.module else " in the root module"}. For example:\n\n{r.type} "{r.name}" {{\n  # (resource arguments)\n}}')
        base = op.state.copy()  # the plan adjusts the state in place (moves, refresh); keep only the import
        click.echo(f'{address}: Importing from ID "{import_id}"...')
        plan, diags = op.plan(PlanOptions(targets=[address], imports=[(address, import_id)], refresh=False))
        # the targeting is this command's own doing, not the user's
        diags = Diagnostics([x for x in diags if x.summary != "Resource targeting is in effect"])
        if diags.has_errors or plan.errored:
            print_diags(diags)
            raise SystemExit(1)
        adopted = op.state.resources.get(address)
        change = plan.change(address)
        if adopted is None or change is None or not change.importing:
            _error("Import failed", f"Nothing was imported to {address}.")
        click.echo(f"{address}: Import prepared!")
        ident = adopted.attributes.get("id")
        click.echo(f"{address}: Refreshing state..." + (f" [id={ident}]" if isinstance(ident, str) else ""))
        base.resources[address] = adopted
        base.resources = dict(sorted(base.resources.items()))
        op.backend.write(base)
        print_diags([x for x in diags if x.severity != "error"])
        click.echo("")
        click.echo("Import successful!")
        click.echo("")
        click.echo("The resources that were imported are shown above. These resources are now in your trainform state and will henceforth be managed by trainform.")
    finally:
        op.__exit__(None, None, None)
