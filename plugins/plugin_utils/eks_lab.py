# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab on EKS, over the five releases of eks_values: auto-instrumentation, mesh scrapes, dashboards.

``values(spec)`` is ``eks_values.values(spec)`` plus the OpenTelemetry Operator release (``otel-operator``)
when instrumentation is on, the collector's Hubble/ztunnel scrapes when asked, the lab's dashboards in
Grafana's values and Mimir's OTLP naming; ``instrumentation(spec)`` is the ``Instrumentation`` resource the
role applies after the operator; ``releases(spec)`` adds the operator to the releases of ``eks_values.plan``.
"""

import copy

from ansible_collections.lgtm.aws.plugins.plugin_utils import eks_dashboards, eks_values

OPERATOR_REPO = "https://open-telemetry.github.io/opentelemetry-helm-charts"
OPERATOR = ("otel-operator", "opentelemetry-operator", OPERATOR_REPO)
# The collector chart names its Service <release>-<chart> (the release name does not contain the chart's).
COLLECTOR_SERVICE = "otel-collector-opentelemetry-collector"
ANNOTATION = "instrumentation.opentelemetry.io/inject-%s"


def collector_endpoints(spec):
    host = "%s.%s.svc" % (COLLECTOR_SERVICE, spec["namespace"])
    return {"otlp_grpc": "http://%s:4317" % host, "otlp_http": "http://%s:4318" % host}


def instrumentation_enabled(spec):
    return spec["instrumentation"]["enabled"] and "otel_collector" in spec["components"]


def annotations(spec):
    """``{language: (annotation, value)}``: what a workload's pod template carries to be instrumented."""
    settings = spec["instrumentation"]
    reference = "%s/%s" % (spec["namespace"], settings["name"])
    return dict((language, (ANNOTATION % language, reference)) for language in settings["languages"])


def instrumentation(spec):
    """The ``Instrumentation`` resource (opentelemetry.io/v1alpha1): every language the spec lists exports
    OTLP over HTTP to the collector, which tail-samples; the SDKs sample every trace (parent-based)."""
    settings = spec["instrumentation"]
    endpoint = collector_endpoints(spec)["otlp_http"]
    body = {
        "exporter": {"endpoint": endpoint},
        "propagators": list(settings["propagators"]),
        "sampler": {"type": settings["sampler"], "argument": settings["sampler_argument"]},
        # Every language's SDK: OTLP over HTTP (the Java, Python, .NET, Node.js and Go defaults agree on 4318
        # with http/protobuf), logs and metrics too, so the collector receives all three signals.
        "env": [{"name": "OTEL_EXPORTER_OTLP_PROTOCOL", "value": "http/protobuf"},
                {"name": "OTEL_LOGS_EXPORTER", "value": "otlp"},
                {"name": "OTEL_METRICS_EXPORTER", "value": "otlp"}],
    }
    if "python" in settings["languages"]:
        # Python's logging bridge is off unless asked for.
        body["python"] = {"env": [{"name": "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED", "value": "true"}]}
    return {"apiVersion": "opentelemetry.io/v1alpha1", "kind": "Instrumentation",
            "metadata": {"name": settings["name"], "namespace": spec["namespace"],
                         "labels": {"app.kubernetes.io/managed-by": "lgtm.aws.eks_lgtm"}},
            "spec": body}


def operator_values(spec):
    settings = spec["instrumentation"]
    webhooks = {"certManager": {"enabled": bool(settings["cert_manager"])},
                # Without cert-manager Helm signs the webhook certificate; recreate false keeps it across upgrades.
                "autoGenerateCert": {"enabled": not settings["cert_manager"], "recreate": False}}
    return {
        "manager": {
            "autoInstrumentation": {"go": {"enabled": "go" in settings["languages"]}},
        },
        "admissionWebhooks": webhooks,
        "crds": {"create": True},
    }


def _scrape_job(name, spec, namespace, selector_label, port_name, path="/metrics"):
    """A Prometheus scrape job over pods of one namespace: the declared container port named ``port_name``."""
    return {
        "job_name": name, "scrape_interval": spec["scrape"]["interval"], "metrics_path": path,
        "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": [namespace]}}],
        "relabel_configs": [
            {"source_labels": ["__meta_kubernetes_pod_label_" + selector_label[0]], "regex": selector_label[1], "action": "keep"},
            {"source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": port_name, "action": "keep"},
            {"source_labels": ["__meta_kubernetes_pod_node_name"], "target_label": "node"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        ],
    }


