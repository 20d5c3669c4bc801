"""``trainform fmt``: rewrite configuration files to canonical style, like ``terraform fmt``.

Targets default to the working directory; ``-`` reads stdin and writes the
result to stdout.  Changed file names are listed, ``-check`` exits 3 when
anything is unformatted (writing nothing), ``-diff`` prints unified diffs, and
a file with a syntax error gets the parser's diagnostic and exit status 2.
Files are only rewritten when their content changes, atomically and with their
permissions kept.
"""

from __future__ import annotations

import difflib
import os
import sys

import click

from engine.cli.common import color_flag, no_color
from engine.diagnostics import Diagnostic, Diagnostics, Pos, Range, SourceCache, render

__all__ = ["fmt_cmd", "SUFFIXES"]

SUFFIXES = (".hcl", ".tfvars")


class _Run:
    """Options plus the outcome of one invocation."""

    def __init__(self, list_, write, diff, check, recursive):
        self.list, self.write, self.diff, self.check, self.recursive = list_, write, diff, check, recursive
        self.sources = SourceCache()
        self.diags = Diagnostics()
        self.unformatted = False

    def report(self, diags) -> None:
        color = not no_color()
        for d in diags:
            click.echo(render(d, self.sources, color=color), err=True)
            click.echo("", err=True)
        self.diags.extend(diags)

    def process(self, display: str, src: str, path: str | None = None) -> None:
        """Format one file's text; ``path`` is where to write it back (None for stdin)."""
        from engine.config.fmt import format_source

        diags = _syntax_diags(display, src)
        if diags:
            self.sources.add(display, src)
            self.report(diags)
            return
        result = format_source(src, display, check_syntax=False)
        if result != src:
            self.unformatted = True
            if self.list:
                click.echo(display)
            if self.write and path is not None:
                _write_file(path, result)
            if self.diff:
                click.echo(_unified_diff(src, result, display), nl=False)
        if not (self.list or self.write or self.diff or self.check):
            click.echo(result, nl=False)

    def process_path(self, path: str, display: str) -> None:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            self.report([_error("Failed to read file", f"{display}: {e.strerror or e}", None)])
            return
        try:
            src = data.decode("utf-8")
        except UnicodeDecodeError as e:
            self.report([_error("Invalid file encoding",
                                f"{display} is not valid UTF-8 (invalid byte at offset {e.start}).", None)])
            return
        self.process(display, src, path)

    def process_dir(self, path: str) -> None:
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError as e:
            self.report([_error("Failed to read directory", f"{path}: {e.strerror or e}", None)])
            return
        subdirs = []
        for entry in entries:
            display = entry.name if path in (".", "") else os.path.join(path, entry.name)
            if entry.is_dir():
                # .trainform caches, .git and friends are never configuration
                if self.recursive and not entry.name.startswith("."):
                    subdirs.append(display)
                continue
            if entry.name.endswith(SUFFIXES):
                self.process_path(entry.path, display)
        for sub in subdirs:
            self.process_dir(sub)


def _error(summary: str, detail: str, rng: Range | None) -> Diagnostic:
    return Diagnostic("error", summary, detail, rng)


def _syntax_diags(display: str, src: str) -> list[Diagnostic]:
    """The parser's syntax errors, or a tokenizer error when the parser is unavailable."""
    try:
        from engine.config.parser import parse_file
    except ImportError:
        parse_file = None
    if parse_file is not None:
        try:
            _, diags = parse_file(display, text=src)
        except Exception:  # noqa: BLE001 - a parser bug must not hide the formatter
            diags = []
        errors = [d for d in diags if d.severity == "error"]
        if errors:
            return errors
    from engine.config.fmt import FmtSyntaxError, _lex

    try:
        _lex(src[1:] if src.startswith("\ufeff") else src)
    except FmtSyntaxError as e:
        line = src.count("\n", 0, e.pos) + 1
        col = e.pos - (src.rfind("\n", 0, e.pos) + 1) + 1
        pos = Pos(line, col, e.pos)
        return [_error(str(e), "The file could not be tokenized, so it was left unchanged.", Range(display, pos, pos))]
    return []


def _write_file(path: str, text: str) -> None:
    tmp = f"{path}.{os.getpid()}.fmt.tmp"
    try:
        mode = os.stat(path).st_mode & 0o7777
    except OSError:
        mode = None
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    if mode is not None:
        os.chmod(tmp, mode)
    os.replace(tmp, path)


def _unified_diff(old: str, new: str, path: str) -> str:
    out = []
    for line in difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                     f"old/{path}", f"new/{path}"):
        out.append(line)
        if not line.endswith("\n"):
            out.append("\n\\ No newline at end of file\n")
    return "".join(out)


def _bool(ctx, param, value):
    if isinstance(value, bool):
        return value
    v = str(value).strip().lower()
    if v in ("1", "t", "true", "yes", "y", "on"):
        return True
    if v in ("0", "f", "false", "no", "n", "off"):
        return False
    raise click.BadParameter(f"{value!r} is not a boolean (use true or false)")


@click.command("fmt", context_settings={"help_option_names": ["-h", "-help", "--help"]})
@click.option("-list", "--list", "list_", default="true", metavar="BOOL", callback=_bool,
              help="List files whose formatting differs (default true; always false for stdin).")
@click.option("-write", "--write", "write", default="true", metavar="BOOL", callback=_bool,
              help="Write the result to the source file (default true; always false for stdin or -check).")
@click.option("-diff", "--diff", "diff", is_flag=True, help="Display diffs of formatting changes.")
@click.option("-check", "--check", "check", is_flag=True,
              help="Check if the input is formatted; exit status 3 if not, 0 if so. Nothing is written.")
@click.option("-recursive", "--recursive", "recursive", is_flag=True, help="Also process files in subdirectories.")
@color_flag
@click.argument("targets", nargs=-1, type=click.Path())
def fmt_cmd(list_, write, diff, check, recursive, targets):
    """Rewrite configuration files (*.hcl, *.tfvars) to a canonical format.

    TARGET may be files or directories (default: the current directory), or
    "-" to read from stdin and write to stdout.
    """
    if check:
        write = False
    targets = list(targets) or ["."]
    if "-" in targets:
        if len(targets) > 1:
            raise click.UsageError("'-' (stdin) cannot be combined with other targets.")
        run = _Run(False, False, diff, check, recursive)
        src = sys.stdin.read()
        run.process("<stdin>", src)
    else:
        run = _Run(list_, write, diff, check, recursive)
        for target in targets:
            if os.path.isdir(target):
                run.process_dir(target)
            elif os.path.exists(target):
                if not target.endswith(SUFFIXES):
                    run.report([_error("Only .hcl and .tfvars files can be processed with trainform fmt",
                                       f"{target} has an unsupported extension.", None)])
                    continue
                run.process_path(target, target)
            else:
                run.report([_error(f"No file or directory at {target}", "", None)])
    if run.diags:
        raise SystemExit(2)
    if check and run.unformatted:
        raise SystemExit(3)
