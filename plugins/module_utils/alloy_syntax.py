# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Grafana Alloy configuration syntax: write it from data, parse it, and check it.

Data model (what the ``to_alloy`` filter takes and ``parse`` returns): a list of blocks,
each ``{"name": "prometheus.remote_write", "label": "mimir", "body": {...}, "blocks": [...]}``.
``label`` and ``blocks`` are optional. ``body`` maps attribute names to values: str, int,
float, bool, None, lists and dicts become Alloy literals; ``{"__expr__": "text"}`` is written
as the raw expression ``text`` (a reference such as ``prometheus.remote_write.mimir.receiver``,
or a call such as ``sys.env("TOKEN")``). ``blocks`` holds nested blocks (``endpoint``, ``rule``...),
in order, repeated as often as needed.

Pure standard library: the module ``alloy_validate`` ships this file to managed hosts.
"""

import re

EXPR_KEY = "__expr__"
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Namespaces whose labelled blocks are components that other blocks can reference.
COMPONENT_NAMESPACES = frozenset((
    "beyla", "database_observability", "discovery", "faro", "local", "loki", "mimir", "otelcol",
    "prometheus", "pyroscope", "remote", "remotecfg", "import",
))
# Top-level configuration blocks that are not components.
CONFIG_BLOCKS = frozenset(("logging", "livedebugging", "tracing", "http", "remotecfg", "argument", "export", "foreach"))
# Reference roots that never name a component (standard library and declare arguments).
STDLIB_ROOTS = frozenset((
    "argument", "array", "coalesce", "concat", "constants", "convert", "encoding", "env", "file", "format",
    "join", "json_decode", "json_path", "nonsensitive", "replace", "split", "string", "sys", "to_lower",
    "to_upper", "trim", "trim_prefix", "trim_space", "trim_suffix", "yaml_decode", "base64_decode", "true", "false", "null",
))


class AlloySyntaxError(ValueError):
    def __init__(self, message, line, column):
        super(AlloySyntaxError, self).__init__("line %d, column %d: %s" % (line, column, message))
        self.message, self.line, self.column = message, line, column


# ---------------------------------------------------------------------------
# Writing


def expr(text):
    """Mark ``text`` as a raw Alloy expression."""
    return {EXPR_KEY: text}


def is_expr(value):
    return isinstance(value, dict) and list(value) == [EXPR_KEY]


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\a": "\\a", "\b": "\\b", "\f": "\\f", "\v": "\\v"}


def quote(text):
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append("\\x%02x" % ord(char))
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _key(name):
    return name if IDENT.match(name) else quote(name)


def write_value(value, indent=0):
    pad = "\t" * indent
    if is_expr(value):
        return value[EXPR_KEY]
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        items = [write_value(v, indent + 1) for v in value]
        if all("\n" not in item for item in items) and sum(len(item) + 2 for item in items) < 80:
            return "[" + ", ".join(items) + "]"
        return "[\n" + "".join("%s\t%s,\n" % (pad, item) for item in items) + pad + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        keys = [_key(str(k)) for k in value]
        width = max(len(k) for k in keys)
        lines = ["%s\t%s = %s,\n" % (pad, k.ljust(width), write_value(v, indent + 1)) for k, v in zip(keys, value.values())]
        return "{\n" + "".join(lines) + pad + "}"
    raise TypeError("cannot write %s as an Alloy value" % type(value).__name__)


def _check_block(block, where):
    if not isinstance(block, dict) or "name" not in block:
        raise ValueError("%s must be a mapping with a 'name' (got %r)" % (where, block))
    unknown = set(block) - {"name", "label", "body", "blocks"}
    if unknown:
        raise ValueError("%s has unknown keys %s; allowed: name, label, body, blocks" % (where, ", ".join(sorted(unknown))))
    if not all(IDENT.match(part) for part in str(block["name"]).split(".")):
        raise ValueError("%s name %r must be dot-separated identifiers" % (where, block["name"]))
    for attr in block.get("body") or {}:
        if not IDENT.match(str(attr)):
            raise ValueError("%s attribute %r must be an identifier" % (where, attr))


def write_block(block, indent=0, where="block"):
    _check_block(block, where)
    pad = "\t" * indent
    head = block["name"] + (" " + quote(block["label"]) if block.get("label") is not None else "")
    body, children = block.get("body") or {}, block.get("blocks") or []
    if not body and not children:
        return "%s%s { }\n" % (pad, head)
    width = max([len(k) for k in body] or [0])
    lines = ["%s\t%s = %s\n" % (pad, k.ljust(width), write_value(v, indent + 1)) for k, v in body.items()]
    for index, child in enumerate(children):
        if lines:
            lines.append("\n")
        lines.append(write_block(child, indent + 1, "%s.blocks[%d]" % (where, index)))
    return "%s%s {\n%s%s}\n" % (pad, head, "".join(lines), pad)


def write(blocks):
    """Alloy text for a list of blocks (a single block dict is accepted too)."""
    if isinstance(blocks, dict):
        blocks = [blocks]
    return "\n".join(write_block(block, 0, "blocks[%d]" % i) for i, block in enumerate(blocks))


# ---------------------------------------------------------------------------
# Tokens

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


# ---------------------------------------------------------------------------
# Checking


def _component_key(block):
    return "%s.%s" % (block["name"], block["label"])


def _is_component(block, custom_roots):
    root = block["name"].split(".")[0]
    if "label" not in block or block["name"] in CONFIG_BLOCKS or block["name"] == "declare":
        return False
    return root in COMPONENT_NAMESPACES or root in custom_roots


def _definitions(blocks, scope, custom_roots, errors, defined):
    for block in blocks:
        if block["name"] == "declare" and "label" in block:
            inner = ("declare", block["label"])
            defined.setdefault(inner, {})
            _definitions(block["blocks"], inner, custom_roots, errors, defined)
            continue
        if not _is_component(block, custom_roots):
            continue
        key = _component_key(block)
        seen = defined.setdefault(scope, {})
        if key in seen:
            first = seen[key]
            errors.append({"line": block["_line"], "column": block["_column"],
                           "message": "duplicate component %s \"%s\" (first defined on line %d)" % (block["name"], block["label"], first)})
        else:
            seen[key] = block["_line"]


def check(text):
    """All problems found in ``text``: ``[{line, column, message}]``, empty when it is valid."""
    try:
        blocks, references = _parse(text)
    except AlloySyntaxError as error:
        return [{"line": error.line, "column": error.column, "message": error.message}]
    custom_roots = set(b["label"] for b in blocks if b["name"] == "declare" and "label" in b)
    custom_roots |= set(b["label"] for b in blocks if b["name"].startswith("import.") and "label" in b)
    errors, defined = [], {}
    _definitions(blocks, None, custom_roots, errors, defined)
    roots = COMPONENT_NAMESPACES | custom_roots
    visible_in = {}
    for path, token, scope in references:
        parts = path.split(".")
        if parts[0] in STDLIB_ROOTS or parts[0] not in roots or len(parts) < 3:
            continue
        if scope not in visible_in:
            visible_in[scope] = set(defined.get(None, {})) | set(defined.get(scope, {}) if scope else ())
        visible = visible_in[scope]
        # The reference names a component when one of its dotted prefixes is a component's name and label.
        if not any(".".join(parts[:n]) in visible for n in range(2, len(parts) + 1)):
            errors.append({"line": token.line, "column": token.column,
                           "message": "reference to undefined component: %s" % path})
    return sorted(errors, key=lambda e: (e["line"], e["column"]))
