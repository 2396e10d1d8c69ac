# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write Grafana Alloy configuration from data."""

from ansible.errors import AnsibleFilterError

from ansible_collections.lgtm.aws.plugins.plugin_utils.spec_checks import plain as _plain
from ansible_collections.lgtm.aws.plugins.module_utils import alloy_syntax
from ansible_collections.lgtm.aws.plugins.plugin_utils import alloy_pipelines


def to_alloy(blocks):
    """Alloy text for a list of blocks ``{name, label, body, blocks}``; the result is checked before it is returned."""
    try:
        text = alloy_syntax.write(_plain(blocks))
    except (TypeError, ValueError) as error:
        raise AnsibleFilterError("to_alloy: %s" % error)
    problems = alloy_syntax.check(text)
    if problems:
        raise AnsibleFilterError("to_alloy: the configuration is not valid Alloy: " + "; ".join(
            "line %(line)d, column %(column)d: %(message)s" % p for p in problems))
    return text


def alloy_expr(text):
    """Mark a string as a raw Alloy expression (a reference or a call) for ``to_alloy``."""
    if not isinstance(text, str) or not text.strip():
        raise AnsibleFilterError("alloy_expr: expected the expression as a non-empty string, got %r" % (text,))
    return alloy_syntax.expr(str(text))


def alloy_pipelines_config(spec, role=False):
    """The Alloy configuration for a pipeline spec, with what the role needs to know about it.

    With ``role=True`` (the role lgtm.aws.alloy), errors name the role's variables instead of spec fields."""
    try:
        return alloy_pipelines.render(_plain(spec), role=role)
    except alloy_pipelines.SpecError as error:
        if role:
            raise AnsibleFilterError("lgtm.aws.alloy: %d problem(s); nothing was changed.\n%s"
                                     % (len(error.problems), "\n".join("- " + line for line in str(error).splitlines())))
        raise AnsibleFilterError("alloy_pipelines_config: %s" % error)
    except (TypeError, ValueError) as error:
        raise AnsibleFilterError("alloy_pipelines_config: %s" % error)


class FilterModule(object):
    def filters(self):
        return {"to_alloy": to_alloy, "alloy_expr": alloy_expr, "alloy_pipelines_config": alloy_pipelines_config}
