"""Plan, ResourceChange and Action: plain data that round-trips through JSON.

``before``/``after`` hold plain values; unknown values are listed in
``after_unknown`` (paths) with None in ``after``; sensitive values are listed
in ``before_sensitive``/``after_sensitive`` and are *not* present in the
serialised form (replaced by None), so a plan file never holds a secret.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

PLAN_FORMAT_VERSION = 2  # 2: the plan carries its configuration snapshot and options


@dataclass
class PlanOptions:
    """What to plan (the command's flags)."""

    destroy: bool = False
    refresh: bool = True
    refresh_only: bool = False
    targets: list[str] = field(default_factory=list)
    replace: list[str] = field(default_factory=list)
    parallelism: int = 10
    validate_only: bool = False  # evaluate with unknown inputs, call no provider plan
    imports: list = field(default_factory=list)  # [(address, id)]: trainform import ADDR ID


class Action(str, enum.Enum):
    NOOP = "no-op"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    REPLACE_DELETE_FIRST = "delete-then-create"
    REPLACE_CREATE_FIRST = "create-then-delete"
    READ = "read"
    FORGET = "forget"  # removed { lifecycle { destroy = false } }: drop from state, keep the object

    @property
    def is_replace(self) -> bool:
        return self in (Action.REPLACE_DELETE_FIRST, Action.REPLACE_CREATE_FIRST)

    @property
    def symbol(self) -> str:
        return {
            Action.NOOP: " ",
            Action.CREATE: "+",
            Action.UPDATE: "~",
            Action.DELETE: "-",
            Action.REPLACE_DELETE_FIRST: "-/+",
            Action.REPLACE_CREATE_FIRST: "+/-",
            Action.READ: "<=",
            Action.FORGET: ".",
        }[self]


@dataclass
class ResourceChange:
    address: str
    type: str
    name: str
    module: str = ""
    index_key: Any = None
    action: Action = Action.NOOP
    before: Any = None
    after: Any = None
    after_unknown: list[list] = field(default_factory=list)
    before_sensitive: list[list] = field(default_factory=list)
    after_sensitive: list[list] = field(default_factory=list)
    replace_paths: list[list] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    tainted: bool = False
    private: Any = None
    previous_address: str | None = None  # moved here from this address (a moved block)
    importing: dict | None = None  # {"id": ...}: adopted by an import block / trainform import

    def to_json(self) -> dict:
        d = asdict(self)
        d["action"] = self.action.value
        d["before"] = _strip(self.before, self.before_sensitive)
        d["after"] = _strip(self.after, self.after_sensitive)
        return d

    @classmethod
    def from_json(cls, d: dict) -> "ResourceChange":
        _check_fields(d, _CHANGE_FIELDS, "resource change")
        d = dict(d)
        d["action"] = Action(d["action"])
        return cls(**d)


@dataclass
class OutputChange:
    name: str
    action: Action
    before: Any = None
    after: Any = None
    after_unknown: bool = False
    sensitive: bool = False

    def to_json(self) -> dict:
        d = asdict(self)
        d["action"] = self.action.value
        if self.sensitive:
            d["before"] = d["after"] = None
        return d


@dataclass
class DriftEntry:
    address: str
    action: str  # "update" (changed outside trainform) | "delete" (gone)
    before: Any = None
    after: Any = None

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Plan:
    format_version: int = PLAN_FORMAT_VERSION
    trainform_version: str = ""
    lineage: str | None = None
    serial: int | None = None
    destroy: bool = False
    refresh_only: bool = False
    config_hash: str = ""
    variables: dict = field(default_factory=dict)  # name -> {"value": v} or {"sensitive": True, "digest": ...}
    options: dict = field(default_factory=dict)  # targets, replace, refresh: how it was planned
    config_files: dict = field(default_factory=dict)  # relative path -> text: the configuration snapshot
    resource_changes: list[ResourceChange] = field(default_factory=list)
    output_changes: list[OutputChange] = field(default_factory=list)
    drift: list[DriftEntry] = field(default_factory=list)
    errored: bool = False
    moves: list[list[str]] = field(default_factory=list)  # [from, to] applied to the prior state

    @property
    def has_changes(self) -> bool:
        return bool(self.moves) or any(c.action != Action.NOOP or c.importing for c in self.resource_changes) or any(
            o.action != Action.NOOP for o in self.output_changes
        ) or (self.refresh_only and bool(self.drift))

    def change(self, address: str) -> ResourceChange | None:
        for c in self.resource_changes:
            if c.address == address:
                return c
        return None

    def counts(self) -> dict[str, int]:
        add = change = destroy = imported = forget = 0
        for c in self.resource_changes:
            if c.importing:
                imported += 1
            if c.action == Action.FORGET:
                forget += 1
            elif c.action == Action.CREATE:
                add += 1
            elif c.action == Action.UPDATE:
                change += 1
            elif c.action == Action.DELETE:
                destroy += 1
            elif c.action.is_replace:
                add += 1
                destroy += 1
        return {"add": add, "change": change, "destroy": destroy, "import": imported, "forget": forget}

    def to_json(self) -> dict:
        return {
            "format_version": self.format_version,
            "trainform_version": self.trainform_version,
            "lineage": self.lineage,
            "serial": self.serial,
            "destroy": self.destroy,
            "refresh_only": self.refresh_only,
            "config_hash": self.config_hash,
            "variables": self.variables,
            "options": self.options,
            "config_files": self.config_files,
            "resource_changes": [c.to_json() for c in self.resource_changes],
            "output_changes": [o.to_json() for o in self.output_changes],
            "resource_drift": [d.to_json() for d in self.drift],
            "errored": self.errored,
            "moves": [list(m) for m in self.moves],
        }

    @classmethod
    def from_json(cls, d: dict) -> "Plan":
        _check_fields(d, _PLAN_FIELDS, "plan")
        for o in d.get("output_changes", []):
            _check_fields(o, _OUTPUT_FIELDS, "output change")
        for name, v in d.get("variables", {}).items():
            _check_fields(v, {}, f"variable {name!r}")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in d.get("config_files", {}).items()):
            raise ValueError("the configuration snapshot is not a map of file names to texts")
        opts = d.get("options", {})
        if not all(isinstance(opts.get(k, []), list) and all(isinstance(x, str) for x in opts.get(k, [])) for k in ("targets", "replace")):
            raise ValueError("the plan's targets are not a list of addresses")
        if not all(isinstance(m, list) and len(m) == 2 and all(isinstance(x, str) for x in m) for m in d.get("moves", [])):
            raise ValueError("the moves are not pairs of addresses")
        return cls(
            format_version=d.get("format_version", 1),
            trainform_version=d.get("trainform_version", ""),
            lineage=d.get("lineage"),
            serial=d.get("serial"),
            destroy=d.get("destroy", False),
            refresh_only=d.get("refresh_only", False),
            config_hash=d.get("config_hash", ""),
            variables=d.get("variables", {}),
            options=d.get("options", {}),
            config_files=d.get("config_files", {}),
            resource_changes=[ResourceChange.from_json(c) for c in d.get("resource_changes", [])],
            output_changes=[OutputChange(**{**o, "action": Action(o["action"])}) for o in d.get("output_changes", [])],
            drift=[DriftEntry(**x) for x in d.get("resource_drift", [])],
            errored=d.get("errored", False),
            moves=[list(m) for m in d.get("moves", [])],
        )


