# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""LGTM on EKS from one spec: the checked spec, the five charts' values, the install plan."""

from ansible.errors import AnsibleFilterError

from ansible_collections.lgtm.aws.plugins.plugin_utils.spec_checks import plain as _plain
from ansible_collections.lgtm.aws.plugins.plugin_utils import eks_values


def _checked(spec, name):
    try:
        return eks_values.validate(_plain(spec))
    except eks_values.SpecError as error:
        raise AnsibleFilterError("%s: %s" % (name, error))


def eks_lgtm_spec(spec):
    """The spec with defaults applied, or an error naming the bad field."""
    return _checked(spec, "eks_lgtm_spec")


def eks_lgtm_values(spec):
    """Helm values per release (loki, mimir, tempo, otel-collector, grafana) for the enabled components."""
    return eks_values.values(_checked(spec, "eks_lgtm_values"))


def eks_lgtm_plan(spec):
    """Releases in install order with chart, repository, version, namespace and values file."""
    return eks_values.plan(_checked(spec, "eks_lgtm_plan"))


class FilterModule(object):
    def filters(self):
        return {"eks_lgtm_spec": eks_lgtm_spec, "eks_lgtm_values": eks_lgtm_values, "eks_lgtm_plan": eks_lgtm_plan}
