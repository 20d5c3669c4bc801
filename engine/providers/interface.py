"""The one provider interface every resource type implements.

A provider declares its schema and answers five questions, each as a
request/response dataclass so the interface can grow without breaking
implementations (Terraform's ``providers.Interface``):

* ``validate`` -- is this configuration acceptable beyond what the schema says?
* ``plan``     -- prior state + configuration -> proposed new state, with
                  :data:`engine.values.UNKNOWN` for values known only after
                  apply, the attribute paths that force replacement, and a
                  human reason;
* ``apply``    -- make it so (create / update / delete) and return the new state;
* ``read``     -- refresh: the real object's current state, or ``None`` when gone;
* optional hooks, with working defaults on :class:`Provider`: ``import_``
  (adopt an existing object), ``cancel`` (second Ctrl-C), ``upgrade_state``
  (state written under an older ``schema().version``), ``show_extra`` (derived
  documents for ``trainform show``).  The engine calls them directly: no
  ``getattr`` probing.

A diagnostic about one attribute names it with ``attribute_path`` (e.g.
``d.error("Invalid compute type", ..., attribute_path=("type",))``, nested
blocks as ``("docker", "base_image")`` or ``("python", 0, "pip_packages")``);
the engine points the message at that attribute in the configuration.
``import_`` returns the state (and private data) of an existing object from an
id; the engine then calls ``read`` to confirm it exists before planning it.

Values exchanged are plain JSON-like data (dict/list/str/int/float/bool/None)
plus ``UNKNOWN``.  Nested blocks appear as a dict (nesting "single", or None
when absent) or a list of dicts (nesting "list").  Sensitive attributes carry
their real value in ``config`` and ``planned_state``; prior states hold what the
engine stored (a salted digest for sensitive attributes), so a provider that
needs a secret at delete time reads it from ``config`` when the engine has it.

Providers are registered under the ``trainform.providers`` entry-point group
(name = resource type), so third-party packages can add resource types.  They
import only :mod:`engine.providers` (this module's public names and a few
helpers), never other engine modules.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from engine.diagnostics import Diagnostics

__all__ = [
    "Attribute", "NestedBlock", "BlockSchema", "ResourceSchema",
    "ProviderContext", "Provider",
    "ValidateRequest", "ValidateResponse", "PlanRequest", "PlanResponse",
    "ApplyRequest", "ApplyResponse", "ReadRequest", "ReadResponse",
    "ImportRequest", "ImportResponse", "UpgradeStateRequest", "UpgradeStateResponse",
    "CREATE", "UPDATE", "DELETE", "default_plan", "proposed_new_state",
]

CREATE, UPDATE, DELETE = "create", "update", "delete"


# ---------------------------------------------------------------- schema

@dataclass
class Attribute:
    """One attribute of a resource or nested block.

    ``type`` is a Terraform type-constraint string: ``string``, ``number``,
    ``bool``, ``any``, ``list(string)``, ``map(string)``, ``set(number)`` ...
    """

    type: str = "string"
    required: bool = False
    optional: bool = False  # only meaningful with computed: settable, else computed by the provider
    computed: bool = False
    sensitive: bool = False
    force_new: bool = False
    default: Any = None
    description: str = ""
    conflicts_with: tuple[str, ...] = ()

    @property
    def read_only(self) -> bool:
        """Computed and not settable in configuration."""
        return self.computed and not self.required and not self.optional


@dataclass
class NestedBlock:
    block: "BlockSchema"
    nesting: str = "single"  # "single" | "list"
    min_items: int = 0
    max_items: int = 0  # 0: unbounded (list) / 1 (single)
    force_new: bool = False
    description: str = ""


@dataclass
class BlockSchema:
    attributes: dict[str, Attribute] = field(default_factory=dict)
    blocks: dict[str, NestedBlock] = field(default_factory=dict)
    description: str = ""

    def sensitive_paths(self, value: Any, prefix: tuple = ()) -> list[tuple]:
        """Paths of sensitive attributes present in ``value`` (a dict of this block)."""
        out: list[tuple] = []
        if not isinstance(value, dict):
            return out
        for name, attr in self.attributes.items():
            if attr.sensitive and value.get(name) is not None:
                out.append(prefix + (name,))
        for name, nb in self.blocks.items():
            sub = value.get(name)
            if nb.nesting == "single":
                out += nb.block.sensitive_paths(sub, prefix + (name,))
            elif isinstance(sub, list):
                for i, item in enumerate(sub):
                    out += nb.block.sensitive_paths(item, prefix + (name, i))
        return out


@dataclass
class ResourceSchema:
    block: BlockSchema
    version: int = 0
    description: str = ""


# ---------------------------------------------------------------- context

@dataclass
class ProviderContext:
    """What the engine lends a provider for one command.

    ``log(address, line)`` streams a line of output (build logs, training
    logs) to the user; ``progress(address, message)`` reports a step;
    ``lookup(id)`` returns ``(type, attributes)`` of the resource in this
    configuration/state whose ``id`` attribute equals ``id`` (None if none),
    so a run can find its environment's image and its compute pool;
    ``cancelled`` is set on the second Ctrl-C.
    """

    working_dir: str = "."
    data_dir: str = ".trainform"
    parallelism: int = 10
    log: Callable[[str, str], None] = lambda address, line: None
    progress: Callable[[str, str], None] = lambda address, message: None
    lookup: Callable[[str], tuple[str, dict] | None] = lambda id: None
    cancelled: threading.Event = field(default_factory=threading.Event)
    stopping: threading.Event = field(default_factory=threading.Event)
    #: ``checkpoint(address, state, private)``: during an apply, record an object that
    #: exists while its apply still runs (a started training run), so a killed trainform
    #: leaves it in state for the next command to adopt instead of starting it again.
    checkpoint: Callable[[str, dict, dict | None], None] = lambda address, state, private: None
    #: True in apply/refresh/destroy, whose refreshed state is saved: ``read`` may then tidy
    #: up what it has recorded (remove a finished container).  False in plan: read changes nothing.
    persisting: bool = False
    #: ``sensitive_values()``: every scalar that carried a sensitive mark so far in this command
    #: (the sensitive variables' values and what was computed from them).  A provider that prints
    #: what a user's code prints (run logs) masks them all: a script given ``"Bearer ${var.tok}"``
    #: may print the token alone, which no configured value equals.
    sensitive_values: Callable[[], frozenset] = lambda: frozenset()


# ---------------------------------------------------------------- requests

@dataclass
class ValidateRequest:
    address: str
    config: dict
    #: paths in ``config`` whose values carry a sensitive mark (plain values: the marks are stripped)
    sensitive_paths: list = field(default_factory=list)


@dataclass
class ValidateResponse:
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


@dataclass
class PlanRequest:
    address: str
    prior_state: dict | None  # None: the object does not exist yet
    config: dict | None  # None: the object is being destroyed
    prior_private: dict | None = None
    #: paths in ``config`` whose values carry a sensitive mark
    sensitive_paths: list = field(default_factory=list)


@dataclass
class PlanResponse:
    planned_state: dict | None
    requires_replace: list[tuple] = field(default_factory=list)
    reason: str | None = None  # human reason, display only
    private: dict | None = None
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    #: a replacement must create the new object before deleting the old one (as
    #: ``lifecycle { create_before_destroy = true }``), e.g. an image runs still use
    create_before_destroy: bool = False


@dataclass
class ApplyRequest:
    address: str
    action: str  # CREATE | UPDATE | DELETE
    prior_state: dict | None
    planned_state: dict | None
    config: dict | None
    private: dict | None = None
    #: paths in ``config`` whose values carry a sensitive mark
    sensitive_paths: list = field(default_factory=list)


@dataclass
class ApplyResponse:
    """``new_state`` None after a delete.  On failure return diagnostics; if the
    object came into being anyway, return its ``new_state`` too and the engine
    records it as tainted."""

    new_state: dict | None
    private: dict | None = None
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


@dataclass
class ReadRequest:
    address: str
    state: dict
    private: dict | None = None


@dataclass
class ReadResponse:
    new_state: dict | None  # None: the object is gone
    private: dict | None = None
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


@dataclass
class ImportRequest:
    address: str
    id: str


@dataclass
class ImportResponse:
    """``state`` of the existing object (None or an error diagnostic: there is none
    with this id); the engine then reads it and plans it against the configuration."""

    state: dict | None
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    private: dict | None = None


@dataclass
class UpgradeStateRequest:
    """State written when the provider's schema was at ``version`` (older than now)."""

    address: str
    version: int
    state: dict


