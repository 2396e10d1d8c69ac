# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus (scrapes, alert rules and their promtool tests) and Alertmanager (SMTP e-mail, optional Slack).

From a target's death to the e-mail: the next scrape fails (within scrape_interval), the next rule evaluation
sees up == 0 (within evaluation_interval) and TargetDown is pending; it fires at the first evaluation after
target_down_for and goes to Alertmanager at once, which waits group_wait for a new group and sends the mail.
docs/docker.md (Alerting latency) and bench/docker_alert.py measure it.
"""

import math

from ansible_collections.lgtm.aws.plugins.plugin_utils.docker_lgtm_checks import seconds

# Where each service answers /metrics inside the stack network (service key -> host:port, path).
METRICS = {
    "proxy": ("proxy:9180", "/metrics"),
    "grafana": ("grafana:3000", "/metrics"),
    "alertmanager": ("alertmanager:9093", "/metrics"),
    "loki": ("loki:3100", "/metrics"),
    "tempo": ("tempo:3200", "/metrics"),
    "mimir": ("mimir:8080", "/metrics"),
    "keycloak": ("keycloak:9000", "/metrics"),
    "alloy": ("alloy:12345", "/metrics"),
}
RULES_DIR, TESTS_DIR = "/etc/prometheus/rules", "/etc/prometheus/tests"
SECRETS_DIR = "/run/secrets"


def _job(name, target, path="/metrics", **extra):
    job = {"job_name": name, "metrics_path": path, "static_configs": [{"targets": [target]}]}
    job.update(extra)
    return job


def prometheus(spec):
    enabled, settings = spec["enabled"], spec["prometheus"]
    jobs = [_job("prometheus", "localhost:9090")]
    if "node_exporter" in enabled:
        jobs.append(_job("node", "node-exporter:9100"))
    if "cadvisor" in enabled:
        jobs.append(_job("cadvisor", "cadvisor:8080"))
    if "pushgateway" in enabled:
        # Pushed series keep their own job and instance labels.
        jobs.append(_job("pushgateway", "pushgateway:9091", honor_labels=True))
    for name in sorted(METRICS):
        if name in enabled:
            jobs.append(_job(name, *METRICS[name]))
    config = {
        "global": {"scrape_interval": settings["scrape_interval"], "evaluation_interval": settings["evaluation_interval"],
                   "external_labels": {"stack": spec["container_prefix"]}},
        "rule_files": [RULES_DIR + "/*.yml"],
        "scrape_configs": jobs + list(settings["extra_scrape_configs"]),
    }
    if "alertmanager" in enabled:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": ["alertmanager:9093"]}]}]}
    return config


def containers(spec):
    """The container names the stack runs (cAdvisor's ``name`` label)."""
    return ["%s-%s" % (spec["container_prefix"], name.replace("_", "-")) for name in spec["enabled"]]


def _rule(alert, expr, duration, severity, summary):
    return {"alert": alert, "expr": expr, "for": duration, "labels": {"severity": severity},
            "annotations": {"summary": summary}}


def alert_rules(spec):
    prefix, down_for = spec["container_prefix"], spec["prometheus"]["target_down_for"]
    stack = '{name=~"%s-.+"}' % prefix
    rules = [
        _rule("TargetDown", "up == 0", down_for, "critical", "{{ $labels.job }} at {{ $labels.instance }} cannot be scraped"),
        _rule("HostDiskSpaceLow",
              '(node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"} / node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs"}) < 0.10',
              "5m", "warning", "{{ $labels.mountpoint }} has less than 10% space left"),
        _rule("HostMemoryLow", "(node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes) < 0.10", "5m", "warning",
              "less than 10% of the host's memory is available"),
        _rule("PrometheusRuleFailures", "increase(prometheus_rule_evaluation_failures_total[5m]) > 0", "0m", "warning",
              "Prometheus failed to evaluate rules"),
    ]
    if "cadvisor" in spec["enabled"]:
        rules += [
            _rule("ContainerDown", " or ".join('absent(container_last_seen{name="%s"})' % c for c in containers(spec)),
                  "1m", "critical", "a container of the stack is not running"),
            _rule("ContainerRestarting", "changes(container_start_time_seconds%s[15m]) > 2" % stack, "0m", "warning",
                  "{{ $labels.name }} restarted more than twice in 15 minutes"),
            _rule("ContainerMemoryNearLimit",
                  "(container_memory_working_set_bytes%s / container_spec_memory_limit_bytes%s) > 0.9" % (stack, stack),
                  "5m", "warning", "{{ $labels.name }} uses more than 90% of its memory limit"),
        ]
    if "alertmanager" in spec["enabled"]:
        rules.append(_rule("AlertmanagerNotificationsFailing", "increase(alertmanager_notifications_failed_total[5m]) > 0",
                           "0m", "critical", "Alertmanager fails to send {{ $labels.integration }} notifications"))
    return {"groups": [{"name": "lgtm-stack", "rules": rules}]}


def rule_tests(spec):
    """promtool test rules cases: each alert fires on a bad series and stays quiet on a good one."""
    down_for = seconds(spec["prometheus"]["target_down_for"])
    # Evaluated every minute: TargetDown fires at the first minute its `for` has passed (at least the 15th).
    fired = max(15, int(math.ceil(down_for / 60.0)) + 1)
    cases = [
        {"interval": "1m", "input_series": [
            {"series": 'up{job="node", instance="node-exporter:9100"}', "values": "0x%d" % fired},
            {"series": 'up{job="pushgateway", instance="pushgateway:9091"}', "values": "1x%d" % fired}],
         "alert_rule_test": [
             {"eval_time": "%dm" % fired, "alertname": "TargetDown", "exp_alerts": [{
                 "exp_labels": {"severity": "critical", "job": "node", "instance": "node-exporter:9100"},
                 "exp_annotations": {"summary": "node at node-exporter:9100 cannot be scraped"}}]}]},
        {"interval": "1m", "input_series": [
            {"series": 'node_filesystem_avail_bytes{fstype="ext4", mountpoint="/"}', "values": "5x10"},
            {"series": 'node_filesystem_size_bytes{fstype="ext4", mountpoint="/"}', "values": "100x10"},
            {"series": "node_memory_MemAvailable_bytes", "values": "50x10"},
            {"series": "node_memory_MemTotal_bytes", "values": "100x10"}],
         "alert_rule_test": [
             {"eval_time": "10m", "alertname": "HostDiskSpaceLow", "exp_alerts": [{
                 "exp_labels": {"severity": "warning", "fstype": "ext4", "mountpoint": "/"},
                 "exp_annotations": {"summary": "/ has less than 10% space left"}}]},
             {"eval_time": "10m", "alertname": "HostMemoryLow", "exp_alerts": []}]},
    ]
    if down_for > 0:
        cases[0]["alert_rule_test"].append({"eval_time": "0m", "alertname": "TargetDown", "exp_alerts": []})
    if "cadvisor" in spec["enabled"]:
        names = containers(spec)
        running = [{"series": 'container_last_seen{name="%s"}' % name, "values": "1x10"} for name in names[1:]]
        limit = {"series": 'container_spec_memory_limit_bytes{name="%s"}' % names[-1], "values": "100x10"}
        used = {"series": 'container_memory_working_set_bytes{name="%s"}' % names[-1], "values": "95x10"}
        starts = {"series": 'container_start_time_seconds{name="%s"}' % names[-1], "values": "1 2 3 4 5 5 5 5 5 5"}
        cases.append({"interval": "1m", "input_series": running + [limit, used, starts], "alert_rule_test": [
            {"eval_time": "5m", "alertname": "ContainerDown", "exp_alerts": [{
                "exp_labels": {"severity": "critical", "name": names[0]},
                "exp_annotations": {"summary": "a container of the stack is not running"}}]},
            {"eval_time": "6m", "alertname": "ContainerMemoryNearLimit", "exp_alerts": [{
                "exp_labels": {"severity": "warning", "name": names[-1]},
                "exp_annotations": {"summary": "%s uses more than 90%% of its memory limit" % names[-1]}}]},
            {"eval_time": "5m", "alertname": "ContainerRestarting", "exp_alerts": [{
                "exp_labels": {"severity": "warning", "name": names[-1]},
                "exp_annotations": {"summary": "%s restarted more than twice in 15 minutes" % names[-1]}}]},
        ]})
    return {"rule_files": [RULES_DIR + "/alerts.yml"], "evaluation_interval": "1m", "tests": cases}


def alertmanager(spec):
    smtp, slack, timing = spec["smtp"], spec["slack"], spec["alertmanager"]
    receiver = {"name": "default"}
    config = {"global": {"resolve_timeout": "5m"},
              "route": {"receiver": "default", "group_by": ["alertname", "job", "instance"],
                        "group_wait": timing["group_wait"], "group_interval": timing["group_interval"],
                        "repeat_interval": timing["repeat_interval"]},
              "inhibit_rules": [{"source_matchers": ["severity=critical"], "target_matchers": ["severity=warning"],
                                 "equal": ["alertname", "instance"]}],
              "receivers": [receiver]}
    if smtp["smarthost"]:
        config["global"].update({"smtp_smarthost": smtp["smarthost"], "smtp_from": smtp["from"],
                                 "smtp_require_tls": smtp["require_tls"]})
        if smtp["username"]:
            config["global"]["smtp_auth_username"] = smtp["username"]
            config["global"]["smtp_auth_password_file"] = SECRETS_DIR + "/smtp_password"
        receiver["email_configs"] = [{"to": ", ".join(smtp["to"]), "send_resolved": True}]
    if slack["channel"]:
        receiver["slack_configs"] = [{"api_url_file": SECRETS_DIR + "/slack_webhook_url", "channel": slack["channel"],
                                      "send_resolved": True}]
    return config
