"""One spec, five Helm values files: S3 mode, correlation, both chart sets, bad specs (the keys each chart reads: test_eks_chart_keys.py)."""
import copy
import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.lgtm.aws.plugins.filter import eks_lgtm as eks_filter
from ansible_collections.lgtm.aws.plugins.plugin_utils import eks_values as ev
from ansible_collections.lgtm.aws.plugins.plugin_utils.spec_checks import format_problem
from eks_chart_keys import SPEC  # tests/eks_chart_keys.py  pylint: disable=wrong-import-order

# What the collector chart's default config (values.yaml at 0.143.0) already defines and merges with ours.
COLLECTOR_DEFAULTS = {"receivers": {"jaeger", "otlp", "prometheus", "zipkin"}, "processors": {"batch", "memory_limiter"}, "exporters": {"debug"}}
# Exporter types this stack may use as each set's otelcol-contrib names them (the `loki` exporter is in neither):
# 0.143 (seed), and the collector of chart 0.170 (contrib 0.158), which renamed otlp/otlphttp to otlp_grpc/otlp_http.
CONTRIB_EXPORTERS = {"seed": {"otlp", "otlphttp", "prometheusremotewrite", "debug"},
                     "current": {"otlp_grpc", "otlp_http", "debug"}}


def spec(**changes):
    data = copy.deepcopy(SPEC)
    data.update(changes)
    return ev.validate(data)


def rendered(**changes):
    return ev.values(spec(**changes))