@dataclass
class UpgradeStateResponse:
    state: dict | None
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


# ---------------------------------------------------------------- provider

class Provider:
    """Base class; subclasses set ``type_name`` and implement the methods.

    The defaults give a well-behaved "pure data" resource: plan copies the
    configuration, marks computed attributes unknown on create, and replaces
    when a ``force_new`` attribute changes.
    """

    type_name: str = ""
    #: True when plan/apply/read are quick in-memory work (no I/O): the engine then
    #: runs them on its coordinating thread instead of handing them to a worker,
    #: which costs more than the work itself for such providers.
    inline: bool = False

    def __init__(self) -> None:
        self.ctx = ProviderContext()

    def configure(self, ctx: ProviderContext) -> None:
        self.ctx = ctx

    def schema(self) -> ResourceSchema:
        raise NotImplementedError

    def validate(self, req: ValidateRequest) -> ValidateResponse:
        return ValidateResponse()

    def plan(self, req: PlanRequest) -> PlanResponse:
        return default_plan(self.schema(), req)

    def apply(self, req: ApplyRequest) -> ApplyResponse:
        raise NotImplementedError

    def read(self, req: ReadRequest) -> ReadResponse:
        return ReadResponse(new_state=req.state, private=req.private)

    def import_(self, req: ImportRequest) -> ImportResponse:
        d = Diagnostics()
        d.error("Resource import not supported", f"The resource type {self.type_name!r} does not support import.")
        return ImportResponse(None, d)

    def cancel(self) -> None:
        """Called on the second Ctrl-C: stop in-flight work as fast as possible."""

    def upgrade_state(self, req: UpgradeStateRequest) -> UpgradeStateResponse:
        """Bring state written under an older schema version up to date.

        The engine calls this before refresh for every instance whose stored
        ``schema_version`` is older than ``schema().version``.  The default keeps
        the attributes as they are (fine for added optional attributes)."""
        return UpgradeStateResponse(state=req.state)

    def show_extra(self, address: str, state: dict) -> str | None:
        """Text that ``trainform show`` prints after the state (e.g. a generated config)."""
        return None


