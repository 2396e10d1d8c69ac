# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Grafana Alloy syntax, reading: tokens, then blocks into the data model and expressions into small trees."""

import re

from ansible_collections.lgtm.aws.plugins.module_utils.alloy_syntax_base import AlloySyntaxError
from ansible_collections.lgtm.aws.plugins.module_utils.alloy_syntax_writer import _key, expr, write_value


_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r]+)
  | (?P<newline>\n)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<number>\d+\.\d*(?:[eE][+-]?\d+)?|\d*\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\d+)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||[-+*/%^<>!=.,\[\](){}])
""", re.VERBOSE | re.DOTALL)


class Token(object):
    __slots__ = ("kind", "text", "line", "column")

    def __init__(self, kind, text, line, column):
        self.kind, self.text, self.line, self.column = kind, text, line, column

    def __repr__(self):
        return "Token(%s %r %d:%d)" % (self.kind, self.text, self.line, self.column)


def tokenize(text):
    tokens, pos, line, line_start = [], 0, 1, 0
    while pos < len(text):
        if text.startswith("/*", pos) and text.find("*/", pos + 2) < 0:
            raise AlloySyntaxError("unterminated block comment", line, pos - line_start + 1)
        match = _TOKEN.match(text, pos)
        if not match:
            char = text[pos]
            if char == '"':
                raise AlloySyntaxError("unterminated string literal", line, pos - line_start + 1)
            raise AlloySyntaxError("unexpected character %r" % char, line, pos - line_start + 1)
        kind, value = match.lastgroup, match.group()
        if kind not in ("ws", "newline", "comment"):
            tokens.append(Token(kind, value, line, pos - line_start + 1))
        newlines = value.count("\n")
        if newlines:
            line += newlines
            line_start = pos + value.rindex("\n") + 1
        pos = match.end()
    tokens.append(Token("eof", "", line, pos - line_start + 1))
    return tokens


_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v", '"': '"', "\\": "\\"}


def unquote(token):
    body, out, i = token.text[1:-1], [], 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[nxt])
            i += 2
            continue
        width = {"x": 2, "u": 4, "U": 8}.get(nxt)
        digits = body[i + 2:i + 2 + width] if width else body[i + 1:i + 4]
        base = 16 if width else 8
        pattern = r"^[0-9a-fA-F]+$" if width else r"^[0-7]{3}$"
        if not re.match(pattern, digits) or (width and len(digits) != width):
            raise AlloySyntaxError("invalid escape sequence \\%s" % nxt, token.line, token.column + i + 1)
        out.append(chr(int(digits, base)))
        i += 2 + width if width else 4
    return "".join(out)


# ---------------------------------------------------------------------------
# Parsing: blocks into the data model, expressions into small trees.

_BINARY = [("||",), ("&&",), ("==", "!=", "<", "<=", ">", ">="), ("+", "-"), ("*", "/", "%")]


class _Parser(object):
    def __init__(self, text):
        self.tokens = tokenize(text)
        self.pos = 0
        self.references = []  # (dotted path, token, scope id)

    def peek(self, offset=0):
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)]

    def next(self):
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def expect(self, text, what=None):
        token = self.next()
        if token.text != text or token.kind in ("string", "raw"):
            raise AlloySyntaxError("expected %s, found %s" % (what or repr(text), _describe(token)), token.line, token.column)
        return token

    def body(self, closing, scope):
        attrs, blocks = {}, []
        while self.peek().text != closing or self.peek().kind in ("string", "raw"):
            token = self.peek()
            if token.kind == "eof":
                raise AlloySyntaxError("unexpected end of file, expected '}'", token.line, token.column)
            if token.kind != "ident":
                raise AlloySyntaxError("expected an attribute or block name, found %s" % _describe(token), token.line, token.column)
            if self.peek(1).text == "=" and self.peek(1).kind == "op":
                if closing == "":
                    raise AlloySyntaxError("attribute %r is not allowed at the top level; put it inside a block" % token.text, token.line, token.column)
                self.pos += 2
                if token.text in attrs:
                    raise AlloySyntaxError("attribute %r is set twice" % token.text, token.line, token.column)
                attrs[token.text] = self.value(scope)
            else:
                blocks.append(self.block(scope))
        return attrs, blocks

    def block(self, scope):
        start = self.next()
        parts = [start.text]
        while self.peek().text == "." and self.peek().kind == "op":
            self.pos += 1
            ident = self.next()
            if ident.kind != "ident":
                raise AlloySyntaxError("expected an identifier after '.', found %s" % _describe(ident), ident.line, ident.column)
            parts.append(ident.text)
        block = {"name": ".".join(parts), "_line": start.line, "_column": start.column}
        if self.peek().kind == "string":
            block["label"] = unquote(self.next())
        elif self.peek().kind == "raw":
            label = self.next()
            raise AlloySyntaxError("a block label must be a double-quoted string", label.line, label.column)
        self.expect("{", "'{' to open block %s" % block["name"])
        inner_scope = (block["name"], block.get("label")) if block["name"] == "declare" else scope
        attrs, children = self.body("}", inner_scope)
        self.expect("}")
        block["body"], block["blocks"] = attrs, children
        return block

    # Expressions -----------------------------------------------------------
    def value(self, scope):
        return _to_data(self.binary(0, scope))

    def binary(self, level, scope):
        if level == len(_BINARY):
            return self.power(scope)
        left = self.binary(level + 1, scope)
        while self.peek().kind == "op" and self.peek().text in _BINARY[level]:
            op = self.next().text
            left = ("binary", op, left, self.binary(level + 1, scope))
        return left

    def power(self, scope):
        base = self.unary(scope)
        if self.peek().kind == "op" and self.peek().text == "^":
            self.next()
            return ("binary", "^", base, self.power(scope))
        return base

    def unary(self, scope):
        if self.peek().kind == "op" and self.peek().text in ("!", "-"):
            op = self.next().text
            return ("unary", op, self.unary(scope))
        return self.postfix(scope)

    def postfix(self, scope):
        node = self.primary(scope)
        while self.peek().kind == "op" and self.peek().text in (".", "[", "("):
            token = self.next()
            if token.text == ".":
                ident = self.next()
                if ident.kind != "ident":
                    raise AlloySyntaxError("expected a field name after '.', found %s" % _describe(ident), ident.line, ident.column)
                node = ("access", node, ident.text)
            elif token.text == "[":
                index = self.binary(0, scope)
                self.expect("]")
                node = ("index", node, index)
            else:
                args = self.sequence(")", scope)
                node = ("call", node, args)
        if node[0] in ("ident", "access"):
            path = _path(node)
            if path:
                self.references.append((path, self._root_token(node), scope))
        return node

    def _root_token(self, node):
        while node[0] == "access":
            node = node[1]
        return node[2]

    def sequence(self, closing, scope):
        items = []
        while not (self.peek().kind == "op" and self.peek().text == closing):
            if self.peek().kind == "eof":
                token = self.peek()
                raise AlloySyntaxError("unexpected end of file, expected %r" % closing, token.line, token.column)
            items.append(self.binary(0, scope))
            if self.peek().kind == "op" and self.peek().text == ",":
                self.next()
            elif not (self.peek().kind == "op" and self.peek().text == closing):
                token = self.peek()
                raise AlloySyntaxError("expected ',' or %r, found %s" % (closing, _describe(token)), token.line, token.column)
        self.next()
        return items

    def primary(self, scope):
        token = self.next()
        if token.kind == "number":
            return ("literal", float(token.text) if any(c in token.text for c in ".eE") else int(token.text))
        if token.kind == "string":
            return ("literal", unquote(token))
        if token.kind == "raw":
            return ("literal", token.text[1:-1])
        if token.kind == "ident":
            if token.text in ("true", "false"):
                return ("literal", token.text == "true")
            if token.text == "null":
                return ("literal", None)
            return ("ident", token.text, token)
        if token.text == "(" and token.kind == "op":
            inner = self.binary(0, scope)
            self.expect(")")
            return ("paren", inner)
        if token.text == "[" and token.kind == "op":
            return ("array", self.sequence("]", scope))
        if token.text == "{" and token.kind == "op":
            return ("object", self.object_fields(scope))
        raise AlloySyntaxError("expected a value, found %s" % _describe(token), token.line, token.column)

    def object_fields(self, scope):
        fields = []
        while not (self.peek().kind == "op" and self.peek().text == "}"):
            key = self.next()
            if key.kind not in ("ident", "string"):
                raise AlloySyntaxError("expected an object key, found %s" % _describe(key), key.line, key.column)
            self.expect("=", "'=' after object key")
            fields.append((unquote(key) if key.kind == "string" else key.text, self.binary(0, scope)))
            if self.peek().kind == "op" and self.peek().text == ",":
                self.next()
            elif not (self.peek().kind == "op" and self.peek().text == "}"):
                token = self.peek()
                raise AlloySyntaxError("expected ',' or '}' in object, found %s" % _describe(token), token.line, token.column)
        self.next()
        return fields


def _describe(token):
    return "end of file" if token.kind == "eof" else repr(token.text)


def _path(node):
    parts = []
    while node[0] == "access":
        parts.append(node[2])
        node = node[1]
    if node[0] != "ident":
        return None
    parts.append(node[1])
    return ".".join(reversed(parts))


def _to_data(tree):
    """Literal trees become Python values; anything else stays an expression, in canonical text."""
    kind = tree[0]
    if kind == "literal":
        return tree[1]
    if kind == "array" and all(_is_literal_tree(item) for item in tree[1]):
        return [_to_data(item) for item in tree[1]]
    if kind == "object" and all(_is_literal_tree(v) for _k, v in tree[1]):
        return dict((k, _to_data(v)) for k, v in tree[1])
    if kind == "array":
        return [_to_data(item) if _is_literal_tree(item) else expr(_canonical(item)) for item in tree[1]]
    if kind == "object":
        return dict((k, _to_data(v) if _is_literal_tree(v) else expr(_canonical(v))) for k, v in tree[1])
    return expr(_canonical(tree))


def _is_literal_tree(tree):
    if tree[0] == "literal":
        return True
    if tree[0] == "array":
        return all(_is_literal_tree(i) for i in tree[1])
    if tree[0] == "object":
        return all(_is_literal_tree(v) for _k, v in tree[1])
    return False


def _canonical(tree):
    kind = tree[0]
    if kind == "literal":
        return write_value(tree[1])
    if kind == "ident":
        return tree[1]
    if kind == "access":
        return "%s.%s" % (_canonical(tree[1]), tree[2])
    if kind == "index":
        return "%s[%s]" % (_canonical(tree[1]), _canonical(tree[2]))
    if kind == "call":
        return "%s(%s)" % (_canonical(tree[1]), ", ".join(_canonical(a) for a in tree[2]))
    if kind == "paren":
        return "(%s)" % _canonical(tree[1])
    if kind == "unary":
        return "%s%s" % (tree[1], _canonical(tree[2]))
    if kind == "binary":
        return "%s %s %s" % (_canonical(tree[2]), tree[1], _canonical(tree[3]))
    if kind == "array":
        return "[%s]" % ", ".join(_canonical(i) for i in tree[1])
    if kind == "object":
        return "{%s}" % ", ".join("%s = %s" % (_key(k), _canonical(v)) for k, v in tree[1])
    raise ValueError(kind)  # pragma: no cover


def _strip_positions(blocks):
    return [
        dict(
            [("name", b["name"])] + ([("label", b["label"])] if "label" in b else [])
            + [("body", b["body"]), ("blocks", _strip_positions(b["blocks"]))]
        )
        for b in blocks
    ]


def _parse(text):
    parser = _Parser(text)
    blocks = parser.body("", None)[1]
    return blocks, parser.references


def parse(text):
    """Blocks of an Alloy file in the data model; raises AlloySyntaxError with line and column."""
    return _strip_positions(_parse(text)[0])
