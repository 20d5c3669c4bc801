"""HCL native syntax -> trainform's syntax tree (engine.config.ast).

A hand-written scanner and recursive-descent parser following HashiCorp's
``hclsyntax`` package, rather than python-hcl2: python-hcl2's lark grammar
took 2.8-7.4 s per 1,000 blocks, loses template structure (``%{if}``,
strip markers, heredoc indentation) and reports syntax errors as lark
exceptions.  This parser gives every node an exact Range, reports the first
syntax error with HCL's wording, and is ~20x faster; a pickle cache keyed by
content hash makes unchanged files nearly free.

Public API: :func:`parse_file`, :func:`parse_expression`, :func:`parse_template`.
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import re
from bisect import bisect_right
import decimal
from decimal import Decimal

from engine.config import ast
from engine.diagnostics import Diagnostics, Pos, Range

__all__ = ["parse_file", "parse_expression", "parse_template", "PARSER_VERSION"]

PARSER_VERSION = "trainform-hcl-1"

# --------------------------------------------------------------------------- scanner

_NORMAL = re.compile(r"""
 (?P<ws>[ \t\r]+)
|(?P<nl>\n)
|(?P<comment>\#[^\n]*|//[^\n]*|/\*(?:.|\n)*?\*/)
|(?P<badcomment>/\*)
|(?P<heredoc><<(?P<hstrip>-?)(?P<hname>[^\W\d][\w-]*)[ \t]*\r?\n)
|(?P<num>[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
|(?P<ident>[^\W\d][\w-]*)
|(?P<op>==|!=|<=|>=|&&|\|\||=>|\.\.\.|::|[-+*/%<>!?:=.,()\[\]{}~"])
""", re.X)

# Literal text of a quoted string: stops before '"', '${', '%{', a newline or a
# backslash at end of input.  Escapes are kept raw and decoded by the parser.
_QLIT = re.compile(r'(?:[^"\\$%\n]|\\.|\$\$\{|%%\{|\$(?!\{)|%(?!\{))+')
# Literal text of a heredoc/bare template line: up to and including the newline.
_HLIT = re.compile(r'(?:[^$%\n]|\$\$\{|%%\{|\$(?!\{)|%(?!\{))*\n?')

# Token kinds besides operators (whose kind is the operator text).
NL, NUM, ID, EOF, ERR = "NL", "NUM", "ID", "EOF", "ERR"
OQUOTE, CQUOTE, OHEREDOC, CHEREDOC = "OQUOTE", "CQUOTE", "OHEREDOC", "CHEREDOC"
TLIT, TINTERP, TCONTROL, TEND = "TLIT", "TINTERP", "TCONTROL", "TEND"


class _SyntaxError(Exception):
    def __init__(self, summary: str, detail: str, start: int, end: int | None = None) -> None:
        super().__init__(summary)
        self.summary, self.detail, self.start = summary, detail, start
        self.end = end if end is not None else start + 1


def _scan(text: str, start_mode: str = "N") -> list:
    """Tokenise ``text``.  Tokens are tuples (kind, value, start, end).

    Modes: "N" normal, "Q" quoted template, "H" heredoc, "T" bare template.
    Interpolation sequences push a normal mode that remembers its brace depth.
    A lexical error becomes an ERR token so that the parser reports errors in
    source order.
    """
    toks: list = []
    append = toks.append
    n = len(text)
    pos = 0
    # stack entries: ["N", depth, in_template_seq] | ["Q"] | ["H", marker] | ["T"]
    stack: list = [["N", 0, False]] if start_mode == "N" else [["T"]]
    normal_match = _NORMAL.match
    while pos < n:
        mode = stack[-1]
        m0 = mode[0]
        if m0 == "N":
            m = normal_match(text, pos)
            if m is None:
                ch = text[pos]
                append((ERR, ("Invalid character", "This character is not used within the language."), pos, pos + 1))
                return toks
            kind = m.lastgroup
            end = m.end()
            if kind == "ws" or kind == "comment":
                pass
            elif kind == "nl":
                append((NL, "\n", pos, end))
            elif kind == "ident":
                append((ID, m.group(), pos, end))
            elif kind == "num":
                append((NUM, m.group(), pos, end))
            elif kind == "op":
                op = m.group()
                if op == "{":
                    mode[1] += 1
                    append(("{", op, pos, end))
                elif op == "}":
                    if mode[2] and mode[1] == 0:
                        append((TEND, False, pos, end))
                        stack.pop()
                    else:
                        mode[1] -= 1
                        append(("}", op, pos, end))
                elif op == "~":
                    if mode[2] and mode[1] == 0 and text.startswith("}", end):
                        append((TEND, True, pos, end + 1))
                        stack.pop()
                        end += 1
                    else:
                        append((ERR, ("Invalid character", "This character is not used within the language."), pos, end))
                        return toks
                elif op == '"':
                    append((OQUOTE, op, pos, end))
                    stack.append(["Q", pos])
                else:
                    append((op, op, pos, end))
            elif kind == "heredoc":
                append((OHEREDOC, (m.group("hname"), m.group("hstrip") == "-"), pos, end))
                stack.append(["H", m.group("hname"), pos])
            else:  # badcomment
                append((ERR, ("Unterminated comment",
                              "A block comment (/* ... */) was opened here but never closed."), pos, pos + 2))
                return toks
            pos = end
            continue
        if m0 == "Q":
            ch = text[pos]
            if ch == '"':
                append((CQUOTE, ch, pos, pos + 1))
                stack.pop()
                pos += 1
            elif text.startswith("${", pos) or text.startswith("%{", pos):
                strip = text.startswith("~", pos + 2)
                end = pos + 3 if strip else pos + 2
                append((TINTERP if ch == "$" else TCONTROL, strip, pos, end))
                stack.append(["N", 0, True])
                pos = end
            elif ch == "\n":
                append((ERR, ("Invalid multi-line string",
                              "Quoted strings may not be split over multiple lines. To produce a multi-line "
                              "string, either use the \\n escape to represent a newline character or use the "
                              '"heredoc" multi-line template syntax.'), pos, pos + 1))
                return toks
            else:
                m = _QLIT.match(text, pos)
                if m is None:  # a lone backslash at end of input
                    pos = n
                    break
                append((TLIT, m.group(), pos, m.end()))
                pos = m.end()
            continue
        # heredoc or bare template: line oriented
        if m0 == "H" and (pos == 0 or text[pos - 1] == "\n"):
            mm = re.match(r"[ \t]*" + re.escape(mode[1]) + r"[ \t]*(?=\r?\n|$)", text[pos:pos + len(mode[1]) + 200])
            if mm is not None:
                append((CHEREDOC, mode[1], pos, pos + mm.end()))
                stack.pop()
                pos += mm.end()
                continue
        if text.startswith("${", pos) or text.startswith("%{", pos):
            strip = text.startswith("~", pos + 2)
            end = pos + 3 if strip else pos + 2
            append((TINTERP if text[pos] == "$" else TCONTROL, strip, pos, end))
            stack.append(["N", 0, True])
            pos = end
            continue
        m = _HLIT.match(text, pos)
        end = m.end()
        if end == pos:  # cannot happen: '$'/'%' not followed by '{' is literal
            end = pos + 1
        append((TLIT, text[pos:end], pos, end))
        pos = end
    # end of input: close what is still open
    mode = stack[-1]
    if mode[0] == "Q" or mode[0] == "H":
        opened = mode[-1]
        append((ERR, ("Unterminated template string", "No closing marker was found for the string."),
                opened, opened + (1 if mode[0] == "Q" else 2)))
    elif mode[0] == "N" and mode[2]:
        pass  # the parser reports the unclosed interpolation
    append((EOF, None, n, n))
    toks.extend([(EOF, None, n, n)] * 2)  # padding for the parser's two-token lookahead
    return toks


# --------------------------------------------------------------------------- parser

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
_ESC_RE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)|\$\$\{|%%\{", re.S)
_WS = " \t\n\r\v\f"

_PRECEDENCE = {
    "||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, "<=": 4, ">": 4, ">=": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6,
}


class _Parser:
    def __init__(self, text: str, filename: str, toks: list) -> None:
        self.text = text
        self.filename = filename
        self.toks = toks
        self.i = 0
        self.nl_stack = [True]
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self._pos_cache: dict = {}

    # -- positions

    def pos(self, off: int) -> Pos:
        # interned per offset: fewer objects, smaller and faster cache pickles
        p = self._pos_cache.get(off)
        if p is None:
            line = bisect_right(self._line_starts, off)
            p = self._pos_cache[off] = Pos(line, off - self._line_starts[line - 1] + 1, off)
        return p

    def rng(self, start: int, end: int) -> Range:
        return Range(self.filename, self.pos(start), self.pos(end))

    # -- token access

    def peek(self):
        toks = self.toks
        i = self.i
        if not self.nl_stack[-1]:
            while toks[i][0] == NL:
                i += 1
            self.i = i
        tok = toks[i]
        if tok[0] == ERR:
            raise _SyntaxError(tok[1][0], tok[1][1], tok[2], tok[3])
        return tok

    def next(self):
        tok = self.peek()
        if tok[0] != EOF:
            self.i += 1
        return tok

    def expect(self, kind: str, summary: str, detail: str):
        tok = self.peek()
        if tok[0] != kind:
            self.fail(summary, detail, tok)
        self.i += 1
        return tok

    def fail(self, summary: str, detail: str, tok=None):
        tok = tok or self.peek()
        raise _SyntaxError(summary, detail, tok[2], max(tok[3], tok[2] + 1) if tok[0] != EOF else tok[2])

    # -- bodies

    def parse_body(self, end_kind: str, open_tok=None) -> ast.Body:
        body = ast.Body()
        attrs = body.attributes
        start = self.peek()[2]
        while True:
            tok = self.peek()
            kind = tok[0]
            if kind == NL:
                self.i += 1
                continue
            if kind == end_kind:
                break
            if kind == EOF:
                if open_tok is not None:
                    raise _SyntaxError(
                        "Unclosed configuration block",
                        "There is no closing brace for this block before the end of the file. This may be "
                        "caused by incorrect brace nesting elsewhere in this file.", open_tok[2], open_tok[3])
                self.fail("Argument or block definition required",
                          "An argument or block definition is required here.", tok)
            if kind != ID:
                self.fail("Argument or block definition required",
                          "An argument or block definition is required here.", tok)
            self.i += 1
            after = self.peek()
            if after[0] == "=":
                self.i += 1
                attr = self.parse_attribute_rest(tok)
                self.end_of_item("Missing newline after argument", "An argument definition must end with a newline.")
                prev = attrs.get(attr.name)
                if prev is not None:
                    self.diags.error(
                        "Attribute redefined",
                        f'The argument "{attr.name}" was already set at {prev.name_range.filename}:'
                        f"{prev.name_range.start.line},{prev.name_range.start.column}. Each argument may be set only once.",
                        attr.name_range)
                else:
                    attrs[attr.name] = attr
            else:
                body.blocks.append(self.parse_block_rest(tok))
                self.end_of_item("Missing newline after block definition", "A block definition must end with a newline.")
        end = self.peek()[2]
        body.range = self.rng(start, end)
        return body

    def end_of_item(self, summary: str, detail: str) -> None:
        tok = self.peek()
        if tok[0] == NL:
            self.i += 1
        elif tok[0] != EOF:
            self.fail(summary, detail, tok)

    def parse_attribute_rest(self, name_tok) -> ast.Attribute:
        expr = self.parse_expr()
        name_range = self.rng(name_tok[2], name_tok[3])
        return ast.Attribute(name_tok[1], expr, self.rng(name_tok[2], expr.range.end.byte), name_range)

    def parse_block_rest(self, type_tok) -> ast.Block:
        labels: list[str] = []
        label_ranges: list[Range] = []
        while True:
            tok = self.peek()
            if tok[0] == ID:
                self.i += 1
                labels.append(tok[1])
                label_ranges.append(self.rng(tok[2], tok[3]))
            elif tok[0] == OQUOTE:
                labels.append(self.parse_label(tok))
                label_ranges.append(self.rng(tok[2], self.toks[self.i - 1][3]))
            elif tok[0] == "{":
                break
            elif (tok[0] == EOF or tok[0] == NL) and labels:
                self.fail("Invalid block definition",
                          'A block definition must have block content delimited by "{" and "}", starting on the '
                          'same line as the block header.', tok)
            elif tok[0] == "=" or tok[0] == EOF or tok[0] == NL:
                self.fail("Argument or block definition required",
                          'An argument or block definition is required here. To set an argument, use the equals '
                          'sign "=" to introduce the argument value.', tok)
            else:
                self.fail("Invalid block definition",
                          'Either a quoted string block label or an opening brace ("{") is expected here.', tok)
        open_tok = self.next()
        tok = self.peek()
        if tok[0] == NL or tok[0] == "}" or tok[0] == EOF:
            body = self.parse_body("}", open_tok)
        else:
            # single-line block: at most one argument, then the closing brace
            body = ast.Body()
            if tok[0] != ID:
                self.fail("Argument or block definition required",
                          "An argument or block definition is required here.", tok)
            self.i += 1
            eq = self.peek()
            if eq[0] != "=":
                self.fail("Invalid single-argument block definition",
                          "A single-line block definition can contain only a single argument. If you meant to "
                          "define argument, use an equals sign to assign it a value. To define a nested block, "
                          "place it on a line of its own within its parent block.", eq)
            self.i += 1
            attr = self.parse_attribute_rest(tok)
            body.attributes[attr.name] = attr
            if self.peek()[0] != "}":
                self.fail("Invalid single-argument block definition",
                          "A single-line block definition must end with a closing brace immediately after its "
                          "single argument definition.")
            body.range = self.rng(open_tok[3], self.peek()[2])
        close = self.next()
        return ast.Block(type_tok[1], labels, body, self.rng(type_tok[2], close[3]),
                         self.rng(type_tok[2], type_tok[3]), label_ranges)

    def parse_label(self, open_tok) -> str:
        self.i += 1
        parts = []
        while True:
            tok = self.peek()
            if tok[0] == TLIT:
                parts.append(self.unescape(tok, True))
                self.i += 1
            elif tok[0] == CQUOTE:
                self.i += 1
                return "".join(parts)
            else:
                self.fail("Invalid block label", "Template sequences are not allowed in block labels.", tok)

    # -- expressions

    def parse_expr(self) -> ast.Expression:
        cond = self.parse_binary(1)
        if self.peek()[0] != "?":
            return cond
        self.i += 1
        t = self.parse_expr()
        self.expect(":", "Missing false expression in conditional",
                    "The conditional operator (...?...:...) requires a false expression, delimited by a colon.")
        f = self.parse_expr()
        return ast.Conditional(cond, t, f, self.rng(cond.range.start.byte, f.range.end.byte))

    def parse_binary(self, min_prec: int) -> ast.Expression:
        """Precedence climbing over HCL's six left-associative binary levels."""
        left = self.parse_unary()
        prec_of = _PRECEDENCE.get
        while True:
            tok = self.peek()
            prec = prec_of(tok[0])
            if prec is None or prec < min_prec:
                return left
            self.i += 1
            right = self.parse_binary(prec + 1)
            left = ast.BinaryOp(tok[0], left, right, self.rng(left.range.start.byte, right.range.end.byte))

    def parse_unary(self) -> ast.Expression:
        tok = self.peek()
        if tok[0] == "-" or tok[0] == "!":
            self.i += 1
            operand = self.parse_unary()
            if tok[0] == "-" and isinstance(operand, ast.Literal) and _is_num(operand.value) \
                    and operand.range.start.byte == tok[3]:
                return ast.Literal(-operand.value, self.rng(tok[2], operand.range.end.byte))
            return ast.UnaryOp(tok[0], operand, self.rng(tok[2], operand.range.end.byte))
        return self.parse_postfix(self.parse_term())

    def parse_term(self) -> ast.Expression:
        tok = self.peek()
        kind = tok[0]
        if kind == NUM:
            self.i += 1
            return ast.Literal(_number(tok[1]), self.rng(tok[2], tok[3]))
        if kind == ID:
            self.i += 1
            name = tok[1]
            if name == "true" or name == "false" or name == "null":
                return ast.Literal({"true": True, "false": False, "null": None}[name], self.rng(tok[2], tok[3]))
            nxt = self.peek()
            if nxt[0] == "(" or nxt[0] == "::":
                return self.parse_call(tok)
            return ast.ScopeTraversal(name, (), self.rng(tok[2], tok[3]), ())
        if kind == OQUOTE:
            return self.parse_quoted(tok)
        if kind == OHEREDOC:
            return self.parse_heredoc(tok)
        if kind == "(":
            self.i += 1
            self.nl_stack.append(False)
            inner = self.parse_expr()
            close = self.peek()
            self.nl_stack.pop()
            if close[0] != ")":
                self.fail("Missing close parenthesis", "Expected a closing parenthesis to terminate the expression.", close)
            self.i += 1
            return inner
        if kind == "[":
            return self.parse_tuple(tok)
        if kind == "{":
            return self.parse_object(tok)
        if kind == EOF:
            self.fail("Invalid expression", "Expected the start of an expression, but found the end of the file.", tok)
        self.fail("Invalid expression", "Expected the start of an expression, but found an invalid expression token.", tok)

    def parse_call(self, name_tok) -> ast.Expression:
        name = name_tok[1]
        while self.peek()[0] == "::":
            self.i += 1
            part = self.expect(ID, "Missing function name", "Function scope resolution symbol :: must be followed by a function name in this scope.")
            name += "::" + part[1]
        self.expect("(", "Missing open parenthesis", "Function selector must be followed by an open parenthesis to begin the function call.")
        self.nl_stack.append(False)
        args = []
        expand = False
        while True:
            tok = self.peek()
            if tok[0] == ")":
                break
            args.append(self.parse_expr())
            tok = self.peek()
            if tok[0] == "...":
                self.i += 1
                expand = True
                tok = self.peek()
                if tok[0] != ")":
                    self.fail("Missing closing parenthesis",
                              "An expanded function argument (with ...) must be immediately followed by closing parentheses.", tok)
                break
            if tok[0] == ",":
                self.i += 1
                continue
            if tok[0] != ")":
                self.fail("Missing argument separator",
                          "A comma is required to separate each function argument from the next.", tok)
        close = self.next()
        self.nl_stack.pop()
        return ast.FunctionCall(name, args, self.rng(name_tok[2], close[3]), self.rng(name_tok[2], name_tok[3]), expand)

    def parse_postfix(self, expr: ast.Expression) -> ast.Expression:
        """Attribute access, indexing and splats after a term."""
        while True:
            tok = self.peek()
            kind = tok[0]
            if kind == ".":
                nxt = self.toks[self.i + 1]
                if nxt[0] == ID:
                    self.i += 2
                    expr = _add_step(expr, ("attr", nxt[1]), self.rng(tok[2], nxt[3]), self)
                elif nxt[0] == NUM and nxt[2] == tok[3]:
                    self.i += 2
                    # legacy index `x.0`; `x.0.1` scans as the number "0.1"
                    off = nxt[2]
                    for piece in nxt[1].split("."):
                        if not piece.isdigit():
                            self.fail("Invalid legacy index", "Only integer indices are allowed after a dot.", nxt)
                        expr = _add_step(expr, ("index", int(piece)), self.rng(off - 1, off + len(piece)), self)
                        off += len(piece) + 1
                elif nxt[0] == "*":
                    self.i += 2
                    expr = self.parse_splat(expr, tok, nxt, full=False)
                else:
                    self.i += 1
                    self.fail("Invalid attribute name", "An attribute name is required after a dot.", nxt)
            elif kind == "[":
                nxt = self.toks[self.i + 1]
                if nxt[0] == "*":
                    self.i += 2
                    close = self.expect("]", "Missing close bracket on splat index",
                                        "The star for a full splat operator must be immediately followed by a closing bracket (\"]\").")
                    expr = self.parse_splat(expr, tok, close, full=True)
                    continue
                self.i += 1
                self.nl_stack.append(False)
                key = self.parse_expr()
                close = self.peek()
                self.nl_stack.pop()
                if close[0] != "]":
                    self.fail("Missing close bracket on index", "The index operator must end with a closing bracket (\"]\").", close)
                self.i += 1
                step_range = self.rng(tok[2], close[3])
                if isinstance(key, ast.Literal) and isinstance(expr, (ast.ScopeTraversal, ast.RelativeTraversal)) \
                        and (isinstance(key.value, str) or (_is_num(key.value) and key.value == int(key.value))):
                    k = key.value if isinstance(key.value, str) else int(key.value)
                    expr = _add_step(expr, ("index", k), step_range, self)
                elif isinstance(key, ast.Literal) and isinstance(key.value, (str, int)) and not isinstance(key.value, bool):
                    expr = ast.RelativeTraversal(expr, (("index", key.value),), self.rng(expr.range.start.byte, close[3]), (step_range,))
                else:
                    expr = ast.Index(expr, key, self.rng(expr.range.start.byte, close[3]), step_range)
            else:
                return expr

    def parse_splat(self, source: ast.Expression, open_tok, star_end_tok, full: bool) -> ast.Expression:
        item = ast.SplatItem(self.rng(open_tok[2], star_end_tok[3]))
        each: ast.Expression = item
        while True:
            tok = self.peek()
            nxt = self.toks[self.i + 1]
            if tok[0] == "." and nxt[0] == ID:
                self.i += 2
                each = _add_step(each, ("attr", nxt[1]), self.rng(tok[2], nxt[3]), self)
            elif full and tok[0] == "[" and nxt[0] == "*" and self.toks[self.i + 2][0] == "]":
                # a nested splat applies to each element: x[*].a[*].b
                self.i += 3
                each = self.parse_splat(each, tok, self.toks[self.i - 1], full=True)
            elif full and tok[0] == "[" and self.toks[self.i + 1][0] != "*":
                self.i += 1
                self.nl_stack.append(False)
                key = self.parse_expr()
                close = self.peek()
                self.nl_stack.pop()
                if close[0] != "]":
                    self.fail("Missing close bracket on index", "The index operator must end with a closing bracket (\"]\").", close)
                self.i += 1
                if isinstance(key, ast.Literal) and isinstance(key.value, (str, int)) and not isinstance(key.value, bool):
                    each = _add_step(each, ("index", key.value), self.rng(tok[2], close[3]), self)
                else:
                    each = ast.Index(each, key, self.rng(each.range.start.byte, close[3]), self.rng(tok[2], close[3]))
            else:
                break
        end = max(each.range.end.byte, star_end_tok[3])
        return ast.Splat(source, each, self.rng(source.range.start.byte, end), full)

    def parse_tuple(self, open_tok) -> ast.Expression:
        self.i += 1
        self.nl_stack.append(False)
        tok = self.peek()
        if tok[0] == ID and tok[1] == "for" and self.toks[self.i + 1][0] == ID:
            return self.parse_for(open_tok, "]")
        items = []
        while True:
            tok = self.peek()
            if tok[0] == "]":
                break
            items.append(self.parse_expr())
            tok = self.peek()
            if tok[0] == ",":
                self.i += 1
                continue
            if tok[0] != "]":
                self.fail("Missing item separator", "Expected a comma to mark the beginning of the next item.", tok)
        close = self.next()
        self.nl_stack.pop()
        return ast.TupleCons(items, self.rng(open_tok[2], close[3]))

    def parse_object(self, open_tok) -> ast.Expression:
        self.i += 1
        self.nl_stack.append(False)
        tok = self.peek()
        if tok[0] == ID and tok[1] == "for" and self.toks[self.i + 1][0] == ID:
            return self.parse_for(open_tok, "}")
        self.nl_stack[-1] = True
        items = []
        while True:
            tok = self.peek()
            while tok[0] == NL:
                self.i += 1
                tok = self.peek()
            if tok[0] == "}":
                break
            kstart = tok
            force = kstart[0] == "("
            key = self.parse_expr()
            key = ast.ObjectKey(key, self.rng(kstart[2], key.range.end.byte) if force else key.range, force)
            sep = self.peek()
            if sep[0] != "=" and sep[0] != ":":
                if sep[0] in (",", "}", NL) and key.literal_name() is None:
                    self.fail("Missing key/value separator",
                              'Expected an equals sign ("=") to mark the beginning of the attribute value.', sep)
                self.fail("Missing key/value separator",
                          'Expected an equals sign ("=") to mark the beginning of the attribute value.', sep)
            self.i += 1
            value = self.parse_expr()
            items.append((key, value))
            tok = self.peek()
            if tok[0] == "," or tok[0] == NL:
                self.i += 1
                continue
            if tok[0] != "}":
                self.fail("Missing attribute separator",
                          "Expected a newline or comma to mark the beginning of the next attribute.", tok)
        close = self.next()
        self.nl_stack.pop()
        return ast.ObjectCons(items, self.rng(open_tok[2], close[3]))

    def parse_for(self, open_tok, close_kind: str) -> ast.Expression:
        self.i += 1  # "for"
        first = self.expect(ID, "Invalid 'for' expression", "For expression requires variable name after 'for'.")
        key_var, value_var = None, first[1]
        if self.peek()[0] == ",":
            self.i += 1
            second = self.expect(ID, "Invalid 'for' expression", "For expression requires value variable name after comma.")
            key_var, value_var = first[1], second[1]
        tok = self.peek()
        if not (tok[0] == ID and tok[1] == "in"):
            self.fail("Invalid 'for' expression", "For expression requires the 'in' keyword after its name declarations.", tok)
        self.i += 1
        coll = self.parse_expr()
        self.expect(":", "Invalid 'for' expression", "For expression requires a colon after the collection expression.")
        key_expr = None
        value = self.parse_expr()
        group = False
        if close_kind == "}":
            key_expr = value
            self.expect("=>", "Invalid 'for' expression",
                        "Key expression in 'for' expression must be followed by an arrow (=>).")
            value = self.parse_expr()
            if self.peek()[0] == "...":
                self.i += 1
                group = True
        cond = None
        tok = self.peek()
        if tok[0] == ID and tok[1] == "if":
            self.i += 1
            cond = self.parse_expr()
        tok = self.peek()
        if tok[0] != close_kind:
            self.fail("Invalid 'for' expression", "Extra characters after the end of the 'for' expression.", tok)
        self.i += 1
        self.nl_stack.pop()
        return ast.ForExpr(key_var, value_var, coll, key_expr, value, cond, group,
                           self.rng(open_tok[2], tok[3]), close_kind == "}")

    # -- templates

    def unescape(self, tok, quoted: bool) -> str:
        raw = tok[1]
        if "\\" not in raw and "$${" not in raw and "%%{" not in raw:
            return raw

        def sub(m):
            s = m.group()
            if s == "$${":
                return "${"
            if s == "%%{":
                return "%{"
            sel = m.group(1)
            if sel in _ESCAPES:
                return _ESCAPES[sel]
            if len(sel) > 1:
                return chr(int(sel[1:], 16))
            off = tok[2] + m.start()
            raise _SyntaxError("Invalid escape sequence",
                               f'The symbol "{sel}" is not a valid escape sequence selector.', off, off + 2)

        if not quoted:
            return raw.replace("$${", "${").replace("%%{", "%{")
        return _ESC_RE.sub(sub, raw)

    def parse_quoted(self, open_tok) -> ast.Expression:
        self.i += 1
        parts = self.parse_template_parts(CQUOTE, True)
        close = self.next()
        return self.build_template(parts, self.rng(open_tok[2], close[3]))

    def parse_heredoc(self, open_tok) -> ast.Expression:
        self.i += 1
        parts = self.parse_template_parts(CHEREDOC, False)
        close = self.next()
        if open_tok[1][1]:
            _apply_strip_markers(parts)
            _flush_heredoc(parts, self.text)
        return self.build_template(parts, self.rng(open_tok[2], close[3]), heredoc=True)

    def parse_template_parts(self, end_kind: str, quoted: bool) -> list:
        """Flat list of parts: ("lit", text, start, end, raw_start) | ("interp", expr, sl, sr, start, end)
        | ("if", cond, ...) | ("else", None, ...) | ("endif", ...) | ("for", (k, v, coll), ...) | ("endfor", ...)."""
        parts = []
        self.nl_stack.append(True)
        try:
            while True:
                tok = self.peek()
                kind = tok[0]
                if kind == end_kind:
                    break
                if kind == TLIT:
                    self.i += 1
                    parts.append(["lit", self.unescape(tok, quoted), tok[2], tok[3]])
                elif kind == TINTERP:
                    self.i += 1
                    self.nl_stack.append(False)
                    expr = self.parse_expr()
                    end = self.template_seq_end("interpolation")
                    self.nl_stack.pop()
                    parts.append(["interp", expr, tok[1], end[1], tok[2], end[3]])
                elif kind == TCONTROL:
                    self.i += 1
                    self.nl_stack.append(False)
                    kw = self.peek()
                    word = kw[1] if kw[0] == ID else None
                    if word == "if":
                        self.i += 1
                        payload = self.parse_expr()
                    elif word == "for":
                        self.i += 1
                        v1 = self.expect(ID, "Invalid template directive",
                                         "A for directive requires a variable name after 'for'.")
                        k = None
                        v = v1[1]
                        if self.peek()[0] == ",":
                            self.i += 1
                            k, v = v1[1], self.expect(ID, "Invalid template directive",
                                                      "A for directive requires a value variable name after the comma.")[1]
                        inw = self.peek()
                        if not (inw[0] == ID and inw[1] == "in"):
                            self.fail("Invalid template directive", "A for directive requires the 'in' keyword.", inw)
                        self.i += 1
                        payload = (k, v, self.parse_expr())
                    elif word in ("else", "endif", "endfor"):
                        self.i += 1
                        payload = None
                    else:
                        self.fail("Invalid template directive",
                                  "A template directive keyword (\"if\", \"for\", etc) is expected at the beginning "
                                  "of a %{ sequence.", kw)
                    end = self.template_seq_end("directive")
                    self.nl_stack.pop()
                    parts.append([word, payload, tok[1], end[1], tok[2], end[3]])
                elif kind == EOF:
                    self.fail("Unterminated template string", "No closing marker was found for the string.", tok)
                else:
                    self.fail("Invalid template", "Unexpected token in template.", tok)
        finally:
            self.nl_stack.pop()
        return parts

    def template_seq_end(self, what: str):
        tok = self.peek()
        if tok[0] != TEND:
            if tok[0] == EOF:
                self.fail("Unclosed template " + what, f"There is no closing brace for this {what} sequence.", tok)
            self.fail(f"Extra characters after {what} expression",
                      f"Expected a closing brace to end the {what}, but found extra characters.", tok)
        self.i += 1
        return tok

    def build_template(self, parts: list, whole: Range, heredoc: bool = False) -> ast.Expression:
        _apply_strip_markers(parts)
        # a single interpolation alone yields its value unconverted
        if len(parts) == 1 and parts[0][0] == "interp" and not heredoc:
            return ast.TemplateWrap(parts[0][1], whole)
        self._tpos = 0
        out = self.nest_parts(parts, whole, None)
        return ast.TemplateExpr(out, whole)

    def nest_parts(self, parts: list, whole: Range, until: tuple | None) -> list:
        out: list = []
        while self._tpos < len(parts):
            p = parts[self._tpos]
            kind = p[0]
            if kind == "lit":
                self._tpos += 1
                if p[1]:
                    if out and isinstance(out[-1], ast.Literal):
                        prev = out[-1]
                        out[-1] = ast.Literal(prev.value + p[1], self.rng(prev.range.start.byte, p[3]))
                    else:
                        out.append(ast.Literal(p[1], self.rng(p[2], p[3])))
            elif kind == "interp":
                self._tpos += 1
                out.append(p[1])
            elif kind in ("else", "endif", "endfor"):
                if until is None or kind not in until:
                    self._tpos += 1
                    raise _SyntaxError(f"Unexpected {kind} directive",
                                       f"The {kind} directive does not follow a matching opening directive.", p[4], p[5])
                return out
            elif kind == "if":
                self._tpos += 1
                start = p[4]
                true_parts = self.nest_parts(parts, whole, ("else", "endif"))
                self._need_close(parts, p, "if", "endif")
                false_parts = None
                t_end = parts[self._tpos][4]
                if parts[self._tpos][0] == "else":
                    else_p = parts[self._tpos]
                    self._tpos += 1
                    false_parts = self.nest_parts(parts, whole, ("endif",))
                    self._need_close(parts, p, "if", "endif")
                    false_parts = ast.TemplateExpr(false_parts, self.rng(else_p[5], parts[self._tpos][4]))
                end_p = parts[self._tpos]
                if end_p[0] != "endif":
                    raise _SyntaxError("Unexpected endfor directive", "Expected an endif directive.", end_p[4], end_p[5])
                self._tpos += 1
                out.append(ast.TemplateIf(p[1], ast.TemplateExpr(true_parts, self.rng(p[5], t_end)),
                                          false_parts, self.rng(start, end_p[5])))
            elif kind == "for":
                self._tpos += 1
                body = self.nest_parts(parts, whole, ("endfor",))
                self._need_close(parts, p, "for", "endfor")
                end_p = parts[self._tpos]
                if end_p[0] != "endfor":
                    raise _SyntaxError("Unexpected " + end_p[0] + " directive", "Expected an endfor directive.", end_p[4], end_p[5])
                self._tpos += 1
                k, v, coll = p[1]
                out.append(ast.TemplateFor(k, v, coll, ast.TemplateExpr(body, self.rng(p[5], end_p[4])),
                                           self.rng(p[4], end_p[5])))
        return out

    def _need_close(self, parts, opener, name: str, closer: str) -> None:
        if self._tpos >= len(parts):
            raise _SyntaxError(f"Unterminated template {name} directive",
                               f"There is no %{{{closer}}} directive to close this {name} directive.",
                               opener[4], opener[5])


def _apply_strip_markers(parts: list) -> None:
    """``${~``/``%{~`` trim whitespace before the sequence, ``~}`` after it."""
    for idx, p in enumerate(parts):
        if p[0] == "lit":
            continue
        if p[2] and idx > 0 and parts[idx - 1][0] == "lit":
            parts[idx - 1][1] = parts[idx - 1][1].rstrip(_WS)
        if p[3] and idx + 1 < len(parts) and parts[idx + 1][0] == "lit":
            parts[idx + 1][1] = parts[idx + 1][1].lstrip(_WS)


def _flush_heredoc(parts: list, text: str) -> None:
    """``<<-`` heredocs, as hclsyntax does it: over the literal parts that begin
    a line (after strip markers), find the smallest whitespace prefix (a line
    starting with an interpolation counts as 0, blank lines are ignored) and
    remove that many characters from each of those parts."""
    min_spaces = None
    newline = True
    adjust = []
    for p in parts:
        if newline:
            newline = False
            spaces = 0
            if p[0] == "lit":
                orig = p[1]
                trimmed = orig.lstrip()
                if not trimmed and orig.endswith("\n"):
                    spaces = None
                else:
                    spaces = len(orig) - len(trimmed)
                    adjust.append(p)
            if spaces is not None and (min_spaces is None or spaces < min_spaces):
                min_spaces = spaces
        if p[0] == "lit" and p[1].endswith("\n"):
            newline = True
    if not min_spaces:
        return
    for p in adjust:
        p[1] = p[1][min_spaces:]


def _is_num(v) -> bool:
    return isinstance(v, (int, Decimal)) and not isinstance(v, bool)


def _number(s: str):
    if "." not in s and "e" not in s and "E" not in s:
        return int(s)
    d = Decimal(s)
    if d == d.to_integral_value():
        return int(d)
    return d.normalize(_NUM_CONTEXT) if d.adjusted() > -30 else d


_NUM_CONTEXT = decimal.Context(prec=1000)


def _add_step(expr, step, step_range: Range, p: _Parser):
    """Append a static step, extending a traversal node when possible."""
    start = expr.range.start.byte
    if isinstance(expr, ast.ScopeTraversal):
        return ast.ScopeTraversal(expr.root, expr.steps + (step,), p.rng(start, step_range.end.byte),
                                  expr.step_ranges + (step_range,))
    if isinstance(expr, ast.RelativeTraversal):
        return ast.RelativeTraversal(expr.source, expr.steps + (step,), p.rng(start, step_range.end.byte),
                                     expr.step_ranges + (step_range,))
    return ast.RelativeTraversal(expr, (step,), p.rng(start, step_range.end.byte), (step_range,))


# --------------------------------------------------------------------------- entry points


def _error_diag(diags: Diagnostics, p: _Parser, e: _SyntaxError) -> None:
    diags.error(e.summary, e.detail, p.rng(e.start, max(e.end, e.start)))


def parse_text(text: str, filename: str) -> tuple[ast.Body | None, Diagnostics]:
    """Parse HCL source text (no cache)."""
    diags = Diagnostics()
    if text.startswith("\ufeff"):
        text = " " + text[1:]
    p = _Parser(text, filename, _scan(text))
    p.diags = diags
    gc_was_enabled = gc.isenabled()
    gc.disable()  # the parser allocates many small acyclic objects; collections only cost time
    try:
        body = p.parse_body(EOF)
    except _SyntaxError as e:
        _error_diag(diags, p, e)
        return None, diags
    except RecursionError:
        diags.error("Expression too deeply nested", "This expression is nested too deeply to be parsed.",
                    Range(filename, Pos(1, 1, 0), Pos(1, 1, 0)))
        return None, diags
    finally:
        if gc_was_enabled:
            gc.enable()
    return body, diags


_PICKLE_FIELDS: dict | None = None


class _CachePickler(pickle.Pickler):
    """Pickles syntax-tree nodes as ``cls(*fields)`` calls: about 3x faster to
    load than the default slots-dataclass state protocol."""

    def reducer_override(self, obj):
        fields = _PICKLE_FIELDS.get(type(obj))
        if fields is None:
            return NotImplemented
        return type(obj), tuple([getattr(obj, n) for n in fields])


def _dump_cache(body: ast.Body, f) -> None:
    global _PICKLE_FIELDS
    if _PICKLE_FIELDS is None:
        import dataclasses
        classes = {Pos, Range, ast.Body, ast.Block, ast.Attribute, ast.Traversal}
        classes |= {c for c in vars(ast).values()
                    if isinstance(c, type) and issubclass(c, ast.Expression) and dataclasses.is_dataclass(c)}
        _PICKLE_FIELDS = {c: tuple(fl.name for fl in dataclasses.fields(c)) for c in classes}
    _CachePickler(f, protocol=5).dump(body)


def parse_file(path: str, text: str | None = None, cache_dir: str | None = None) -> tuple[ast.Body | None, Diagnostics]:
    """Read and parse one configuration file.

    With ``cache_dir`` the converted Body is pickled there, keyed by the
    sha256 of the content and :data:`PARSER_VERSION`; a hit skips parsing.
    Only error-free results are cached.
    """
    diags = Diagnostics()
    where = Range(path, Pos(1, 1, 0), Pos(1, 1, 0))
    if text is None:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            diags.error("Failed to read file", f"The configuration file {path!r} could not be read: {e.strerror or e}.", where)
            return None, diags
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            diags.error("Invalid file encoding",
                        f"The file {path!r} is not valid UTF-8 (invalid byte at offset {e.start}). "
                        "Configuration files must be UTF-8 encoded.", where)
            return None, diags
    else:
        data = None
    cache_path = None
    if cache_dir:
        h = hashlib.sha256()
        h.update(PARSER_VERSION.encode())
        h.update(b"\0" + path.encode("utf-8", "surrogateescape") + b"\0")
        h.update(data if data is not None else text.encode("utf-8", "surrogateescape"))
        cache_path = os.path.join(cache_dir, h.hexdigest() + ".pickle")
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            with open(cache_path, "rb") as f:
                return pickle.load(f), diags
        except FileNotFoundError:
            pass
        except Exception:  # a corrupt or incompatible entry: parse again
            pass
        finally:
            if gc_was_enabled:
                gc.enable()
    body, pdiags = parse_text(text, path)
    diags.extend(pdiags)
    if cache_path is not None and body is not None and not diags:
        try:
            os.makedirs(cache_dir, exist_ok=True)
            tmp = f"{cache_path}.{os.getpid()}.tmp"
            gc_was_enabled = gc.isenabled()
            gc.disable()
            try:
                with open(tmp, "wb") as f:
                    _dump_cache(body, f)
            finally:
                if gc_was_enabled:
                    gc.enable()
            os.replace(tmp, cache_path)
        except OSError:
            pass
    return body, diags


def parse_expression(text: str, filename: str = "<console>") -> tuple[ast.Expression | None, Diagnostics]:
    """Parse a standalone expression (console input, -var values); newlines are allowed inside."""
    diags = Diagnostics()
    p = _Parser(text, filename, _scan(text))
    p.diags = diags
    p.nl_stack = [False]
    try:
        tok = p.peek()
        if tok[0] == EOF:
            p.fail("Invalid expression", "Expected the start of an expression, but found the end of the file.", tok)
        expr = p.parse_expr()
        tok = p.peek()
        if tok[0] != EOF:
            p.fail("Extra characters after expression",
                   "An expression was successfully parsed, but extra characters were found after it.", tok)
    except _SyntaxError as e:
        _error_diag(diags, p, e)
        return None, diags
    except RecursionError:
        diags.error("Expression too deeply nested", "This expression is nested too deeply to be parsed.")
        return None, diags
    return expr, diags


def parse_template(text: str, filename: str) -> tuple[ast.Expression | None, Diagnostics]:
    """Parse a whole file as a template (templatefile()): literal text with
    ``${...}`` interpolations and ``%{...}`` directives, no backslash escapes."""
    diags = Diagnostics()
    p = _Parser(text, filename, _scan(text, "T"))
    p.diags = diags
    try:
        parts = p.parse_template_parts(EOF, False)
        whole = p.rng(0, len(text))
        expr = p.build_template(parts, whole, heredoc=True)
        if len(expr.parts) == 1 and not isinstance(expr.parts[0], ast.Literal) and len(parts) == 1:
            # a template made of one interpolation returns its value as-is
            return ast.TemplateWrap(expr.parts[0], whole), diags
    except _SyntaxError as e:
        _error_diag(diags, p, e)
        return None, diags
    return expr, diags
