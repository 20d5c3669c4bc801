"""Upgrading older state documents to the current format (version 1).

Format version 0 (trainform before 0.1, documented here because old state
files still carry it) looked like this::

    {
      "version": 0,                      # instead of "format_version"
      "serial": 3,
      "lineage": "…",
      "tool_version": "0.0.9",
      "resources": [                     # a list, no addresses
        {
          "module": "module.m",          # "" or missing for root
          "type": "value", "name": "x",
          "index": "a",                  # null / int / str
          "attrs": {...},                # attributes, sensitive ones in PLAINTEXT
          "sensitive_attrs": ["password", "registry.0.password"],   # dotted paths
          "deps": ["value.y"],
          "tainted": false,
          "private": {...} | null,
          "schema_version": 0
        }
      ],
      "outputs": {"name": {"value": ..., "sensitive": false}}    # no "type"
    }

Version 1 adds full instance addresses, lists of path steps instead of
dotted strings, ``status`` instead of ``tainted``, output types, and never
stores plaintext secrets.  The upgrade digests the plaintext with a salt
derived from (lineage, address, path) so that upgrading the same file twice
gives the same document (golden tests rely on it; the salt being public is
no weaker than a random one, it only has to differ per slot).
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from engine.state.errors import StateCorruptError, StateError
from engine.state.secrets import digest, is_digest, redact

__all__ = ["upgrade", "upgrade_v0", "instance_address", "infer_type"]

CURRENT = 1


def upgrade(d: Any) -> dict:
    """Return ``d`` as a current-format dict (a copy when it had to change)."""
    if not isinstance(d, dict):
        raise StateCorruptError(f"state must be a JSON object, got {type(d).__name__}")
    if "format_version" in d:
        version = d["format_version"]
    elif "version" in d:
        version = d["version"]
    else:
        raise StateCorruptError("state has no 'format_version'")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise StateCorruptError(f"invalid format_version {version!r}")
    if version > CURRENT:
        raise StateError(
            f"This state uses format version {version}, newer than this trainform supports ({CURRENT}). "
            "Upgrade trainform to read it; do not edit the state by hand."
        )
    if version == 0:
        d = upgrade_v0(d)
    return d


def instance_address(module: str, type_: str, name: str, index: int | str | None) -> str:
    addr = f"{module + '.' if module else ''}{type_}.{name}"
    if index is None:
        return addr
    if isinstance(index, int):
        return f"{addr}[{index}]"
    return f"{addr}[{json.dumps(index)}]"


def _split_dotted(path: str) -> list:
    return [int(p) if p.isdigit() else p for p in path.split(".")]


def infer_type(value: Any) -> Any:
    """A Terraform-style JSON type for an output value that had none recorded."""
    if value is None:
        return "dynamic"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return ["tuple", [infer_type(v) for v in value]]
    if isinstance(value, dict):
        return ["object", {k: infer_type(v) for k, v in value.items()}]
    return "dynamic"


def upgrade_v0(d: dict) -> dict:
    lineage = d.get("lineage")
    if not isinstance(lineage, str) or not lineage:
        raise StateCorruptError("version 0 state has no lineage")

    def salt_for(address: str, path: list) -> str:
        return hashlib.sha256(json.dumps([lineage, address, path]).encode()).hexdigest()[:16]

    resources = []
    raw = d.get("resources") or []
    if not isinstance(raw, list):
        raise StateCorruptError("version 0 'resources' must be a list")
    for r in raw:
        if not isinstance(r, dict) or not isinstance(r.get("type"), str) or not isinstance(r.get("name"), str):
            raise StateCorruptError(f"version 0 resource entry is invalid: {r!r:.80}")
        module = r.get("module") or ""
        index = r.get("index")
        address = instance_address(module, r["type"], r["name"], index)
        paths = [_split_dotted(p) if isinstance(p, str) else list(p) for p in r.get("sensitive_attrs") or []]
        attrs = redact(r.get("attrs") or {}, paths, salt_for=lambda p, a=address: salt_for(a, p))
        resources.append({
            "address": address,
            "module": module,
            "type": r["type"],
            "name": r["name"],
            "index_key": index,
            "status": "tainted" if r.get("tainted") else "ready",
            "schema_version": int(r.get("schema_version") or 0),
            "create_before_destroy": False,
            "attributes": attrs,
            "sensitive_paths": paths,
            "private": copy.deepcopy(r.get("private")),
            "dependencies": list(r.get("deps") or []),
        })
    resources.sort(key=lambda x: x["address"])
    outputs = {}
    for name, o in sorted((d.get("outputs") or {}).items()):
        value = copy.deepcopy(o.get("value"))
        sensitive = bool(o.get("sensitive", False))
        typ = infer_type(value)
        if sensitive and value is not None and not is_digest(value):
            value = digest(value, salt_for(f"output.{name}", []))
        outputs[name] = {"value": value, "sensitive": sensitive, "type": typ}
    return {
        "format_version": 1,
        "serial": d.get("serial", 0),
        "lineage": lineage,
        "trainform_version": d.get("tool_version") or "",
        "resources": resources,
        "outputs": outputs,
    }