def test_loki_distributed_on_s3_with_tsdb_v13():
    loki = rendered(loki_chunks_cache_mb=512)["loki"]
    assert loki["deploymentMode"] == "Distributed"
    assert loki["loki"]["schemaConfig"]["configs"][0] == {"from": "2024-04-01", "store": "tsdb", "object_store": "s3", "schema": "v13",
                                                          "index": {"prefix": "loki_index_", "period": "24h"}}
    storage = loki["loki"]["storage"]
    assert storage["type"] == "s3" and storage["s3"]["region"] == "eu-west-1"
    assert set(storage["bucketNames"].values()) == {"acme-prod-loki"} and set(storage["bucketNames"]) == {"chunks", "ruler", "admin"}
    assert all(loki[target]["replicas"] == 0 for target in ("backend", "read", "write", "singleBinary"))
    assert loki["chunksCache"]["allocatedMemory"] == 512
    assert loki["loki"]["auth_enabled"] is False and loki["minio"]["enabled"] is False
    assert loki["loki"]["limits_config"]["retention_period"] == "8760h" and loki["loki"]["compactor"]["retention_enabled"] is True
    assert loki["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(":role/acme-prod-loki-irsa")
    assert loki["ingester"]["persistence"]["claims"][0]["storageClass"] == "gp3"


def test_mimir_on_s3_with_irsa_and_no_minio_or_kafka():
    mimir = rendered()["mimir"]
    config = mimir["mimir"]["structuredConfig"]
    assert config["common"]["storage"] == {"backend": "s3", "s3": {"endpoint": "s3.eu-west-1.amazonaws.com", "region": "eu-west-1"}}
    assert config["blocks_storage"]["s3"]["bucket_name"] == "acme-prod-mimir-blocks"
    assert config["alertmanager_storage"]["s3"]["bucket_name"] == "acme-prod-mimir-alertmanager"
    assert config["ruler_storage"]["s3"]["bucket_name"] == "acme-prod-mimir-ruler"
    assert all(config[key]["backend"] == "s3" for key in ("blocks_storage", "alertmanager_storage", "ruler_storage"))
    # As the chart's classic-architecture.yaml preset: ingest storage off, the Kafka-sized settings deleted (null).
    assert config["ingest_storage"] == {"enabled": False, "kafka": {"address": None, "topic": None, "auto_create_topic_default_partitions": None}}
    assert config["distributor"] == {"remote_timeout": None} and config["ingester"]["push_grpc_method_enabled"] is None
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
    tempo = rendered(tenancy={"enabled": True, "tenant": "acme-platform"})["tempo"]
    assert tempo["storage"]["trace"] == {"backend": "s3", "s3": {
        "bucket": "acme-prod-tempo", "endpoint": "s3.eu-west-1.amazonaws.com", "region": "eu-west-1"}}
    assert tempo["traces"]["otlp"] == {"grpc": {"enabled": True}, "http": {"enabled": True}}
    generator = tempo["metricsGenerator"]
    assert generator["enabled"] is True
    assert generator["config"]["storage"]["remote_write"] == [{"url": "http://mimir-distributor.monitoring.svc:8080/api/v1/push",
                                                               "send_exemplars": True, "headers": {"X-Scope-OrgID": "acme-platform"}}]
    assert tempo["overrides"]["defaults"]["metrics_generator"]["processors"] == ["service-graphs", "span-metrics"]
    assert tempo["compactor"]["config"]["compaction"]["block_retention"] == "168h"
    assert tempo["multitenancyEnabled"] is True and tempo["minio"] == {"enabled": False}


@pytest.mark.parametrize("chart_set, grpc, http", [("seed", "otlp", "otlphttp"), ("current", "otlp_grpc", "otlp_http")])
def test_collector_pipelines_are_complete_and_use_exporters_the_set_s_contrib_has(chart_set, grpc, http):
    collector = rendered(chart_set=chart_set)["otel-collector"]
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
    assert {name.split("/")[0] for name in config["exporters"]} <= CONTRIB_EXPORTERS[chart_set]
    assert config["exporters"][http + "/loki"]["endpoint"] == "http://loki-distributor.monitoring.svc:3100/otlp"
    assert pipelines["traces"]["exporters"] == [grpc + "/tempo"] and "tail_sampling" in pipelines["traces"]["processors"]


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
    # Tempo's metrics generator labels exemplars traceID; OTLP metrics from applications carry trace_id.
    assert by_uid["mimir"]["jsonData"]["exemplarTraceIdDestinations"] == [{"name": "traceID", "datasourceUid": "tempo"},
                                                                          {"name": "trace_id", "datasourceUid": "tempo"}]
    derived = by_uid["loki"]["jsonData"]["derivedFields"][0]
    assert derived["datasourceUid"] == "tempo" and derived["url"] == "$${__value.raw}"
    tempo = by_uid["tempo"]["jsonData"]
    assert tempo["tracesToLogsV2"]["datasourceUid"] == "loki" and tempo["tracesToMetrics"]["datasourceUid"] == "mimir"
    assert tempo["serviceMap"] == {"datasourceUid": "mimir"}
    assert all(source["access"] == "proxy" and source["type"] in ("prometheus", "loki", "tempo") for source in by_uid.values())
    assert not any("secureJsonData" in source for source in by_uid.values())


def test_tenant_headers_on_every_datasource_when_multi_tenancy_is_on():
    provisioning = rendered(tenancy={"enabled": True, "tenant": "acme-platform"})["grafana"]["datasources"]["datasources.yaml"]
    for source in provisioning["datasources"]:
        assert source["jsonData"]["httpHeaderName1"] == "X-Scope-OrgID"
        assert source["secureJsonData"] == {"httpHeaderValue1": "acme-platform"}


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


def test_the_current_set_installs_the_newest_charts_from_their_new_repositories():
    plan = ev.plan(spec(chart_set="current", repositories={"mimir": "oci://registry.example.com/charts"}))
    charts = dict((r["chart"], (r["repository"], r["version"])) for r in plan["releases"])
    assert charts == {"loki": ("https://grafana-community.github.io/helm-charts", "18.11.0"),
                      "mimir-distributed": ("oci://registry.example.com/charts", "6.2.0"),
                      "tempo-distributed": ("https://grafana-community.github.io/helm-charts", "2.26.2"),
                      "opentelemetry-collector": ("https://open-telemetry.github.io/opentelemetry-helm-charts", "0.170.0"),
                      "grafana": ("https://grafana-community.github.io/helm-charts", "12.11.1")}
    assert (plan["chart_set"], plan["kubernetes_minimum"]) == ("current", "1.32")
    assert ev.plan(spec())["chart_set"] == "seed" and ev.plan(spec())["kubernetes_minimum"] == "1.29"
    # tempo-distributed 3 needs a Kafka-compatible broker: the current set stays on 2.x.
    assert ev.CHART_SETS["current"]["charts"]["tempo"][1].startswith("2.")


@pytest.mark.parametrize("chart_set, eks_version", [("seed", "1.29"), ("seed", "1.33"), ("current", "1.32"), ("current", "1.34"),
                                                    ("current", "")])
def test_a_cluster_new_enough_for_the_set_passes(chart_set, eks_version):
    assert spec(chart_set=chart_set, eks_version=eks_version)["chart_set"] == chart_set


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
    (without(("buckets", "mimir_ruler")), "buckets.mimir_ruler: missing, and mimir is enabled: lgtm.aws.storage"),
    (without(("irsa_roles", "tempo")), "irsa_roles.tempo: missing, and tempo is enabled: lgtm.aws.identity"),
    (dict(SPEC, irsa_roles=dict(SPEC["irsa_roles"], tempo={"arn": "tempo-role"})), "irsa_roles.tempo.arn: must be an IAM role ARN"),
    (dict(SPEC, tenancy={"enabled": True}), "tenancy.tenant: is required when tenancy is enabled"),
    (without(("cluster", "region")), "cluster.region: is required"),
    (dict(SPEC, namespace="Monitoring"), "namespace: must be a Kubernetes name"),
    (dict(SPEC, replication_factor=3), "replicas.loki.ingester: must be at least replication_factor (3)"),
    (dict(SPEC, versions={"loki": "latest"}), "versions.loki: must be a chart version"),
    (dict(SPEC, chart_set="newest"), "chart_set: unknown chart set 'newest'; allowed: seed, current"),
    (dict(SPEC, chart_set="current", eks_version="1.31"),
     "eks_version: Kubernetes 1.31 is older than chart set 'current' needs: 1.32 or newer (mimir-distributed 6.2)"),
    (dict(SPEC, eks_version="1.28"), "eks_version: Kubernetes 1.28 is older than chart set 'seed' needs: 1.29 or newer"),
    (dict(SPEC, eks_version="1.3x"), "eks_version: must be a Kubernetes minor version such as 1.32 (got '1.3x')"),
    (dict(SPEC, eks_version=1.3), "eks_version: must be a Kubernetes minor version written as a string such as '1.30' (got 1.3"),
    (dict(SPEC, eks_version="1.3"), "eks_version: must be a Kubernetes minor version written as a string such as '1.30' (got '1.3'"),
    (dict(SPEC, repositories={"grafana": "grafana-community"}), "repositories.grafana: must be a chart repository URL"),
    (dict(SPEC, repositories={"prometheus": "https://example.com"}), "repositories: unknown key prometheus"),
    (dict(SPEC, ingress={"host": "g", "security_groups": ["default"]}), "ingress.security_groups: 'default' is not a security group ID"),
    (dict(SPEC, ingress={"host": "g", "certificate_arn": "arn:aws:iam::1:server-certificate/x"}), "ingress.certificate_arn: must be an ACM certificate ARN"),
    (dict(SPEC, ingress={"host": ""}), "ingress.host: is required when the Grafana ingress is enabled"),
    (dict(SPEC, loki_chunks_cache_mb=8), "loki_chunks_cache_mb: must be a whole number of MB, 64 or more"),
    (dict(SPEC, sampling={"percentage": 120}), "sampling.percentage: must be a number between 0 and 100"),
    (dict(SPEC, surprise=True), "spec: unknown key surprise"),
    (dict(SPEC, namespace="observability"),
     "irsa_roles.loki.namespace: the role trusts service accounts in namespace 'monitoring', but namespace is 'observability'"),
    (dict(SPEC, cluster={"name": "acme prod", "region": "eu-west-1"}), "cluster.name: must be an EKS cluster name"),
    (dict(SPEC, cluster={"name": "acme-prod", "region": "Ireland"}), "cluster.region: must be an AWS region such as eu-west-1 (got 'Ireland')"),
    (dict(SPEC, components=[]), "components: must list at least one of loki, mimir, tempo, otel_collector, grafana"),
    (dict(SPEC, storage_class="GP3 SSD"), "storage_class: must be a storage class name"),
    (dict(SPEC, volume_size="10 GB"), "volume_size: must be a Kubernetes quantity such as 10Gi (got '10 GB')"),
    (dict(SPEC, zone_aware="no"), "zone_aware: must be true or false (got 'no')"),
    (dict(SPEC, replication_factor=0), "replication_factor: must be a whole number of 1 or more (got 0)"),
    (dict(SPEC, resources={"mimir": {"ingester": {"request": {"cpu": "1"}}}}),
     "resources.mimir.ingester: unknown key request (did you mean requests?)"),
    (dict(SPEC, tenancy={"enabled": "yes", "tenant": "acme"}), "tenancy.enabled: must be true or false (got 'yes')"),
    (dict(SPEC, tenancy={"enabled": True, "tenant": "acme platform"}), "tenancy.tenant: must be 1-150 letters"),
    (dict(SPEC, ingress={"host": "grafana example"}), "ingress.host: must be a host name such as grafana.example.com"),
    (dict(SPEC, ingress={"host": "g", "scheme": "public"}), "ingress.scheme: must be internal or internet-facing (got 'public')"),
    (dict(SPEC, ingress={"host": "g", "security_groups": "sg-0123456789abcdef0"}), "ingress.security_groups: must be a list"),
    (dict(SPEC, sampling={"percentage": "ten"}), "sampling.percentage: must be a number between 0 and 100 (got 'ten')"),
    (dict(SPEC, sampling={"latency_threshold_ms": 0}), "sampling.latency_threshold_ms: must be a whole number of 1 or more"),
    (dict(SPEC, grafana_admin_secret={"name": "Grafana_Admin"}), "grafana_admin_secret.name: must be a Secret name"),
    (dict(SPEC, grafana_admin_secret={"password_key": "pass word"}), "grafana_admin_secret.password_key: must be a Secret key"),
    (dict(SPEC, retention="7d"), "retention: must be a mapping, got str"),
    (dict(SPEC, buckets=dict(SPEC["buckets"], loki={"bucket": "x"})), "buckets.loki: must be a bucket name"),
    (dict(SPEC, irsa_roles=dict(SPEC["irsa_roles"], loki=dict(SPEC["irsa_roles"]["loki"], service_account="Loki"))),
     "irsa_roles.loki.service_account: must be a Kubernetes name"),
    ("cluster: acme", "spec: must be a mapping, got str"),
])
def test_bad_specs_fail_naming_the_field(data, message):
    with pytest.raises(ev.SpecError) as error:
        ev.validate(data)
    assert message in str(error.value)


