#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: check_settings
short_description: Check an lgtm.aws role's variables before the role changes anything
version_added: 0.3.0
description:
  - Runs on the control node (an action plugin) as the first task of every role of this collection, through the role
    C(lgtm.aws.settings), before Ansible's own argument validation and before any AWS call.
  - Every variable whose name starts with the role's prefix (for example C(storage_)) must be one the role knows, that
    is an option of its C(meta/argument_specs.yml), a default, or a name the role's own tasks set. A misspelled
    variable such as C(storage_retension_days) would otherwise be ignored silently; it is reported with the closest
    known name. The same holds for the shared C(lgtm_) variables (C(lgtm_local_) is reserved and not checked).
  - Every known variable is templated and checked against the type, choices and nested options its argument spec
    documents, unknown nested keys included.
  - Reports every problem at once, one line each, in the user's variable names, and fails when there is any.
  - Changes nothing; runs in check mode.
author:
  - lgtm.aws maintainers (@lgtm-aws)
options:
  role:
    description: The role whose variables are checked, a sibling of C(lgtm.aws.settings) (for example V(storage)).
    type: str
    required: true
  prefix:
    description: The prefix of the role's variables. Defaults to the role name and an underscore.
    type: str
  shared:
    description: Also check the shared C(lgtm_) variables against the options of C(lgtm.aws.settings).
    type: bool
    default: true
  needs_region:
    description: Require C(lgtm_region) (roles that call AWS).
    type: bool
    default: false
  value_problems:
    description:
      - "The name of a variable whose value is the role's own checks of its values, a list of lines that each start
        with the field (for example the output of C(lgtm.aws.eks_lgtm_problems)). They are reported with the problems
        above, so an input's type errors and value errors come in one run; a line about a field already reported is
        left out."
    type: str
notes:
  - Supports check mode.
  - The task runs where the role's own variables are visible, so the role C(lgtm.aws.settings) runs it as a dependency
    of each role; calling it directly is meant for tests and custom roles laid out like this collection's.
"""

EXAMPLES = r"""
# roles/<role>/meta/main.yml of a role in this collection:
# dependencies:
#   - role: lgtm.aws.settings
#     vars: {settings_role: storage, settings_needs_region: true}

- name: Check the variables of lgtm.aws.storage
  lgtm.aws.check_settings:
    role: storage
    needs_region: true
"""

RETURN = r"""
problems:
  description: "One line per problem: the variable (and key path), then what is wrong."
  returned: always
  type: list
  elements: str
  sample:
    - "storage_retension_days: is not a variable of this role (did you mean storage_retention_days?); it would be ignored"
    - "storage_retention_days.trace: unknown key (did you mean traces?); allowed: logs, metrics, traces"
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(role=dict(type="str", required=True), prefix=dict(type="str"),
                                              shared=dict(type="bool", default=True), needs_region=dict(type="bool", default=False),
                                              value_problems=dict(type="str")),
                           supports_check_mode=True)
    module.fail_json(msg="lgtm.aws.check_settings runs on the control node as an action plugin; it has no module side")


if __name__ == "__main__":
    main()
