# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Grafana Alloy syntax: the names and the error the writer, parser and linter share."""


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