def problems_of(data, **options):
    with pytest.raises(ev.SpecError) as error:
        ev.validate(data, **options)
    return error.value.problems


def test_every_problem_of_a_spec_is_reported_at_once_in_the_role_variables():
    data = dict(without(("buckets", "tempo")), cluster={"name": "", "region": "eu-west-1"}, components=list(ev.COMPONENTS) + ["grafna"],
                retention={"logs": "36h", "traces": "1h"}, replicas={"loki": {"querier": 0}}, tenancy={"enabled": True, "tenant": ""},
                ingress={"host": "grafana.example.com", "scheme": "public"}, sampling={"percentage": 120}, zone_aware="yes")
    problems = problems_of(data, names=ev.role_variable)
    assert [field for field, _message in problems] == [
        "eks_lgtm_cluster_name (or lgtm_eks_cluster_name)", "eks_lgtm_components", "eks_lgtm_replicas.loki.querier", "eks_lgtm_zone_aware",
        "eks_lgtm_retention.logs", "eks_lgtm_retention.traces", "eks_lgtm_tenancy.tenant", "eks_lgtm_ingress.scheme",
        "eks_lgtm_sampling.percentage", "storage_outputs.buckets.tempo"]
    message = str(ev.SpecError(problems))
    assert "eks_lgtm_components: unknown component 'grafna' (did you mean grafana?)" in message
    assert "eks_lgtm_retention.traces: 1h is shorter than the compaction window (2h)" in message
    assert "or leave tempo out of eks_lgtm_components" in message


