# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compare IAM and bucket policy documents by meaning, not by formatting."""

import json


def canonical(value):
    """Sorted lists, one-element lists as their element: the forms AWS treats as equal."""
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [canonical(v) for v in value]
        if len(items) == 1:
            return items[0]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return value


def parse(document):
    """A policy document from AWS may be a dict, JSON text or URL-encoded JSON text."""
    if document is None or isinstance(document, dict):
        return document
    try:
        return json.loads(document)
    except ValueError:
        from urllib.parse import unquote

        return json.loads(unquote(document))


def policies_equal(a, b):
    a, b = parse(a), parse(b)
    if a is None or b is None:
        return a is b
    return canonical(a) == canonical(b)
