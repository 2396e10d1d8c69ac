# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Grafana: provisioning files (datasources, dashboard provider) and the dashboards as code, from a checked spec."""

import re

from ansible_collections.lgtm.aws.plugins.plugin_utils.ecs_cost import cost_estimate
from ansible_collections.lgtm.aws.plugins.plugin_utils.ecs_prometheus import service_dns

GRAFANA_DASHBOARDS_DIR = "/tmp/grafana/dashboards"


def grafana_provisioning(spec):
    """Provisioning files: Prometheus (default, uid prometheus, as the dashboards expect) and Alertmanager through
    Cloud Map; dashboards from files. Grafana keeps no state on EFS: everything it shows comes from these files."""
    datasources = {"apiVersion": 1, "datasources": [
        {"name": "Prometheus", "type": "prometheus", "uid": "prometheus", "access": "proxy", "isDefault": True, "editable": False,
         "url": "http://%s:9090" % service_dns(spec, "prometheus"),
         "jsonData": {"timeInterval": spec["scrape_interval"], "httpMethod": "POST"}},
        {"name": "Alertmanager", "type": "alertmanager", "uid": "alertmanager", "access": "proxy", "editable": False,
         "url": "http://%s:9093" % service_dns(spec, "alertmanager"),
         "jsonData": {"implementation": "prometheus", "handleGrafanaManagedAlerts": False}},
    ]}
    providers = {"apiVersion": 1, "providers": [
        {"name": "lgtm-ecs", "folder": "ECS monitoring", "type": "file", "disableDeletion": True, "allowUiUpdates": False,
         "updateIntervalSeconds": 60, "options": {"path": GRAFANA_DASHBOARDS_DIR}}]}
    return {"grafana/provisioning/datasources/lgtm.yml": datasources, "grafana/provisioning/dashboards/lgtm.yml": providers}


METRICS_PRODUCED = {
    # CloudWatch exporter (ECS and ALB), as prom/cloudwatch-exporter names them, plus the rules' inputs.
    "ecs_cpu_utilization", "ecs_memory_utilization", "aws_ecs_cpuutilization_average", "aws_ecs_memory_utilization_average",
    "aws_applicationelb_target_response_time_average", "aws_applicationelb_request_count_sum",
    "aws_applicationelb_httpcode_target_5_xx_count_sum",
    # Every scrape, the services' HTTP instrumentation, node exporter on EC2.
    "up", "http_requests_total", "http_request_duration_seconds_bucket", "node_filesystem_avail_bytes", "node_filesystem_size_bytes",
    "node_cpu_seconds_total", "node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes",
    # The cost panels show constants from the spec's estimate (ecs_cost.cost_estimate).
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
