# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus, Alertmanager and Grafana on ECS Fargate: the spec, its defaults and its checks.

``validate(spec, shared)`` lays the spec over the shared settings and DEFAULTS (``spec_checks.merge``) and raises
one ``SpecError`` listing every problem, each naming its field. The files come from one module per job, re-exported
here: ``ecs_prometheus`` (prometheus.yml, aws_sd scrape file, CloudWatch exporter), ``ecs_rules`` (rules and their
promtool tests), ``ecs_alertmanager``, ``ecs_dashboards`` (Grafana provisioning and dashboards), ``ecs_cost``.
"""

import ipaddress
import re

# Re-exported: callers (the filters, ecs_aws, tests) use them from here.
# pylint: disable=unused-import
from ansible_collections.lgtm.aws.plugins.plugin_utils.spec_checks import SpecError  # noqa: F401
from ansible_collections.lgtm.aws.plugins.plugin_utils.ecs_alertmanager import alertmanager_config  # noqa: F401
from ansible_collections.lgtm.aws.plugins.plugin_utils.ecs_cost import PRICE_KEYS, PRICE_TABLE, cost_estimate  # noqa: F401
from ansible_collections.lgtm.aws.plugins.plugin_utils.ecs_dashboards import (  # noqa: F401
    GRAFANA_DASHBOARDS_DIR, METRICS_PRODUCED, dashboard_metrics, dashboards, grafana_provisioning)
from ansible_collections.lgtm.aws.plugins.plugin_utils.ecs_prometheus import (  # noqa: F401
    SERVICES_JOB, aws_ecs_scrape_configs, cloudwatch_exporter_config, prometheus_config)
from ansible_collections.lgtm.aws.plugins.plugin_utils.ecs_rules import alert_rules, rule_tests  # noqa: F401
# pylint: enable=unused-import
from ansible_collections.lgtm.aws.plugins.plugin_utils.spec_checks import (
    Problems, check_keys as _keys, fail as _fail, merge, unknown_key_problems)

# Fargate's valid task sizes: CPU units -> allowed memory in MiB.
FARGATE_SIZES = {
    256: [512, 1024, 2048],
    512: [1024 * n for n in range(1, 5)],
    1024: [1024 * n for n in range(2, 9)],
    2048: [1024 * n for n in range(4, 17)],
    4096: [1024 * n for n in range(8, 31)],
    8192: [1024 * n for n in range(16, 61, 4)],
    16384: [1024 * n for n in range(32, 121, 8)],
}
SEVERITIES = ("critical", "warning")
TASKS = ("prometheus", "grafana", "cloudwatch_exporter", "alertmanager")
NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")

# Keys without a default: the role fills them from the shared settings (lgtm_name_prefix, lgtm_region,
# lgtm_environment) unless the spec gives them.
REQUIRED = ("name_prefix", "region", "environment")
# Shared setting -> where it lands in the spec when the spec does not give it.
SHARED = {"name_prefix": ("name_prefix",), "region": ("region",), "environment": ("environment",),
          "tenant": ("remote_write", "tenant")}
SERVICE_DEFAULTS = {"port": 9090, "metrics_path": "/metrics"}
METRIC_KEYS = ("aws_namespace", "aws_metric_name", "aws_dimensions", "aws_statistics")
METRIC_DEFAULTS = {"aws_statistics": ["Average"]}

# Every default of the spec; roles/ecs_monitoring/meta/argument_specs.yml documents the same values (a unit test
# compares them). Mappings merge key by key at every depth; lists and scalars replace the default whole.
DEFAULTS = {
    "cloudmap_namespace": "monitoring.local",
    "scrape_interval": "15s",
    "evaluation_interval": "15s",
    "retention": "15d",
    "prometheus_version": "2.53.0",
    "services": [],
    "ec2_sd": {"enabled": True, "tag_key": "Monitoring", "tag_value": "enabled", "port": 9100},
    # tenant: the shared tenant (lgtm_tenant) unless given.
    "remote_write": {"enabled": False, "url": "", "tenant": ""},
    "tasks": {"prometheus": {"cpu": 1024, "memory": 2048}, "grafana": {"cpu": 512, "memory": 1024},
              "cloudwatch_exporter": {"cpu": 256, "memory": 512}, "alertmanager": {"cpu": 256, "memory": 512}},
    "thresholds": {"cpu_percent": 80, "memory_percent": 85, "disk_percent": 85, "error_rate_percent": 5, "p95_latency_seconds": 1.0},
    "durations": {"cpu": "5m", "memory": "5m", "disk": "10m", "down": "1m", "scrape": "5m", "errors": "5m", "latency": "5m"},
    # No channel by default: Alertmanager then sends nothing until routes name them.
    "slack": {"routes": {}, "webhook_url_file": "/etc/alertmanager/secrets/slack-webhook-url", "webhook_secret_arn": ""},
    "alertmanager_group_wait": "10s",
    "allowed_cidrs": [],
    "certificate_arn": "",
    "efs_storage_gb": 20,
    "logs_gb_month": 10,
    # Figures replacing the region's price table entry in the cost estimate (ecs_cost.PRICE_KEYS).
    "prices": {},
    # The AWS side (plugin_utils/ecs_aws.py).
    "container_insights": "enabled",
    "log_retention_days": 30,
    "images": {"prometheus": "", "grafana": "grafana/grafana:11.5.2", "cloudwatch_exporter": "prom/cloudwatch-exporter:v0.16.0",
               "alertmanager": "prom/alertmanager:v0.28.1"},
    "network": {"vpc_id": "", "private_subnets": [], "public_subnets": []},
    "dns": {"zone": "", "record": "grafana", "private_zone": False},
    "grafana": {"admin_user": "admin", "admin_secret_arn": "", "database_url_secret_arn": "",
                "oauth": {"provider": "none", "name": "", "client_id": "", "client_secret_arn": "", "cognito_domain": "",
                          "auth_url": "", "token_url": "", "api_url": "", "scopes": "openid profile email", "groups_claim": "",
                          "role_mapping": {"Admin": [], "Editor": []}}},
    "cloudwatch_exporter": {"metrics": []},
}
ALLOWED_KEYS = tuple(DEFAULTS) + REQUIRED
CONTAINER_INSIGHTS = ("enabled", "disabled", "enhanced")
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
OAUTH_PROVIDERS = ("none", "cognito", "generic")
SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:(secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+|ssm:[a-z0-9-]+:[0-9]{12}:parameter/.+)$")
CERTIFICATE_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]+$")
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\.?$")
DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")


def _duration(value, field):
    if not isinstance(value, str) or not DURATION.match(value):
        _fail(field, "must be a Prometheus duration such as 15s, 5m or 15d (got %r)" % (value,))


def _number(value, field, zero=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (value == 0 and not zero):
        _fail(field, "must be a %s number (got %r)" % ("non-negative" if zero else "positive", value))


def _list(value, field):
    if not isinstance(value, list):
        _fail(field, "must be a list, got %s" % type(value).__name__)


def _strings(value, field):
    _list(value, field)
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item:
            _fail("%s[%d]" % (field, index), "must be a non-empty string (got %r)" % (item,))


def _choice(value, allowed, field):
    if value not in allowed:
        _fail(field, "%r is not one of %s" % (value, ", ".join(str(a) for a in allowed)))


def _secret_arn(value, field, required=False):
    if not value and not required:
        return
    if not isinstance(value, str) or not SECRET_ARN.match(value):
        _fail(field, "must be a Secrets Manager secret ARN or an SSM parameter ARN (got %r)" % (value,))


def _shared_layer(shared):
    """The shared settings placed where the spec takes them; empty values are left out (the spec must give them)."""
    if shared is None:
        return {}
    if not isinstance(shared, dict):
        raise SpecError("shared settings: must be a mapping, got %s" % type(shared).__name__)
    problems = unknown_key_problems(shared, SHARED, "")
    if problems:
        raise SpecError([("", "shared settings: " + message) for _field, message in problems])
    layer = {}
    for key, value in shared.items():
        if value in (None, ""):
            continue
        path = SHARED[key]
        target = layer
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = value
    return layer


def validate(spec, shared=None):
    """The spec laid over ``shared`` (name_prefix, region, environment, tenant: the shared settings) and DEFAULTS,
    checked; raises one SpecError with every problem. Keys the spec gives win over the shared settings."""
    if not isinstance(spec, dict):
        raise SpecError([("", "must be a mapping, got %s" % type(spec).__name__)])
    problems = Problems()
    for field, message in unknown_key_problems(spec, ALLOWED_KEYS, ""):
        problems.add(field, message)
    spec = merge(merge(DEFAULTS, _shared_layer(shared)), spec)
    with problems.section():
        _validate_identity(spec)
    for key in ("scrape_interval", "evaluation_interval", "retention", "alertmanager_group_wait"):
        with problems.section():
            _duration(spec[key], key)
    with problems.section():
        if not isinstance(spec["cloudmap_namespace"], str) or not DOMAIN.match(spec["cloudmap_namespace"]):
            _fail("cloudmap_namespace", "must be a DNS domain such as monitoring.local (got %r)" % (spec["cloudmap_namespace"],))
    with problems.section():
        if not re.match(r"^[0-9]+\.[0-9]+\.[0-9]+$", str(spec["prometheus_version"])):
            _fail("prometheus_version", "must be a Prometheus release such as 2.53.0 (got %r)" % (spec["prometheus_version"],))
    _validate_services(spec, problems)
    _validate_tasks(spec, problems)
    _validate_alerting(spec, problems)
    _validate_collection(spec, problems)
    _validate_cost(spec, problems)
    _validate_aws_settings(spec, problems)
    problems.raise_if_any()
    return spec


def _validate_identity(spec):
    """name_prefix, region and environment: required (the role fills them from the shared settings)."""
    problems = Problems()
    for key in REQUIRED:
        with problems.section():
            value = spec.get(key)
            if value in (None, ""):
                _fail(key, "is required (the role fills it from lgtm_%s unless the spec gives it)" % key)
            if key == "region" and not REGION.match(str(value)):
                _fail(key, "must be an AWS region such as eu-west-1 (got %r)" % (value,))
            if key != "region" and not NAME.match(str(value)):
                _fail(key, "must be a lower-case DNS label of at most 40 characters (got %r)" % (value,))
    problems.raise_if_any()


def _validate_services(spec, problems):
    """Every service on its own: name (unique DNS label), port, metrics_path; defaults filled in."""
    with problems.section():
        _list(spec["services"], "services")
    if not isinstance(spec["services"], list):
        return
    names = set()
    services = []
    for index, service in enumerate(spec["services"]):
        where = "services[%d]" % index
        with problems.section():
            _keys(service, ("name",) + tuple(SERVICE_DEFAULTS), where)
        if not isinstance(service, dict):
            continue
        service = dict(SERVICE_DEFAULTS, **service)
        services.append(service)
        with problems.section():
            if not NAME.match(str(service.get("name", ""))):
                _fail(where + ".name", "must be a lower-case DNS label of at most 40 characters (got %r)" % (service.get("name"),))
            if service["name"] in names:
                _fail(where + ".name", "%r is listed twice" % service["name"])
            names.add(service["name"])
        with problems.section():
            port = service["port"]
            if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
                _fail(where + ".port", "must be a TCP port (got %r)" % (port,))
        with problems.section():
            path = service["metrics_path"]
            if not isinstance(path, str) or not re.match(r"^/[^\s?#]*$", path):
                _fail(where + ".metrics_path", "must be a URL path such as /metrics (got %r)" % (path,))
    spec["services"] = services


def _validate_tasks(spec, problems):
    """Every task's size against Fargate's table."""
    with problems.section():
        _keys(spec["tasks"], TASKS, "tasks")
    if not isinstance(spec["tasks"], dict):
        return
    for task, size in spec["tasks"].items():
        with problems.section():
            _keys(size, ("cpu", "memory"), "tasks.%s" % task)
            cpu, memory = size.get("cpu"), size.get("memory")
            if isinstance(cpu, bool) or not isinstance(cpu, int) or cpu not in FARGATE_SIZES:
                _fail("tasks.%s.cpu" % task, "%r is not a Fargate CPU size; allowed: %s" % (cpu, ", ".join(str(c) for c in FARGATE_SIZES)))
            if memory not in FARGATE_SIZES[cpu]:
                _fail("tasks.%s.memory" % task, "%r MiB does not go with %d CPU units on Fargate; allowed: %s"
                      % (memory, cpu, ", ".join(str(m) for m in FARGATE_SIZES[cpu])))


def _validate_alerting(spec, problems):
    """Thresholds, durations and Slack routes: each key on its own."""
    for name, check in (("thresholds", _number), ("durations", _duration)):
        with problems.section():
            _keys(spec[name], DEFAULTS[name], name)
        for key in DEFAULTS[name] if isinstance(spec[name], dict) else ():
            with problems.section():
                check(spec[name][key], "%s.%s" % (name, key))
    with problems.section():
        _keys(spec["slack"], DEFAULTS["slack"], "slack")
    if not isinstance(spec["slack"], dict):
        return
    with problems.section():
        _keys(spec["slack"]["routes"], SEVERITIES, "slack.routes")
    if isinstance(spec["slack"]["routes"], dict):
        for severity, channel in spec["slack"]["routes"].items():
            with problems.section():
                if not isinstance(channel, str) or not re.match(r"^#[^\s#]+$", channel):
                    _fail("slack.routes.%s" % severity, "must be a Slack channel such as #alerts (got %r)" % (channel,))
    with problems.section():
        path = spec["slack"]["webhook_url_file"]
        if not isinstance(path, str) or not path.startswith("/"):
            _fail("slack.webhook_url_file", "must be an absolute path inside the Alertmanager container (got %r)" % (path,))
    with problems.section():
        _secret_arn(spec["slack"]["webhook_secret_arn"], "slack.webhook_secret_arn")


def _validate_collection(spec, problems):
    """EC2 discovery, remote_write, the CloudWatch exporter's extra metrics."""
    with problems.section():
        ec2 = spec["ec2_sd"]
        _keys(ec2, DEFAULTS["ec2_sd"], "ec2_sd")
        if not isinstance(ec2["enabled"], bool):
            _fail("ec2_sd.enabled", "must be true or false (got %r)" % (ec2["enabled"],))
        for key in ("tag_key", "tag_value"):
            if not isinstance(ec2[key], str) or not ec2[key]:
                _fail("ec2_sd.%s" % key, "must be a non-empty string (got %r)" % (ec2[key],))
        if isinstance(ec2["port"], bool) or not isinstance(ec2["port"], int) or not 0 < ec2["port"] < 65536:
            _fail("ec2_sd.port", "must be a TCP port (got %r)" % (ec2["port"],))
    with problems.section():
        remote = spec["remote_write"]
        _keys(remote, DEFAULTS["remote_write"], "remote_write")
        if remote["enabled"] and not str(remote["url"]).startswith(("http://", "https://")):
            _fail("remote_write.url", "is required when remote_write is enabled (Mimir's /api/v1/push)")
        if remote["enabled"] and not remote["tenant"]:
            _fail("remote_write.tenant", "is required when remote_write is enabled (the role fills it from lgtm_tenant)")
    with problems.section():
        _keys(spec["cloudwatch_exporter"], DEFAULTS["cloudwatch_exporter"], "cloudwatch_exporter")
        _list(spec["cloudwatch_exporter"]["metrics"], "cloudwatch_exporter.metrics")
    metrics = spec["cloudwatch_exporter"].get("metrics") if isinstance(spec["cloudwatch_exporter"], dict) else None
    for index, metric in enumerate(metrics if isinstance(metrics, list) else []):
        where = "cloudwatch_exporter.metrics[%d]" % index
        with problems.section():
            _keys(metric, METRIC_KEYS, where)
            metric = metrics[index] = merge(METRIC_DEFAULTS, metric)
            if not metric.get("aws_namespace") or not metric.get("aws_metric_name"):
                _fail(where, "needs aws_namespace and aws_metric_name")
            for key in ("aws_dimensions", "aws_statistics"):
                if key in metric:
                    _strings(metric[key], "%s.%s" % (where, key))


