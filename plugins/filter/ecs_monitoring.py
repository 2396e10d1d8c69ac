# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus, Alertmanager and Grafana on ECS Fargate: every configuration file from one spec."""

import json

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.yaml import yaml_dump

from ansible_collections.lgtm.aws.plugins.plugin_utils.spec_checks import format_problem, plain as _plain
from ansible_collections.lgtm.aws.plugins.plugin_utils import ecs_aws, ecs_monitoring

SPEC_VARIABLE = "ecs_monitoring_spec"


def _yaml(data):
    return yaml_dump(data, default_flow_style=False, sort_keys=False, width=200)


def spec_field(field):
    """A field of the spec as the user wrote it: ``tasks.grafana.cpu`` -> ``ecs_monitoring_spec.tasks.grafana.cpu``."""
    if not field:
        return SPEC_VARIABLE
    return SPEC_VARIABLE + (field if field.startswith("[") else "." + field)


def spec_error(error):
    """Every problem of the spec, one line each, named as the user wrote it."""
    problems = error.renamed(spec_field).problems
    lines = [format_problem(field, message) for field, message in problems]
    return AnsibleFilterError("%s: %d problem%s\n%s" % (SPEC_VARIABLE, len(lines), "" if len(lines) == 1 else "s", "\n".join(lines)))


def ecs_monitoring_files(spec, shared=None):
    """Relative path -> content of every file: prometheus.yml, rules/, tests/, alertmanager.yml, dashboards/, cost.json.

    ``shared``: the shared settings (name_prefix, region, environment, tenant) the spec falls back on."""
    try:
        checked = ecs_monitoring.validate(_plain(spec), _plain(shared) if shared is not None else None)
    except ecs_monitoring.SpecError as error:
        raise spec_error(error)
    files = {
        "prometheus.yml": _yaml(ecs_monitoring.prometheus_config(checked)),
        "rules/alerts.yml": _yaml(ecs_monitoring.alert_rules(checked)),
        "tests/alerts.test.yml": _yaml(ecs_monitoring.rule_tests(checked)),
        "alertmanager.yml": _yaml(ecs_monitoring.alertmanager_config(checked)),
        "cost.json": json.dumps(ecs_monitoring.cost_estimate(checked), indent=2, sort_keys=True) + "\n",
        "cloudwatch-exporter.yml": _yaml(ecs_monitoring.cloudwatch_exporter_config(checked)),
    }
    for path, content in ecs_monitoring.grafana_provisioning(checked).items():
        files[path] = _yaml(content)
    aws_sd = ecs_monitoring.aws_ecs_scrape_configs(checked)
    if aws_sd:
        files["scrape_configs/aws-ecs.yml"] = _yaml(aws_sd)
    for uid, dashboard in ecs_monitoring.dashboards(checked).items():
        files["dashboards/%s.json" % uid] = json.dumps(dashboard, indent=2, sort_keys=True) + "\n"
    return files


def ecs_monitoring_problems(spec, shared=None):
    """Every problem of the spec, one ``ecs_monitoring_spec.<field>: message`` line each; empty when it is valid."""
    try:
        ecs_monitoring.validate(_plain(spec), _plain(shared) if shared is not None else None)
    except ecs_monitoring.SpecError as error:
        return [format_problem(field, message) for field, message in error.renamed(spec_field).problems]
    return []


def _user_field(field):
    """Spec fields as the user wrote them (ecs_monitoring_spec.<key>); role variables stay as they are."""
    if not field or field.startswith(("ecs_monitoring_", "identity_", "lgtm_")):
        return field
    return spec_field(field)


def ecs_monitoring_aws(spec, files, refs=None, identity=None, shared=None):
    """The AWS resources of the design as data: names, security groups, SSM parameters carrying ``files``,
    services; with ``refs`` (account_id, region, execution_role_arn, task_roles, efs) also task definitions.
    With ``identity`` (the identity role's ECS outputs) every reference to them is checked first; ``shared``
    as for ``ecs_monitoring_files``."""
    try:
        checked = ecs_monitoring.validate(_plain(spec), _plain(shared) if shared is not None else None)
        return ecs_aws.plan(checked, _plain(files), _plain(refs) if refs else None,
                            _plain(identity) if identity is not None else None)
    except ecs_monitoring.SpecError as error:
        raise AnsibleFilterError("ecs_monitoring_aws: nothing was changed:\n%s" % error.renamed(_user_field))


class FilterModule(object):
    def filters(self):
        return {"ecs_monitoring_files": ecs_monitoring_files, "ecs_monitoring_problems": ecs_monitoring_problems,
                "ecs_monitoring_aws": ecs_monitoring_aws}
