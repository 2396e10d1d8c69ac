# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus, Alertmanager and Grafana on ECS Fargate (seed 004): the configuration files from one spec.

``validate(spec)`` fills in defaults and raises ``SpecError`` naming the field. Then:
``prometheus_config`` (prometheus.yml), ``alert_rules`` (rules/alerts.yml), ``rule_tests`` (promtool test
files that prove each rule fires and stays quiet), ``alertmanager_config`` (alertmanager.yml),
``dashboards`` (Grafana dashboard JSON) and ``cost_estimate`` (monthly cost of the chosen sizes).
"""

import copy
import ipaddress
import re

# SpecError is part of this module's API: callers catch it from here.
from ansible_collections.lgtm.aws.plugins.plugin_utils.spec_checks import SpecError  # noqa: F401 pylint: disable=unused-import
from ansible_collections.lgtm.aws.plugins.plugin_utils.spec_checks import check_keys as _keys, fail as _fail

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
# Seed 004 prices (ap-northeast-2, used there and kept here so the estimate compares with the seed's $105-116).
PRICES = {"vcpu_hour": 0.04048, "gb_hour": 0.004445, "efs_gb_month": 0.30, "alb_hour": 0.0225, "lcu_hour": 0.008,
          "logs_gb_ingested": 0.76, "cloudwatch_api_per_1000": 0.01}
HOURS_PER_MONTH = 730
NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")

DEFAULTS = {
    "environment": "prod",
    "cloudmap_namespace": "monitoring.local",
    "region": "ap-northeast-2",
    "scrape_interval": "15s",
    "evaluation_interval": "15s",
    "retention": "15d",
    "prometheus_version": "2.53.0",
    "services": [],
    "ec2_sd": {"enabled": True, "tag_key": "Monitoring", "tag_value": "enabled", "port": 9100},
    "remote_write": {"enabled": False, "url": "", "tenant": "aws-rag-ecs"},
    "tasks": {"prometheus": {"cpu": 1024, "memory": 2048}, "grafana": {"cpu": 512, "memory": 1024},
              "cloudwatch_exporter": {"cpu": 256, "memory": 512}, "alertmanager": {"cpu": 256, "memory": 512}},
    "thresholds": {"cpu_percent": 80, "memory_percent": 85, "disk_percent": 85, "error_rate_percent": 5, "p95_latency_seconds": 1.0},
    "durations": {"cpu": "5m", "memory": "5m", "disk": "10m", "down": "1m", "scrape": "5m", "errors": "5m", "latency": "5m"},
    "slack": {"routes": {"critical": "#alerts-critical", "warning": "#alerts-warning"}, "webhook_url_file": "/etc/alertmanager/secrets/slack-webhook-url",
              "webhook_secret_arn": ""},
    "alertmanager_group_wait": "10s",
    "allowed_cidrs": [],
    "certificate_arn": "",
    "efs_storage_gb": 20,
    "logs_gb_month": 10,
    # The AWS side (module_utils/ecs_aws.py); docs/ecs.md describes every key.
    "name_prefix": "lgtm",
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
CONTAINER_INSIGHTS = ("enabled", "disabled", "enhanced")
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
OAUTH_PROVIDERS = ("none", "cognito", "generic")
SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:(secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+|ssm:[a-z0-9-]+:[0-9]{12}:parameter/.+)$")
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\.?$")


def _duration(value, field):
    if not isinstance(value, str) or not re.match(r"^([0-9]+(ms|s|m|h|d|w|y))+$", value):
        _fail(field, "must be a Prometheus duration such as 15s, 5m or 15d (got %r)" % (value,))


def _validate_services(spec):
    names = set()
    for index, service in enumerate(spec["services"]):
        where = "services[%d]" % index
        _keys(service, ("name", "port", "metrics_path"), where)
        if not NAME.match(str(service.get("name", ""))):
            _fail(where + ".name", "must be a lower-case DNS label (got %r)" % (service.get("name"),))
        if service["name"] in names:
            _fail(where + ".name", "%r is listed twice" % service["name"])
        names.add(service["name"])
        port = service.get("port", 9090)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            _fail(where + ".port", "must be a TCP port (got %r)" % (port,))


def _validate_tasks(spec):
    _keys(spec["tasks"], TASKS, "tasks")
    for task, size in spec["tasks"].items():
        _keys(size, ("cpu", "memory"), "tasks.%s" % task)
        cpu, memory = size.get("cpu"), size.get("memory")
        if cpu not in FARGATE_SIZES:
            _fail("tasks.%s.cpu" % task, "%r is not a Fargate CPU size; allowed: %s" % (cpu, ", ".join(str(c) for c in FARGATE_SIZES)))
        if memory not in FARGATE_SIZES[cpu]:
            _fail("tasks.%s.memory" % task, "%r MiB does not go with %d CPU units on Fargate; allowed: %s"
                  % (memory, cpu, ", ".join(str(m) for m in FARGATE_SIZES[cpu])))


def _validate_alerting(spec):
    _keys(spec["thresholds"], DEFAULTS["thresholds"], "thresholds")
    for key, value in spec["thresholds"].items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            _fail("thresholds.%s" % key, "must be a positive number (got %r)" % (value,))
    _keys(spec["durations"], DEFAULTS["durations"], "durations")
    for key, value in spec["durations"].items():
        _duration(value, "durations.%s" % key)
    _keys(spec["slack"], DEFAULTS["slack"], "slack")
    _keys(spec["slack"]["routes"], SEVERITIES, "slack.routes")
    for severity, channel in spec["slack"]["routes"].items():
        if not isinstance(channel, str) or not channel.startswith("#"):
            _fail("slack.routes.%s" % severity, "must be a Slack channel such as #alerts (got %r)" % (channel,))


def validate(spec):
    if not isinstance(spec, dict):
        raise SpecError("spec: must be a mapping")
    _keys(spec, DEFAULTS, "spec")
    spec = _merged(DEFAULTS, spec)
    for key in ("scrape_interval", "evaluation_interval", "retention", "alertmanager_group_wait"):
        _duration(spec[key], key)
    _validate_services(spec)
    _validate_tasks(spec)
    _validate_alerting(spec)
    for cidr in spec["allowed_cidrs"]:
        try:
            ipaddress.ip_network(cidr, strict=True)
        except (TypeError, ValueError):
            _fail("allowed_cidrs", "%r is not a CIDR such as 203.0.113.0/24" % (cidr,))
    if spec["certificate_arn"] and not re.match(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]+$", spec["certificate_arn"]):
        _fail("certificate_arn", "must be an ACM certificate ARN (got %r)" % (spec["certificate_arn"],))
    if spec["remote_write"]["enabled"] and not str(spec["remote_write"]["url"]).startswith(("http://", "https://")):
        _fail("remote_write.url", "is required when remote_write is enabled (Mimir's /api/v1/push)")
    _validate_aws_settings(spec)
    return spec


def _merged(defaults, given):
    """``given`` over ``defaults``, mapping by mapping (a task's size, role_mapping and lists are taken whole)."""
    merged = copy.deepcopy(defaults)
    for key, value in given.items():
        if key == "tasks" and isinstance(value, dict):
            merged[key] = dict(merged[key], **value)
        elif isinstance(merged.get(key), dict) and isinstance(value, dict) and key != "role_mapping":
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def _choice(value, allowed, field):
    if value not in allowed:
        _fail(field, "%r is not one of %s" % (value, ", ".join(str(a) for a in allowed)))


def _secret_arn(value, field, required=False):
    if not value and not required:
        return
    if not isinstance(value, str) or not SECRET_ARN.match(value):
        _fail(field, "must be a Secrets Manager secret ARN or an SSM parameter ARN (got %r)" % (value,))


def _validate_aws_settings(spec):
    """The AWS-side keys that can be checked without knowing whether AWS resources are managed."""
    if not NAME.match(str(spec["name_prefix"])):
        _fail("name_prefix", "must be a lower-case DNS label (got %r)" % (spec["name_prefix"],))
    _choice(spec["container_insights"], CONTAINER_INSIGHTS, "container_insights")
    _choice(spec["log_retention_days"], LOG_RETENTION_DAYS, "log_retention_days")
    _keys(spec["images"], TASKS, "images")
    _keys(spec["network"], DEFAULTS["network"], "network")
    _keys(spec["dns"], DEFAULTS["dns"], "dns")
    if spec["dns"]["zone"] and not DOMAIN.match(str(spec["dns"]["zone"])):
        _fail("dns.zone", "must be a DNS domain such as example.com (got %r)" % (spec["dns"]["zone"],))
    if not re.match(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", str(spec["dns"]["record"])):
        _fail("dns.record", "must be one DNS label such as grafana (got %r)" % (spec["dns"]["record"],))
    grafana = spec["grafana"]
    _keys(grafana, DEFAULTS["grafana"], "grafana")
    _secret_arn(grafana["admin_secret_arn"], "grafana.admin_secret_arn")
    _secret_arn(grafana["database_url_secret_arn"], "grafana.database_url_secret_arn")
    oauth = grafana["oauth"]
    _keys(oauth, DEFAULTS["grafana"]["oauth"], "grafana.oauth")
    _choice(oauth["provider"], OAUTH_PROVIDERS, "grafana.oauth.provider")
    _keys(oauth["role_mapping"], ("Admin", "Editor"), "grafana.oauth.role_mapping")
    if oauth["provider"] != "none":
        if not oauth["client_id"]:
            _fail("grafana.oauth.client_id", "is required with provider %s" % oauth["provider"])
        _secret_arn(oauth["client_secret_arn"], "grafana.oauth.client_secret_arn", required=True)
    if oauth["provider"] == "cognito" and not DOMAIN.match(str(oauth["cognito_domain"])):
        _fail("grafana.oauth.cognito_domain", "must be the user pool's domain such as auth.example.com or "
              "my-pool.auth.ap-northeast-2.amazoncognito.com (got %r)" % (oauth["cognito_domain"],))
    if oauth["provider"] == "generic":
        for key in ("auth_url", "token_url", "api_url"):
            if not str(oauth[key]).startswith("https://"):
                _fail("grafana.oauth.%s" % key, "must be an https:// URL with provider generic (got %r)" % (oauth[key],))
    _secret_arn(spec["slack"].get("webhook_secret_arn", ""), "slack.webhook_secret_arn")
    _keys(spec["cloudwatch_exporter"], DEFAULTS["cloudwatch_exporter"], "cloudwatch_exporter")
    for index, metric in enumerate(spec["cloudwatch_exporter"]["metrics"]):
        where = "cloudwatch_exporter.metrics[%d]" % index
        _keys(metric, ("aws_namespace", "aws_metric_name", "aws_dimensions", "aws_statistics"), where)
        if not metric.get("aws_namespace") or not metric.get("aws_metric_name"):
            _fail(where, "needs aws_namespace and aws_metric_name")


# ---------------------------------------------------------------------------
# prometheus.yml


def _dns(spec, name):
    return "%s.%s" % (name, spec["cloudmap_namespace"])


def prometheus_config(spec):
    """prometheus.yml: Prometheus itself, every ECS service (Cloud Map DNS and static), the CloudWatch exporter, EC2."""
    jobs = [{"job_name": "prometheus", "static_configs": [{"targets": ["localhost:9090"]}]}]
    if spec["services"]:
        jobs.append({"job_name": "ecs-services", "dns_sd_configs": [
            {"names": [_dns(spec, s["name"]) for s in spec["services"]], "type": "A", "port": 9090, "refresh_interval": "30s"}],
            "relabel_configs": [{"source_labels": ["__meta_dns_name"], "regex": "([^.]+)\\..*", "target_label": "service"}]})
    for service in spec["services"]:
        jobs.append({"job_name": "service-%s" % service["name"], "metrics_path": service.get("metrics_path", "/metrics"),
                     "static_configs": [{"targets": ["%s:%d" % (_dns(spec, service["name"]), service.get("port", 9090))],
                                         "labels": {"service": service["name"]}}]})
    jobs.append({"job_name": "cloudwatch", "scrape_interval": "60s", "scrape_timeout": "50s",
                 "static_configs": [{"targets": ["%s:9106" % _dns(spec, "cloudwatch-exporter")]}]})
    if spec["ec2_sd"]["enabled"]:
        jobs.append({"job_name": "ec2-nodes", "ec2_sd_configs": [{
            "region": spec["region"], "port": spec["ec2_sd"]["port"],
            "filters": [{"name": "tag:%s" % spec["ec2_sd"]["tag_key"], "values": [spec["ec2_sd"]["tag_value"]]}]}],
            "relabel_configs": [{"source_labels": ["__meta_ec2_tag_Name"], "target_label": "instance_name"},
                                {"source_labels": ["__meta_ec2_availability_zone"], "target_label": "availability_zone"}]})
    config = {
        "global": {"scrape_interval": spec["scrape_interval"], "evaluation_interval": spec["evaluation_interval"],
                   "external_labels": {"environment": spec["environment"], "cluster": "ecs-monitoring-%s" % spec["environment"]}},
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": ["%s:9093" % _dns(spec, "alertmanager")]}]}]},
        "rule_files": ["rules/*.yml"],
        "scrape_configs": jobs,
    }
    if spec["remote_write"]["enabled"]:
        config["remote_write"] = [{"url": spec["remote_write"]["url"], "headers": {"X-Scope-OrgID": spec["remote_write"]["tenant"]},
                                   "send_exemplars": True}]
    return config


def _version(text):
    return tuple(int(part) for part in re.findall(r"[0-9]+", str(text))[:2])


def aws_ecs_scrape_configs(spec):
    """ECS task discovery with aws_sd (role ecs), for Prometheus 3.8 and later only; None for older versions."""
    if _version(spec["prometheus_version"]) < (3, 8):
        return None
    return {"scrape_configs": [{"job_name": "ecs-tasks", "aws_sd_configs": [{"role": "ecs", "region": spec["region"], "port": 9090}],
                                "relabel_configs": [{"source_labels": ["__meta_ecs_service"], "target_label": "service"}]}]}


# ---------------------------------------------------------------------------
# Rules, and the tests that prove them


def alert_rules(spec):
    t, d = spec["thresholds"], spec["durations"]
    rules = [
        ("HighCPUUsage", "avg by (service) (ecs_cpu_utilization) > %s" % t["cpu_percent"], d["cpu"], "warning",
         "CPU of {{ $labels.service }} above %s%%" % t["cpu_percent"]),
        ("HighMemoryUsage", "avg by (service) (ecs_memory_utilization) > %s" % t["memory_percent"], d["memory"], "warning",
         "Memory of {{ $labels.service }} above %s%%" % t["memory_percent"]),
        ("ServiceDown", 'up{job="ecs-services"} == 0', d["down"], "critical", "Service {{ $labels.service }} is down"),
        ("TargetScrapeFailing", 'up{job!="ecs-services"} == 0', d["scrape"], "warning", "{{ $labels.job }} target {{ $labels.instance }} cannot be scraped"),
        ("DiskSpaceLow", "(1 - node_filesystem_avail_bytes{fstype!~\"tmpfs|overlay\"} / node_filesystem_size_bytes{fstype!~\"tmpfs|overlay\"}) * 100 > %s"
         % t["disk_percent"], d["disk"], "warning", "Disk {{ $labels.mountpoint }} on {{ $labels.instance }} above %s%%" % t["disk_percent"]),
        ("HighErrorRate", 'sum by (service) (rate(http_requests_total{status=~"5.."}[5m])) / sum by (service) (rate(http_requests_total[5m])) * 100 > %s'
         % t["error_rate_percent"], d["errors"], "critical", "5xx rate of {{ $labels.service }} above %s%%" % t["error_rate_percent"]),
        ("HighP95Latency", "histogram_quantile(0.95, sum by (service, le) (rate(http_request_duration_seconds_bucket[5m]))) > %s"
         % t["p95_latency_seconds"], d["latency"], "warning", "P95 latency of {{ $labels.service }} above %ss" % t["p95_latency_seconds"]),
    ]
    return {"groups": [{"name": "ecs-monitoring", "rules": [
        {"alert": name, "expr": expr, "for": duration, "labels": {"severity": severity}, "annotations": {"summary": summary}}
        for name, expr, duration, severity, summary in rules]}]}


def _minutes(duration):
    total = 0
    for number, unit in re.findall(r"([0-9]+)(ms|s|m|h|d|w|y)", duration):
        total += int(number) * {"ms": 0.001 / 60, "s": 1.0 / 60, "m": 1, "h": 60, "d": 1440, "w": 10080, "y": 525600}[unit]
    return total


def rule_tests(spec):
    """promtool test rules input (tests/alerts.test.yml beside rules/): for every rule a series just past its
    threshold (fires once `for` has passed, not before) and one just short of it (never fires). A broken
    threshold, duration or expression makes these tests fail."""
    t, d = spec["thresholds"], spec["durations"]
    summaries = dict((rule["alert"], rule["annotations"]["summary"]) for rule in alert_rules(spec)["groups"][0]["rules"])

    def window(duration):
        return int(_minutes(duration)) + 5

    cases = []

    def case(alert, duration, firing_series, quiet_series, labels):
        minutes = window(duration)
        summary = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda match: labels.get(match.group(1), ""), summaries[alert])
        before = max(int(_minutes(duration)) - 1, 0)
        cases.append({"interval": "1m", "input_series": firing_series + quiet_series, "alert_rule_test": [
            # Not yet: the condition has not held for the rule's `for` duration.
            {"eval_time": "%dm" % before, "alertname": alert, "exp_alerts": []},
            # Then exactly the series past the threshold fires, with its labels and summary.
            {"eval_time": "%dm" % minutes, "alertname": alert, "exp_alerts": [{"exp_labels": labels, "exp_annotations": {"summary": summary}}]},
        ]})

    def gauge(metric, labels, value, minutes):
        return {"series": "%s{%s}" % (metric, ",".join('%s="%s"' % kv for kv in sorted(labels.items()))),
                "values": "%sx%d" % (value, minutes + 5)}

    def counter(metric, labels, per_minute, minutes):
        return {"series": "%s{%s}" % (metric, ",".join('%s="%s"' % kv for kv in sorted(labels.items()))),
                "values": "0+%sx%d" % (per_minute, minutes + 5)}

    m = window(d["cpu"])
    case("HighCPUUsage", d["cpu"], [gauge("ecs_cpu_utilization", {"service": "api"}, t["cpu_percent"] + 1, m)],
         [gauge("ecs_cpu_utilization", {"service": "batch"}, t["cpu_percent"] - 1, m)], {"severity": "warning", "service": "api"})
    m = window(d["memory"])
    case("HighMemoryUsage", d["memory"], [gauge("ecs_memory_utilization", {"service": "api"}, t["memory_percent"] + 1, m)],
         [gauge("ecs_memory_utilization", {"service": "batch"}, t["memory_percent"] - 1, m)], {"severity": "warning", "service": "api"})
    m = window(d["down"])
    case("ServiceDown", d["down"], [gauge("up", {"job": "ecs-services", "service": "api", "instance": "10.0.0.1:9090"}, 0, m)],
         [gauge("up", {"job": "ecs-services", "service": "web", "instance": "10.0.0.2:9090"}, 1, m)],
         {"severity": "critical", "job": "ecs-services", "service": "api", "instance": "10.0.0.1:9090"})
    m = window(d["scrape"])
    case("TargetScrapeFailing", d["scrape"], [gauge("up", {"job": "cloudwatch", "instance": "cw:9106"}, 0, m)],
         [gauge("up", {"job": "prometheus", "instance": "localhost:9090"}, 1, m)], {"severity": "warning", "job": "cloudwatch", "instance": "cw:9106"})
    m = window(d["disk"])
    size = 1000
    labels = {"instance": "i-1", "mountpoint": "/", "fstype": "ext4"}
    quiet = dict(labels, instance="i-2")
    case("DiskSpaceLow", d["disk"],
         [gauge("node_filesystem_avail_bytes", labels, size * (100 - t["disk_percent"] - 1) / 100.0, m), gauge("node_filesystem_size_bytes", labels, size, m)],
         [gauge("node_filesystem_avail_bytes", quiet, size * (100 - t["disk_percent"] + 1) / 100.0, m), gauge("node_filesystem_size_bytes", quiet, size, m)],
         dict(labels, severity="warning"))
    m = window(d["errors"])
    over, under = t["error_rate_percent"] + 1, t["error_rate_percent"] - 1
    case("HighErrorRate", d["errors"],
         [counter("http_requests_total", {"service": "api", "status": "500"}, over, m),
          counter("http_requests_total", {"service": "api", "status": "200"}, 100 - over, m)],
         [counter("http_requests_total", {"service": "web", "status": "500"}, under, m),
          counter("http_requests_total", {"service": "web", "status": "200"}, 100 - under, m)],
         {"severity": "critical", "service": "api"})
    m = window(d["latency"])
    slow, fast = t["p95_latency_seconds"] * 1.5, t["p95_latency_seconds"] * 0.5
    case("HighP95Latency", d["latency"],
         [counter("http_request_duration_seconds_bucket", {"service": "api", "le": str(fast)}, 0, m),
          counter("http_request_duration_seconds_bucket", {"service": "api", "le": str(slow)}, 10, m),
          counter("http_request_duration_seconds_bucket", {"service": "api", "le": "+Inf"}, 10, m)],
         [counter("http_request_duration_seconds_bucket", {"service": "web", "le": str(fast)}, 10, m),
          counter("http_request_duration_seconds_bucket", {"service": "web", "le": str(slow)}, 10, m),
          counter("http_request_duration_seconds_bucket", {"service": "web", "le": "+Inf"}, 10, m)],
         {"severity": "warning", "service": "api"})
    return {"rule_files": ["../rules/alerts.yml"], "evaluation_interval": "1m", "tests": cases}


# ---------------------------------------------------------------------------
# alertmanager.yml


def alertmanager_config(spec):
    slack = spec["slack"]
    receivers = [{"name": "slack-%s" % severity, "slack_configs": [{
        "api_url_file": slack["webhook_url_file"], "channel": channel, "send_resolved": True,
        "title": "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}",
        "text": "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ end }}"}]} for severity, channel in sorted(slack["routes"].items())]
    default = "slack-critical" if "critical" in slack["routes"] else receivers[0]["name"]
    return {
        "route": {"receiver": default, "group_by": ["alertname", "service"], "group_wait": spec["alertmanager_group_wait"],
                  "group_interval": "5m", "repeat_interval": "4h",
                  "routes": [{"matchers": ['severity="%s"' % severity], "receiver": "slack-%s" % severity} for severity in sorted(slack["routes"])]},
        "inhibit_rules": [{"source_matchers": ['severity="critical"'], "target_matchers": ['severity="warning"'], "equal": ["alertname", "service"]}],
        "receivers": receivers,
    }


# ---------------------------------------------------------------------------
# Grafana provisioning and the CloudWatch exporter

GRAFANA_DASHBOARDS_DIR = "/tmp/grafana/dashboards"


def grafana_provisioning(spec):
    """Provisioning files: Prometheus (default, uid prometheus, as the dashboards expect) and Alertmanager through
    Cloud Map; dashboards from files. Grafana keeps no state on EFS: everything it shows comes from these files."""
    datasources = {"apiVersion": 1, "datasources": [
        {"name": "Prometheus", "type": "prometheus", "uid": "prometheus", "access": "proxy", "isDefault": True, "editable": False,
         "url": "http://%s:9090" % _dns(spec, "prometheus"),
         "jsonData": {"timeInterval": spec["scrape_interval"], "httpMethod": "POST"}},
        {"name": "Alertmanager", "type": "alertmanager", "uid": "alertmanager", "access": "proxy", "editable": False,
         "url": "http://%s:9093" % _dns(spec, "alertmanager"),
         "jsonData": {"implementation": "prometheus", "handleGrafanaManagedAlerts": False}},
    ]}
    providers = {"apiVersion": 1, "providers": [
        {"name": "lgtm-ecs", "folder": "ECS monitoring", "type": "file", "disableDeletion": True, "allowUiUpdates": False,
         "updateIntervalSeconds": 60, "options": {"path": GRAFANA_DASHBOARDS_DIR}}]}
    return {"grafana/provisioning/datasources/lgtm.yml": datasources, "grafana/provisioning/dashboards/lgtm.yml": providers}


def cloudwatch_exporter_config(spec):
    """prom/cloudwatch-exporter's config.yml: ECS CPU/memory per service, ALB latency, requests and 5xx (seed 004),
    then what the spec lists. The Prometheus names it produces are in METRICS_PRODUCED."""
    ecs = ["ClusterName", "ServiceName"]
    metrics = [
        {"aws_namespace": "AWS/ECS", "aws_metric_name": "CPUUtilization", "aws_dimensions": ecs, "aws_statistics": ["Average"]},
        {"aws_namespace": "AWS/ECS", "aws_metric_name": "MemoryUtilization", "aws_dimensions": ecs, "aws_statistics": ["Average"]},
        {"aws_namespace": "AWS/ApplicationELB", "aws_metric_name": "TargetResponseTime", "aws_dimensions": ["LoadBalancer", "TargetGroup"],
         "aws_statistics": ["Average"]},
        {"aws_namespace": "AWS/ApplicationELB", "aws_metric_name": "RequestCount", "aws_dimensions": ["LoadBalancer", "TargetGroup"],
         "aws_statistics": ["Sum"]},
        {"aws_namespace": "AWS/ApplicationELB", "aws_metric_name": "HTTPCode_Target_5XX_Count", "aws_dimensions": ["LoadBalancer", "TargetGroup"],
         "aws_statistics": ["Sum"]},
    ]
    for metric in spec["cloudwatch_exporter"]["metrics"]:
        metrics.append(dict({"aws_statistics": ["Average"]}, **metric))
    return {"region": spec["region"], "period_seconds": 60, "delay_seconds": 120, "metrics": metrics}


# ---------------------------------------------------------------------------
# Dashboards

METRICS_PRODUCED = {
    # CloudWatch exporter (ECS and ALB, seed 004), as prom/cloudwatch-exporter names them, plus the rules' inputs.
    "ecs_cpu_utilization", "ecs_memory_utilization", "aws_ecs_cpuutilization_average", "aws_ecs_memory_utilization_average",
    "aws_applicationelb_target_response_time_average", "aws_applicationelb_request_count_sum",
    "aws_applicationelb_httpcode_target_5_xx_count_sum",
    # Every scrape, the services' HTTP instrumentation, node exporter on EC2.
    "up", "http_requests_total", "http_request_duration_seconds_bucket", "node_filesystem_avail_bytes", "node_filesystem_size_bytes",
    "node_cpu_seconds_total", "node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes",
    # Cost panel inputs are recorded constants from this spec, see cost_estimate.
}


def _panel(index, title, exprs, unit="short", kind="timeseries"):
    return {"id": index + 1, "type": kind, "title": title, "datasource": {"type": "prometheus", "uid": "prometheus"},
            "gridPos": {"h": 8, "w": 12, "x": (index % 2) * 12, "y": (index // 2) * 8},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"refId": chr(65 + n), "expr": expr, "datasource": {"type": "prometheus", "uid": "prometheus"}} for n, expr in enumerate(exprs)]}


def _dashboard(uid, title, panels, tags):
    return {"uid": uid, "title": title, "tags": ["ecs-monitoring"] + tags, "schemaVersion": 39, "version": 1, "editable": False,
            "time": {"from": "now-6h", "to": "now"}, "refresh": "30s", "timezone": "browser",
            "panels": [_panel(i, *p) for i, p in enumerate(panels)]}


def dashboards(spec):
    """Dashboards as code: uid -> Grafana dashboard JSON (datasource uid `prometheus`)."""
    cost = cost_estimate(spec)
    out = {
        "infrastructure-overview": _dashboard("infrastructure-overview", "Infrastructure Overview", [
            ("Targets up", ["sum(up)"], "short", "stat"),
            ("Targets down", ["count(up == 0) or vector(0)"], "short", "stat"),
            ("EC2 CPU busy", ['100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])))'], "percent"),
            ("EC2 memory used", ["100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)"], "percent"),
        ], ["infrastructure"]),
        "ecs-cluster": _dashboard("ecs-cluster", "ECS Cluster", [
            ("CPU by service", ["avg by (service) (ecs_cpu_utilization)"], "percent"),
            ("Memory by service", ["avg by (service) (ecs_memory_utilization)"], "percent"),
            ("ALB requests", ["sum(aws_applicationelb_request_count_sum)"], "short"),
            ("ALB 5xx", ["sum(aws_applicationelb_httpcode_target_5_xx_count_sum)"], "short"),
        ], ["ecs"]),
        "application-performance": _dashboard("application-performance", "Application Performance", [
            ("Latency P50 / P95 / P99", ["histogram_quantile(%s, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))" % q
                                         for q in ("0.5", "0.95", "0.99")], "s"),
            ("Requests per second", ["sum by (service) (rate(http_requests_total[5m]))"], "reqps"),
            ("5xx ratio", ['sum by (service) (rate(http_requests_total{status=~"5.."}[5m])) / sum by (service) (rate(http_requests_total[5m]))'],
             "percentunit"),
            ("ALB target response time", ["avg(aws_applicationelb_target_response_time_average)"], "s"),
        ], ["apm"]),
        "cost-estimation": _dashboard("cost-estimation", "Cost Estimation", [
            ("Estimated monthly cost (USD)", ["vector(%s)" % cost["total_usd"]], "currencyUSD", "stat"),
            ("Fargate (USD/month)", ["vector(%s)" % cost["items"]["fargate"]], "currencyUSD", "stat"),
            ("Average CPU of the services", ["avg(ecs_cpu_utilization)"], "percent"),
            ("Average memory of the services", ["avg(ecs_memory_utilization)"], "percent"),
        ], ["cost"]),
    }
    for service in spec["services"]:
        name = service["name"]
        out["service-%s" % name] = _dashboard("service-%s" % name, "Service: %s" % name, [
            ("Up", ['up{service="%s"}' % name], "short", "stat"),
            ("CPU", ['avg(ecs_cpu_utilization{service="%s"})' % name], "percent"),
            ("Memory", ['avg(ecs_memory_utilization{service="%s"})' % name], "percent"),
            ("Latency P95", ['histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{service="%s"}[5m])))' % name], "s"),
        ], ["service"])
    return out


def dashboard_metrics(expr):
    """Metric names an expression reads (identifiers followed by a selector, range or operator, minus functions)."""
    functions = {"sum", "avg", "count", "rate", "histogram_quantile", "vector", "by", "without", "or", "and", "unless", "min", "max"}
    names = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?=\{|\[|\)|\s*[-+*/<>=]|$)", re.sub(r'"[^"]*"', '""', expr)))
    return names - functions - {"le", "service", "mode", "status", "instance"}


# ---------------------------------------------------------------------------
# Cost


def cost_estimate(spec):
    """Monthly cost (USD) of the chosen sizes at the seed's ap-northeast-2 prices; figures rounded to cents."""
    fargate = {}
    for task, size in spec["tasks"].items():
        vcpu, gb = size["cpu"] / 1024.0, size["memory"] / 1024.0
        fargate[task] = round((vcpu * PRICES["vcpu_hour"] + gb * PRICES["gb_hour"]) * HOURS_PER_MONTH, 2)
    items = {
        "fargate": round(sum(fargate.values()), 2),
        "efs": round(spec["efs_storage_gb"] * PRICES["efs_gb_month"], 2),
        "alb": round(HOURS_PER_MONTH * (PRICES["alb_hour"] + 5 * PRICES["lcu_hour"] / 10.0), 2),
        "cloudwatch_logs": round(spec["logs_gb_month"] * PRICES["logs_gb_ingested"], 2),
    }
    return {"currency": "USD", "prices": PRICES, "fargate_by_task": fargate, "items": items, "total_usd": round(sum(items.values()), 2),
            "seed_total_usd": "105-116"}
