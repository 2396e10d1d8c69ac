"""One spec, five Helm values files: the keys each pinned chart reads, S3 mode, correlation, bad specs."""
import copy
import os

import pytest
import yaml

from ansible_collections.lgtm.aws.plugins.plugin_utils import eks_values as ev

CHARTS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "charts")
ACCOUNT = "123456789012"
SPEC = {
    "cluster": {"name": "aws-rag-prod", "region": "ap-northeast-2"},
    "buckets": {"loki": "aws-rag-prod-loki", "mimir_blocks": "aws-rag-prod-mimir-blocks", "mimir_alertmanager": "aws-rag-prod-mimir-alertmanager",
                "mimir_ruler": "aws-rag-prod-mimir-ruler", "tempo": "aws-rag-prod-tempo"},
    "irsa_roles": dict((c, {"arn": "arn:aws:iam::%s:role/aws-rag-prod-%s-irsa" % (ACCOUNT, c), "service_account": c, "namespace": "monitoring"})
                       for c in ("loki", "mimir", "tempo")),
    "ingress": {"host": "grafana.internal.example.com", "security_groups": ["sg-0123456789abcdef0"],
                "certificate_arn": "arn:aws:acm:ap-northeast-2:%s:certificate/0f1e2d3c-aaaa-bbbb-cccc-111122223333" % ACCOUNT},
}
# Maps the charts pass on whole to the application's own configuration (their keys are the application's,
# not the chart's): checked by the application-level tests below instead.
ANNOTATIONS = "serviceAccount.annotations."
FREE_FORM = {
    "loki": ("loki.schemaConfig.", "loki.limits_config.", "loki.compactor.", ANNOTATIONS),
    "mimir": ("mimir.structuredConfig.", ANNOTATIONS),
    "tempo": ("storage.trace.s3.", "overrides.defaults.", "metricsGenerator.config.storage.", "metricsGenerator.config.processor.", ANNOTATIONS),
    "otel-collector": ("config.",),
    "grafana": ("datasources.", "ingress.annotations."),
}
CHART_FILES = {"loki": "loki-6.27.0", "mimir": "mimir-distributed-6.0.5", "tempo": "tempo-distributed-1.60.0",
               "otel-collector": "opentelemetry-collector-0.143.0", "grafana": "grafana-10.5.5"}
# What the collector chart's default config (values.yaml at 0.143.0) already defines and merges with ours.
COLLECTOR_DEFAULTS = {"receivers": {"jaeger", "otlp", "prometheus", "zipkin"}, "processors": {"batch", "memory_limiter"}, "exporters": {"debug"}}
# Exporter types shipped in otelcol-contrib 0.143.0 that this stack may use (the `loki` exporter is not one).
CONTRIB_0_143_EXPORTERS = {"otlp", "otlphttp", "prometheusremotewrite", "debug"}


def spec(**changes):
    data = copy.deepcopy(SPEC)
    data.update(changes)
    return ev.validate(data)


def rendered(**changes):
    return ev.values(spec(**changes))


def key_paths(node, prefix=""):
    for key, value in node.items():
        path = "%s.%s" % (prefix, key) if prefix else key
        yield path
        if isinstance(value, dict):
            yield from key_paths(value, path)


def unread_keys(release, values):
    with open(os.path.join(CHARTS, CHART_FILES[release] + ".keys.yaml")) as handle:
        known = set(yaml.safe_load(handle)["keys"])
    return [path for path in key_paths(values) if path not in known and not path.startswith(FREE_FORM[release])]


@pytest.mark.parametrize("release", sorted(CHART_FILES))
def test_values_use_only_keys_the_pinned_chart_reads(release):
    assert unread_keys(release, rendered()[release]) == [], CHART_FILES[release]


def test_the_key_check_catches_what_a_chart_ignores():
    # The seed sets global.storageClass for Loki; loki 6.27.0 reads no such key (storage classes are per target).
    loki = dict(rendered()["loki"], **{"global": {"storageClass": "gp3"}})
    assert unread_keys("loki", loki) == ["global.storageClass"]


def test_every_chart_key_file_is_for_the_pinned_version():
    for component, (release, chart, _repo, version, _order) in ev.RELEASES.items():
        with open(os.path.join(CHARTS, "%s-%s.keys.yaml" % (chart, version))) as handle:
            data = yaml.safe_load(handle)
        assert (data["chart"], data["version"]) == (chart, version), component


