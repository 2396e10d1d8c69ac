# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""LGTM on EKS from one spec: its problems, the checked spec, the charts' values, the install plan, the files beside them.

With ``role=true`` (as lgtm.aws.eks_lgtm calls them) every problem names the role variable the user sets
(``eks_lgtm_retention.logs``) instead of the spec field (``retention.logs``).
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.lgtm.aws.plugins.plugin_utils.spec_checks import format_problem, plain as _plain
from ansible_collections.lgtm.aws.plugins.plugin_utils import eks_export, eks_gitops, eks_lab, eks_values


def _names(role):
    return eks_values.role_variable if role else None


def _checked(spec, name, role, references=True):
    try:
        return eks_values.validate(_plain(spec), references=references, names=_names(role))
    except eks_values.SpecError as error:
        raise AnsibleFilterError("%s: %d problem(s):\n%s" % (name, len(error.problems), error))


def eks_lgtm_problems(spec, role=False, references=True):
    """Every problem of the spec as ``field: message`` lines; empty when it is valid."""
    try:
        eks_values.validate(_plain(spec), references=references, names=_names(role))
    except eks_values.SpecError as error:
        return [format_problem(field, message) for field, message in error.problems]
    return []


def eks_lgtm_spec(spec, role=False, references=True):
    """The spec with defaults applied, or an error listing every problem."""
    return _checked(spec, "eks_lgtm_spec", role, references)


def eks_lgtm_values(spec, role=False):
    """Helm values per release (loki, mimir, tempo, otel-collector, grafana, otel-operator) for the enabled components."""
    return eks_lab.values(_checked(spec, "eks_lgtm_values", role))


def eks_lgtm_plan(spec, role=False):
    """Releases in install order with chart, repository, version, namespace, values file and helm command."""
    return eks_gitops.plan(_checked(spec, "eks_lgtm_plan", role))


def eks_lgtm_files(spec, role=False):
    """Files written beside the values: ``{path: object}`` - the Instrumentation, Argo CD Applications, dashboards."""
    checked = _checked(spec, "eks_lgtm_files", role)
    return eks_export.lab_files(checked, eks_lab.values(checked))


def eks_lgtm_export(spec, role=False, chart_set=None):
    """Every file the role writes, as ``{path: text}``: values, plan and the lab's files (with ``chart_set``: that
    set's values and plan under ``<chart_set>/``)."""
    return eks_export.texts(_checked(spec, "eks_lgtm_export", role), chart_set=chart_set)


class FilterModule(object):
    def filters(self):
        return {"eks_lgtm_problems": eks_lgtm_problems, "eks_lgtm_spec": eks_lgtm_spec, "eks_lgtm_values": eks_lgtm_values,
                "eks_lgtm_plan": eks_lgtm_plan, "eks_lgtm_files": eks_lgtm_files, "eks_lgtm_export": eks_lgtm_export}
