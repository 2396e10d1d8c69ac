"""The lab on EKS: install commands and Argo CD Applications for every release, the OpenTelemetry Operator and
its Instrumentation (checked against the operator's CRD schema), the metrics generator's link to Mimir, the
optional Hubble/ztunnel scrapes, and the dashboards and runbook queries (PromQL parsed by Debian's promtool,
every metric one the pipeline writes)."""
import copy
import json
import os
import re
import shlex
import shutil
import subprocess

import jsonschema
import pytest

import eks_chart_keys as chart_keys_check  # tests/eks_chart_keys.py
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.lgtm.aws.plugins.filter import eks_lgtm as eks_filter
from ansible_collections.lgtm.aws.plugins.plugin_utils import eks_dashboards as dash
from ansible_collections.lgtm.aws.plugins.plugin_utils import eks_gitops, eks_lab, eks_lab_spec
from ansible_collections.lgtm.aws.plugins.plugin_utils import eks_values as ev
from eks_chart_keys import SPEC as EXAMPLE  # pylint: disable=wrong-import-order

HERE = os.path.dirname(__file__)
ROOT = os.path.join(HERE, "..", "..", "..", "..")
CRD = os.path.join(ROOT, "tests", "fixtures", "crds", "instrumentation-v1alpha1-0.104.0.json")
RUNBOOK = os.path.join(ROOT, "docs", "eks-runbook.md")
PROMTOOL = shutil.which("promtool") or ("/usr/bin/promtool" if os.path.exists("/usr/bin/promtool") else None)
needs_promtool = pytest.mark.skipif(not PROMTOOL, reason="needs promtool (Debian package prometheus; make deps) to parse PromQL")

# The shared example without the ALB settings (the lab needs a host name only).
SPEC = dict(EXAMPLE, ingress={"host": "grafana.internal.example.com"})
EVERYTHING = {"scrape": {"hubble": True, "ztunnel": True}, "instrumentation": {"languages": list(eks_lab_spec.LANGUAGES)},
              "tenancy": {"enabled": True, "tenant": "acme"}}
CHART_FILES = {"loki": "loki-6.27.0", "mimir": "mimir-distributed-6.0.5", "tempo": "tempo-distributed-1.60.0",
               "otel-collector": "opentelemetry-collector-0.143.0", "grafana": "grafana-10.5.5", "otel-operator": "opentelemetry-operator-0.104.0"}


def spec(**changes):
    data = copy.deepcopy(SPEC)
    data.update(copy.deepcopy(changes))
    return ev.validate(data)


# --- Plan and GitOps -------------------------------------------------------------------------------------


def test_plan_gives_each_release_its_exact_helm_command_and_the_repositories_to_add():
    plan = eks_filter.eks_lgtm_plan(dict(SPEC))
    releases = plan["releases"]
    assert [r["release"] for r in releases] == ["loki", "mimir", "tempo", "otel-collector", "otel-operator", "grafana"]
    added = {}
    for command in plan["commands"]:
        words = shlex.split(command)
        if words[:3] == ["helm", "repo", "add"]:
            added[words[3]] = words[4]
    for release in releases:
        words = shlex.split(release["helm"])
        assert words == ["helm", "upgrade", "--install", release["release"], "%s/%s" % (release["repo_name"], release["chart"]),
                         "--version", release["version"], "--namespace", "monitoring", "--create-namespace",
                         "-f", "%s.values.yaml" % release["release"]], words
        assert added[release["repo_name"]] == release["repository"]
        assert release["helm"] in plan["commands"]
    # Repositories first, then the releases in install order, then the objects that need the operator's CRDs.
    assert plan["commands"].index("helm repo update") == len(added)
    assert [c for c in plan["commands"] if c.startswith("helm upgrade")] == [r["helm"] for r in releases]
    assert plan["commands"][-1] == "kubectl apply -f instrumentation.yaml"
    assert plan["releases"][4]["version"] == "0.104.0" and plan["releases"][4]["chart"] == "opentelemetry-operator"