def scrape_configs(spec):
    """Hubble (Cilium agents' `hubble-metrics` port, 9965) and ztunnel (`ztunnel-stats`, 15020) scrape jobs."""
    jobs = {}
    if spec["scrape"]["hubble"]:
        jobs["hubble"] = _scrape_job("hubble", spec, "kube-system", ("k8s_app", "cilium"), "hubble-metrics")
    if spec["scrape"]["ztunnel"]:
        jobs["ztunnel"] = _scrape_job("ztunnel", spec, "istio-system", ("app", "ztunnel"), "ztunnel-stats", "/stats/prometheus")
    return jobs


def _add_scrapes(spec, collector):
    jobs = scrape_configs(spec)
    if not jobs or "mimir" not in spec["components"]:
        return
    config = collector["config"]
    for name, job in jobs.items():
        config["receivers"]["prometheus/%s" % name] = {"config": {"scrape_configs": [job]}}
    # Remote write keeps the names as scraped (hubble_drop_total), whatever Mimir's OTLP naming.
    config["exporters"]["prometheusremotewrite/mimir"] = dict(
        {"endpoint": eks_values.service_urls(spec)["mimir_push"]},
        **({"headers": eks_values._tenant_headers(spec)} if spec["tenancy"]["enabled"] else {}))
    config["service"]["pipelines"]["metrics/mesh"] = {
        "receivers": ["prometheus/%s" % name for name in sorted(jobs)], "processors": ["memory_limiter", "batch"],
        "exporters": ["prometheusremotewrite/mimir"]}
    # Pod discovery across namespaces needs a ClusterRole.
    collector["clusterRole"] = {"create": True, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]}


def _mimir_otlp_naming(values):
    """Instrumented applications' OTLP metrics reach Mimir with Prometheus suffixes (http.server.request.duration
    in seconds becomes http_server_request_duration_seconds) and their namespace and service as labels."""
    limits = values["mimir"]["structuredConfig"].setdefault("limits", {})
    limits["otel_metric_suffixes_enabled"] = True
    limits["promote_otel_resource_attributes"] = "service.namespace,k8s.namespace.name,k8s.pod.name"


# HTTP attributes of the stable semantic conventions (what current SDKs and agents set), beside the older ones.
SPAN_METRIC_DIMENSIONS = ("http.request.method", "http.response.status_code")


def _span_metric_dimensions(tempo):
    """Span metrics split by the stable HTTP attributes too: the dashboards' 5xx share reads http_response_status_code."""
    processor = tempo["metricsGenerator"]["config"]["processor"].setdefault("span_metrics", {})
    dimensions = processor.setdefault("dimensions", [])
    dimensions.extend(name for name in SPAN_METRIC_DIMENSIONS if name not in dimensions)


def values(spec):
    """``eks_values.values(spec)`` with the lab's additions, and the operator release when instrumentation is on."""
    out = copy.deepcopy(eks_values.values(spec))
    if "otel-collector" in out:
        _add_scrapes(spec, out["otel-collector"])
    if "mimir" in out:
        _mimir_otlp_naming(out["mimir"])
    if "tempo" in out:
        _span_metric_dimensions(out["tempo"])
    if "grafana" in out:
        out["grafana"].update(eks_dashboards.grafana_values(spec))
    if instrumentation_enabled(spec):
        out[OPERATOR[0]] = operator_values(spec)
    return out


def releases(spec, plan):
    """The releases of ``eks_values.plan`` and, with instrumentation, the operator (beside the collector)."""
    entries = list(plan["releases"])
    if instrumentation_enabled(spec):
        collector = [entry for entry in entries if entry["component"] == "otel_collector"][0]
        entries.append({"order": collector["order"], "component": "otel_operator", "release": OPERATOR[0], "chart": OPERATOR[1],
                        "repository": OPERATOR[2], "version": str(spec["instrumentation"]["operator_version"]),
                        "namespace": spec["namespace"], "values_file": "%s.values.yaml" % OPERATOR[0]})
    return sorted(entries, key=lambda entry: entry["order"])


def manifests(spec):
    """Kubernetes objects the role applies itself after the releases: ``{file name: object}``."""
    return {"instrumentation.yaml": instrumentation(spec)} if instrumentation_enabled(spec) else {}