_STR, _OPT_STR, _BOOL, _INT, _OPT_INT = (str,), (str, type(None)), (bool,), (int,), (int, type(None))
_LIST, _DICT, _OPT_DICT = (list,), (dict,), (dict, type(None))
_PLAN_FIELDS = {
    "format_version": _INT, "trainform_version": _STR, "lineage": _OPT_STR, "serial": _OPT_INT, "destroy": _BOOL,
    "refresh_only": _BOOL, "config_hash": _STR, "variables": _DICT, "options": _DICT, "config_files": _DICT,
    "resource_changes": _LIST, "output_changes": _LIST, "resource_drift": _LIST, "errored": _BOOL, "moves": _LIST,
}
_PATHS = ("after_unknown", "before_sensitive", "after_sensitive", "replace_paths")
_CHANGE_FIELDS = {
    "address": _STR, "type": _STR, "name": _STR, "module": _STR, "action": _STR, "tainted": _BOOL,
    "reasons": _LIST, "dependencies": _LIST, "previous_address": _OPT_STR, "importing": _OPT_DICT,
    **{k: _LIST for k in _PATHS},
}
_OUTPUT_FIELDS = {"name": _STR, "action": _STR, "after_unknown": _BOOL, "sensitive": _BOOL}


def _check_fields(d: Any, types: dict, what: str) -> None:
    """Refuse a damaged or hand-edited plan file at load time, as a ValueError
    that read_plan_file reports as a diagnostic, instead of letting a wrong
    type reach the apply code and crash there (found by probing: a plan whose
    ``variables`` was a list crashed apply)."""
    if not isinstance(d, dict):
        raise ValueError(f"a {what} is not an object")
    for k, t in types.items():
        if k in d and (not isinstance(d[k], t) or (t is _INT and isinstance(d[k], bool))):
            raise ValueError(f"the {what}'s {k!r} is not of the expected type")
    for k in _PATHS if types is _CHANGE_FIELDS else ():
        if k in d and not all(isinstance(p, list) for p in d[k]):
            raise ValueError(f"the {what}'s {k!r} is not a list of paths")


def _strip(value: Any, paths: list) -> Any:
    """Replace values at sensitive paths by None so they never reach a file."""
    from engine.values import set_path

    for p in paths:
        value = set_path(value, tuple(p), None) if p else None
    return value