def test_plan_follows_version_overrides_and_leaves_the_operator_out_without_instrumentation():
    plan = eks_filter.eks_lgtm_plan(dict(SPEC, versions={"loki": "6.29.0"}, instrumentation={"enabled": False}))
    assert "otel-operator" not in [r["release"] for r in plan["releases"]]
    assert "manifests" not in plan and not any("kubectl" in c for c in plan["commands"])
    loki = plan["releases"][0]
    assert "--version 6.29.0" in loki["helm"]
    assert "otel-operator" not in eks_filter.eks_lgtm_values(dict(SPEC, instrumentation={"enabled": False}))
    # Without the collector there is nothing to export to: no operator, no Instrumentation.
    without = dict(SPEC, components=["loki", "mimir", "tempo", "grafana"])
    assert "otel-operator" not in eks_filter.eks_lgtm_values(without) and "instrumentation.yaml" not in eks_filter.eks_lgtm_files(without)


def test_argo_cd_applications_install_the_same_releases_with_the_same_values():
    data = dict(SPEC, **copy.deepcopy(EVERYTHING))
    files = eks_filter.eks_lgtm_files(data)
    plan, values = eks_filter.eks_lgtm_plan(data), eks_filter.eks_lgtm_values(data)
    apps = dict((name, yaml.safe_load(yaml.safe_dump(body))) for name, body in files.items() if name.startswith("argocd/"))
    assert sorted(apps) == sorted("argocd/%s.application.yaml" % r["release"] for r in plan["releases"])
    for release in plan["releases"]:
        app = apps["argocd/%s.application.yaml" % release["release"]]
        assert (app["apiVersion"], app["kind"]) == ("argoproj.io/v1alpha1", "Application")
        assert app["metadata"]["name"] == release["release"] and app["metadata"]["namespace"] == "argocd"
        assert app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == str(release["order"])
        source = app["spec"]["source"]
        assert (source["repoURL"], source["chart"], source["targetRevision"]) == (release["repository"], release["chart"], release["version"])
        assert source["helm"]["releaseName"] == release["release"]
        assert source["helm"]["valuesObject"] == values[release["release"]]
        assert app["spec"]["destination"] == {"server": "https://kubernetes.default.svc", "namespace": release["namespace"]}
        assert app["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
        assert "CreateNamespace=true" in app["spec"]["syncPolicy"]["syncOptions"]
    manual = eks_filter.eks_lgtm_files(dict(SPEC, argocd={"automated": False, "namespace": "gitops", "project": "observability"}))
    app = manual["argocd/loki.application.yaml"]
    assert "automated" not in app["spec"]["syncPolicy"]
    assert (app["metadata"]["namespace"], app["spec"]["project"]) == ("gitops", "observability")


def test_repo_names_are_the_hosts_the_install_task_adds():
    assert eks_gitops.repo_name("https://grafana.github.io/helm-charts") == "grafana-github-io"
    assert eks_gitops.repo_name("https://open-telemetry.github.io/opentelemetry-helm-charts") == "open-telemetry-github-io"


# --- Chart keys ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("release", sorted(CHART_FILES))
def test_the_labs_values_use_only_keys_the_pinned_charts_read(release):
    """With everything of the lab on, every key is one the chart's templates read (the derived facts of
    test_eks_chart_keys)."""
    values = eks_filter.eks_lgtm_values(dict(SPEC, **copy.deepcopy(EVERYTHING)))[release]
    chart, version = CHART_FILES[release].rsplit("-", 1)
    assert chart_keys_check.unread_keys(chart_keys_check.facts(chart, version), values,
                                        chart_keys_check.mode_of(release, values)) == []


def test_the_operator_key_file_is_for_the_pinned_version_and_would_catch_a_wrong_key():
    data = chart_keys_check.facts("opentelemetry-operator", eks_lab_spec.OPERATOR_VERSION)
    assert (data["chart"], str(data["version"]), data["derived"]) == ("opentelemetry-operator", eks_lab_spec.OPERATOR_VERSION, True)
    reads = set(path for found in data["reads"].values() for path in found)
    assert "manager.autoInstrumentation.go.enabled" in reads and "admissionWebhooks.autoGenerateCert.recreate" in reads
    assert "manager.autoInstrumentation.go.enable" not in reads


# --- Instrumentation -------------------------------------------------------------------------------------


def crd_schema():
    with open(CRD) as handle:
        return json.load(handle)["schema"]


def test_instrumentation_is_valid_for_the_operators_crd_and_exports_to_the_collector():
    data = spec(**copy.deepcopy(EVERYTHING))
    resource = eks_lab.instrumentation(data)
    jsonschema.validate(resource, crd_schema())
    assert (resource["apiVersion"], resource["kind"]) == ("opentelemetry.io/v1alpha1", "Instrumentation")
    assert resource["metadata"] == {"name": "lgtm", "namespace": "monitoring", "labels": {"app.kubernetes.io/managed-by": "lgtm.aws.eks_lgtm"}}
    body = resource["spec"]
    # The collector's Service (release otel-collector of chart opentelemetry-collector) on OTLP/HTTP.
    assert body["exporter"]["endpoint"] == "http://otel-collector-opentelemetry-collector.monitoring.svc:4318"
    assert {"name": "OTEL_EXPORTER_OTLP_PROTOCOL", "value": "http/protobuf"} in body["env"]
    assert body["propagators"] == ["tracecontext", "baggage"]
    # The SDKs keep every trace; the collector's tail sampling decides.
    assert body["sampler"] == {"type": "parentbased_always_on", "argument": "1"}
    collector = eks_filter.eks_lgtm_values(dict(SPEC, **copy.deepcopy(EVERYTHING)))["otel-collector"]
    assert collector["config"]["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    assert "tail_sampling" in collector["config"]["service"]["pipelines"]["traces"]["processors"]
    assert "enabled" not in collector.get("ports", {}).get("otlp-http", {})


def test_the_schema_check_catches_a_bad_instrumentation():
    resource = eks_lab.instrumentation(spec())
    resource["spec"]["sampler"]["type"] = "sometimes"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(resource, crd_schema())


def test_the_spec_allows_exactly_the_propagators_and_samplers_the_crd_does():
    properties = crd_schema()["properties"]["spec"]["properties"]
    assert set(eks_lab_spec.PROPAGATORS) == set(properties["propagators"]["items"]["enum"])
    assert set(eks_lab_spec.SAMPLERS) == set(properties["sampler"]["properties"]["type"]["enum"])
    assert set(eks_lab_spec.LANGUAGES) <= set(properties)


def test_go_turns_on_the_operators_go_support_and_annotations_name_the_instrumentation():
    assert eks_lab.operator_values(spec())["manager"]["autoInstrumentation"]["go"]["enabled"] is False
    data = spec(instrumentation={"languages": ["java", "go"], "name": "apps"}, namespace="observability",
                irsa_roles=dict((c, dict(SPEC["irsa_roles"][c], namespace="observability")) for c in ("loki", "mimir", "tempo")))
    assert eks_lab.operator_values(data)["manager"]["autoInstrumentation"]["go"]["enabled"] is True
    assert eks_lab.annotations(data) == {"java": ("instrumentation.opentelemetry.io/inject-java", "observability/apps"),
                                         "go": ("instrumentation.opentelemetry.io/inject-go", "observability/apps")}
    plan = eks_gitops.plan(data)
    assert plan["instrumentation"]["java"] == {"instrumentation.opentelemetry.io/inject-java": "observability/apps"}


def test_cert_manager_replaces_the_helm_generated_webhook_certificate():
    webhooks = eks_lab.operator_values(spec(instrumentation={"cert_manager": True}))["admissionWebhooks"]
    assert webhooks == {"certManager": {"enabled": True}, "autoGenerateCert": {"enabled": False, "recreate": False}}


# --- Tempo metrics generator, exemplars ---------------------------------------------------------------------


def test_metrics_generator_writes_service_graphs_and_span_metrics_to_mimir_with_the_tenant():
    values = eks_filter.eks_lgtm_values(dict(SPEC, tenancy={"enabled": True, "tenant": "acme"}))
    generator = values["tempo"]["metricsGenerator"]
    assert generator["enabled"] is True
    assert set(generator["config"]["processor"]) == {"service_graphs", "span_metrics"}
    dimensions = generator["config"]["processor"]["span_metrics"]["dimensions"]
    assert {"http.response.status_code", "http.status_code", "service.namespace"} <= set(dimensions) and len(dimensions) == len(set(dimensions))
    # The dashboards' label filters are span-metric labels: the intrinsic ones and the dimensions as Tempo names them.
    labels = {"service", "span_kind", "status_code", "span_name"} | {d.replace(".", "_") for d in dimensions}
    for query in dash.QUERIES:
        if query.language == "promql" and "spanmetrics" in query.expr:
            used = set(re.findall(r"([a-z_]+)=~?\"", query.expr))
            assert used <= labels, (query.key, used - labels)
    assert values["tempo"]["overrides"]["defaults"]["metrics_generator"]["processors"] == ["service-graphs", "span-metrics"]
    write = generator["config"]["storage"]["remote_write"]
    assert write == [{"url": "http://mimir-distributor.monitoring.svc:8080/api/v1/push", "send_exemplars": True,
                      "headers": {"X-Scope-OrgID": "acme"}}]
    # Mimir keeps exemplars; Grafana follows them to Tempo by either label name they carry.
    assert values["mimir"]["mimir"]["structuredConfig"]["limits"]["max_global_exemplars_per_user"] > 0
    sources = values["grafana"]["datasources"]["datasources.yaml"]["datasources"]
    mimir = [s for s in sources if s["uid"] == "mimir"][0]
    assert {d["name"] for d in mimir["jsonData"]["exemplarTraceIdDestinations"]} == {"traceID", "trace_id"}
    assert all(d["datasourceUid"] == "tempo" for d in mimir["jsonData"]["exemplarTraceIdDestinations"])
    tempo = [s for s in sources if s["uid"] == "tempo"][0]
    assert tempo["jsonData"]["serviceMap"] == {"datasourceUid": "mimir"}
    for query in tempo["jsonData"]["tracesToMetrics"]["queries"]:
        assert dash.metric_names(query["query"].replace("$$__tags", "")) <= dash.produced_metrics(spec())


def test_mimir_names_otlp_metrics_with_prometheus_suffixes():
    limits = eks_filter.eks_lgtm_values(dict(SPEC))["mimir"]["mimir"]["structuredConfig"]["limits"]
    assert limits["otel_metric_suffixes_enabled"] is True
    assert "service.namespace" in limits["promote_otel_resource_attributes"].split(",")


# --- Hubble / ztunnel scrapes ------------------------------------------------------------------------------


def pipeline_references_are_defined(config):
    for pipeline in config["service"]["pipelines"].values():
        for kind in ("receivers", "processors", "exporters"):
            for name in pipeline.get(kind, []):
                # memory_limiter is one of the chart's default processors, merged with ours.
                assert name in config[kind] or name == "memory_limiter", (kind, name)


def test_mesh_scrapes_are_off_by_default():
    collector = eks_filter.eks_lgtm_values(dict(SPEC))["otel-collector"]
    assert not [name for name in collector["config"]["receivers"] if name.startswith("prometheus/")]
    assert "metrics/mesh" not in collector["config"]["service"]["pipelines"] and "clusterRole" not in collector


@pytest.mark.parametrize("mesh, namespace, port, path", [("hubble", "kube-system", "hubble-metrics", "/metrics"),
                                                         ("ztunnel", "istio-system", "ztunnel-stats", "/stats/prometheus")])
def test_each_mesh_scrape_is_its_own_switch(mesh, namespace, port, path):
    collector = eks_filter.eks_lgtm_values(dict(SPEC, scrape={mesh: True}))["otel-collector"]
    config = collector["config"]
    assert [name for name in config["receivers"] if name.startswith("prometheus/")] == ["prometheus/" + mesh]
    job = config["receivers"]["prometheus/" + mesh]["config"]["scrape_configs"][0]
    assert job["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": [namespace]}}]
    assert {"source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": port, "action": "keep"} in job["relabel_configs"]
    assert job["metrics_path"] == path and job["scrape_interval"] == "30s"
    # No "$" in the scrape config: the collector would read it as an environment variable.
    assert "$" not in json.dumps(job)
    assert config["service"]["pipelines"]["metrics/mesh"]["exporters"] == ["prometheusremotewrite/mimir"]
    assert config["exporters"]["prometheusremotewrite/mimir"]["endpoint"] == "http://mimir-distributor.monitoring.svc:8080/api/v1/push"
    assert collector["clusterRole"]["create"] is True
    pipeline_references_are_defined(config)


