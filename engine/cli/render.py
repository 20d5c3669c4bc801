"""Render plans, drift and apply progress the Terraform way.

The core hands plain data (engine.plan.model); everything about how it
looks lives here.  Sensitive values print as ``(sensitive value)``, unknown
ones as ``(known after apply)``.
"""

from __future__ import annotations

import json
from typing import Any

from engine.plan.model import Action, Plan, ResourceChange

SENS = "(sensitive value)"
UNK = "(known after apply)"

_COLORS = {"+": "\x1b[32m", "-": "\x1b[31m", "~": "\x1b[33m", "-/+": "\x1b[31m", "+/-": "\x1b[32m", "<=": "\x1b[36m"}


class Painter:
    def __init__(self, color: bool) -> None:
        self.color = color

    def sym(self, s: str) -> str:
        if not self.color or s.strip() == "":
            return s
        return f"{_COLORS.get(s.strip(), '')}{s}\x1b[0m"

    def bold(self, s: str) -> str:
        return f"\x1b[1m{s}\x1b[0m" if self.color else s


def _has_path(paths, path) -> bool:
    path = list(path)
    for p in paths or []:
        if list(p) == path:
            return True
    return False


def _under(paths, path) -> bool:
    path = list(path)
    return any(list(p)[: len(path)] == path and len(p) > len(path) for p in paths or [])