def proposed_new_state(schema: ResourceSchema, prior: dict | None, config: dict) -> dict:
    """Configuration plus prior computed values: what most providers plan.

    Each computed attribute the configuration leaves null keeps its prior value
    (or becomes UNKNOWN on create), so providers need not re-implement the merge."""
    from engine.values import UNKNOWN

    planned = dict(config)
    for name, attr in schema.block.attributes.items():
        if attr.computed and planned.get(name) is None:
            planned[name] = prior[name] if prior is not None and name in prior else UNKNOWN
    return planned


def default_plan(schema: ResourceSchema, req: PlanRequest) -> PlanResponse:
    """Plan for a resource whose state is its configuration plus computed attributes."""
    from engine.values import UNKNOWN

    if req.config is None:
        return PlanResponse(planned_state=None)
    planned = proposed_new_state(schema, req.prior_state, req.config)
    prior = req.prior_state
    replace: list[tuple] = []
    for name, attr in schema.block.attributes.items():
        if prior is not None and attr.force_new and name in req.config:
            if _differs(prior.get(name), req.config.get(name)):
                replace.append((name,))
    for name, nb in schema.block.blocks.items():
        if prior is not None and nb.force_new and _differs(prior.get(name), req.config.get(name)):
            replace.append((name,))
    if replace and prior is not None:
        for name, attr in schema.block.attributes.items():
            if attr.computed and req.config.get(name) is None:
                planned[name] = UNKNOWN
    return PlanResponse(planned_state=planned, requires_replace=replace)


def _differs(a: Any, b: Any) -> bool:
    from engine.values import Unknown

    if isinstance(a, Unknown) or isinstance(b, Unknown):
        return True
    return a != b