# --- Spec problems ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("changes, message", [
    ({"instrumentation": {"languages": ["java", "rust"]}}, "eks_lgtm_instrumentation.languages: unknown 'rust'; allowed: java"),
    ({"instrumentation": {"sampler": "sometimes"}}, "eks_lgtm_instrumentation.sampler: unknown sampler 'sometimes'"),
    ({"instrumentation": {"propagators": "tracecontext"}}, "eks_lgtm_instrumentation.propagators: must be a list of"),
    ({"instrumentation": {"nmae": "x"}}, "eks_lgtm_instrumentation: unknown key nmae (did you mean name?)"),
    ({"instrumentation": {"operator_version": "latest"}}, "eks_lgtm_instrumentation.operator_version: must be a chart version"),
    ({"scrape": {"hubble": "yes"}}, "eks_lgtm_scrape.hubble: must be true or false (got 'yes')"),
    ({"scrape": {"interval": "30"}}, "eks_lgtm_scrape.interval: must be seconds or minutes"),
    ({"scrape": {"ztunnel": True}, "components": ["loki", "tempo", "otel_collector", "grafana"], "instrumentation": {"enabled": True}},
     "eks_lgtm_scrape: the collector scrapes and Mimir stores these metrics"),
    ({"dashboards": "on"}, "eks_lgtm_dashboards: must be true or false"),
    ({"argocd": {"server": "kubernetes.default.svc"}}, "eks_lgtm_argocd.server: must be the https:// URL"),
    ({"argocd": {"namespace": "Argo CD"}}, "eks_lgtm_argocd.namespace: must be a Kubernetes name"),
])
def test_bad_lab_settings_are_named_by_the_role_variable(changes, message):
    with pytest.raises(AnsibleFilterError) as error:
        eks_filter.eks_lgtm_values(dict(SPEC, **changes), role=True)
    assert message in str(error.value), str(error.value)


