# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deployer's IAM policy (plugins/plugin_utils/deployer_policy.py) as a filter."""

from ansible.errors import AnsibleFilterError

from ansible_collections.lgtm.aws.plugins.plugin_utils import deployer_policy as generator
from ansible_collections.lgtm.aws.plugins.plugin_utils.spec_checks import plain


def deployer_policy(facts):
    """The IAM policy document a deployer needs to run site.yml with ``facts``."""
    if not isinstance(facts, dict):
        raise AnsibleFilterError("deployer_policy expects a mapping of facts, got %s" % type(facts).__name__)
    try:
        return generator.deployer_policy(plain(facts))
    except generator.DeployerPolicyError as error:
        raise AnsibleFilterError(str(error)) from error


class FilterModule:
    def filters(self):
        return {"deployer_policy": deployer_policy}
