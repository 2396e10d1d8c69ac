# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Grafana Alloy syntax, writing: the data model (blocks, bodies, expressions) as Alloy text."""

from ansible_collections.lgtm.aws.plugins.module_utils.alloy_syntax_base import EXPR_KEY, IDENT


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