# --- Dashboards and runbook -----------------------------------------------------------------------------------


def all_dashboards():
    return dash.dashboards(spec(**copy.deepcopy(EVERYTHING)))


def promtool_check(queries, tmp_path):
    """Runs ``promtool check rules`` on one recording rule per query; returns the process."""
    rules = {"groups": [{"name": "lab", "rules": [{"record": "lab:query_%d" % i, "expr": q} for i, q in enumerate(queries)]}]}
    path = tmp_path / "lab-queries.rules.yml"
    path.write_text(yaml.safe_dump(rules, width=1000))
    return subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, timeout=60, check=False)


def dashboard_promql():
    return sorted(set(dash.explore(expr) for board in all_dashboards().values() for language, expr in dash.panel_queries(board)
                      if language == "promql"))


def test_dashboards_show_the_labs_views():
    boards = all_dashboards()
    assert sorted(boards) == ["lgtm-lab-http.json", "lgtm-lab-logs.json", "lgtm-lab-network.json", "lgtm-lab-service-graph.json"]
    kinds = dict((name, {(p["type"], p["title"]) for p in board["panels"]}) for name, board in boards.items())
    assert ("timeseries", dash.BY_KEY["error_rate"].title) in kinds["lgtm-lab-http.json"]
    assert {("timeseries", dash.BY_KEY[k].title) for k in ("latency_p50", "latency_p95", "latency_p99")} <= kinds["lgtm-lab-http.json"]
    assert ("timeseries", "Log volume by level") in kinds["lgtm-lab-logs.json"]
    assert ("nodeGraph", "Service graph") in kinds["lgtm-lab-service-graph.json"]
    assert len({board["uid"] for board in boards.values()}) == len(boards)
    for board in boards.values():
        assert [p["id"] for p in board["panels"]] == list(range(1, len(board["panels"]) + 1))
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] in {"mimir", "loki", "tempo"}
    # Without the scrapes there is no network dashboard, without Loki no logs dashboard.
    assert "lgtm-lab-network.json" not in dash.dashboards(spec())
    assert "lgtm-lab-logs.json" not in dash.dashboards(spec(components=["mimir", "tempo", "otel_collector", "grafana"]))


