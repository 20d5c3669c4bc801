"""gitignore-style matching for ``.trainformignore`` (else ``.amlignore``, else ``.gitignore``).

``.amlignore`` is Azure ML's name for the same file: a source directory
brought over from Azure ML keeps its snapshot rules.

Why our own: snapshots must leave out data sets and checkpoints the way users
already describe them for git, without depending on git being installed.
Supported rules (gitignore(5)): blank lines and ``#`` comments, ``\\``
escapes, trailing-space trimming, negation ``!``, directory-only patterns
with a trailing ``/``, anchoring by a leading or inner ``/``, ``*``, ``?``,
``[...]`` classes and ``**`` (leading ``**/``, trailing ``/**``, inner
``/**/``).  The last matching pattern wins, and -- as in git -- a file
cannot be re-included when one of its parent directories is excluded
(the walker prunes excluded directories).  Only the ignore file at the top
of the source directory is read.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

__all__ = ["IgnoreRules", "Pattern", "load_rules"]

#: always left out of a snapshot: version control, trainform's own data and
#: the run's outputs folder (it is mounted there at run time)
DEFAULT_EXCLUDES = (".git/", ".trainform/", "/outputs/", ".trainformignore.swp")


@dataclass
class Pattern:
    source: str
    regex: re.Pattern
    negate: bool
    dir_only: bool


def _translate(pat: str) -> str:
    """Translate one gitignore glob (without !, trailing /) to a regex."""
    from engine.providers import glob_to_regex

    anchored = "/" in pat
    if pat.startswith("/"):
        pat = pat[1:]
    body = glob_to_regex(pat, segment_doublestar=True)
    return ("^" if anchored else "^(?:.*/)?") + body + "$"


def compile_pattern(line: str) -> Pattern | None:
    raw = line.rstrip("\n").rstrip("\r")
    if not raw.strip() or raw.startswith("#"):
        return None
    # trailing spaces are ignored unless escaped with a backslash
    stripped = raw.rstrip(" ")
    if stripped.endswith("\\") and len(raw) > len(stripped):
        stripped += " "
    pat = stripped
    negate = False
    if pat.startswith("!"):
        negate, pat = True, pat[1:]
    elif pat.startswith("\\!") or pat.startswith("\\#"):
        pat = pat[1:]
    dir_only = pat.endswith("/")
    if dir_only:
        pat = pat.rstrip("/")
    if not pat:
        return None
    return Pattern(source=raw, regex=re.compile(_translate(pat), re.DOTALL), negate=negate, dir_only=dir_only)


class IgnoreRules:
    """An ordered list of patterns; ``ignored(relpath, is_dir)`` decides one path."""

    def __init__(self, lines: list[str], origin: str | None = None) -> None:
        self.origin = origin
        self.patterns = [p for p in (compile_pattern(x) for x in lines) if p is not None]

    def ignored(self, relpath: str, is_dir: bool) -> bool:
        result = False
        for p in self.patterns:
            if p.dir_only and not is_dir:
                continue
            if p.regex.match(relpath):
                result = not p.negate
        return result


def load_rules(source_dir: str) -> IgnoreRules:
    """Rules for a source directory: defaults + .trainformignore, else .amlignore, else .gitignore."""
    lines = list(DEFAULT_EXCLUDES)
    origin = None
    for name in (".trainformignore", ".amlignore", ".gitignore"):
        path = os.path.join(source_dir, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                lines += f.read().splitlines()
            origin = name
            break
    return IgnoreRules(lines, origin)
