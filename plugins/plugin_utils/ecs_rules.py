# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rules/alerts.yml and the promtool unit tests (tests/alerts.test.yml) that prove each rule, from a checked spec."""

import re

from ansible_collections.lgtm.aws.plugins.plugin_utils.ecs_prometheus import SERVICES_JOB


def alert_rules(spec):
    t, d = spec["thresholds"], spec["durations"]
    rules = [
        ("HighCPUUsage", "avg by (service) (ecs_cpu_utilization) > %s" % t["cpu_percent"], d["cpu"], "warning",
         "CPU of {{ $labels.service }} above %s%%" % t["cpu_percent"]),
        ("HighMemoryUsage", "avg by (service) (ecs_memory_utilization) > %s" % t["memory_percent"], d["memory"], "warning",
         "Memory of {{ $labels.service }} above %s%%" % t["memory_percent"]),
        ("ServiceDown", 'up{job="%s"} == 0' % SERVICES_JOB, d["down"], "critical", "Service {{ $labels.service }} is down"),
        ("TargetScrapeFailing", 'up{job!="%s"} == 0' % SERVICES_JOB, d["scrape"], "warning",
         "{{ $labels.job }} target {{ $labels.instance }} cannot be scraped"),
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
    case("ServiceDown", d["down"], [gauge("up", {"job": SERVICES_JOB, "service": "api", "instance": "10.0.0.1:8080"}, 0, m)],
         [gauge("up", {"job": SERVICES_JOB, "service": "web", "instance": "10.0.0.2:8080"}, 1, m)],
         {"severity": "critical", "job": SERVICES_JOB, "service": "api", "instance": "10.0.0.1:8080"})
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