def test_grafana_provisions_the_dashboards_from_its_values():
    grafana = eks_filter.eks_lgtm_values(dict(SPEC))["grafana"]
    provider = grafana["dashboardProviders"]["dashboardproviders.yaml"]["providers"][0]
    # The chart mounts dashboards.<provider> at /var/lib/grafana/dashboards/<provider>.
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards/" + provider["name"]
    inline = grafana["dashboards"][provider["name"]]
    assert sorted(inline) == sorted(name[:-5] for name in dash.dashboards(spec()))
    assert all(json.loads(entry["json"])["uid"] == name for name, entry in inline.items())
    assert "dashboards" not in eks_filter.eks_lgtm_values(dict(SPEC, dashboards=False))["grafana"]


def test_every_dashboard_metric_is_one_the_pipeline_writes():
    produced = dash.produced_metrics(spec(**copy.deepcopy(EVERYTHING)))
    for query in dashboard_promql():
        names = dash.metric_names(query)
        assert names and names <= produced, (query, names - produced)


def test_the_metric_check_catches_a_name_the_pipeline_does_not_write():
    # A common mistake: Tempo's span-metrics histogram is traces_spanmetrics_latency, not ..._duration_seconds.
    names = dash.metric_names('histogram_quantile(0.9, sum by (le) (rate(traces_spanmetrics_duration_seconds_bucket{service="a"}[5m])))')
    assert names == {"traces_spanmetrics_duration_seconds_bucket"}
    assert not names <= dash.produced_metrics(spec(**copy.deepcopy(EVERYTHING)))
    # Hubble's metrics are only produced with its scrape on.
    assert "hubble_drop_total" not in dash.produced_metrics(spec())


