#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: alloy_validate
short_description: Check a Grafana Alloy configuration before an agent loads it
version_added: 0.1.0
description:
  - Parses Alloy configuration syntax and reports every problem with its line and column - syntax errors,
    duplicate component labels, and references to components that are not defined.
  - Where the C(alloy) binary is present on the host, also runs C(alloy fmt) and, when that version has it,
    C(alloy validate), and includes their errors.
  - Fails when the configuration is invalid, unless O(fail_on_error=false) (then it only reports).
  - Changes nothing; runs in check mode.
author:
  - lgtm.aws maintainers (@lgtm-aws)
options:
  content:
    description: The configuration text.
    type: str
  path:
    description: Path of a configuration file on the host.
    type: path
  alloy_binary:
    description: The alloy executable; looked up on E(PATH) when not given. Skipped when not found.
    type: path
  fail_on_error:
    description: Fail when the configuration is invalid. With V(false) the module only reports.
    type: bool
    default: true
notes:
  - Supports check mode.
"""

EXAMPLES = r"""
- name: Check the rendered configuration before it is installed
  lgtm.aws.alloy_validate:
    content: "{{ alloy_blocks | lgtm.aws.to_alloy }}"

- name: Report on the installed configuration without failing
  lgtm.aws.alloy_validate:
    path: /etc/alloy/config.alloy
    fail_on_error: false
  register: alloy_check
"""

RETURN = r"""
valid:
  description: Whether no problem was found.
  returned: always
  type: bool
errors:
  description: The problems found, in file order.
  returned: always
  type: list
  elements: dict
  sample: [{line: 12, column: 17, message: "reference to undefined component: prometheus.remote_write.mimir.receiver"}]
components:
  description: The components the configuration defines, as C(<name>.<label>).
  returned: when the configuration parses
  type: list
  elements: str
  sample: [prometheus.exporter.unix.host, prometheus.remote_write.mimir]
alloy_checked:
  description: Whether the alloy binary also checked the configuration.
  returned: always
  type: bool
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lgtm.aws.plugins.module_utils import alloy_syntax
from ansible_collections.lgtm.aws.plugins.module_utils.alloy_binary import binary_errors, summary


def main():
    module = AnsibleModule(
        argument_spec=dict(
            content=dict(type="str"),
            path=dict(type="path"),
            alloy_binary=dict(type="path"),
            fail_on_error=dict(type="bool", default=True),
        ),
        mutually_exclusive=[("content", "path")],
        required_one_of=[("content", "path")],
        supports_check_mode=True,
    )
    params = module.params
    if params["path"] is not None:
        try:
            with open(params["path"]) as handle:
                text = handle.read()
        except (IOError, OSError) as error:
            module.fail_json(msg="path: cannot read %s: %s" % (params["path"], error))
    else:
        text = params["content"]

    errors = alloy_syntax.check(text)
    try:
        components = ["%s.%s" % (b["name"], b["label"]) for b in alloy_syntax.parse(text) if "label" in b and b["name"] != "declare"]
    except alloy_syntax.AlloySyntaxError:
        components = []

    binary = params["alloy_binary"] or module.get_bin_path("alloy")
    alloy_checked = False
    if binary and os.path.exists(binary):
        alloy_checked = True
        path = params["path"]
        if path is None:
            handle, path = tempfile.mkstemp(suffix=".alloy")
            with os.fdopen(handle, "w") as out:
                out.write(text)
        try:
            errors += binary_errors(module, binary, path)
        finally:
            if params["path"] is None:
                os.unlink(path)

    result = dict(changed=False, valid=not errors, errors=errors, components=components, alloy_checked=alloy_checked)
    if errors and params["fail_on_error"]:
        module.fail_json(msg=summary(errors), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
