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

Pure standard library: the module ``alloy_validate`` ships these files to managed hosts.

The code is in four files with one job each: ``alloy_syntax_base`` (shared names, the error),
``alloy_syntax_writer``, ``alloy_syntax_parser`` and ``alloy_syntax_linter``; this module is their public face.
"""

# pylint: disable=unused-import
from ansible_collections.lgtm.aws.plugins.module_utils.alloy_syntax_base import (  # noqa: F401
    COMPONENT_NAMESPACES, CONFIG_BLOCKS, EXPR_KEY, IDENT, STDLIB_ROOTS, AlloySyntaxError,
)
from ansible_collections.lgtm.aws.plugins.module_utils.alloy_syntax_writer import expr, is_expr, quote, write, write_block, write_value  # noqa: F401
from ansible_collections.lgtm.aws.plugins.module_utils.alloy_syntax_parser import Token, parse, tokenize, unquote  # noqa: F401
from ansible_collections.lgtm.aws.plugins.module_utils.alloy_syntax_linter import check  # noqa: F401
