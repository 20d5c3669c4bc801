"""Canonical formatting of HCL source, the way ``terraform fmt`` does it.

Terraform formats with ``hclwrite``: it lexes the file into tokens, rewrites a
few things structurally (quoted block labels, unwrapped ``"${expr}"``
interpolation-only values, legacy ``type = "string"`` in ``variable`` blocks)
and then changes *only the spaces before tokens*: indentation by bracket
nesting, one space between most tokens, and ``=`` / trailing comments aligned
within runs of consecutive lines.  This module is a port of that algorithm
(hclwrite's ``format.go`` and Terraform's ``command/fmt.go``) over a small
tokenizer of our own, so output matches ``terraform fmt`` byte for byte except
for two deliberate differences: trailing whitespace at the end of comment
lines and at the end of the file is removed, and a non-empty file always ends
with exactly one newline (Terraform keeps whatever was there).

Formatting never changes meaning: only whitespace outside strings, heredocs
and comments moves, plus Terraform's meaning-preserving rewrites above.  Input
that does not tokenize or parse is returned unchanged; the CLI reports the
syntax error with the parser's diagnostic.

Public API: :func:`format_source`, :func:`is_formatted`.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["format_source", "is_formatted", "FmtSyntaxError"]


class FmtSyntaxError(Exception):
    """The source did not tokenize; ``pos`` is the 0-based character offset."""

    def __init__(self, message: str, pos: int):
        super().__init__(message)
        self.pos = pos


# Token types (names follow hclsyntax's TokenXxx).
NL = "Newline"
COMMENT = "Comment"
IDENT = "Ident"
NUMBER = "NumberLit"
OQUOTE, CQUOTE, QLIT = "OQuote", "CQuote", "QuotedLit"
OHEREDOC, CHEREDOC, SLIT = "OHeredoc", "CHeredoc", "StringLit"
INTERP, CONTROL, SEQEND = "TemplateInterp", "TemplateControl", "TemplateSeqEnd"
OBRACE, CBRACE, OBRACK, CBRACK, OPAREN, CPAREN = "OBrace", "CBrace", "OBrack", "CBrack", "OParen", "CParen"
EQUAL, DOT, COMMA, ELLIPSIS, DCOLON = "Equal", "Dot", "Comma", "Ellipsis", "DoubleColon"
MINUS, BANG = "Minus", "Bang"
EOF = "EOF"

_PUNCT = [
    ("...", ELLIPSIS), ("::", DCOLON), ("==", "EqualOp"), ("!=", "NotEqual"), ("<=", "LessThanEq"),
    (">=", "GreaterThanEq"), ("&&", "And"), ("||", "Or"), ("=>", "FatArrow"),
    ("=", EQUAL), ("<", "LessThan"), (">", "GreaterThan"), ("!", BANG), ("+", "Plus"), ("-", MINUS),
    ("*", "Star"), ("/", "Slash"), ("%", "Percent"), (".", DOT), (",", COMMA), ("?", "Question"),
    (":", "Colon"), ("(", OPAREN), (")", CPAREN), ("[", OBRACK), ("]", CBRACK),
]
_PUNCT_BY_FIRST: dict[str, list[tuple[str, str]]] = {}
for _text, _type in _PUNCT:
    _PUNCT_BY_FIRST.setdefault(_text[0], []).append((_text, _type))

_IDENT = re.compile(r"[^\W\d][\w-]*")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_HEREDOC = re.compile(r"<<(-?)([^\W\d][\w-]*)[ \t]*\r?\n")
_OPENERS = {OBRACE, OBRACK, OPAREN, INTERP, CONTROL}
_CLOSERS = {CBRACE, CBRACK, CPAREN, SEQEND}


class Tok:
    __slots__ = ("type", "text", "sp")

    def __init__(self, type: str, text: str, sp: int = 0):
        self.type = type
        self.text = text
        self.sp = sp  # spaces written before the token

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Tok({self.type}, {self.text!r}, {self.sp})"


# --------------------------------------------------------------------------- lexer

def _lex(text: str) -> list[Tok]:
    """Tokenize like hclsyntax.LexConfig; raises FmtSyntaxError."""
    toks: list[Tok] = []
    # mode stack entries: "brace" / "paren" / "brack" / "interp" (normal mode),
    # "quoted", or ["heredoc", marker, at_line_start]
    stack: list = []
    i, n = 0, len(text)
    gap = 0

    def emit(type_: str, s: str) -> None:
        nonlocal gap
        toks.append(Tok(type_, s, gap))
        gap = 0

    while i < n:
        top = stack[-1] if stack else None
        if top == "quoted":
            j = i
            while True:
                if j >= n:
                    raise FmtSyntaxError("Unterminated template string", i)
                c = text[j]
                if c == "\\":
                    j += 2
                    continue
                if c == "\n" or (c == "\r" and text.startswith("\n", j + 1)):
                    raise FmtSyntaxError("Invalid multi-line string", j)
                if c == '"' or (c in "$%" and text.startswith("{", j + 1)):
                    break
                if c in "$%" and text.startswith(c + "{", j + 1):
                    j += 3
                    continue
                j += 1
            if j > i:
                emit(QLIT, text[i:j])
            i = j
            if text[i] == '"':
                emit(CQUOTE, '"')
                stack.pop()
                i += 1
            else:
                i = _template_open(text, i, emit, stack)
            continue
        if isinstance(top, list):  # heredoc body
            marker, at_start = top[1], top[2]
            if at_start:
                nl = text.find("\n", i)
                if nl >= 0:
                    line = text[i:nl]
                    if line.strip(" \t\r") == marker:
                        body = line[:-1] if line.endswith("\r") else line
                        emit(CHEREDOC, body)
                        emit(NL, text[i + len(body):nl + 1])
                        stack.pop()
                        i = nl + 1
                        continue
            j = i
            ended_line = False
            while j < n:
                c = text[j]
                if c == "\n":
                    j += 1
                    ended_line = True
                    break
                if c in "$%" and text.startswith(c + "{", j + 1):
                    j += 3
                    continue
                if c in "$%" and text.startswith("{", j + 1):
                    break
                j += 1
            if j > i:
                emit(SLIT, text[i:j])
            i = j
            if ended_line:
                top[2] = True
                continue
            if j >= n:
                raise FmtSyntaxError("Unterminated heredoc", i)
            top[2] = False
            i = _template_open(text, i, emit, stack)
            continue

        # normal mode
        c = text[i]
        if c == " " or c == "\t":
            gap += 1
            i += 1
            continue
        if c == "\r":
            if text.startswith("\n", i + 1):
                emit(NL, "\r\n")
                i += 2
            else:
                gap += 1
                i += 1
            continue
        if c == "\n":
            emit(NL, "\n")
            i += 1
            continue
        if c == "#" or text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j + 1
            emit(COMMENT, text[i:j])
            i = j
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise FmtSyntaxError("Unterminated block comment", i)
            emit(COMMENT, text[i:j + 2])
            i = j + 2
            continue
        if c == "<" and text.startswith("<<", i):
            m = _HEREDOC.match(text, i)
            if m:
                emit(OHEREDOC, m.group(0))
                stack.append(["heredoc", m.group(2), True])
                i = m.end()
                continue
        if c == '"':
            emit(OQUOTE, '"')
            stack.append("quoted")
            i += 1
            continue
        if c == "{":
            emit(OBRACE, "{")
            stack.append("brace")
            i += 1
            continue
        if c == "}" or (c == "~" and text.startswith("}", i + 1)):
            if top == "interp":
                s = "~}" if c == "~" else "}"
                emit(SEQEND, s)
                stack.pop()
                i += len(s)
                continue
            if c == "}" and top == "brace":
                emit(CBRACE, "}")
                stack.pop()
                i += 1
                continue
            raise FmtSyntaxError("Unbalanced closing brace", i)
        if c.isdigit():
            m = _NUMBER.match(text, i)
            emit(NUMBER, m.group(0))
            i = m.end()
            continue
        m = _IDENT.match(text, i)
        if m:
            emit(IDENT, m.group(0))
            i = m.end()
            continue
        for s, t in _PUNCT_BY_FIRST.get(c, ()):
            if text.startswith(s, i):
                if t in (OPAREN, OBRACK):
                    stack.append("paren" if t == OPAREN else "brack")
                elif t in (CPAREN, CBRACK):
                    want = "paren" if t == CPAREN else "brack"
                    if top != want:
                        raise FmtSyntaxError("Unbalanced closing bracket", i)
                    stack.pop()
                emit(t, s)
                i += len(s)
                break
        else:
            raise FmtSyntaxError(f"Invalid character {c!r}", i)
    if stack:
        raise FmtSyntaxError("Unclosed bracket, string or heredoc", n)
    toks.append(Tok(EOF, "", gap))
    return toks


def _template_open(text: str, i: int, emit, stack: list) -> int:
    """At ``${`` or ``%{`` (optionally with ``~``): emit it and enter an interpolation."""
    kind = INTERP if text[i] == "$" else CONTROL
    s = text[i:i + 3] if text.startswith("~", i + 2) else text[i:i + 2]
    emit(kind, s)
    stack.append("interp")
    return i + len(s)


# --------------------------------------------------------------------------- structural rewrites

class _NoStructure(Exception):
    pass


def _rewrite(toks: list[Tok]) -> list[Tok]:
    """Terraform's formatBody: quote labels, unwrap "${x}", normalise variable types."""
    edits: list[tuple[int, int, list[Tok]]] = []
    try:
        end = _walk_body(toks, 0, [], edits)
    except (_NoStructure, IndexError):
        return toks
    if toks[end].type != EOF:
        return toks
    for start, stop, new in sorted(edits, key=lambda e: e[0], reverse=True):
        toks[start:stop] = new
    return toks


def _walk_body(toks: list[Tok], i: int, blocks: list[str], edits: list) -> int:
    """Walk one body from ``i``; return the index of its closing brace or EOF."""
    while True:
        t = toks[i]
        if t.type in (NL, COMMENT):
            i += 1
            continue
        if t.type in (EOF, CBRACE):
            return i
        if t.type != IDENT:
            raise _NoStructure
        j = i + 1
        while toks[j].type == COMMENT and not toks[j].text.endswith("\n"):
            j += 1
        if toks[j].type == EQUAL:
            start = j + 1
            stop, k = _expr_end(toks, start)
            while stop > start and toks[stop - 1].type == COMMENT:
                stop -= 1
            expr = toks[start:stop]
            if len(blocks) == 1 and blocks[0] == "variable" and t.text == "type":
                new = _type_expr(expr)
            else:
                new = _value_expr(expr)
            if new is not expr:
                edits.append((start, stop, new))
            i = k
            continue
        # a block: labels, then "{"
        while toks[j].type != OBRACE:
            tt = toks[j].type
            if tt == IDENT:
                edits.append((j, j + 1, _label_tokens(toks[j].text)))
                j += 1
            elif tt == OQUOTE:
                if toks[j + 1].type == CQUOTE:
                    j += 2
                elif toks[j + 1].type == QLIT and toks[j + 2].type == CQUOTE:
                    raw = toks[j + 1].text
                    if "\\" in raw or "$$" in raw or "%%" in raw:
                        value = _unescape(raw)
                        if value is not None:
                            edits.append((j, j + 3, _label_tokens(value)))
                    j += 3
                else:
                    raise _NoStructure
            elif tt == COMMENT and not toks[j].text.endswith("\n"):
                j += 1
            else:
                raise _NoStructure
        close = _walk_body(toks, j + 1, blocks + [t.text], edits)
        if toks[close].type != CBRACE:
            raise _NoStructure
        i = close + 1


def _expr_end(toks: list[Tok], i: int) -> tuple[int, int]:
    """(end of an attribute's expression, index of the next item): the expression
    ends at a newline or line comment, or at the closing brace of a one-line block."""
    depth = 0
    while True:
        t = toks[i]
        tt = t.type
        if tt == EOF:
            return i, i
        if depth == 0:
            if tt == NL or (tt == COMMENT and t.text.endswith("\n")):
                return i, i + 1
            if tt == CBRACE:
                return i, i
        if tt in _OPENERS or tt in (OQUOTE, OHEREDOC):
            depth += 1
        elif tt in _CLOSERS or tt in (CQUOTE, CHEREDOC):
            depth -= 1
        i += 1


def _value_expr(tokens: list[Tok]) -> list[Tok]:
    """Unwrap an interpolation-only template "${expr}" (Terraform's formatValueExpr)."""
    if len(tokens) < 5:
        return tokens
    if (tokens[0].type != OQUOTE or tokens[1].type != INTERP or tokens[-2].type != SEQEND
            or tokens[-1].type != CQUOTE):
        return tokens
    inside = tokens[2:-2]
    quotes = 0
    for t in inside:
        if t.type == OQUOTE:
            quotes += 1
            continue
        if t.type == CQUOTE:
            quotes -= 1
            continue
        if quotes > 0:
            continue
        if t.type in (INTERP, SEQEND, QLIT):
            return tokens
    s, e = 0, len(inside)
    while s < e and inside[s].type == NL:
        s += 1
    while e > s and inside[e - 1].type == NL:
        e -= 1
    trimmed = inside[s:e]
    multi = any(t.type == NL for t in trimmed)
    lead = bool(trimmed) and trimmed[0].type == OPAREN
    trail = bool(trimmed) and trimmed[-1].type == CPAREN
    if multi and not (lead and trail):
        return [Tok(OPAREN, "(")] + trimmed + [Tok(CPAREN, ")")]
    # Terraform stops after one layer, so "${"${x}"}" needs two runs; unwrapping
    # to the fixed point keeps format_source idempotent.
    return _value_expr(trimmed)


def _type_expr(tokens: list[Tok]) -> list[Tok]:
    """Normalise a variable's type constraint (Terraform's formatTypeExpr)."""
    if len(tokens) == 1 and tokens[0].type == IDENT and tokens[0].text in ("list", "map", "set"):
        return [tokens[0], Tok(OPAREN, "("), Tok(IDENT, "any"), Tok(CPAREN, ")")]
    if len(tokens) == 3 and [t.type for t in tokens] == [OQUOTE, QLIT, CQUOTE]:
        word = tokens[1].text
        if word == "string":
            return [Tok(IDENT, "string")]
        if word in ("list", "map"):
            return [Tok(IDENT, word), Tok(OPAREN, "("), Tok(IDENT, "string"), Tok(CPAREN, ")")]
    return tokens


_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def _unescape(raw: str) -> str | None:
    out = []
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == "\\":
            nxt = raw[i + 1:i + 2]
            if nxt in _SIMPLE_ESCAPES:
                out.append(_SIMPLE_ESCAPES[nxt])
                i += 2
                continue
            width = 4 if nxt == "u" else 8 if nxt == "U" else 0
            digits = raw[i + 2:i + 2 + width]
            if width and len(digits) == width and all(d in "0123456789abcdefABCDEF" for d in digits):
                out.append(chr(int(digits, 16)))
                i += 2 + width
                continue
            return None
        if c in "$%" and raw.startswith(c + "{", i + 1):
            out.append(c + "{")
            i += 3
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _escape(s: str) -> str:
    """hclwrite's escapeQuotedStringLit."""
    out = []
    for i, c in enumerate(s):
        if c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif c in "$%":
            out.append(c + c if s.startswith("{", i + 1) else c)
        elif not c.isprintable() and c != " ":
            out.append(f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}")
        else:
            out.append(c)
    return "".join(out)


def _label_tokens(value: str) -> list[Tok]:
    return [Tok(OQUOTE, '"'), Tok(QLIT, _escape(value)), Tok(CQUOTE, '"')]


# --------------------------------------------------------------------------- hclwrite's format()

class _Line:
    __slots__ = ("lead", "assign", "comment")

    def __init__(self, lead: list[Tok]):
        self.lead = lead
        self.assign: list[Tok] | None = None
        self.comment: list[Tok] | None = None


def _is_newline(t: Tok) -> bool:
    return t.type == NL or (t.type == COMMENT and t.text.endswith("\n"))


def _bracket_change(t: Tok) -> int:
    if t.type in _OPENERS:
        return 1
    if t.type in _CLOSERS:
        return -1
    return 0


def _net_brackets(tokens: list[Tok]) -> int:
    net = 0
    for t in tokens:
        net += _bracket_change(t)
        if t.type == OHEREDOC:
            break
    return net


def _lines(toks: list[Tok]) -> list[_Line]:
    lines: list[_Line] = []
    start = 0
    for i, t in enumerate(toks):
        if t.type == EOF:
            lines.append(_Line(toks[start:i]))
            break
        if _is_newline(t):
            lines.append(_Line(toks[start:i + 1]))
            start = i + 1
    for line in lines:
        lead = line.lead
        if not lead:
            continue
        if len(lead) > 1 and lead[-1].type == COMMENT:
            line.comment = lead[-1:]
            lead = line.lead = lead[:-1]
        for i in range(1, len(lead)):
            if lead[i].type == EQUAL:
                if _net_brackets(lead[i:]) == 0:
                    line.assign = lead[i:]
                    line.lead = lead[:i]
                break
    return lines


def _indent(lines: list[_Line]) -> None:
    indents: list[int] = []
    for line in lines:
        if not line.lead:
            continue
        if line.lead[0].type == NL:
            line.lead[0].sp = 0
            continue
        net = _net_brackets(line.lead) + _net_brackets(line.assign or [])
        if net > 0:
            line.lead[0].sp = 2 * len(indents)
            indents.append(net)
            continue
        closed = -net
        while closed > 0 and indents:
            if closed > indents[-1]:
                closed -= indents.pop()
            elif closed < indents[-1]:
                indents[-1] -= closed
                closed = 0
            else:
                indents.pop()
                closed = 0
        line.lead[0].sp = 2 * len(indents)


_MINUS_NEGATES = {
    None, OPAREN, OBRACE, OBRACK, EQUAL, "Colon", COMMA, "Question",
    "Plus", "Star", "Slash", "Percent", MINUS,
    "EqualOp", "NotEqual", "GreaterThan", "GreaterThanEq", "LessThan", "LessThanEq",
    "And", "Or", BANG,
}


def _space_after(subject: Tok, before: Tok | None, after: Tok | None) -> bool:
    """hclwrite's spaceAfterToken."""
    st = subject.type
    at = after.type if after is not None else None
    if at is None or at == NL:
        return False
    if st == IDENT and at == OPAREN:
        return False
    if (st == IDENT and at == DCOLON) or (st == DCOLON and at == IDENT):
        return False
    if st == DOT or at == DOT:
        return False
    if at in (COMMA, ELLIPSIS):
        return False
    if st == COMMA:
        return True
    if st in (QLIT, SLIT, OQUOTE, OHEREDOC) or at in (QLIT, SLIT, CQUOTE, CHEREDOC):
        return False
    if at == OBRACK and (st in (IDENT, NUMBER) or _bracket_change(subject) < 0):
        return False
    if st == OBRACE or at == CBRACE:
        return not (st == OBRACE and at == CBRACE)
    if st in (INTERP, CONTROL) and at == OBRACE:
        return True
    if st == CBRACE and at == SEQEND:
        return True
    if st == SEQEND and at in (INTERP, CONTROL):
        return False
    if _bracket_change(subject) > 0:
        return False
    if _bracket_change(after) < 0:
        return False
    if st == MINUS:
        return (before.type if before is not None else None) not in _MINUS_NEGATES
    if st == BANG:
        return False
    return True


def _spaces(lines: list[_Line]) -> None:
    for line in lines:
        for cell, first_gets_one in ((line.lead, False), (line.assign or [], True)):
            for i, t in enumerate(cell):
                if i == 0 and first_gets_one:
                    t.sp = 1
                before = cell[i - 1] if i > 0 else None
                after = cell[i + 1] if i + 1 < len(cell) else None
                if after is not None:
                    after.sp = 1 if _space_after(t, before, after) else 0


def _width(s: str) -> int:
    return sum(1 for c in s if not unicodedata.combining(c))


def _columns(tokens: list[Tok] | None) -> int:
    return sum(t.sp + _width(t.text) for t in tokens or ())


def _cells(lines: list[_Line]) -> None:
    def align(cell: str, measure) -> None:
        chain: list[_Line] = []
        for line in lines + [None]:
            if line is not None and getattr(line, cell) is not None:
                chain.append(line)
                continue
            if chain:
                widest = max(measure(ln) for ln in chain)
                for ln in chain:
                    getattr(ln, cell)[0].sp = widest - measure(ln) + 1
                chain = []

    align("assign", lambda ln: _columns(ln.lead))
    align("comment", lambda ln: _columns(ln.lead) + _columns(ln.assign))


# --------------------------------------------------------------------------- entry points

def _tidy_comment(text: str) -> str:
    """Drop trailing spaces at line ends inside a comment (our addition to Terraform)."""
    if text.endswith("\n"):
        nl = "\r\n" if text.endswith("\r\n") else "\n"
        return text[:-len(nl)].rstrip(" \t") + nl
    if "\n" in text:
        return "\n".join(part.rstrip(" \t") for part in text.split("\n"))
    return text


def _syntax_ok(text: str, filename: str) -> bool:
    try:
        from engine.config.parser import parse_text
    except ImportError:  # the parser is optional for formatting
        return True
    try:
        body, diags = parse_text(text, filename or "<fmt>")
    except Exception:  # noqa: BLE001 - a parser bug must not make fmt destroy a file
        return True
    return not any(d.severity == "error" for d in diags)


def format_source(text: str, filename: str = "", *, check_syntax: bool = True) -> str:
    """Return ``text`` in canonical ``terraform fmt`` style (see module docstring).

    Input with a syntax error is returned unchanged; call the parser to get
    the diagnostic.  ``check_syntax=False`` skips the parser run (for callers
    that have just parsed the text themselves); tokenizer errors still leave
    the text unchanged.
    """
    bom = ""
    if text.startswith("\ufeff"):
        bom, text = "\ufeff", text[1:]
    try:
        toks = _lex(text)
    except FmtSyntaxError:
        return bom + text
    if check_syntax and not _syntax_ok(text, filename):
        return bom + text
    toks = _rewrite(toks)
    lines = _lines(toks)
    _indent(lines)
    _spaces(lines)
    _cells(lines)
    out = []
    for t in toks:
        if t.type == EOF:
            break
        if t.sp:
            out.append(" " * t.sp)
        out.append(_tidy_comment(t.text) if t.type == COMMENT else t.text)
    result = "".join(out)
    stripped = result.rstrip(" \t\r\n")
    if not stripped:
        return bom
    nl = "\r\n" if any(t.type == NL and t.text == "\r\n" for t in toks) else "\n"
    return bom + stripped + nl


def is_formatted(text: str, filename: str = "") -> bool:
    return format_source(text, filename) == text
