# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check a role's variables on the controller before the role changes anything (docs: modules/check_settings.py)."""

from __future__ import annotations

import os
import re

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.lgtm.aws.plugins.plugin_utils import role_settings
from ansible_collections.lgtm.aws.plugins.plugin_utils.spec_checks import format_problem

SHARED_PREFIX = "lgtm_"
# Reserved for the embedded local stand-in (inventories/local, playbooks/local_*.yml).
LOCAL_PREFIX = "lgtm_local_"
# The field a problem line starts with: "eks_lgtm_retention.logs: ..." or "storage_encryption 'kms' is ...".
FIELD = re.compile(r"^[A-Za-z0-9_.\[\]]*")
ARGS = {
    "role": {"type": "str", "required": True},
    "prefix": {"type": "str"},
    "shared": {"type": "bool", "default": True},
    "needs_region": {"type": "bool", "default": False},
    "value_problems": {"type": "str"},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        validation, args = self.validate_argument_spec(argument_spec=ARGS)
        roles_dir = os.path.dirname(task_vars.get("role_path") or "")
        role_dir = os.path.join(roles_dir, args["role"])
        if not os.path.isdir(os.path.join(role_dir, "meta")):
            raise AnsibleError("check_settings: no role %r beside %s" % (args["role"], roles_dir))
        prefix = args["prefix"] or args["role"] + "_"
        problems = self._check(role_dir, prefix, task_vars, "lgtm.aws.%s" % args["role"])
        if args["shared"]:
            problems = self._check(os.path.join(roles_dir, "settings"), SHARED_PREFIX, task_vars, "the shared settings",
                                   args["needs_region"]) + problems
        if args["value_problems"]:
            problems += self._value_problems(task_vars, args["value_problems"], problems)
        result["changed"] = False
        if problems:
            result["failed"] = True
            result["msg"] = "lgtm.aws.%s: %d problem(s) in the variables; nothing was changed.\n%s" % (
                args["role"], len(problems), "\n".join("- " + format_problem(f, m) for f, m in problems))
        else:
            result["msg"] = "lgtm.aws.%s: variables checked" % args["role"]
        return result

    def _value_problems(self, task_vars, name, found):
        """The role's own checks of its values (a variable holding ``field: message`` lines), less the fields
        already reported: a value of the wrong type may fail them too, and once is enough."""
        if name not in task_vars:
            return []
        try:
            lines = self._templar.template(task_vars[name]) or []
        except Exception:  # pylint: disable=broad-except
            # A variable above is malformed so the role's checks cannot run yet; they run again in the role.
            return []
        reported = [field for field, _message in found if field]
        problems = []
        for line in lines:
            field = FIELD.match(str(line)).group(0)
            if not any(field == f or field.startswith((f + ".", f + "[")) for f in reported):
                problems.append(("", str(line)))
        return problems

    def _check(self, role_dir, prefix, task_vars, owner, needs_region=False):
        specs = role_settings.argument_specs(role_dir)
        known = role_settings.known_names(role_dir, specs)
        names = [n for n in task_vars if n.startswith(prefix) and not n.startswith(LOCAL_PREFIX)]
        problems = role_settings.unknown_variables(names, [prefix], known, owner)
        values, template_problems = {}, []
        for name in sorted(set(names) & known):
            try:
                values[name] = self._templar.template(task_vars[name])
            except Exception as error:  # pylint: disable=broad-except
                template_problems.append((name, "cannot be templated: %s" % error))
        problems += template_problems + role_settings.type_problems(values, role_settings.options(specs))
        if needs_region and not values.get("lgtm_region"):
            problems.append(("lgtm_region", "is required: set it in the inventory (or AWS_REGION in the environment)"))
        return problems
