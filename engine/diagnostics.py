"""Diagnostics: what trainform tells a user about a mistake in their input.

Every user-facing error or warning is a :class:`Diagnostic` with a source
range, so the CLI can print ``file:line:col``, the offending source line and a
marker under the span (like Terraform's boxed diagnostics).  Phases return
``(result, Diagnostics)`` instead of raising.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Iterable

__all__ = ["Pos", "Range", "Diagnostic", "Diagnostics", "ERROR", "WARNING", "render", "SourceCache"]

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Pos:
    line: int  # 1-based
    column: int  # 1-based, in characters
    byte: int = 0  # 0-based character offset in the file


@dataclass(frozen=True, slots=True)
class Range:
    filename: str
    start: Pos
    end: Pos

    def __str__(self) -> str:
        return f"{self.filename}:{self.start.line}:{self.start.column}"

    def to_json(self) -> dict:
        return {
            "filename": self.filename,
            "start": {"line": self.start.line, "column": self.start.column, "byte": self.start.byte},
            "end": {"line": self.end.line, "column": self.end.column, "byte": self.end.byte},
        }

    @classmethod
    def from_json(cls, d: dict | None) -> "Range | None":
        if not d:
            return None
        return cls(d["filename"], Pos(**d["start"]), Pos(**d["end"]))


@dataclass(slots=True)
class Diagnostic:
    severity: str
    summary: str
    detail: str = ""
    range: Range | None = None
    address: str | None = None
    #: set by a provider (``d.error(..., attribute_path=("type",))``): the attribute
    #: (path in the resource's configuration) the diagnostic is about; the engine turns
    #: it into ``range`` (engine.attr_range), so the frame shows the offending line
    attribute_path: tuple | None = None

    def to_json(self) -> dict:
        d = {"severity": self.severity, "summary": self.summary, "detail": self.detail}
        if self.range is not None:
            d["range"] = self.range.to_json()
        if self.address:
            d["address"] = self.address
        if self.attribute_path:
            d["attribute_path"] = list(self.attribute_path)
        return d


def error(summary: str, detail: str = "", range: Range | None = None, address: str | None = None,
          attribute_path: tuple | None = None) -> Diagnostic:
    return Diagnostic(ERROR, summary, detail, range, address, tuple(attribute_path) if attribute_path else None)


def warning(summary: str, detail: str = "", range: Range | None = None, address: str | None = None,
            attribute_path: tuple | None = None) -> Diagnostic:
    return Diagnostic(WARNING, summary, detail, range, address, tuple(attribute_path) if attribute_path else None)


class Diagnostics(list):
    """A list of diagnostics with helpers; ``bool(diags)`` is True when non-empty."""

    def error(self, summary: str, detail: str = "", range: Range | None = None, address: str | None = None,
              attribute_path: tuple | None = None) -> Diagnostic:
        d = error(summary, detail, range, address, attribute_path)
        self.append(d)
        return d

    def warning(self, summary: str, detail: str = "", range: Range | None = None, address: str | None = None,
                attribute_path: tuple | None = None) -> Diagnostic:
        d = warning(summary, detail, range, address, attribute_path)
        self.append(d)
        return d

    @property
    def has_errors(self) -> bool:
        return any(d.severity == ERROR for d in self)

    def extend_from(self, other: Iterable[Diagnostic]) -> "Diagnostics":
        self.extend(other)
        return self


class SourceCache:
    """File text by name, so rendering can show the offending line, plus the
    top-level blocks of each file so it can say "in resource ..." like Terraform."""

    def __init__(self) -> None:
        self._texts: dict[str, list[str]] = {}
        self._blocks: dict[str, list[tuple[Range, str]]] = {}

    def add(self, filename: str, text: str) -> None:
        self._texts[filename] = text.splitlines()
        self._blocks.pop(filename, None)

    def add_block(self, rng: Range, header: str) -> None:
        """Record a top-level block (its whole range and a header like 'value "a"')."""
        self._blocks.setdefault(rng.filename, []).append((rng, header))

    def context(self, filename: str, pos: Pos) -> str | None:
        """The header of the outermost block containing pos (Terraform's ContextString)."""
        for rng, header in self._blocks.get(filename, ()):
            if (rng.start.line, rng.start.column) <= (pos.line, pos.column) <= (rng.end.line, rng.end.column):
                return header
        return None

    def line(self, filename: str, line: int) -> str | None:
        lines = self._texts.get(filename)
        if lines is None:
            try:
                with open(filename, encoding="utf-8") as f:
                    lines = f.read().splitlines()
            except (OSError, UnicodeDecodeError):
                lines = []
            self._texts[filename] = lines
        if 1 <= line <= len(lines):
            return lines[line - 1]
        return None


_GLOBAL_SOURCES = SourceCache()


def global_sources() -> SourceCache:
    return _GLOBAL_SOURCES


def _header_address(header: str | None) -> str | None:
    """'value "a"' -> 'value.a' (to tell whether a "with" line adds anything)."""
    if not header:
        return None
    parts = header.split(" ")
    if len(parts) != 2:
        return None
    return parts[0] + "." + parts[1].strip('"')


def render(diag: Diagnostic, sources: SourceCache | None = None, color: bool = False) -> str:
    """Render one diagnostic the Terraform way: a boxed block with a code frame.

    Terraform's frame is followed line by line ("with ADDRESS," when the
    address says more than the block, "on FILE line N, in BLOCK:", the
    numbered source line); we add a ^^^ marker under the exact span (Terraform
    underlines it only in colour) and the file:line:col of the start.
    """
    sources = sources or _GLOBAL_SOURCES
    red, yellow, bold, reset = ("\x1b[31m", "\x1b[33m", "\x1b[1m", "\x1b[0m") if color else ("", "", "", "")
    bar_color = red if diag.severity == ERROR else yellow
    title = "Error" if diag.severity == ERROR else "Warning"
    out = [f"{bar_color}╷{reset}", f"{bar_color}│{reset} {bar_color}{bold}{title}:{reset}{bold} {diag.summary}{reset}"]
    bar = f"{bar_color}│{reset}"
    if diag.range is not None:
        r = diag.range
        out.append(bar)
        context = sources.context(r.filename, r.start)
        if diag.address and diag.address != _header_address(context):
            out.append(f"{bar}   with {diag.address},")
        where = f"   on {r.filename} line {r.start.line}"
        if context:
            where += f", in {context}"
        out.append(f"{bar}{where}:")
        src = sources.line(r.filename, r.start.line)
        if src is not None:
            num = f"{r.start.line:>4}"
            out.append(f"{bar} {num}: {src}".rstrip())
            start_col = max(r.start.column, 1)
            if r.end.line == r.start.line:
                end_col = max(r.end.column, start_col + 1)
            else:
                end_col = max(len(src) + 1, start_col + 1)
            out.append(f"{bar} {' ' * len(num)}  {' ' * (start_col - 1)}{'^' * (end_col - start_col)}")
        out.append(f"{bar}   {r}")
    elif diag.address:
        out.append(bar)
        out.append(f"{bar}   with {diag.address}")
    if diag.detail:
        out.append(bar)
        for line in diag.detail.splitlines():
            out.append(f"{bar} {line}" if line else bar)
    out.append(f"{bar_color}╵{reset}")
    return "\n".join(out)


def render_all(diags: Iterable[Diagnostic], sources: SourceCache | None = None, color: bool = False) -> str:
    return "\n".join(render(d, sources, color) for d in diags)


def replace(diag: Diagnostic, **changes) -> Diagnostic:
    return dataclasses.replace(diag, **changes)
