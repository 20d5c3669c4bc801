"""Operations: what plan, apply and destroy do, as calls the CLI and tests make in-process.

One :class:`Operation` is one command's hold on a working directory: it loads the
configuration and variables, configures the backend, takes the state lock, reads
the state, and releases the lock when the ``with`` block ends.  Inside it:

* :meth:`Operation.plan` -> :class:`Plan` (plain data, with the configuration
  snapshot and variable values a saved plan needs);
* :meth:`Operation.apply` executes a Plan: the one just made, or one read back
  from a plan file, in which case it is applied with *its own* configuration
  snapshot and refused when the state or a provider's fresh plan moved since.

The CLI only parses flags, asks for confirmation and renders.  User errors leave
an operation as :class:`OperationError` carrying diagnostics (never a traceback).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable

from engine.events import Events
from engine.plan.model import PlanOptions
from engine.session import Session
from engine.diagnostics import Diagnostics
from engine.errors import TrainformError
from engine.plan.model import Action, Plan

__all__ = ["Operation", "OperationError", "Settings", "PlanOptions", "Events", "plan", "apply",
           "PLAN_FILE_KIND", "write_plan_file", "read_plan_file"]

CACHE_DIR = os.path.join(".trainform", "cache")
PLAN_FILE_KIND = "trainform-plan"


class OperationError(TrainformError):
    """A user-facing failure: the diagnostics say what and where; nothing was changed."""

    def __init__(self, diagnostics: Diagnostics) -> None:
        self.diagnostics = diagnostics
        first = next(iter(diagnostics), None)
        super().__init__(first.summary if first is not None else "operation failed")


@dataclass
class Settings:
    """How one command reaches its working directory (not what it plans)."""

    cli_vars: list[tuple[str, str]] = field(default_factory=list)  # ("var"|"var-file", text) in order
    interactive: bool = False  # prompt for missing variables on a terminal
    lock: bool = True
    lock_timeout: float = 0.0
    operation: str = "OperationTypePlan"
    events: Events | None = None
    warn: Callable[[str], None] | None = None  # backend warnings (e.g. a stale lock taken over)


def _error(summary: str, detail: str) -> OperationError:
    d = Diagnostics()
    d.error(summary, detail)
    return OperationError(d)


class Operation:
    """Lock, state and configuration for one command; see the module docstring."""

    def __init__(self, settings: Settings | None = None, plan_file: Plan | None = None) -> None:
        self.settings = settings or Settings()
        self.saved = plan_file  # apply a saved plan: configuration and variables come from it
        self.warnings = Diagnostics()
        self.config = None
        self.inputs: dict[str, Any] = {}
        self.backend = None
        self.lock_info = None
        self.state = None
        self.fresh = False  # no state existed
        self._sessions: dict[int, Session] = {}

    # ------------------------------------------------------------ context
    def __enter__(self) -> "Operation":
        if self.saved is not None:
            self.config, self.inputs = _saved_config_and_inputs(self.saved, self.warnings)
        else:
            self.config, self.inputs = _load_config_and_inputs(self.settings, self.warnings)
        self.backend = backend_for(self.config)
        self._lock()
        try:
            self.state = self._read_state()
        except BaseException:
            self._unlock()
            raise
        self.fresh = self.state is None
        if self.state is None:
            from engine.state import State

            self.state = State.new()
        return self

    def __exit__(self, *exc) -> None:
        self._unlock()

    def _lock(self) -> None:
        from engine.state.errors import LockError

        if not self.settings.lock:
            return
        try:
            self.lock_info = self.backend.lock(self.settings.operation, self.settings.lock_timeout)
        except LockError as e:
            raise _error("Error acquiring the state lock", str(e) + "\n\ntrainform acquires a state lock to protect the state from being written by multiple users at the same time. Please resolve the issue above and try again. For most commands, you can disable locking with the \"-lock=false\" flag, but this is not recommended.") from None
        self._backend_warnings()

    def _unlock(self) -> None:
        if self.lock_info is None:
            return
        info, self.lock_info = self.lock_info, None
        try:
            self.backend.unlock(info.id)
        except Exception as e:  # noqa: BLE001 - the work is done; say so and go on
            self._warn(f"failed to release the state lock {info.id}: {e}")

    def _read_state(self):
        from engine.state.errors import StateError

        try:
            state = self.backend.read()
        except StateError as e:
            raise _error("Failed to load state", str(e)) from None
        self._backend_warnings()
        return state

    def _backend_warnings(self) -> None:
        for w in list(getattr(self.backend, "warnings", None) or []):
            self._warn(w)
        if getattr(self.backend, "warnings", None):
            self.backend.warnings.clear()

    def _warn(self, text: str) -> None:
        if self.settings.warn is not None:
            self.settings.warn(text)

    # ------------------------------------------------------------ plan
    def session(self, options: PlanOptions) -> Session:
        session = Session(self.config, self.inputs, self.state, options, events=self.settings.events, working_dir=".")
        # apply/refresh/destroy save what refresh reads, so providers may tidy up then; plan changes nothing
        session.provider_ctx.persisting = self.settings.operation == "OperationTypeApply"
        return session

    def plan(self, options: PlanOptions) -> tuple[Plan, Diagnostics]:
        """Plan against the locked state; the Plan carries what a later apply needs."""
        from engine.plan.targeting import check_addresses

        bad = check_addresses(options.targets, options.replace)
        if bad.has_errors:
            return Plan(errored=True), bad
        session = self.session(options)
        plan = session.plan()
        if self.fresh:
            plan.lineage, plan.serial = None, 0
        plan.config_files = config_files(self.config)
        plan.config_hash = config_hash(plan.config_files)
        plan.variables = variable_record(self.inputs, digests=False)
        plan.options = {"targets": list(options.targets), "replace": list(options.replace), "refresh": options.refresh}
        self._sessions[id(plan)] = session
        diags = Diagnostics(list(self.warnings) + list(session.diags))
        if options.targets and not diags.has_errors:
            # as Terraform: a targeted plan says that it is partial
            diags.warning("Resource targeting is in effect", TARGETING_WARNING)
        return plan, diags

    def write_plan(self, path: str, plan: Plan) -> None:
        """Write a plan made here to a file, with digests of its sensitive variables
        (made only now: each is a slow KDF, wasted on plans that are not saved)."""
        plan.variables = variable_record(self.inputs)
        write_plan_file(path, plan)

    # ------------------------------------------------------------ apply
    def session_of(self, plan: Plan) -> Session | None:
        """The session that made ``plan`` here (its evaluated values), if any."""
        return self._sessions.get(id(plan))

    def apply(self, plan: Plan, parallelism: int | None = None, on_session: Callable[[Session], None] | None = None):
        """Execute ``plan``; returns (ApplyResult, session).  A plan this Operation
        did not make (a saved one) is first checked against the state and a fresh
        provider plan of its own configuration (see :func:`check_saved_plan`).
        ``on_session`` sees the session before anything changes (signal handlers)."""
        from engine.apply import Applier

        session = self._sessions.get(id(plan))
        if session is None:
            session, plan = self._session_for_saved(plan, parallelism)
        if on_session is not None:
            on_session(session)
        new_state = self.state.copy()
        journal = self.backend.journal(self.state)
        try:
            result = Applier(session, plan, journal, new_state).run()
        finally:
            try:
                self.backend.write(new_state)
            finally:
                journal.close()
        return result, session

    def _session_for_saved(self, saved: Plan, parallelism: int | None) -> tuple[Session, Plan]:
        d = Diagnostics()
        current = (None, 0) if self.fresh else (self.state.lineage, self.state.serial)
        if (saved.lineage, saved.serial) != current:
            now = "no state" if self.fresh else f"serial {self.state.serial} (lineage {self.state.lineage})"
            was = "no state" if saved.lineage is None else f"serial {saved.serial} (lineage {saved.lineage})"
            raise _error("Saved plan is stale", f"The plan was created for {was}, but the state is now at {now}: something was applied since. Nothing was changed. Create a new plan from the updated state.")
        opts = saved.options or {}
        options = PlanOptions(destroy=saved.destroy, refresh_only=saved.refresh_only, refresh=opts.get("refresh", True),
                              targets=list(opts.get("targets", [])), replace=list(opts.get("replace", [])),
                              parallelism=parallelism or 10)
        session = self.session(options)
        fresh = session.plan()
        if session.diags.has_errors or fresh.errored:
            raise OperationError(Diagnostics(list(session.diags)))
        for problem in check_saved_plan(saved, fresh):
            d.error("Saved plan no longer matches", problem + " Nothing was changed. Create a new plan.")
        if d.has_errors:
            raise OperationError(d)
        # Same changes as saved, checked above; the fresh copy also holds the sensitive
        # values that a plan file never stores, which the final per-resource plans need.
        return session, fresh


# ---------------------------------------------------------------- convenience

def plan(options: PlanOptions | None = None, settings: Settings | None = None) -> tuple[Plan, Diagnostics]:
    """Plan in the current directory (in-process; takes and releases the lock)."""
    with Operation(settings) as op:
        return op.plan(options or PlanOptions())


def apply(saved: Plan, settings: Settings | None = None):
    """Apply a saved plan in the current directory: its own configuration, checked first."""
    s = settings or Settings()
    s.operation = "OperationTypeApply"
    with Operation(s, plan_file=saved) as op:
        return op.apply(saved)[0]


# ---------------------------------------------------------------- loading

def _load_config_and_inputs(settings: Settings, warnings: Diagnostics):
    from engine.config.loader import load_config

    config, diags = load_config(".", cache_dir=CACHE_DIR)
    if diags.has_errors or config is None:
        raise OperationError(diags)
    warnings.extend([d for d in diags if d.severity != "error"])
    from engine.config.variables import collect, terminal_prompt

    inputs, vd = collect(config.module, settings.cli_vars, prompt=terminal_prompt if settings.interactive else None)
    if vd.has_errors:
        raise OperationError(Diagnostics(list(warnings) + list(vd)))
    warnings.extend(vd)
    return config, inputs


def _saved_config_and_inputs(saved: Plan, warnings: Diagnostics):
    """The configuration snapshot and variable values stored in a plan file.

    Non-sensitive variables come from the plan as saved.  Sensitive ones were
    stored only as digests: they are read again from their usual sources
    (TRAINFORM_VAR_ environment variables, tfvars files) and must match."""
    from engine.config.loader import load_config
    from engine.config.variables import collect
    from engine.state import secrets
    from engine.values import Sensitive, Unknown, to_plain

    if not saved.config_files:
        raise _error("Saved plan has no configuration", "This plan file was written by an older trainform and does not hold its configuration snapshot, so it cannot be applied as saved. Create a new plan with this version.")
    config, diags = load_config(".", cache_dir=CACHE_DIR, sources=saved.config_files)
    if diags.has_errors or config is None:
        raise OperationError(diags)
    # Non-sensitive values go back through a JSON variables file, which keeps their types
    # (a number or a list given to an untyped variable stays one; a -var string would not).
    import tempfile

    values = {name: rec.get("value") for name, rec in saved.variables.items() if not rec.get("sensitive")}
    with tempfile.TemporaryDirectory(prefix="trainform-plan-vars-") as tmp:
        path = os.path.join(tmp, "saved-plan.tfvars.json")
        with open(path, "w") as f:
            json.dump(values, f)
        inputs, vd = collect(config.module, [("var-file", path)], prompt=None)
    d = Diagnostics()
    for name, rec in sorted(saved.variables.items()):
        if not rec.get("sensitive"):
            continue
        given = inputs.get(name)
        value = to_plain(given.value if isinstance(given, Sensitive) else given)
        if value is None or isinstance(value, Unknown):
            d.error("Sensitive variable not set", f'The saved plan was made with a value for the sensitive variable "{name}", which plan files never store. Set it again (TRAINFORM_VAR_{name} or a tfvars file) to the same value.')
        elif not secrets.matches(rec.get("digest"), value):
            d.error("Sensitive variable changed", f'The value given now for the sensitive variable "{name}" is not the one the plan was made with. Give the same value, or create a new plan.')
    if d.has_errors:
        raise OperationError(d)  # before vd: "not set" says what to do about a sensitive one
    if vd.has_errors:
        raise OperationError(vd)
    warnings.extend(vd)
    return config, inputs


def backend_for(config):
    """The state backend: the configuration's settings, else those saved by init."""
    from engine.state import get_backend

    settings = config.module.backend if config is not None else None
    if settings is None:
        settings = read_init_settings()
    try:
        return get_backend(settings, ".")
    except TrainformError as e:
        raise _error("Failed to configure the state backend", str(e)) from None