def fmt_scalar(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return json.dumps(v)
    if isinstance(v, str):
        if "\n" in v:
            return "<<-EOT\n" + "\n".join("    " + line for line in v.rstrip("\n").split("\n")) + "\n EOT"
        return json.dumps(v, ensure_ascii=False)
    return json.dumps(v)


def fmt_value(v: Any, indent: int, sens_paths=(), unk_paths=(), path=()) -> str:
    """A value as HCL-ish text; ``indent`` is the column where its key starts
    (nested items go 4 further, the closing bracket back at ``indent``)."""
    if _has_path(sens_paths, path):
        return SENS
    if _has_path(unk_paths, path):
        return UNK
    pad = " " * indent
    if isinstance(v, dict):
        if not v:
            return "{}"
        width = max(len(_key(k)) for k in v)
        lines = ["{"]
        for k in sorted(v):
            lines.append(f"{pad}    {_key(k).ljust(width)} = {fmt_value(v[k], indent + 4, sens_paths, unk_paths, path + (k,))}")
        lines.append(pad + "}")
        return "\n".join(lines)
    if isinstance(v, list):
        if not v:
            return "[]"
        lines = ["["]
        for i, x in enumerate(v):
            lines.append(f"{pad}    {fmt_value(x, indent + 4, sens_paths, unk_paths, path + (i,))},")
        lines.append(pad + "]")
        return "\n".join(lines)
    return fmt_scalar(v)


def _key(k: str) -> str:
    import re

    return k if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", k) else json.dumps(k)


_AS_REQUESTED = "will be replaced, as requested"


def _header(c: ResourceChange) -> str:
    a = c.address
    if c.action == Action.FORGET:
        return f"# {a} will no longer be managed by trainform, but will not be destroyed"
    if c.action == Action.NOOP and c.previous_address:
        return f"# {c.previous_address} has moved to {a}"
    if c.action == Action.NOOP and c.importing:
        return f"# {a} will be imported"
    if c.action == Action.CREATE:
        return f"# {a} will be created"
    if c.action == Action.UPDATE:
        return f"# {a} will be updated in-place"
    if c.action == Action.DELETE:
        return f"# {a} will be destroyed"
    if c.action.is_replace:
        if c.tainted:
            return f"# {a} is tainted, so must be replaced"
        if _AS_REQUESTED in c.reasons:
            return f"# {a} {_AS_REQUESTED}"  # -replace: Terraform's header
        return f"# {a} must be replaced"
    if c.action == Action.READ:
        return f"# {a} will be read during apply"
    return f"# {a}"


def render_change(c: ResourceChange, p: Painter) -> str:
    lines = ["  " + p.bold(_header(c))]
    origin = []
    if c.previous_address and c.action != Action.NOOP:
        origin.append(f"  # (moved from {c.previous_address})")
    if c.importing and c.action != Action.NOOP:
        origin.append(f"  # (imported from {json.dumps(c.importing.get('id'))})")
    reasons = [f"  # ({r})" for r in c.reasons if not (c.tainted and r.startswith("is tainted")) and r != _AS_REQUESTED]
    # Terraform's order: a deletion's "(because ...)" belongs to its header, before "(moved from ...)"
    lines += reasons + origin if c.action == Action.DELETE else origin + reasons
    sym = c.action.symbol
    name_line = f'{c.type} "{c.name}"' if c.index_key is None else f'{c.type} "{c.name}"'
    lines.append(f"{p.sym(sym.rjust(3))} {name_line} {{")
    before = c.before if isinstance(c.before, dict) else {}
    after = c.after if isinstance(c.after, dict) else {}
    if c.action == Action.FORGET:
        after = before
    keys = sorted(set(before) | set(after))
    rows: list[tuple[str, str, str, str]] = []  # (symbol, key, rhs, suffix)
    unchanged = 0
    for k in keys:
        b, a = before.get(k), after.get(k)
        b_s = fmt_value(b, 8, c.before_sensitive, (), (k,))
        a_s = fmt_value(a, 8, c.after_sensitive, c.after_unknown, (k,))
        forces = "  # forces replacement" if _has_path(c.replace_paths, (k,)) else ""
        if c.action == Action.CREATE or (c.action.is_replace and not before):
            if a is None and not _has_path(c.after_unknown, (k,)):
                continue
            rows.append(("+", k, a_s, ""))
        elif c.action == Action.DELETE:
            if b is None:
                continue
            rows.append(("-", k, f"{b_s} -> null", ""))
        else:
            sens = _has_path(c.before_sensitive, (k,)) or _has_path(c.after_sensitive, (k,))
            same = (b_s == a_s) and not _has_path(c.after_unknown, (k,)) and not _under(c.after_unknown, (k,))
            if sens and b_s == SENS and a_s == SENS:
                if _sensitive_changed(c, k):
                    rows.append(("~", k, SENS, forces))
                else:
                    unchanged += 1
                continue
            if same:
                if k in ("id", "name"):
                    rows.append((" ", k, b_s, ""))
                else:
                    unchanged += 1
                continue
            if isinstance(b, dict) and isinstance(a, dict) and b and a and not _under(c.after_unknown, (k,)) \
                    and not _under(c.after_sensitive, (k,)) and not _under(c.before_sensitive, (k,)):
                rows.append(("~", k, nested_map_diff(b, a, 8, p), forces))
            elif _scalar_list(b) and _scalar_list(a) and not _under(c.after_unknown, (k,)) \
                    and not _under(c.after_sensitive, (k,)) and not _under(c.before_sensitive, (k,)):
                rows.append(("~", k, nested_list_diff(b, a, 8, p), forces))
            elif b is None and not _has_path(c.before_sensitive, (k,)):
                rows.append(("+", k, a_s, forces))
            elif a is None and not _has_path(c.after_unknown, (k,)) and not _has_path(c.after_sensitive, (k,)):
                rows.append(("-", k, f"{b_s} -> null", forces))
            else:
                rows.append(("~", k, f"{b_s} -> {a_s}", forces))
    width = max((len(_key(k)) for _, k, _, _ in rows), default=0)
    for sym_, k, rhs, suffix in rows:
        lines.append(f"      {p.sym(sym_)} {_key(k).ljust(width)} = {rhs}{suffix}")
    if unchanged:
        lines.append(f"        # ({unchanged} unchanged attribute{'s' if unchanged != 1 else ''} hidden)")
    lines.append("    }")
    return "\n".join(lines)


def nested_map_diff(before: dict, after: dict, indent: int, p: Painter, word: str = "element") -> str:
    """A changed map/object attribute, key by key, as Terraform shows it.

    deepdiff finds which keys changed (added, removed, or changed anywhere
    below); unchanged keys are counted, not printed.  ``indent`` is the
    column of the attribute's name.
    """
    from deepdiff import DeepDiff

    changed = set(DeepDiff(before, after, ignore_order=False).affected_root_keys)
    pad = " " * (indent + 2)
    keys = sorted(set(before) | set(after))
    shown = [k for k in keys if k in changed]
    width = max((len(_key(k)) for k in shown), default=0)
    lines = ["{"]
    for k in shown:
        kk = _key(k).ljust(width)
        if k not in before:
            lines.append(f"{pad}{p.sym('+')} {kk} = {fmt_value(after[k], indent + 4)}")
        elif k not in after:
            lines.append(f"{pad}{p.sym('-')} {kk} = {fmt_value(before[k], indent + 4)} -> null")
        else:
            lines.append(f"{pad}{p.sym('~')} {kk} = {fmt_value(before[k], indent + 4)} -> {fmt_value(after[k], indent + 4)}")
    hidden = len(keys) - len(shown)
    if hidden:
        lines.append(f"{' ' * (indent + 4)}# ({hidden} unchanged {word}{'s' if hidden != 1 else ''} hidden)")
    lines.append(" " * indent + "}")
    return "\n".join(lines)


def _scalar_list(v) -> bool:
    return isinstance(v, list) and bool(v) and all(not isinstance(x, (dict, list)) for x in v)


def nested_list_diff(before: list, after: list, indent: int, p: Painter) -> str:
    """A changed list of scalars, element by element (Terraform's list diff)."""
    import difflib

    pad = " " * (indent + 2)
    lines = ["["]
    sm = difflib.SequenceMatcher(a=[fmt_scalar(x) for x in before], b=[fmt_scalar(x) for x in after], autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            lines += [f"{pad}  {fmt_scalar(x)}," for x in before[i1:i2]]
            continue
        lines += [f"{pad}{p.sym('-')} {fmt_scalar(x)}," for x in before[i1:i2]]
        lines += [f"{pad}{p.sym('+')} {fmt_scalar(x)}," for x in after[j1:j2]]
    lines.append(" " * indent + "]")
    return "\n".join(lines)


def _sensitive_changed(c: ResourceChange, k: str) -> bool:
    from engine.state import secrets

    b = (c.before or {}).get(k)
    a = (c.after or {}).get(k)
    if isinstance(b, str) and secrets.is_digest(b):
        return not secrets.matches(b, a)
    return b != a


def render_plan(plan: Plan, color: bool = False) -> str:
    p = Painter(color)
    out: list[str] = []
    if plan.drift:
        out.append("")
        out.append(p.bold("Note: Objects have changed outside of trainform"))
        out.append("")
        out.append("trainform detected the following changes made outside of trainform since the last \"trainform apply\":")
        out.append("")
        for d in plan.drift:
            if d.action == "delete":
                out.append(f"  # {d.address} has been deleted")
                out.append(f"  {p.sym('-')} {d.address}")
            else:
                out.append(f"  # {d.address} has changed")
                before, after = d.before or {}, d.after or {}
                for k in sorted(set(before) | set(after)):
                    if before.get(k) != after.get(k):
                        out.append(f"      {p.sym('~')} {_key(k)} = {fmt_value(before.get(k), 8)} -> {fmt_value(after.get(k), 8)}")
            out.append("")
        if not plan.refresh_only:
            out.append("Unless you have made equivalent changes to your configuration, or ignored the relevant attributes using ignore_changes, the following plan may include actions to undo or respond to these changes.")
            out.append("")
            out.append("─" * 77)
    changes = [c for c in plan.resource_changes if c.action != Action.NOOP or c.previous_address or c.importing]
    if plan.refresh_only:
        if not plan.drift:
            out.append("")
            out.append(p.bold("No changes.") + " Your infrastructure still matches the configuration.")
        else:
            out.append("This is a refresh-only plan, so trainform will not take any actions to undo these. If you were expecting these changes then you can apply this plan to record the updated values in the trainform state without changing any remote objects.")
        return "\n".join(out) + "\n"
    if not changes:
        out.append("")
        if any(o.action != Action.NOOP for o in plan.output_changes):
            out.append("Changes to Outputs:")
            out.extend(_render_outputs(plan, p))
            out.append("")
            out.append("You can apply this plan to save these new output values to the trainform state, without changing any real infrastructure.")
        else:
            out.append(p.bold("No changes.") + " Your infrastructure matches the configuration.")
            out.append("")
            out.append("trainform has compared your real infrastructure against your configuration and found no differences, so no changes are needed.")
        return "\n".join(out) + "\n"
    used = []
    for a in (Action.CREATE, Action.UPDATE, Action.DELETE, Action.REPLACE_DELETE_FIRST, Action.REPLACE_CREATE_FIRST):
        if any(c.action == a for c in changes):
            used.append(a)
    out.append("")
    if used:
        out.append("trainform planned the following actions. Resource actions are indicated with the following symbols:")
    words = {Action.CREATE: "create", Action.UPDATE: "update in-place", Action.DELETE: "destroy",
             Action.REPLACE_DELETE_FIRST: "destroy and then create replacement", Action.REPLACE_CREATE_FIRST: "create replacement and then destroy"}
    for a in used:
        out.append(f"{p.sym(a.symbol.rjust(3))} {words[a]}")
    out.append("")
    out.append("trainform will perform the following actions:")
    out.append("")
    for c in changes:
        out.append(render_change(c, p))
        out.append("")
    n = plan.counts()
    imported = f" {n['import']} to import," if n["import"] else ""
    forget = f", {n['forget']} to forget" if n["forget"] else ""
    out.append(p.bold("Plan:") + f"{imported} {n['add']} to add, {n['change']} to change, {n['destroy']} to destroy{forget}.")
    if any(o.action != Action.NOOP for o in plan.output_changes):
        out.append("")
        out.append("Changes to Outputs:")
        out.extend(_render_outputs(plan, p))
    return "\n".join(out) + "\n"


def _render_outputs(plan: Plan, p: Painter) -> list[str]:
    lines = []
    width = max((len(o.name) for o in plan.output_changes), default=0)
    for o in plan.output_changes:
        if o.action == Action.NOOP:
            continue
        after = SENS if o.sensitive else (UNK if o.after_unknown else fmt_value(o.after, 4))
        before = SENS if o.sensitive else fmt_value(o.before, 4)
        if o.action == Action.CREATE:
            lines.append(f"  {p.sym('+')} {o.name.ljust(width)} = {after}")
        elif o.action == Action.DELETE:
            lines.append(f"  {p.sym('-')} {o.name.ljust(width)} = {before} -> null")
        elif not (o.sensitive or o.after_unknown) and isinstance(o.before, dict) and isinstance(o.after, dict) and o.before and o.after:
            # key by key, as Terraform (found by probing: the whole map was printed twice)
            lines.append(f"  {p.sym('~')} {o.name.ljust(width)} = {nested_map_diff(o.before, o.after, 4, p, 'attribute')}")
        elif not (o.sensitive or o.after_unknown) and _scalar_list(o.before) and _scalar_list(o.after):
            lines.append(f"  {p.sym('~')} {o.name.ljust(width)} = {nested_list_diff(o.before, o.after, 4, p)}")
        else:
            lines.append(f"  {p.sym('~')} {o.name.ljust(width)} = {before} -> {after}")
    return lines


def plan_json(plan: Plan) -> dict:
    """The machine-readable plan printed by ``plan -json`` and ``show -json PLANFILE``.

    Top level: ``format_version`` (1), ``trainform_version``, ``lineage`` and
    ``serial`` of the state it was made from (null/0 for no state),
    ``destroy``, ``refresh_only``, ``errored``, ``config_hash`` (sha256 over the
    configuration files), ``resource_changes``, ``output_changes`` and
    ``resource_drift`` (objects changed outside trainform: address, action
    "update"|"delete", before, after).

    Each resource change: ``address``, ``module`` ("" for root), ``type``,
    ``name``, ``index_key``, Terraform's ``mode`` ("managed"), ``module_address``
    (absent for root) and ``index`` (absent without a key), ``dependencies``, ``tainted``, ``reasons`` (human
    reasons, display only) joined in ``action_reason``, and ``change``:
    ``actions`` (["no-op"], ["create"], ["update"], ["delete"],
    ["delete", "create"] or ["create", "delete"]), ``before``/``after``
    (attribute values; unknown and sensitive values are null there),
    ``after_unknown`` / ``before_sensitive`` / ``after_sensitive`` (lists of
    attribute paths, each a list of keys and indexes) and ``replace_paths``
    (the attributes that force replacement); ``previous_address`` (moved
    here by a moved block) and ``importing`` (``{"id": ...}`` when adopted by
    an import) as in Terraform; ``["forget"]`` is the action of a removed
    block with ``destroy = false``.  ``moves`` lists every ``[from, to]``
    applied to the prior state.  Output changes: ``name``,
    ``action``, ``before``, ``after``, ``after_unknown``, ``sensitive``
    (values null when sensitive).
    """
    d = plan.to_json()
    d.pop("variables", None)
    for rc in d["resource_changes"]:
        rc["change"] = {
            "actions": _actions(rc["action"]),
            "before": rc.pop("before"),
            "after": rc.pop("after"),
            "after_unknown": rc.pop("after_unknown"),
            "before_sensitive": rc.pop("before_sensitive"),
            "after_sensitive": rc.pop("after_sensitive"),
            "replace_paths": rc.pop("replace_paths"),
        }
        rc["action_reason"] = "; ".join(rc.get("reasons", []))
        rc.pop("private", None)
        # Terraform's names too, so jq filters written for `terraform show -json` work
        # (found by probing: module_address/index/mode were missing)
        rc["mode"] = "managed"
        if rc.get("module"):
            rc["module_address"] = rc["module"]
        if rc.get("index_key") is not None:
            rc["index"] = rc["index_key"]
    return d


def _actions(action: str) -> list[str]:
    return {
        "no-op": ["no-op"], "create": ["create"], "update": ["update"], "delete": ["delete"],
        "delete-then-create": ["delete", "create"], "create-then-delete": ["create", "delete"], "read": ["read"],
        "forget": ["forget"],
    }[action]
