# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Grafana Alloy syntax, checking: every problem of a file, with its line and column."""

from ansible_collections.lgtm.aws.plugins.module_utils.alloy_syntax_base import COMPONENT_NAMESPACES, CONFIG_BLOCKS, STDLIB_ROOTS, AlloySyntaxError
from ansible_collections.lgtm.aws.plugins.module_utils.alloy_syntax_parser import _parse


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