def _validate_cost(spec, problems):
    """The cost estimate's inputs and the prices that replace the region's table entry."""
    for key in ("efs_storage_gb", "logs_gb_month"):
        with problems.section():
            _number(spec[key], key, zero=True)
    with problems.section():
        _keys(spec["prices"], PRICE_KEYS, "prices")
    if isinstance(spec["prices"], dict):
        for key, value in spec["prices"].items():
            with problems.section():
                _number(value, "prices.%s" % key, zero=True)


def _validate_aws_settings(spec, problems):
    """The AWS-side keys that can be checked without knowing whether AWS resources are managed."""
    with problems.section():
        _choice(spec["container_insights"], CONTAINER_INSIGHTS, "container_insights")
    with problems.section():
        _choice(spec["log_retention_days"], LOG_RETENTION_DAYS, "log_retention_days")
    with problems.section():
        _keys(spec["images"], TASKS, "images")
    with problems.section():
        _validate_cidrs(spec["allowed_cidrs"])
    with problems.section():
        if spec["certificate_arn"] and not CERTIFICATE_ARN.match(str(spec["certificate_arn"])):
            _fail("certificate_arn", "must be an ACM certificate ARN (got %r)" % (spec["certificate_arn"],))
    with problems.section():
        network = spec["network"]
        _keys(network, DEFAULTS["network"], "network")
        if not isinstance(network["vpc_id"], str):
            _fail("network.vpc_id", "must be a VPC id such as vpc-0123456789abcdef0 (got %r)" % (network["vpc_id"],))
        _strings(network["private_subnets"], "network.private_subnets")
        _strings(network["public_subnets"], "network.public_subnets")
    with problems.section():
        dns = spec["dns"]
        _keys(dns, DEFAULTS["dns"], "dns")
        if dns["zone"] and not DOMAIN.match(str(dns["zone"])):
            _fail("dns.zone", "must be a DNS domain such as example.com (got %r)" % (dns["zone"],))
        if not re.match(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", str(dns["record"])):
            _fail("dns.record", "must be one DNS label such as grafana (got %r)" % (dns["record"],))
    with problems.section():
        _keys(spec["grafana"], DEFAULTS["grafana"], "grafana")
    if isinstance(spec["grafana"], dict):
        _validate_grafana(spec["grafana"], problems)


def _validate_cidrs(cidrs):
    _list(cidrs, "allowed_cidrs")
    problems = Problems()
    for cidr in cidrs:
        with problems.section():
            try:
                ipaddress.ip_network(cidr, strict=True)
            except (TypeError, ValueError):
                _fail("allowed_cidrs", "%r is not a CIDR such as 203.0.113.0/24" % (cidr,))
    problems.raise_if_any()


def _validate_grafana(grafana, problems):
    with problems.section():
        _secret_arn(grafana["admin_secret_arn"], "grafana.admin_secret_arn")
    with problems.section():
        _secret_arn(grafana["database_url_secret_arn"], "grafana.database_url_secret_arn")
    oauth = grafana["oauth"]
    with problems.section():
        _keys(oauth, DEFAULTS["grafana"]["oauth"], "grafana.oauth")
    if not isinstance(oauth, dict):
        return
    with problems.section():
        _choice(oauth["provider"], OAUTH_PROVIDERS, "grafana.oauth.provider")
    with problems.section():
        # role_mapping merges with its default {Admin: [], Editor: []}: a role not given maps no group.
        _keys(oauth["role_mapping"], ("Admin", "Editor"), "grafana.oauth.role_mapping")
        for role, groups in oauth["role_mapping"].items():
            _strings(groups, "grafana.oauth.role_mapping.%s" % role)
    if oauth["provider"] != "none":
        with problems.section():
            if not oauth["client_id"]:
                _fail("grafana.oauth.client_id", "is required with provider %s" % oauth["provider"])
        with problems.section():
            _secret_arn(oauth["client_secret_arn"], "grafana.oauth.client_secret_arn", required=True)
    if oauth["provider"] == "cognito":
        with problems.section():
            if not DOMAIN.match(str(oauth["cognito_domain"])):
                _fail("grafana.oauth.cognito_domain", "must be the user pool's domain such as auth.example.com or "
                      "my-pool.auth.eu-west-1.amazoncognito.com (got %r)" % (oauth["cognito_domain"],))
    if oauth["provider"] == "generic":
        for key in ("auth_url", "token_url", "api_url"):
            with problems.section():
                if not str(oauth[key]).startswith("https://"):
                    _fail("grafana.oauth.%s" % key, "must be an https:// URL with provider generic (got %r)" % (oauth[key],))
