"""Load every *.hcl file of a directory into one :class:`Module`, and modules
called with a local ``source`` into a :class:`Config` tree.

The loader checks the *shape* of the configuration: known block types,
labels, meta-arguments, duplicates.  Resource bodies are checked against
provider schemas by engine.config.schema_check; values by the evaluator.
"""

from __future__ import annotations

import glob
import os
from typing import Any

from engine.config import ast
from engine.config.model import (
    Config, Lifecycle, Local, Module, ModuleCall, Output, Resource, Validation, Variable,
)
from engine.diagnostics import Diagnostics, Range, global_sources

RESOURCE_META = {"count", "for_each", "depends_on", "provider"}
TOP_LEVEL = ["trainform", "variable", "locals", "output", "module", "moved", "removed", "import"]
_REFACTORING = {"moved": ("load_moved", "moved"), "removed": ("load_removed", "removed"), "import": ("load_import", "imports")}
RESERVED_VARIABLE_NAMES = {"source", "version", "providers", "count", "for_each", "lifecycle", "depends_on", "locals"}


def _lookup(t: str) -> bool:
    from engine.providers.registry import lookup_type

    return lookup_type(t) is not None


def _distance(a: str, b: str) -> int:
    """Levenshtein distance (what Terraform's didyoumean uses)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def suggest(name: str, candidates) -> str:
    """' Did you mean "x"?' or '': like Terraform, the closest candidate at an
    edit distance under 3 (the first one listed on a tie)."""
    best, best_d = None, 3
    for c in candidates:
        if c == name:
            continue
        d = _distance(name, c)
        if d < best_d:
            best, best_d = c, d
    return f' Did you mean "{best}"?' if best is not None else ""


def missing_item_range(body: ast.Body | None, fallback: Range | None) -> Range | None:
    """Where a missing argument is reported: the block's opening brace, as
    Terraform does (the parser starts a body's range just after it)."""
    from engine.diagnostics import Pos

    if body is None or body.range is None or body.range.start.column < 2:
        return fallback
    st = body.range.start
    return Range(body.range.filename, Pos(st.line, st.column - 1, max(st.byte - 1, 0)), st)


def static_value(expr: ast.Expression, diags: Diagnostics, what: str) -> Any:
    """Evaluate an expression that may not reference anything (e.g. ``sensitive = true``)."""
    from engine.config.expr import EvalContext, evaluate

    if expr.references():
        diags.error(
            "Variables not allowed",
            f"Variables may not be used here: {what} must be a constant value.",
            expr.range,
        )
        return None
    value, d = evaluate(expr, EvalContext(variables={}))
    diags.extend(d)
    return value


def source_text(rng: Range) -> str:
    """The exact source text of a range (for type constraints and messages)."""
    lines = []
    for ln in range(rng.start.line, rng.end.line + 1):
        text = global_sources().line(rng.filename, ln) or ""
        start = rng.start.column - 1 if ln == rng.start.line else 0
        end = rng.end.column - 1 if ln == rng.end.line else len(text)
        lines.append(text[start:end])
    return "\n".join(lines)


def _traversal_list(attr: ast.Attribute, diags: Diagnostics, what: str) -> list[ast.Traversal]:

    expr = attr.expr
    items = getattr(expr, "items", None)
    if items is None or not isinstance(items, list):
        diags.error("Invalid expression", f"{what} must be a list of references, like [value.a].", expr.range)
        return []
    out = []
    for item in items:
        refs = item.references()
        if len(refs) != 1 or not _is_plain_traversal(item):
            diags.error("Invalid reference", f"Each element of {what} must be a reference to a resource, module or variable.", item.range)
            continue
        out.append(refs[0])
    return out


def _byte_range(rel: str, raw: bytes, offset: int) -> Range:
    """The range of one undecodable byte; the file's text (bad bytes replaced)
    goes into the source cache so the frame can still show the line."""
    from engine.diagnostics import Pos

    text = raw.decode("utf-8", errors="replace")
    global_sources().add(rel, text)
    before = raw[:offset].decode("utf-8", errors="replace")
    line = before.count("\n") + 1
    col = len(before) - (before.rfind("\n") + 1) + 1
    return Range(rel, Pos(line, col, len(before)), Pos(line, col + 1, len(before) + 1))


def _is_plain_traversal(expr: ast.Expression) -> bool:
    refs = expr.references()
    return len(refs) == 1 and refs[0].range == expr.range


class Loader:
    """Loads a module tree; collects diagnostics instead of raising."""

    def __init__(self, cache_dir: str | None = None, sources: dict[str, str] | None = None) -> None:
        self.cache_dir = cache_dir
        self.diags = Diagnostics()
        # A saved plan's configuration snapshot (relative path -> text): when set,
        # files come from it instead of the directory, so a plan is applied with
        # exactly the configuration it was made from.
        self.sources = sources

    def _hcl_files(self, directory: str) -> list[str]:
        if self.sources is None:
            return sorted(glob.glob(os.path.join(directory, "*.hcl")))
        d = os.path.normpath(directory)
        return sorted(p for p in self.sources if os.path.normpath(os.path.dirname(p) or ".") == d)

    def _read(self, path: str) -> bytes:
        if self.sources is None:
            with open(path, "rb") as f:
                return f.read()
        return self.sources[os.path.relpath(path)].encode("utf-8")

    def _isdir(self, directory: str) -> bool:
        return os.path.isdir(directory) if self.sources is None else bool(self._hcl_files(directory))

    # ------------------------------------------------------------ files
    def _parse_dir(self, directory: str) -> list[tuple[str, ast.Body]]:
        from engine.config.parser import parse_file

        files = self._hcl_files(directory)
        out = []
        for path in files:
            rel = os.path.relpath(path)
            try:
                raw = self._read(path)
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                self.diags.error("Invalid file encoding", f"The file {rel} is not valid UTF-8 ({e.reason}: byte 0x{raw[e.start]:02x}). Configuration files must be UTF-8.", _byte_range(rel, raw, e.start))
                continue
            except OSError as e:
                self.diags.error("Failed to read file", f"The configuration file {rel} could not be read: {e.strerror}.")
                continue
            global_sources().add(rel, text)
            body, d = parse_file(rel, text, cache_dir=self.cache_dir)
            self.diags.extend(d)
            if body is not None:
                for blk in body.blocks:
                    global_sources().add_block(blk.range, " ".join([blk.type] + [f'"{label}"' for label in blk.labels]))
                out.append((rel, body))
        return out

    # ------------------------------------------------------------ module
    def load(self, directory: str, path: tuple[str, ...] = (), seen: tuple[str, ...] = ()) -> Config | None:
        from engine.providers.registry import resource_types

        module = Module(dir=directory)
        parsed = self._parse_dir(directory)
        if not parsed and not path:
            if not self._hcl_files(directory):
                self.diags.error(
                    "No configuration files",
                    f"The directory {os.path.abspath(directory)} contains no trainform configuration files (*.hcl).",
                )
            return None
        rtypes = resource_types()
        for filename, body in parsed:
            module.files.append(filename)
            for name, attr in body.attributes.items():
                self.diags.error(
                    "Unsupported argument",
                    f'An argument named "{name}" is not expected here.' + " Top-level arguments are not allowed; put it inside a block.",
                    attr.name_range,
                )
            for block in body.blocks:
                if block.type in _REFACTORING:
                    self._refactoring_block(module, block, path)
                    continue
                self._top_block(module, block, rtypes)
        config = Config(module=module, path=path)
        for call in module.module_calls.values():
            src_dir = os.path.normpath(os.path.join(directory, call.source))
            if src_dir in seen:
                self.diags.error("Module cycle", f'Module "{call.name}" calls {call.source}, which is already being loaded: {" -> ".join(seen + (src_dir,))}.', call.range)
                continue
            if not self._isdir(src_dir):
                self.diags.error("Module not found", f'The module directory "{call.source}" (resolved to {src_dir}) does not exist.', call.range)
                continue
            child = self.load(src_dir, path + (call.name,), seen + (os.path.normpath(directory),))
            if child is not None:
                config.children[call.name] = child
        return config

    def _refactoring_block(self, module: Module, block: ast.Block, path: tuple) -> None:
        """moved / removed / import (engine.config.refactoring)."""
        from engine.config import refactoring as r

        loader, target = _REFACTORING[block.type]
        item = getattr(r, loader)(block, path, self.diags)
        if item is not None:
            getattr(module, target).append(item)

    def _labels(self, block: ast.Block, n: int, names: str) -> bool:
        if len(block.labels) != n:
            if len(block.labels) < n:
                self.diags.error(
                    "Missing name for " + block.type if n == 1 else f"Missing labels for {block.type}",
                    f'All {block.type} blocks must have {n} label{"s" if n > 1 else ""} ({names}).',
                    block.type_range,
                )
            else:
                rng = block.label_ranges[n] if len(block.label_ranges) > n else block.type_range
                self.diags.error("Extraneous label for " + block.type, f"Only {n} label{'s' if n > 1 else ''} ({names}) expected for {block.type} blocks.", rng)
            return False
        return True

    def _check_ident(self, name: str, rng: Range, what: str) -> bool:
        import re

        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", name):
            self.diags.error(f"Invalid {what} name", "A name must start with a letter or underscore and may contain only letters, digits, underscores, and dashes.", rng)
            return False
        return True

    def _top_block(self, module: Module, block: ast.Block, rtypes: dict) -> None:
        t = block.type
        if t == "trainform":
            self._settings(module, block)
        elif t == "variable":
            if self._labels(block, 1, "name") and self._check_ident(block.labels[0], block.label_ranges[0], "variable"):
                self._variable(module, block)
        elif t == "locals":
            if self._labels(block, 0, ""):
                for blk in block.body.blocks:
                    self.diags.error("Unsupported block type", f'Blocks of type "{blk.type}" are not expected here; locals takes only arguments.', blk.type_range)
                for name, attr in block.body.attributes.items():
                    if name in module.locals:
                        prev = module.locals[name].range
                        self.diags.error("Duplicate local value definition", f'A local value named "{name}" was already defined at {prev}. Local value names must be unique within a module.', attr.name_range)
                        continue
                    module.locals[name] = Local(name, attr.expr, attr.range)
        elif t == "output":
            if self._labels(block, 1, "name") and self._check_ident(block.labels[0], block.label_ranges[0], "output"):
                self._output(module, block)
        elif t == "module":
            if self._labels(block, 1, "name") and self._check_ident(block.labels[0], block.label_ranges[0], "module"):
                self._module_call(module, block)
        elif t in rtypes or _lookup(t):
            if self._labels(block, 1, "name") and self._check_ident(block.labels[0], block.label_ranges[0], "resource"):
                self._resource(module, block)
        elif t in ("resource", "data", "provider", "terraform"):
            hint = {
                "resource": 'trainform resources are declared by type directly, like value "x" { ... } or run "train" { ... }.',
                "terraform": 'Use a "trainform" block for settings.',
            }.get(t, "trainform has no separate provider configuration.")
            self.diags.error("Unsupported block type", f'Blocks of type "{t}" are not expected here. {hint}', block.type_range)
        else:
            from engine.providers.registry import all_resource_types

            candidates = TOP_LEVEL + sorted(all_resource_types())
            self.diags.error("Unsupported block type", f'Blocks of type "{t}" are not expected here.{suggest(t, candidates)}', block.type_range)

    def _settings(self, module: Module, block: ast.Block) -> None:
        for name, attr in block.body.attributes.items():
            if name == "required_version":
                continue
            self.diags.error("Unsupported argument", f'An argument named "{name}" is not expected in the trainform block.', attr.name_range)
        for blk in block.body.blocks:
            if blk.type != "backend":
                self.diags.error("Unsupported block type", f'Blocks of type "{blk.type}" are not expected in the trainform block.{suggest(blk.type, ["backend"])}', blk.type_range)
                continue
            if not self._labels(blk, 1, "backend type"):
                continue
            kind = blk.labels[0]
            if kind not in ("local", "pg"):
                self.diags.error("Unsupported backend type", f'There is no backend type named "{kind}". Supported: "local", "pg".{suggest(kind, ["local", "pg"])}', blk.label_ranges[0])
                continue
            if module.backend is not None:
                self.diags.error("Duplicate backend configuration", f"A module may have only one backend configuration; another was declared at {module.backend_range}.", blk.type_range)
                continue
            settings: dict[str, Any] = {"type": kind}
            allowed = {"local": ["path"], "pg": ["conn_str", "schema_name", "name"]}[kind]
            for name, attr in blk.body.attributes.items():
                if name not in allowed:
                    self.diags.error("Unsupported argument", f'An argument named "{name}" is not expected in a {kind} backend.{suggest(name, allowed)}', attr.name_range)
                    continue
                settings[name] = static_value(attr.expr, self.diags, f"backend {name}")
            module.backend = settings
            module.backend_range = blk.type_range

    def _variable(self, module: Module, block: ast.Block) -> None:
        from engine.config import types as T

        name = block.labels[0]
        if name in RESERVED_VARIABLE_NAMES:
            self.diags.error("Invalid variable name", f'The variable name "{name}" is reserved.', block.label_ranges[0])
            return
        if name in module.variables:
            self.diags.error("Duplicate variable declaration", f'A variable named "{name}" was already declared at {module.variables[name].range}.', block.label_ranges[0])
            return
        v = Variable(name=name, range=block.range)
        allowed = ["type", "default", "description", "sensitive", "nullable"]
        for aname, attr in block.body.attributes.items():
            if aname == "type":
                text = source_text(attr.expr.range)
                try:
                    v.type = T.parse_type_string(text)
                    v.type_text = text
                except Exception as e:  # TypeSyntaxError
                    self.diags.error("Invalid type specification", f"{e}", attr.expr.range)
            elif aname == "default":
                v.default = attr.expr
                v.has_default = True
                if attr.expr.references():
                    self.diags.error("Variables not allowed", "Variables may not be used here: a variable default must be a constant value.", attr.expr.range)
            elif aname == "description":
                v.description = str(static_value(attr.expr, self.diags, "description") or "")
            elif aname == "sensitive":
                v.sensitive = bool(static_value(attr.expr, self.diags, "sensitive"))
            elif aname == "nullable":
                v.nullable = bool(static_value(attr.expr, self.diags, "nullable"))
            else:
                self.diags.error("Unsupported argument", f'An argument named "{aname}" is not expected here.{suggest(aname, allowed)}', attr.name_range)
        if v.has_default and v.type is not None and not v.default.references():
            self._check_default(v)
        for blk in block.body.blocks:
            if blk.type != "validation":
                self.diags.error("Unsupported block type", f'Blocks of type "{blk.type}" are not expected here.{suggest(blk.type, ["validation"])}', blk.type_range)
                continue
            cond = blk.body.attributes.get("condition")
            msg = blk.body.attributes.get("error_message")
            if cond is None or msg is None:
                missing = "condition" if cond is None else "error_message"
                self.diags.error("Missing required argument", f'The argument "{missing}" is required, but no definition was found.', missing_item_range(blk.body, blk.type_range))
                continue
            refs = [r for r in cond.expr.references() if r.root == "var"]
            if not any(r.steps and r.steps[0][1] == name for r in refs):
                self.diags.error("Invalid variable validation condition", f"The condition for variable \"{name}\" must refer to var.{name} in order to test incoming values.", cond.expr.range)
                continue
            v.validations.append(Validation(cond.expr, msg.expr, blk.range))
        module.variables[name] = v

    def _check_default(self, v: Variable) -> None:
        """A default that cannot convert to the declared type is a configuration error
        (found by validate, before any value is given)."""
        from engine.config import types as T
        from engine.config.expr import EvalContext, evaluate

        value, d = evaluate(v.default, EvalContext(variables={}))
        if d.has_errors:
            self.diags.extend(d)
            return
        if value is None:
            return
        try:
            T.convert(value, v.type)
        except T.ConversionError as e:
            self.diags.error("Invalid default value for variable", f"This default value is not compatible with the variable's type constraint: {e}.", v.default.range)

    def _output(self, module: Module, block: ast.Block) -> None:
        name = block.labels[0]
        if name in module.outputs:
            self.diags.error("Duplicate output definition", f'An output named "{name}" was already defined at {module.outputs[name].range}.', block.label_ranges[0])
            return
        attrs = block.body.attributes
        if "value" not in attrs:
            self.diags.error("Missing required argument", 'The argument "value" is required, but no definition was found.', missing_item_range(block.body, block.type_range))
            return
        o = Output(name=name, expr=attrs["value"].expr, range=block.range)
        allowed = ["value", "description", "sensitive", "depends_on"]
        for aname, attr in attrs.items():
            if aname == "sensitive":
                o.sensitive = bool(static_value(attr.expr, self.diags, "sensitive"))
            elif aname == "description":
                o.description = str(static_value(attr.expr, self.diags, "description") or "")
            elif aname == "depends_on":
                o.depends_on = _traversal_list(attr, self.diags, "depends_on")
            elif aname != "value":
                self.diags.error("Unsupported argument", f'An argument named "{aname}" is not expected here.{suggest(aname, allowed)}', attr.name_range)
        for blk in block.body.blocks:
            self.diags.error("Unsupported block type", f'Blocks of type "{blk.type}" are not expected here.', blk.type_range)
        module.outputs[name] = o

    def _module_call(self, module: Module, block: ast.Block) -> None:
        name = block.labels[0]
        if name in module.module_calls:
            self.diags.error("Duplicate module call", f'A module call named "{name}" was already defined at {module.module_calls[name].range}.', block.label_ranges[0])
            return
        attrs = dict(block.body.attributes)
        src = attrs.pop("source", None)
        if src is None:
            self.diags.error("Missing required argument", 'The argument "source" is required, but no definition was found.', missing_item_range(block.body, block.type_range))
            return
        source = static_value(src.expr, self.diags, "source")
        if not isinstance(source, str) or not (source.startswith("./") or source.startswith("../")):
            self.diags.error("Invalid module source address", 'trainform supports local modules only: the source must be a relative path starting with "./" or "../".', src.expr.range)
            return
        call = ModuleCall(name=name, source=source, args={}, range=block.range)
        for aname, attr in attrs.items():
            if aname == "depends_on":
                call.depends_on = _traversal_list(attr, self.diags, "depends_on")
            elif aname == "count":
                call.count = attr.expr
            elif aname == "for_each":
                call.for_each = attr.expr
            elif aname in ("version", "providers"):
                self.diags.error("Unsupported argument", f'"{aname}" is not used by trainform\'s local modules.', attr.name_range)
            else:
                call.args[aname] = attr
        if call.count is not None and call.for_each is not None:
            self.diags.error("Invalid combination of \"count\" and \"for_each\"", 'The "count" and "for_each" meta-arguments are mutually-exclusive, only one should be used.', call.for_each.range)
        for blk in block.body.blocks:
            self.diags.error("Unsupported block type", f'Blocks of type "{blk.type}" are not expected here.', blk.type_range)
        module.module_calls[name] = call

    def _resource(self, module: Module, block: ast.Block) -> None:
        key = f"{block.type}.{block.labels[0]}"
        if key in module.resources:
            self.diags.error("Duplicate resource configuration", f'A {block.type} resource named "{block.labels[0]}" was already declared at {module.resources[key].range}. Resource names must be unique per type in each module.', block.label_ranges[0])
            return
        body = ast.Body(attributes={}, blocks=[], range=block.body.range)
        res = Resource(type=block.type, name=block.labels[0], body=body, range=block.range, type_range=block.type_range)
        for aname, attr in block.body.attributes.items():
            if aname == "count":
                res.count = attr.expr
            elif aname == "for_each":
                res.for_each = attr.expr
            elif aname == "depends_on":
                res.depends_on = _traversal_list(attr, self.diags, "depends_on")
            elif aname == "provider":
                self.diags.error("Unsupported argument", "trainform resources have no provider argument: each resource type has exactly one provider.", attr.name_range)
            else:
                body.attributes[aname] = attr
        if res.count is not None and res.for_each is not None:
            self.diags.error("Invalid combination of \"count\" and \"for_each\"", 'The "count" and "for_each" meta-arguments are mutually-exclusive, only one should be used.', res.for_each.range)
        for blk in block.body.blocks:
            if blk.type == "lifecycle":
                res.lifecycle = self._lifecycle(blk)
            else:
                body.blocks.append(blk)
        module.resources[key] = res

    def _lifecycle(self, blk: ast.Block) -> Lifecycle:
        lc = Lifecycle()
        allowed = ["create_before_destroy", "prevent_destroy", "ignore_changes", "replace_triggered_by"]
        for aname, attr in blk.body.attributes.items():
            if aname == "create_before_destroy":
                lc.create_before_destroy = bool(static_value(attr.expr, self.diags, aname))
            elif aname == "prevent_destroy":
                lc.prevent_destroy = bool(static_value(attr.expr, self.diags, aname))
            elif aname == "ignore_changes":
                items = getattr(attr.expr, "items", None)
                refs = attr.expr.references()
                if items is None and len(refs) == 1 and refs[0].root == "all" and not refs[0].steps:
                    lc.ignore_changes = "all"
                elif items is None:
                    self.diags.error("Invalid ignore_changes", 'ignore_changes must be a list of attribute names, like [input], or the keyword all.', attr.expr.range)
                else:
                    names = []
                    for item in items:
                        r = item.references()
                        if len(r) != 1:
                            self.diags.error("Invalid ignore_changes", "Each element must be an attribute name of this resource.", item.range)
                            continue
                        names.append(r[0].root)
                    lc.ignore_changes = names
            elif aname == "replace_triggered_by":
                lc.replace_triggered_by = _traversal_list(attr, self.diags, "replace_triggered_by")
            else:
                self.diags.error("Unsupported argument", f'An argument named "{aname}" is not expected in a lifecycle block.{suggest(aname, allowed)}', attr.name_range)
        for b in blk.body.blocks:
            self.diags.error("Unsupported block type", f'Blocks of type "{b.type}" are not expected in a lifecycle block.', b.type_range)
        return lc


def load_config(directory: str = ".", cache_dir: str | None = None, sources: dict[str, str] | None = None) -> tuple[Config | None, Diagnostics]:
    """Load the module tree under ``directory`` (or from ``sources``, a saved snapshot)."""
    loader = Loader(cache_dir=cache_dir, sources=sources)
    cfg = loader.load(os.path.relpath(directory) if directory != "." else ".")
    return cfg, loader.diags