@pytest.mark.parametrize("field, variable", [
    ("retention.logs", "eks_lgtm_retention.logs"),
    ("cluster.name", "eks_lgtm_cluster_name (or lgtm_eks_cluster_name)"),
    ("cluster.region", "eks_lgtm_region (or lgtm_region)"),
    ("cluster", "eks_lgtm_cluster_name"),
    ("tenancy.tenant", "eks_lgtm_tenancy.tenant"),
    ("replicas.loki.querier", "eks_lgtm_replicas.loki.querier"),
    ("loki_chunks_cache_mb", "eks_lgtm_loki_chunks_cache_mb"),
    ("buckets.mimir_ruler", "storage_outputs.buckets.mimir_ruler"),
    ("irsa_roles.loki.arn", "identity_outputs.irsa_roles.loki.arn"),
])
def test_spec_fields_are_named_by_the_role_variable_they_come_from(field, variable):
    assert ev.role_variable(field) == variable


def test_unknown_keys_are_all_named_with_the_closest_known_one():
    problems = problems_of(dict(SPEC, tenancy={"enabled": True, "tenent": "acme"}, retention={"log": "30d", "trace": "7d"}),
                           names=ev.role_variable)
    assert [format_problem(*p) for p in problems][:2] == [
        "eks_lgtm_retention: unknown key log (did you mean logs?); allowed: logs, metrics, traces",
        "eks_lgtm_retention: unknown key trace (did you mean traces?); allowed: logs, metrics, traces"]
    assert "eks_lgtm_tenancy: unknown key tenent (did you mean tenant?); allowed: enabled, tenant" in [format_problem(*p) for p in problems]