def test_loki_distributed_on_s3_with_tsdb_v13():
    loki = rendered(loki_chunks_cache_mb=512)["loki"]
    assert loki["deploymentMode"] == "Distributed"
    assert loki["loki"]["schemaConfig"]["configs"][0] == {"from": "2024-04-01", "store": "tsdb", "object_store": "s3", "schema": "v13",
                                                          "index": {"prefix": "loki_index_", "period": "24h"}}
    storage = loki["loki"]["storage"]
    assert storage["type"] == "s3" and storage["s3"]["region"] == "ap-northeast-2"
    assert set(storage["bucketNames"].values()) == {"aws-rag-prod-loki"} and set(storage["bucketNames"]) == {"chunks", "ruler", "admin"}
    assert all(loki[target]["replicas"] == 0 for target in ("backend", "read", "write", "singleBinary"))
    assert loki["chunksCache"]["allocatedMemory"] == 512
    assert loki["loki"]["auth_enabled"] is False and loki["minio"]["enabled"] is False
    assert loki["loki"]["limits_config"]["retention_period"] == "8760h" and loki["loki"]["compactor"]["retention_enabled"] is True
    assert loki["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(":role/aws-rag-prod-loki-irsa")
    assert loki["ingester"]["persistence"]["claims"][0]["storageClass"] == "gp3"


def test_mimir_on_s3_with_irsa_and_no_minio_or_kafka():
    mimir = rendered()["mimir"]
    config = mimir["mimir"]["structuredConfig"]
    assert config["common"]["storage"] == {"backend": "s3", "s3": {"endpoint": "s3.ap-northeast-2.amazonaws.com", "region": "ap-northeast-2"}}
    assert config["blocks_storage"]["s3"]["bucket_name"] == "aws-rag-prod-mimir-blocks"
    assert config["alertmanager_storage"]["s3"]["bucket_name"] == "aws-rag-prod-mimir-alertmanager"
    assert config["ruler_storage"]["s3"]["bucket_name"] == "aws-rag-prod-mimir-ruler"
    assert all(config[key]["backend"] == "s3" for key in ("blocks_storage", "alertmanager_storage", "ruler_storage"))
    assert config["ingest_storage"] == {"enabled": False} and config["ingester"]["push_grpc_method_enabled"] is True
    assert mimir["minio"] == {"enabled": False} and mimir["kafka"] == {"enabled": False}
    assert mimir["rollout_operator"] == {"enabled": False} and mimir["ingester"]["zoneAwareReplication"] == {"enabled": False}
    assert config["limits"]["compactor_blocks_retention_period"] == "8760h"
    assert "access_key_id" not in yaml.safe_dump(mimir)


def test_zone_awareness_and_replication_follow_the_spec():
    replicas = {"mimir": {"ingester": 3, "store_gateway": 3}, "loki": {"ingester": 3}, "tempo": {"ingester": 3}}
    values = rendered(zone_aware=True, replication_factor=3, replicas=replicas)
    mimir = values["mimir"]
    assert mimir["rollout_operator"] == {"enabled": True}
    assert mimir["ingester"]["zoneAwareReplication"] == {"enabled": True} and mimir["ingester"]["replicas"] == 3
    assert mimir["mimir"]["structuredConfig"]["ingester"]["ring"] == {"replication_factor": 3, "zone_awareness_enabled": True}
    assert values["loki"]["loki"]["commonConfig"]["replication_factor"] == 3
    assert values["tempo"]["ingester"]["config"]["replication_factor"] == 3


def test_tempo_on_s3_with_otlp_and_the_metrics_generator_writing_to_mimir():
    tempo = rendered(tenancy={"enabled": True, "tenant": "aws-rag-ec2"})["tempo"]
    assert tempo["storage"]["trace"] == {"backend": "s3", "s3": {
        "bucket": "aws-rag-prod-tempo", "endpoint": "s3.ap-northeast-2.amazonaws.com", "region": "ap-northeast-2"}}
    assert tempo["traces"]["otlp"] == {"grpc": {"enabled": True}, "http": {"enabled": True}}
    generator = tempo["metricsGenerator"]
    assert generator["enabled"] is True
    assert generator["config"]["storage"]["remote_write"] == [{"url": "http://mimir-distributor.monitoring.svc:8080/api/v1/push",
                                                               "send_exemplars": True, "headers": {"X-Scope-OrgID": "aws-rag-ec2"}}]
    assert tempo["overrides"]["defaults"]["metrics_generator"]["processors"] == ["service-graphs", "span-metrics"]
    assert tempo["compactor"]["config"]["compaction"]["block_retention"] == "168h"
    assert tempo["multitenancyEnabled"] is True and tempo["minio"] == {"enabled": False}


def test_collector_pipelines_are_complete_and_use_exporters_contrib_0_143_has():
    collector = rendered()["otel-collector"]
    assert collector["mode"] == "deployment" and collector["image"]["repository"] == "otel/opentelemetry-collector-contrib"
    config = collector["config"]
    defined = dict((kind, COLLECTOR_DEFAULTS[kind] | set(k for k, v in config.get(kind, {}).items() if v is not None))
                   for kind in ("receivers", "processors", "exporters"))
    pipelines = config["service"]["pipelines"]
    assert set(pipelines) == {"traces", "metrics", "logs"}
    for name, pipeline in pipelines.items():
        assert pipeline["receivers"] and pipeline["exporters"], name
        for kind in ("receivers", "processors", "exporters"):
            missing = set(pipeline.get(kind, [])) - defined[kind]
            assert not missing, "%s pipeline refers to undefined %s %s" % (name, kind, missing)
    assert {name.split("/")[0] for name in config["exporters"]} <= CONTRIB_0_143_EXPORTERS
    assert config["exporters"]["otlphttp/loki"]["endpoint"] == "http://loki-distributor.monitoring.svc:3100/otlp"
    assert pipelines["traces"]["exporters"] == ["otlp/tempo"] and "tail_sampling" in pipelines["traces"]["processors"]


def test_tail_sampling_keeps_errors_and_slow_traces_and_a_share_of_the_rest():
    policies = rendered(sampling={"latency_threshold_ms": 1500, "percentage": 5})["otel-collector"]["config"]["processors"]["tail_sampling"]["policies"]
    assert policies == [
        {"name": "errors", "type": "status_code", "status_code": {"status_codes": ["ERROR"]}},
        {"name": "slow", "type": "latency", "latency": {"threshold_ms": 1500}},
        {"name": "sample-rest", "type": "probabilistic", "probabilistic": {"sampling_percentage": 5}},
    ]


def test_datasources_correlate_logs_traces_and_metrics():
    provisioning = rendered()["grafana"]["datasources"]["datasources.yaml"]
    assert provisioning["apiVersion"] == 1
    by_uid = dict((source["uid"], source) for source in provisioning["datasources"])
    assert set(by_uid) == {"mimir", "loki", "tempo"}
    assert [uid for uid, source in by_uid.items() if source["isDefault"]] == ["mimir"]
    assert by_uid["mimir"]["jsonData"]["exemplarTraceIdDestinations"] == [{"name": "trace_id", "datasourceUid": "tempo"}]
    derived = by_uid["loki"]["jsonData"]["derivedFields"][0]
    assert derived["datasourceUid"] == "tempo" and derived["url"] == "$${__value.raw}"
    tempo = by_uid["tempo"]["jsonData"]
    assert tempo["tracesToLogsV2"]["datasourceUid"] == "loki" and tempo["tracesToMetrics"]["datasourceUid"] == "mimir"
    assert tempo["serviceMap"] == {"datasourceUid": "mimir"}
    assert all(source["access"] == "proxy" and source["type"] in ("prometheus", "loki", "tempo") for source in by_uid.values())
    assert not any("secureJsonData" in source for source in by_uid.values())


def test_tenant_headers_on_every_datasource_when_multi_tenancy_is_on():
    provisioning = rendered(tenancy={"enabled": True, "tenant": "aws-rag-ec2"})["grafana"]["datasources"]["datasources.yaml"]
    for source in provisioning["datasources"]:
        assert source["jsonData"]["httpHeaderName1"] == "X-Scope-OrgID"
        assert source["secureJsonData"] == {"httpHeaderValue1": "aws-rag-ec2"}


def test_grafana_admin_password_comes_from_a_secret_and_the_ingress_is_an_internal_alb():
    grafana = rendered()["grafana"]
    assert grafana["admin"] == {"existingSecret": "grafana-admin", "userKey": "admin-user", "passwordKey": "admin-password"}
    assert "adminPassword" not in grafana
    ingress = grafana["ingress"]
    assert ingress["ingressClassName"] == "alb" and ingress["hosts"] == ["grafana.internal.example.com"]
    annotations = ingress["annotations"]
    assert annotations["alb.ingress.kubernetes.io/scheme"] == "internal"
    assert annotations["alb.ingress.kubernetes.io/security-groups"] == "sg-0123456789abcdef0"
    assert annotations["alb.ingress.kubernetes.io/certificate-arn"].startswith("arn:aws:acm:")
    assert annotations["alb.ingress.kubernetes.io/listen-ports"] == '[{"HTTPS": 443}]'


def test_scale_is_a_spec_change():
    values = rendered(replicas={"loki": {"querier": 4}, "tempo": {"distributor": 2}},
                      resources={"mimir": {"ingester": {"requests": {"cpu": "1", "memory": "4Gi"}}}})
    assert values["loki"]["querier"]["replicas"] == 4 and values["tempo"]["distributor"]["replicas"] == 2
    assert values["mimir"]["ingester"]["resources"] == {"requests": {"cpu": "1", "memory": "4Gi"}}


def test_plan_installs_backends_first_at_pinned_versions():
    plan = ev.plan(spec(versions={"grafana": "10.6.0"}))
    assert [(r["order"], r["release"]) for r in plan["releases"]] == [
        (1, "loki"), (1, "mimir"), (1, "tempo"), (2, "otel-collector"), (3, "grafana")]
    versions = dict((r["chart"], r["version"]) for r in plan["releases"])
    assert versions == {"loki": "6.27.0", "mimir-distributed": "6.0.5", "tempo-distributed": "1.60.0",
                        "opentelemetry-collector": "0.143.0", "grafana": "10.6.0"}
    assert all(r["namespace"] == "monitoring" and r["values_file"] == r["release"] + ".values.yaml" for r in plan["releases"])


def test_components_can_be_dropped():
    values = ev.values(spec(components=["tempo", "otel_collector"], buckets={"tempo": "t"}, irsa_roles={"tempo": SPEC["irsa_roles"]["tempo"]}))
    assert set(values) == {"tempo", "otel-collector"}
    assert set(values["otel-collector"]["config"]["service"]["pipelines"]) == {"traces"}


def without(path):
    data = copy.deepcopy(SPEC)
    node = data
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return data


@pytest.mark.parametrize("data, message", [
    (dict(SPEC, components=["loki", "prometheus"]), "components: unknown component 'prometheus'; allowed: loki, mimir, tempo, otel_collector, grafana"),
    (dict(SPEC, replicas={"loki": {"querier": 0}}), "replicas.loki.querier: must be a whole number of 1 or more"),
    (dict(SPEC, replicas={"loki": {"ingestor": 2}}), "replicas.loki: unknown key ingestor"),
    (dict(SPEC, retention={"traces": "1h"}), "retention.traces: 1h is shorter than the compaction window (2h)"),
    (dict(SPEC, retention={"logs": "12h"}), "retention.logs: 12h is shorter than the compaction window (24h)"),
    (dict(SPEC, retention={"logs": "36h"}), "retention.logs: must be a multiple of Loki's 24h index period"),
    (dict(SPEC, retention={"metrics": "forever"}), "retention.metrics: must be a duration"),
    (without(("buckets", "mimir_ruler")), "buckets.mimir_ruler: is required because mimir is enabled"),
    (without(("irsa_roles", "tempo")), "irsa_roles.tempo.arn: must be an IAM role ARN"),
    (dict(SPEC, tenancy={"enabled": True}), "tenancy.tenant: is required when tenancy is enabled"),
    (without(("cluster", "region")), "cluster.region: is required"),
    (dict(SPEC, namespace="Monitoring"), "namespace: must be a Kubernetes name"),
    (dict(SPEC, replication_factor=3), "replicas.loki.ingester: must be at least replication_factor (3)"),
    (dict(SPEC, versions={"loki": "latest"}), "versions.loki: must be a chart version"),
    (dict(SPEC, ingress={"host": "g", "security_groups": ["default"]}), "ingress.security_groups: 'default' is not a security group ID"),
    (dict(SPEC, ingress={"host": "g", "certificate_arn": "arn:aws:iam::1:server-certificate/x"}), "ingress.certificate_arn: must be an ACM certificate ARN"),
    (dict(SPEC, ingress={"host": ""}), "ingress.host: is required when the Grafana ingress is enabled"),
    (dict(SPEC, loki_chunks_cache_mb=8), "loki_chunks_cache_mb: must be a whole number of MB, 64 or more"),
    (dict(SPEC, sampling={"percentage": 120}), "sampling.percentage: must be between 0 and 100"),
    (dict(SPEC, surprise=True), "spec: unknown key surprise"),
    (dict(SPEC, namespace="observability"), "irsa_roles.loki.namespace: the role trusts service accounts in 'monitoring'"),
])
def test_bad_specs_fail_naming_the_field(data, message):
    with pytest.raises(ev.SpecError) as error:
        ev.validate(data)
    assert message in str(error.value)
