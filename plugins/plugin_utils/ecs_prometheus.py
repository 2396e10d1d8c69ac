# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""prometheus.yml, the optional aws_sd scrape file and the CloudWatch exporter's config.yml, from a checked spec."""

import re

SERVICES_JOB = "ecs-services"


def service_dns(spec, name):
    """The Cloud Map name of a service or task: ``<name>.<cloudmap_namespace>``."""
    return "%s.%s" % (name, spec["cloudmap_namespace"])


def _exact(text):
    """A regular expression matching exactly ``text`` (Prometheus anchors relabel expressions)."""
    return re.sub(r"([.\\+*?\[\](){}|^$])", r"\\\1", text)


def services_job(spec):
    """The ``ecs-services`` job: every task of every service through Cloud Map DNS, each service on its own port
    and metrics path (one DNS discovery per service; the path is set by relabelling on the discovered name)."""
    discovery = [{"names": [service_dns(spec, s["name"])], "type": "A", "port": s["port"], "refresh_interval": "30s"}
                 for s in spec["services"]]
    relabel = [{"source_labels": ["__meta_dns_name"], "regex": "([^.]+)\\..*", "target_label": "service"}]
    for service in spec["services"]:
        if service["metrics_path"] != "/metrics":
            relabel.append({"source_labels": ["__meta_dns_name"], "regex": _exact(service_dns(spec, service["name"])),
                            "target_label": "__metrics_path__", "replacement": service["metrics_path"]})
    return {"job_name": SERVICES_JOB, "metrics_path": "/metrics", "dns_sd_configs": discovery, "relabel_configs": relabel}


def prometheus_config(spec):
    """prometheus.yml: Prometheus itself, every ECS service (Cloud Map DNS), the CloudWatch exporter, EC2 nodes."""
    jobs = [{"job_name": "prometheus", "static_configs": [{"targets": ["localhost:9090"]}]}]
    if spec["services"]:
        jobs.append(services_job(spec))
    jobs.append({"job_name": "cloudwatch", "scrape_interval": "60s", "scrape_timeout": "50s",
                 "static_configs": [{"targets": ["%s:9106" % service_dns(spec, "cloudwatch-exporter")]}]})
    if spec["ec2_sd"]["enabled"]:
        jobs.append({"job_name": "ec2-nodes", "ec2_sd_configs": [{
            "region": spec["region"], "port": spec["ec2_sd"]["port"],
            "filters": [{"name": "tag:%s" % spec["ec2_sd"]["tag_key"], "values": [spec["ec2_sd"]["tag_value"]]}]}],
            "relabel_configs": [{"source_labels": ["__meta_ec2_tag_Name"], "target_label": "instance_name"},
                                {"source_labels": ["__meta_ec2_availability_zone"], "target_label": "availability_zone"}]})
    config = {
        "global": {"scrape_interval": spec["scrape_interval"], "evaluation_interval": spec["evaluation_interval"],
                   # The ECS cluster's name (<name_prefix>-<environment>-monitoring), as the AWS side names it.
                   "external_labels": {"environment": spec["environment"],
                                       "cluster": "%s-%s-monitoring" % (spec["name_prefix"], spec["environment"])}},
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": ["%s:9093" % service_dns(spec, "alertmanager")]}]}]},
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
    """ECS task discovery with aws_sd (role ecs), for Prometheus 3.8 and later only; None for older versions.
    Tasks of a listed service are scraped on that service's port and metrics path; others on 9090 and /metrics."""
    if _version(spec["prometheus_version"]) < (3, 8):
        return None
    relabel = [{"source_labels": ["__meta_ecs_service"], "target_label": "service"}]
    for service in spec["services"]:
        relabel.append({"source_labels": ["__meta_ecs_service", "__address__"], "separator": ";",
                        "regex": "%s;([^:]+)(?::[0-9]+)?" % _exact(service["name"]),
                        "target_label": "__address__", "replacement": "${1}:%d" % service["port"]})
        if service["metrics_path"] != "/metrics":
            relabel.append({"source_labels": ["__meta_ecs_service"], "regex": _exact(service["name"]),
                            "target_label": "__metrics_path__", "replacement": service["metrics_path"]})
    return {"scrape_configs": [{"job_name": "ecs-tasks", "aws_sd_configs": [{"role": "ecs", "region": spec["region"], "port": 9090}],
                                "relabel_configs": relabel}]}


# Prometheus names of what the exporter reads by default (the rules and dashboards use them).
DEFAULT_CLOUDWATCH_METRICS = [
    {"aws_namespace": "AWS/ECS", "aws_metric_name": "CPUUtilization", "aws_dimensions": ["ClusterName", "ServiceName"],
     "aws_statistics": ["Average"]},
    {"aws_namespace": "AWS/ECS", "aws_metric_name": "MemoryUtilization", "aws_dimensions": ["ClusterName", "ServiceName"],
     "aws_statistics": ["Average"]},
    {"aws_namespace": "AWS/ApplicationELB", "aws_metric_name": "TargetResponseTime", "aws_dimensions": ["LoadBalancer", "TargetGroup"],
     "aws_statistics": ["Average"]},
    {"aws_namespace": "AWS/ApplicationELB", "aws_metric_name": "RequestCount", "aws_dimensions": ["LoadBalancer", "TargetGroup"],
     "aws_statistics": ["Sum"]},
    {"aws_namespace": "AWS/ApplicationELB", "aws_metric_name": "HTTPCode_Target_5XX_Count", "aws_dimensions": ["LoadBalancer", "TargetGroup"],
     "aws_statistics": ["Sum"]},
]


def cloudwatch_exporter_config(spec):
    """prom/cloudwatch-exporter's config.yml: ECS CPU/memory per service, ALB latency, requests and 5xx, then the
    metrics the spec lists, in the spec's region."""
    metrics = [dict(metric) for metric in DEFAULT_CLOUDWATCH_METRICS]
    for metric in spec["cloudwatch_exporter"]["metrics"]:
        metrics.append(dict({"aws_statistics": ["Average"]}, **metric))
    return {"region": spec["region"], "period_seconds": 60, "delay_seconds": 120, "metrics": metrics}