def test_settings_are_checked_without_the_outputs_of_other_roles():
    settings = dict((key, value) for key, value in SPEC.items() if key not in ev.REFERENCES)
    assert ev.validate(settings, references=False)["buckets"] == {}
    problems = problems_of(settings, names=ev.role_variable)
    fields = [field for field, _message in problems]
    assert fields == ["storage_outputs.buckets.%s" % key for key in ("loki", "mimir_blocks", "mimir_alertmanager", "mimir_ruler", "tempo")] + [
        "identity_outputs.irsa_roles.%s" % component for component in ("loki", "mimir", "tempo")]
    messages = dict(problems)
    assert "lgtm.aws.storage creates this bucket when mimir is in storage_components (default: lgtm_components)" \
        in messages["storage_outputs.buckets.mimir_ruler"]
    assert "lgtm.aws.identity creates this IRSA role when tempo is in identity_components (default: lgtm_components)" \
        in messages["identity_outputs.irsa_roles.tempo"]


def test_a_component_left_out_needs_neither_bucket_nor_role():
    data = dict(SPEC, components=["loki", "otel_collector", "grafana"], buckets={"loki": "acme-prod-loki"},
                irsa_roles={"loki": SPEC["irsa_roles"]["loki"]})
    assert ev.validate(data)["components"] == ["loki", "otel_collector", "grafana"]


def test_partial_mappings_keep_the_other_defaults_and_per_target_maps_are_taken_as_given():
    checked = spec(retention={"traces": "14d"}, ingress={"host": "grafana.example.com"}, replicas={"loki": {"querier": 2}},
                   versions={"grafana": "10.6.0"}, tenancy={"enabled": True, "tenant": "acme-platform"})
    assert checked["retention"] == {"logs": "365d", "metrics": "365d", "traces": "14d"}
    assert checked["ingress"] == dict(ev.DEFAULTS["ingress"], host="grafana.example.com")
    assert checked["replicas"] == {"loki": {"querier": 2}} and checked["versions"] == {"grafana": "10.6.0"}
    assert ev.DEFAULTS["retention"] == {"logs": "365d", "metrics": "365d", "traces": "7d"}, "validate must not change the defaults"


