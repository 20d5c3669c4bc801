"""One glob-to-regex translation for every glob trainform reads: ``fileset()``
patterns, ``.dockerignore`` and ``.trainformignore``/``.amlignore``/``.gitignore``.

The dialects differ only in three switches: brace alternatives (``{a,b}``,
fileset's doublestar), whether ``**`` counts only as a whole path segment
(gitignore) or anywhere (doublestar, dockerignore), and whether a malformed
pattern is an error (fileset) or taken literally (ignore files).
"""

from __future__ import annotations

import re

__all__ = ["glob_to_regex", "GlobError"]


class GlobError(ValueError):
    """A malformed pattern (only raised with ``strict=True``)."""


def glob_to_regex(pattern: str, *, braces: bool = False, strict: bool = False, segment_doublestar: bool = False) -> str:
    """The regex body (no anchors) matching slash-separated paths like ``pattern``.

    ``*`` and ``?`` stay within one path segment; ``**/`` is zero or more
    directories; ``[...]`` is a class (``!`` or ``^`` negates); ``\\`` escapes."""
    out: list[str] = []
    p, i, n = pattern, 0, len(pattern)
    while i < n:
        c = p[i]
        if c == "*":
            if p.startswith("**", i):
                whole = i == 0 or p[i - 1] == "/"
                if p.startswith("**/", i) and (whole or not segment_doublestar):
                    out.append("(?:.*/)?")
                    i += 3
                    continue
                if not segment_doublestar or (whole and i + 2 == n):
                    out.append(".*")
                else:
                    out.append("[^/]*")
                i += 2
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = i + 1
            if j < n and p[j] in "!^":
                j += 1
            if j < n and p[j] == "]":
                j += 1
            while j < n and p[j] != "]":
                j += 1
            if j >= n:
                if strict:
                    raise GlobError(f"failed to glob pattern ({pattern}): syntax error in pattern")
                out.append(re.escape(c))
            else:
                body = p[i + 1:j]
                if body[:1] in ("!", "^"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = j
        elif c == "{" and braces:
            end = p.find("}", i)
            if end < 0:
                if strict:
                    raise GlobError(f"failed to glob pattern ({pattern}): syntax error in pattern")
                out.append(re.escape(c))
            else:
                alts = p[i + 1:end].split(",")
                out.append("(?:" + "|".join(glob_to_regex(a, braces=True, strict=strict, segment_doublestar=segment_doublestar) for a in alts) + ")")
                i = end
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(p[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)
