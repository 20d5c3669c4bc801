"""The static configuration: what the *.hcl files of one module declare.

Nothing here is evaluated except what must be known before the graph exists
(module sources, variable type constraints, meta-argument shapes).  The
loader (engine.config.loader) builds these from the syntax tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.config import ast
from engine.diagnostics import Range


@dataclass
class Validation:
    condition: ast.Expression
    error_message: ast.Expression
    range: Range


@dataclass
class Variable:
    name: str
    range: Range
    type: Any = None  # engine.config.types Type, None = any
    type_text: str = "any"
    default: ast.Expression | None = None
    has_default: bool = False
    description: str = ""
    sensitive: bool = False
    nullable: bool = True
    validations: list[Validation] = field(default_factory=list)


@dataclass
class Local:
    name: str
    expr: ast.Expression
    range: Range


@dataclass
class Output:
    name: str
    expr: ast.Expression
    range: Range
    sensitive: bool = False
    description: str = ""
    depends_on: list[ast.Traversal] = field(default_factory=list)


@dataclass
class Lifecycle:
    create_before_destroy: bool = False
    prevent_destroy: bool = False
    ignore_changes: list[str] | str = field(default_factory=list)  # attribute names, or "all"
    replace_triggered_by: list[ast.Traversal] = field(default_factory=list)


@dataclass
class Resource:
    type: str
    name: str
    body: ast.Body  # the block body minus meta-arguments
    range: Range
    type_range: Range
    count: ast.Expression | None = None
    for_each: ast.Expression | None = None
    depends_on: list[ast.Traversal] = field(default_factory=list)
    lifecycle: Lifecycle = field(default_factory=Lifecycle)

    @property
    def key(self) -> str:
        return f"{self.type}.{self.name}"


@dataclass
class ModuleCall:
    name: str
    source: str
    args: dict[str, ast.Attribute]
    range: Range
    depends_on: list[ast.Traversal] = field(default_factory=list)
    count: ast.Expression | None = None
    for_each: ast.Expression | None = None


@dataclass
class Module:
    """One directory of *.hcl files."""

    dir: str
    files: list[str] = field(default_factory=list)
    variables: dict[str, Variable] = field(default_factory=dict)
    locals: dict[str, Local] = field(default_factory=dict)
    outputs: dict[str, Output] = field(default_factory=dict)
    resources: dict[str, Resource] = field(default_factory=dict)  # "type.name" -> Resource
    module_calls: dict[str, ModuleCall] = field(default_factory=dict)
    backend: dict | None = None
    backend_range: Range | None = None
    # refactoring blocks (engine.config.refactoring): Moved, Removed, Import
    moved: list = field(default_factory=list)
    removed: list = field(default_factory=list)
    imports: list = field(default_factory=list)


@dataclass
class Config:
    """A module and, recursively, the modules it calls."""

    module: Module
    path: tuple[str, ...] = ()  # module call names from the root
    children: dict[str, "Config"] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        from engine.addrs import module_prefix

        return module_prefix(self.path)

    def walk(self):
        yield self
        for c in self.children.values():
            yield from c.walk()

    def descendant(self, path: tuple[str, ...]) -> "Config | None":
        c = self
        for p in path:
            c = c.children.get(p)
            if c is None:
                return None
        return c
