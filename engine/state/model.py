"""The state model: what trainform remembers about the objects it manages.

State is plain data (dataclasses) that serialises to JSON and back without
loss.  The on-disk/in-database document, **format_version 1**, is::

    {
      "format_version": 1,
      "serial": 7,                       # +1 on every write
      "lineage": "3f1c…-uuid4",          # identity of this state's history
      "trainform_version": "0.1.0",      # version that wrote it
      "resources": [                     # one entry per instance, sorted by address
        {
          "address": "module.m.value.x[\\"a\\"]",
          "module": "module.m",          # "" for the root module
          "type": "value",
          "name": "x",
          "index_key": "a",              # null, an int (count) or a str (for_each)
          "status": "ready",             # or "tainted"
          "schema_version": 0,
          "create_before_destroy": false,
          "attributes": {...},           # plain JSON
          "sensitive_paths": [["password"]],   # values there are digests
          "private": null,               # provider-private JSON, or null
          "dependencies": ["value.y"]
        }
      ],
      "outputs": {
        "name": {"value": ..., "sensitive": false, "type": "string"}
      }
    }

Rules:

* ``serial`` and ``lineage`` guard against lost updates: a backend refuses a
  write whose lineage differs from the stored one or whose serial is older.
* Sensitive values (attributes at ``sensitive_paths``, outputs with
  ``"sensitive": true``) are stored as salted digests
  ``"scrypt:<log2 N>:<r>:<p>:<salt>:<hex>"`` (see ``engine.state.secrets``); serialising
  (:meth:`State.to_json`) redacts any that are still plaintext, so no code
  path can write a secret.
* Documents with an older ``format_version`` are upgraded on load
  (``engine.state.upgrade``); a newer one is refused.
* Beside the document, a backend keeps the previous serial as a backup and a
  write-ahead journal of the apply in progress (``engine.state.backend``).
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from typing import Any

from engine.state.errors import StateCorruptError
from engine.state.secrets import digest, is_digest, plain_copy, redact

__all__ = ["ResourceInstance", "State", "FORMAT_VERSION", "STATUSES"]

FORMAT_VERSION = 1
STATUSES = ("ready", "tainted", "deposed")  # deposed: replaced under create_before_destroy, deletion pending


def _version() -> str:
    from engine import __version__

    return __version__


@dataclass
class ResourceInstance:
    """One instance of a resource (one element of count/for_each, or the only one)."""

    address: str
    type: str
    name: str
    module: str = ""
    index_key: int | str | None = None
    attributes: dict = field(default_factory=dict)
    sensitive_paths: list[list] = field(default_factory=list)
    private: dict | None = None
    dependencies: list[str] = field(default_factory=list)
    status: str = "ready"
    schema_version: int = 0
    create_before_destroy: bool = False

    def to_json(self) -> dict:
        paths = [list(p) for p in self.sensitive_paths]
        return {
            "address": self.address,
            "module": self.module,
            "type": self.type,
            "name": self.name,
            "index_key": self.index_key,
            "status": self.status,
            "schema_version": self.schema_version,
            "create_before_destroy": self.create_before_destroy,
            "attributes": redact(self.attributes, paths),
            "sensitive_paths": paths,
            "private": plain_copy(self.private),
            "dependencies": list(self.dependencies),
        }

    @classmethod
    def from_json(cls, d: dict) -> "ResourceInstance":
        if not isinstance(d, dict):
            raise StateCorruptError(f"resource instance must be an object, got {type(d).__name__}")
        for key in ("address", "type", "name"):
            if not isinstance(d.get(key), str):
                raise StateCorruptError(f"resource instance {d.get('address', '?')!r}: missing or invalid {key!r}")
        status = d.get("status", "ready")
        if status not in STATUSES:
            raise StateCorruptError(f"resource instance {d['address']!r}: unknown status {status!r}")
        attrs = d.get("attributes") or {}
        if not isinstance(attrs, dict):
            raise StateCorruptError(f"resource instance {d['address']!r}: attributes must be an object")
        return cls(
            address=d["address"],
            type=d["type"],
            name=d["name"],
            module=d.get("module") or "",
            index_key=d.get("index_key"),
            attributes=plain_copy(attrs),
            sensitive_paths=[list(p) for p in d.get("sensitive_paths") or []],
            private=plain_copy(d.get("private")),
            dependencies=list(d.get("dependencies") or []),
            status=status,
            schema_version=int(d.get("schema_version") or 0),
            create_before_destroy=bool(d.get("create_before_destroy", False)),
        )


def _output_to_json(o: dict) -> dict:
    out = {"value": copy.deepcopy(o.get("value")), "sensitive": bool(o.get("sensitive", False)), "type": copy.deepcopy(o.get("type"))}
    if out["sensitive"] and out["value"] is not None and not is_digest(out["value"]):
        out["value"] = digest(out["value"])
    return out


@dataclass
class State:
    """A whole state document (see the module docstring for the JSON form)."""

    format_version: int = FORMAT_VERSION
    serial: int = 0
    lineage: str = ""
    trainform_version: str = ""
    resources: dict[str, ResourceInstance] = field(default_factory=dict)
    outputs: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def new(cls) -> "State":
        return cls(format_version=FORMAT_VERSION, serial=0, lineage=str(uuid.uuid4()), trainform_version=_version())

    def to_json(self) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "serial": self.serial,
            "lineage": self.lineage,
            "trainform_version": self.trainform_version,
            "resources": [self.resources[a].to_json() for a in sorted(self.resources)],
            "outputs": {k: _output_to_json(self.outputs[k]) for k in sorted(self.outputs)},
        }

    @classmethod
    def from_json(cls, d: Any) -> "State":
        """Load any supported format version (older ones are upgraded first)."""
        from engine.state.upgrade import upgrade

        d = upgrade(d)
        if not isinstance(d.get("serial"), int) or isinstance(d.get("serial"), bool) or d["serial"] < 0:
            raise StateCorruptError(f"'serial' must be a non-negative integer, got {d.get('serial')!r}")
        if not isinstance(d.get("lineage"), str) or not d["lineage"]:
            raise StateCorruptError("'lineage' is missing or empty")
        raw = d.get("resources") or []
        if not isinstance(raw, list):
            raise StateCorruptError("'resources' must be a list")
        resources: dict[str, ResourceInstance] = {}
        for r in raw:
            inst = ResourceInstance.from_json(r)
            if inst.address in resources:
                raise StateCorruptError(f"resource instance {inst.address!r} appears twice")
            resources[inst.address] = inst
        outputs = d.get("outputs") or {}
        if not isinstance(outputs, dict) or not all(isinstance(v, dict) for v in outputs.values()):
            raise StateCorruptError("'outputs' must be an object of objects")
        return cls(
            format_version=FORMAT_VERSION,
            serial=d["serial"],
            lineage=d["lineage"],
            trainform_version=str(d.get("trainform_version") or ""),
            resources={a: resources[a] for a in sorted(resources)},
            outputs={k: _output_to_json(outputs[k]) for k in sorted(outputs)},
        )

    def copy(self) -> "State":
        return copy.deepcopy(self)

    # Small conveniences for the journal replay and the CLI.
    def set_instance(self, inst: ResourceInstance) -> None:
        """Add or replace an instance, keeping ``resources`` ordered by address."""
        is_new = inst.address not in self.resources
        last = next(reversed(self.resources), None)
        self.resources[inst.address] = inst
        if is_new and last is not None and last > inst.address:
            self.resources = dict(sorted(self.resources.items()))

    def remove_instance(self, address: str) -> ResourceInstance | None:
        return self.resources.pop(address, None)