@needs_promtool
def test_promtool_parses_every_dashboard_query(tmp_path):
    result = promtool_check(dashboard_promql(), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: %d rules found" % len(dashboard_promql()) in result.stdout


@needs_promtool
def test_promtool_rejects_a_broken_query(tmp_path):
    result = promtool_check(["sum by (service) (rate(traces_spanmetrics_calls_total[5m])"], tmp_path)
    assert result.returncode != 0


def runbook_blocks(language):
    with open(RUNBOOK) as handle:
        text = handle.read()
    blocks = re.findall(r"```%s\n(.*?)```" % language, text, re.S)
    queries = []
    for block in blocks:
        # One query per paragraph; lines starting with # are comments.
        for paragraph in re.split(r"\n\s*\n", block):
            lines = [line for line in paragraph.splitlines() if line.strip() and not line.lstrip().startswith("#")]
            if lines:
                queries.append(" ".join(line.strip() for line in lines))
    return queries


def normalized(query):
    return re.sub(r"\s+", " ", query).replace("( ", "(").replace(" )", ")").strip()


def test_the_runbook_lists_every_dashboard_query_as_typed_in_explore():
    listed = {language: {normalized(q) for q in runbook_blocks(language)} for language in ("promql", "logql", "traceql")}
    for board in all_dashboards().values():
        for language, expr in dash.panel_queries(board):
            if language != "servicemap":
                assert normalized(dash.explore(expr)) in listed[language], (language, dash.explore(expr))


@needs_promtool
def test_promtool_parses_every_runbook_promql_query_and_each_reads_a_metric_of_the_pipeline(tmp_path):
    queries = runbook_blocks("promql")
    assert len(queries) >= len(dashboard_promql())
    result = promtool_check(queries, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    # Applications' own OTLP metrics (with Mimir's Prometheus suffixes) are produced once they are instrumented.
    produced = dash.produced_metrics(spec(**copy.deepcopy(EVERYTHING))) | dash.APPLICATION_METRICS
    for query in queries:
        names = dash.metric_names(query)
        assert names and names <= produced, (query, names - produced)


def test_runbook_logql_and_traceql_queries_are_well_formed():
    for query in runbook_blocks("logql"):
        assert query.count("{") == query.count("}") and query.count("(") == query.count(")"), query
        selectors = re.findall(r"\{([^}]*)\}", query)
        assert selectors, query
        labels = set(re.findall(r"([a-z0-9_]+)\s*=~?", selectors[0]))
        assert labels and labels <= dash.LOKI_LABELS, (query, labels - dash.LOKI_LABELS)
    for query in runbook_blocks("traceql"):
        assert query.startswith("{") and query.count("{") == query.count("}"), query