def read_init_settings() -> dict | None:
    try:
        with open(os.path.join(".trainform", "backend.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------- plan data

def config_files(config) -> dict[str, str]:
    """Every configuration file of the module tree: relative path -> text."""
    out = {}
    for cfg in config.walk():
        for f in cfg.module.files:
            with open(f, encoding="utf-8") as fh:
                out[f] = fh.read()
    return out


def config_hash(files: dict[str, str]) -> str:
    import hashlib

    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + hashlib.sha256(files[name].encode()).digest())
    return h.hexdigest()


def variable_record(inputs: dict, digests: bool = True) -> dict:
    """Root variable values for the plan file; sensitive ones only as salted digests
    (or, with ``digests=False``, only marked: such a record cannot be written)."""
    from engine.state import secrets
    from engine.values import Sensitive, to_plain

    out = {}
    for name, v in inputs.items():
        if isinstance(v, Sensitive):
            out[name] = {"sensitive": True, "digest": secrets.digest(to_plain(v.value)) if digests else None}
        else:
            out[name] = {"value": to_plain(v)}
    return out


def check_saved_plan(saved: Plan, fresh: Plan) -> list[str]:
    """Why a fresh plan of the saved configuration differs from the saved plan (empty: same)."""
    from engine.values import get_path

    problems = []
    now = {c.address: c for c in fresh.resource_changes}
    for sc in saved.resource_changes:
        c = now.pop(sc.address, None)
        if c is None:
            problems.append(f"{sc.address}: the plan file says {sc.action.value}, but planning now calls for nothing.")
            continue
        if c.action != sc.action:
            why = f" ({'; '.join(c.reasons)})" if c.reasons else ""
            problems.append(f"{sc.address}: the plan file says {sc.action.value}, but planning now calls for {c.action.value}{why}.")
            continue
        if sc.action in (Action.DELETE, Action.NOOP):
            continue
        hidden = [tuple(p) for p in sc.after_sensitive + c.after_sensitive]
        unknown_s = sorted(map(tuple, sc.after_unknown))
        unknown_c = sorted(map(tuple, c.after_unknown))
        for path in _leaf_paths(c.after) | _leaf_paths(sc.after):
            if any(path[:len(h)] == h for h in hidden):
                continue
            a, b = get_path(sc.after, path), get_path(c.after, path)
            if a != b and not any(path[:len(u)] == u for u in unknown_s + unknown_c):
                problems.append(f"{sc.address}: {_path_text(path)} was planned as {_short(a)} and is now {_short(b)}: something outside the configuration changed since the plan (real objects, source files, images).")
                break
        else:
            if unknown_s != unknown_c:
                problems.append(f"{sc.address}: the values known only after apply differ from the saved plan's.")
    for c in now.values():
        if c.action != Action.NOOP:
            problems.append(f"{c.address}: planning now calls for {c.action.value}, which the plan file does not contain.")
    return problems


def _leaf_paths(v, path=()) -> set:
    if isinstance(v, dict):
        out = set()
        for k, x in v.items():
            out |= _leaf_paths(x, path + (k,))
        return out or {path}
    if isinstance(v, list):
        out = set()
        for i, x in enumerate(v):
            out |= _leaf_paths(x, path + (i,))
        return out or {path}
    return {path}


def _path_text(path) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(value)"


def _short(v) -> str:
    text = json.dumps(v, sort_keys=True, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


TARGETING_WARNING = (
    "You are creating a plan with the -target option, which means that the result of this plan may not represent "
    "all of the changes requested by the current configuration.\n\nThe -target option is not for routine use, and is "
    "provided only for exceptional situations such as recovering from errors or mistakes, or when trainform "
    "specifically suggests to use it as part of an error message.")
TARGETED_APPLY_WARNING = (
    "The plan was created with the -target option in effect, so some changes requested in the configuration may "
    "have been ignored and the output values may not be fully updated. Run the following command to verify that no "
    "other changes are pending:\n    trainform plan\n\nNote that the -target option is not suitable for routine use, "
    "and is provided only for exceptional situations such as recovering from errors or mistakes, or when trainform "
    "specifically suggests to use it as part of an error message.")


# ---------------------------------------------------------------- plan files

def write_plan_file(path: str, plan: Plan) -> None:
    """Atomically, owner-only: a plan file holds the configuration snapshot."""
    if any(v.get("sensitive") and not v.get("digest") for v in plan.variables.values()):
        raise ValueError("a plan with sensitive variables is written by Operation.write_plan (it adds their digests)")
    data = {"kind": PLAN_FILE_KIND, "plan": plan.to_json()}
    tmp = path + ".tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        # found by probing: -out=DIR or a missing folder crashed and left DIR.tmp behind
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise _error("Failed to write plan file", f"The plan could not be saved to {path}: {e.strerror or e}. Nothing was changed; give -out a file path in an existing, writable folder.") from None


def read_plan_file(path: str) -> Plan:
    try:
        with open(path) as f:
            data = json.load(f)
        if not isinstance(data, dict) or data.get("kind") != PLAN_FILE_KIND:
            raise ValueError("not a trainform plan file")
        plan = Plan.from_json(data["plan"])
        if not plan.options and "options" in data:  # written before options moved into the plan
            plan.options = data["options"]
        if plan.config_hash and plan.config_files and config_hash(plan.config_files) != plan.config_hash:
            # the snapshot is what apply runs: a damaged or edited one must not be applied as if reviewed
            raise ValueError("its configuration snapshot does not match the checksum written with it (the file was damaged or edited)")
        return plan
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise _error("Failed to load the saved plan", f"{path} is not a readable trainform plan file: {e}.") from None
