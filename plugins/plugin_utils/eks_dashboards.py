# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's views as Grafana dashboards (JSON models) and the queries behind them.

Every panel query is a ``Query`` of ``QUERIES``: PromQL on Mimir (uid ``mimir``), LogQL on Loki (``loki``),
TraceQL or the service map on Tempo (``tempo``), the datasource uids eks_values provisions. PromQL reads
only metrics the pipeline writes to Mimir (``produced_metrics``): the span metrics and service graphs
Tempo's metrics generator remote-writes, and, when their scrapes are on, Hubble's and ztunnel's.
``explore(expr)`` is a query as one types it in Explore (Grafana's variables replaced), as docs/eks-runbook.md
lists them.
"""

import collections
import json
import re

Query = collections.namedtuple("Query", "key language title expr legend unit")

# Label values every dashboard filters by (Grafana template variable `service`, all services by default).
SERVER = 'span_kind="SPAN_KIND_SERVER", service=~"$service"'


def _quantile(q):
    return ('histogram_quantile(%s, sum by (le, service) (rate(traces_spanmetrics_latency_bucket{%s}[$__rate_interval])))' % (q, SERVER))


QUERIES = [
    # HTTP (server spans) from Tempo's span metrics: rate, errors, duration.
    Query("request_rate", "promql", "Requests per second by service",
          "sum by (service) (rate(traces_spanmetrics_calls_total{%s}[$__rate_interval]))" % SERVER, "{{service}}", "reqps"),
    Query("error_rate", "promql", "HTTP error rate by service (server spans with status ERROR)",
          "sum by (service) (rate(traces_spanmetrics_calls_total{%s, status_code=\"STATUS_CODE_ERROR\"}[$__rate_interval]))"
          " / sum by (service) (rate(traces_spanmetrics_calls_total{%s}[$__rate_interval]))" % (SERVER, SERVER), "{{service}}", "percentunit"),
    Query("error_rate_5xx", "promql", "HTTP 5xx share by service (the span's http.response.status_code)",
          "sum by (service) (rate(traces_spanmetrics_calls_total{%s, http_response_status_code=~\"5..\"}[$__rate_interval]))"
          " / sum by (service) (rate(traces_spanmetrics_calls_total{%s}[$__rate_interval]))" % (SERVER, SERVER), "{{service}}", "percentunit"),
    Query("latency_p50", "promql", "Latency p50 by service", _quantile("0.5"), "p50 {{service}}", "s"),
    Query("latency_p95", "promql", "Latency p95 by service", _quantile("0.95"), "p95 {{service}}", "s"),
    Query("latency_p99", "promql", "Latency p99 by service", _quantile("0.99"), "p99 {{service}}", "s"),
    # Service graph edges from Tempo's service-graphs processor.
    Query("edge_rate", "promql", "Requests per second between services",
          "sum by (client, server) (rate(traces_service_graph_request_total[$__rate_interval]))", "{{client}} -> {{server}}", "reqps"),
    Query("edge_failed", "promql", "Failed share between services",
          "sum by (client, server) (rate(traces_service_graph_request_failed_total[$__rate_interval]))"
          " / sum by (client, server) (rate(traces_service_graph_request_total[$__rate_interval]))", "{{client}} -> {{server}}", "percentunit"),
    Query("edge_latency_p95", "promql", "Server latency p95 between services",
          "histogram_quantile(0.95, sum by (le, client, server) (rate(traces_service_graph_request_server_seconds_bucket[$__rate_interval])))",
          "{{client}} -> {{server}}", "s"),
    Query("service_map", "servicemap", "Service graph", "", "", ""),
    # Logs: Loki keeps the OTLP resource attribute service.name as the label service_name and detects each
    # line's level (detected_level, structured metadata).
    Query("log_volume", "logql", "Log volume by level",
          'sum by (detected_level) (count_over_time({service_name=~"$service"} [$__auto]))', "{{detected_level}}", "short"),
    Query("error_logs", "logql", "Error logs",
          '{service_name=~"$service"} | detected_level=~"(?i)error|fatal|critical"', "", ""),
    # Traces worth a look: errors and slow server spans (what the collector's tail sampling keeps).
    Query("error_traces", "traceql", "Traces with errors",
          '{ span.http.response.status_code >= 500 || span.http.status_code >= 500 || status = error }', "", ""),
    Query("slow_traces", "traceql", "Slow server spans (over 1s)",
          '{ kind = server && duration > 1s }', "", ""),
]
BY_KEY = dict((query.key, query) for query in QUERIES)

MESH_QUERIES = {
    "hubble": [
        Query("hubble_flows", "promql", "Hubble flows processed by verdict",
              "sum by (verdict) (rate(hubble_flows_processed_total[$__rate_interval]))", "{{verdict}}", "short"),
        Query("hubble_drops", "promql", "Packets dropped by reason",
              "sum by (reason) (rate(hubble_drop_total[$__rate_interval]))", "{{reason}}", "pps"),
        Query("hubble_dns", "promql", "DNS queries",
              "sum(rate(hubble_dns_queries_total[$__rate_interval]))", "queries", "reqps"),
    ],
    "ztunnel": [
        Query("ztunnel_connections", "promql", "ztunnel TCP connections opened by destination",
              "sum by (destination_workload) (rate(istio_tcp_connections_opened_total[$__rate_interval]))", "{{destination_workload}}", "cps"),
        Query("ztunnel_bytes", "promql", "ztunnel bytes sent by destination",
              "sum by (destination_workload) (rate(istio_tcp_sent_bytes_total[$__rate_interval]))", "{{destination_workload}}", "Bps"),
    ],
}

# Metric names as Tempo's metrics generator emits them (prefix traces_; span metrics: calls, latency
# histogram, size; service graphs: request counters and client/server latency histograms), and as Hubble
# and ztunnel expose them.
HISTOGRAM = ("_bucket", "_sum", "_count")
PRODUCED = {
    "tempo_span_metrics": {"traces_spanmetrics_calls_total", "traces_spanmetrics_size_total"}
    | {"traces_spanmetrics_latency" + s for s in HISTOGRAM},
    "tempo_service_graphs": {"traces_service_graph_request_total", "traces_service_graph_request_failed_total",
                             "traces_service_graph_unpaired_spans_total", "traces_service_graph_dropped_spans_total"}
    | {"traces_service_graph_request_%s_seconds%s" % (side, s) for side in ("server", "client") for s in HISTOGRAM},
    "hubble": {"hubble_flows_processed_total", "hubble_drop_total", "hubble_dns_queries_total", "hubble_dns_responses_total",
               "hubble_tcp_flags_total", "hubble_http_requests_total", "hubble_http_request_duration_seconds_bucket"},
    "ztunnel": {"istio_tcp_connections_opened_total", "istio_tcp_connections_closed_total", "istio_tcp_sent_bytes_total",
                "istio_tcp_received_bytes_total"},
}
# Applications' own OTLP metrics once instrumented (OpenTelemetry semantic conventions, the Java agent 2.x
# names), as Mimir stores them with Prometheus suffixes (otel_metric_suffixes_enabled): the runbook's
# application queries; no dashboard depends on them.
APPLICATION_METRICS = ({"http_server_request_duration_seconds" + s for s in HISTOGRAM}
                       | {"http_client_request_duration_seconds" + s for s in HISTOGRAM}
                       | {"jvm_memory_used_bytes", "jvm_memory_limit_bytes", "jvm_thread_count"}
                       | {"jvm_gc_duration_seconds" + s for s in HISTOGRAM})
# Loki labels the pipeline sets (OTLP resource attributes Loki indexes by default) and the level it detects.
LOKI_LABELS = {"service_name", "service_namespace", "k8s_namespace_name", "k8s_pod_name", "k8s_container_name", "detected_level"}


def produced_metrics(spec):
    """The metric names Mimir receives from this spec's pipeline."""
    names = set()
    if {"tempo", "mimir"} <= set(spec["components"]):
        names |= PRODUCED["tempo_span_metrics"] | PRODUCED["tempo_service_graphs"]
    if {"otel_collector", "mimir"} <= set(spec["components"]):
        names |= set().union(*(PRODUCED[mesh] for mesh in ("hubble", "ztunnel") if spec["scrape"][mesh]))
    return names


# PromQL words that are not metric names.
_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset", "inf", "nan"}
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names(expr):
    """The metric names a PromQL expression selects (strings, label matchers, ranges and groupings removed)."""
    text = _STRINGS.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = _GROUPING.sub(" ", text)
    found = set()
    for match in _NAME.finditer(text):
        rest = text[match.end():].lstrip()
        if rest.startswith("(") or match.group(0).lower() in _WORDS:
            continue
        found.add(match.group(0))
    return found


VARIABLES = (("$__rate_interval", "5m"), ("$__auto", "5m"), ("$service", ".+"))


def explore(expr):
    """The query with Grafana's variables replaced, as one runs it in Explore (and promtool parses it)."""
    for variable, value in VARIABLES:
        expr = expr.replace(variable, value)
    return expr


DATASOURCES = {"promql": ("prometheus", "mimir"), "logql": ("loki", "loki"), "traceql": ("tempo", "tempo"), "servicemap": ("tempo", "tempo")}


def _target(query):
    kind, uid = DATASOURCES[query.language]
    target = {"refId": "A", "datasource": {"type": kind, "uid": uid}}
    if query.language == "promql":
        target.update(expr=query.expr, legendFormat=query.legend, exemplar=True)
    elif query.language == "logql":
        target.update(expr=query.expr, legendFormat=query.legend, queryType="range")
    elif query.language == "traceql":
        target.update(query=query.expr, queryType="traceql", limit=20, tableType="traces")
    else:
        target.update(queryType="serviceMap")
    return target


def _panel(panel_id, query, kind, x, y, w=12, h=8):
    panel = {"id": panel_id, "type": kind, "title": query.title, "gridPos": {"x": x, "y": y, "w": w, "h": h},
             "datasource": _target(query)["datasource"], "targets": [_target(query)]}
    if query.unit:
        panel["fieldConfig"] = {"defaults": {"unit": query.unit}, "overrides": []}
    return panel


def _service_variable(spec):
    if "mimir" in spec["components"]:
        source = {"type": "prometheus", "uid": "mimir"}
        definition = "label_values(traces_spanmetrics_calls_total, service)"
        query = {"query": definition, "refId": "service"}
    else:
        source = {"type": "loki", "uid": "loki"}
        definition = "label_values(service_name)"
        query = {"label": "service_name", "refId": "service", "type": 1}
    return {"type": "query", "name": "service", "label": "Service", "datasource": source, "definition": definition,
            "query": query, "includeAll": True, "multi": True, "allValue": ".+", "current": {"text": "All", "value": "$__all"},
            "refresh": 2, "sort": 1}


def _dashboard(spec, uid, title, panels):
    return {"uid": uid, "title": title, "tags": ["lgtm", "lab"], "editable": False, "schemaVersion": 39, "version": 1,
            "time": {"from": "now-1h", "to": "now"}, "refresh": "30s", "timezone": "browser",
            "templating": {"list": [_service_variable(spec)]}, "annotations": {"list": []}, "panels": panels}


def _grid(queries_and_kinds, width=12, height=8):
    panels = []
    for index, (query, kind) in enumerate(queries_and_kinds):
        w = 24 if kind in ("nodeGraph", "logs") else width
        x = 0 if w == 24 else (index % 2) * width
        panels.append(_panel(index + 1, query, kind, x, len(panels) * height, w, height))
    return panels


def dashboards(spec):
    """``{file name: dashboard}`` for the enabled components: HTTP (errors, latency), service graph, logs, network."""
    components, out = set(spec["components"]), {}
    q = BY_KEY
    if {"tempo", "mimir"} <= components:
        http = [(q["request_rate"], "timeseries"), (q["error_rate"], "timeseries"), (q["error_rate_5xx"], "timeseries"),
                (q["latency_p50"], "timeseries"), (q["latency_p95"], "timeseries"), (q["latency_p99"], "timeseries"),
                (q["error_traces"], "table"), (q["slow_traces"], "table")]
        out["lgtm-lab-http.json"] = _dashboard(spec, "lgtm-lab-http", "LGTM lab: HTTP error rate and latency", _grid(http))
        graph = [(q["service_map"], "nodeGraph"), (q["edge_rate"], "timeseries"), (q["edge_failed"], "timeseries"),
                 (q["edge_latency_p95"], "timeseries")]
        out["lgtm-lab-service-graph.json"] = _dashboard(spec, "lgtm-lab-service-graph", "LGTM lab: service graph", _grid(graph))
    if "loki" in components:
        logs = [(q["log_volume"], "timeseries"), (q["error_logs"], "logs")]
        out["lgtm-lab-logs.json"] = _dashboard(spec, "lgtm-lab-logs", "LGTM lab: log volume by level", _grid(logs))
    if {"otel_collector", "mimir"} <= components:
        mesh = [(query, "timeseries") for name in ("hubble", "ztunnel") if spec["scrape"][name] for query in MESH_QUERIES[name]]
        if mesh:
            out["lgtm-lab-network.json"] = _dashboard(spec, "lgtm-lab-network", "LGTM lab: Cilium Hubble and Istio ztunnel", _grid(mesh))
    return out


def panel_queries(dashboard):
    """``(language, expr)`` of every panel target of a dashboard."""
    found = []
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            language = {"prometheus": "promql", "loki": "logql"}.get(target["datasource"]["type"])
            if language:
                found.append((language, target["expr"]))
            elif target.get("queryType") == "traceql":
                found.append(("traceql", target["query"]))
            else:
                found.append(("servicemap", ""))
    return found


DASHBOARD_DIR = "/var/lib/grafana/dashboards/lgtm-lab"


def grafana_values(spec):
    """The Grafana chart values that provision the dashboards (a file provider and the dashboards inline)."""
    boards = dashboards(spec)
    if not spec["dashboards"] or not boards:
        return {}
    provider = {"name": "lgtm-lab", "orgId": 1, "folder": "LGTM lab", "type": "file", "disableDeletion": True, "editable": False,
                "allowUiUpdates": False, "options": {"path": DASHBOARD_DIR}}
    return {
        "dashboardProviders": {"dashboardproviders.yaml": {"apiVersion": 1, "providers": [provider]}},
        # The chart writes dashboards.<provider>.<name>.json into a ConfigMap mounted at
        # /var/lib/grafana/dashboards/<provider>.
        "dashboards": {"lgtm-lab": dict((name[:-len(".json")], {"json": json.dumps(board, indent=2, sort_keys=True)})
                                        for name, board in sorted(boards.items()))},
    }