def test_the_filters_name_the_role_variables_when_called_by_the_role():
    data = dict(SPEC, retention={"logs": "36h"})
    assert eks_filter.eks_lgtm_problems(data) == ["retention.logs: must be a multiple of Loki's 24h index period (got 36h)"]
    assert eks_filter.eks_lgtm_problems(data, role=True) == [
        "eks_lgtm_retention.logs: must be a multiple of Loki's 24h index period (got 36h)"]
    assert eks_filter.eks_lgtm_problems(SPEC) == []
    with pytest.raises(AnsibleFilterError, match="eks_lgtm_values: 1 problem"):
        eks_filter.eks_lgtm_values(data, role=True)


# ---------------------------------------------------------------------------
# One source per default: the role's defaults, its argument specs and DEFAULTS agree.

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles", "eks_lgtm")


def role_file(*path):
    with open(os.path.join(ROLE, *path)) as handle:
        return yaml.safe_load(handle)


def disagreements(python, role, path):
    """Where a role default and its Python counterpart differ; templated role values ({{ ... }}) are not compared."""
    if isinstance(role, str) and "{{" in role:
        return []
    if isinstance(python, dict) and isinstance(role, dict):
        found = ["%s: keys %s in the role, %s in Python" % (path, sorted(role), sorted(python))] if set(role) != set(python) else []
        return found + [d for key in sorted(set(role) & set(python)) for d in disagreements(python[key], role[key], "%s.%s" % (path, key))]
    return [] if python == role and type(python) is type(role) else ["%s: %r in the role, %r in Python" % (path, role, python)]


def test_role_defaults_agree_with_the_python_defaults():
    defaults = role_file("defaults", "main.yml")
    compared = [key for key in ev.DEFAULTS if "eks_lgtm_" + key in defaults]
    found = [d for key in compared for d in disagreements(ev.DEFAULTS[key], defaults["eks_lgtm_" + key], "eks_lgtm_" + key)]
    assert found == []
    # Every setting is a role variable (the cluster comes from eks_lgtm_cluster_name and eks_lgtm_region).
    assert sorted(set(ev.DEFAULTS) - set(compared)) == ["buckets", "cluster", "irsa_roles"]
    assert disagreements(ev.DEFAULTS["cluster"], {"name": defaults["eks_lgtm_cluster_name"], "region": defaults["eks_lgtm_region"]}, "") == []


def test_the_comparison_fails_on_a_disagreement():
    assert disagreements({"enabled": False, "tenant": ""}, {"enabled": False, "tenant": "acme"}, "t") == ["t.tenant: 'acme' in the role, '' in Python"]
    assert disagreements({"percentage": 10}, {"percentage": 10.0}, "s") == ["s.percentage: 10.0 in the role, 10 in Python"]
    assert disagreements({"a": 1}, {"b": 1}, "m") == ["m: keys ['b'] in the role, ['a'] in Python"]
    assert disagreements({"tenant": ""}, {"tenant": "{{ lgtm_tenant }}"}, "t") == []


def test_argument_specs_document_every_variable_with_the_role_default():
    defaults = role_file("defaults", "main.yml")
    options = role_file("meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert sorted(options) == sorted(defaults)
    for name, value in defaults.items():
        option = options[name]
        assert option.get("description"), name
        # Output locations are documented as derived from lgtm_output_dir, without a default.
        if "lgtm_output_dir" in str(value) or option.get("required"):
            assert "default" not in option, name
            continue
        assert option.get("default") == value, name
        if "options" in option:
            assert dict((key, sub.get("default")) for key, sub in option["options"].items()) == value, name
            assert all(sub.get("description") for sub in option["options"].values()), name
