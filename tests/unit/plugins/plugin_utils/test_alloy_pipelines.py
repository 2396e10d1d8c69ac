"""Alloy pipelines from one spec: what each mode writes, and the specs it refuses."""
import copy

import pytest

from ansible_collections.lgtm.aws.plugins.plugin_utils import alloy_pipelines as ap
from ansible_collections.lgtm.aws.plugins.module_utils.alloy_syntax import check, parse, write

ENDPOINTS = {
    "mimir": {"url": "https://mimir.example.internal/api/v1/push"},
    "loki": {"url": "https://loki.example.internal/loki/api/v1/push"},
    "tempo": {"endpoint": "tempo.example.internal:4317"},
}


def render(**spec):
    spec.setdefault("endpoints", copy.deepcopy(ENDPOINTS))
    spec.setdefault("tenant", "aws-rag-ec2")
    checked = ap.validate(spec)
    text = write(ap.blocks(checked))
    assert check(text) == [], text
    return checked, parse(text)


def find(blocks, name, label=None):
    found = [b for b in blocks if b["name"] == name and (label is None or b.get("label") == label)]
    assert found, "%s %s not in %s" % (name, label, [(b["name"], b.get("label")) for b in blocks])
    return found[0]


def child(block, name):
    return [b for b in block.get("blocks", []) if b["name"] == name]


def test_linux_agent_defaults_send_every_signal_with_the_ec2_tenant():
    spec, blocks = render(labels={"instance_id": "i-0abc", "availability_zone": "ap-northeast-2a"})
    assert spec["enabled"] == ["host_metrics", "journal", "otlp"]
    endpoint = child(find(blocks, "prometheus.remote_write", "mimir"), "endpoint")[0]["body"]
    assert endpoint["headers"] == {"X-Scope-OrgID": "aws-rag-ec2"}
    assert find(blocks, "prometheus.remote_write", "mimir")["body"]["external_labels"]["instance_id"] == "i-0abc"
    assert child(find(blocks, "loki.write", "loki"), "endpoint")[0]["body"]["tenant_id"] == "aws-rag-ec2"
    client = child(child(find(blocks, "otelcol.exporter.otlp", "tempo"), "client")[0], "tls")
    assert client[0]["body"] == {"insecure": False}
    otlp = find(blocks, "otelcol.receiver.otlp", "apps")
    assert [b["body"]["endpoint"] for b in otlp["blocks"] if b["name"] in ("grpc", "http")] == ["0.0.0.0:4317", "0.0.0.0:4318"]
    assert find(blocks, "loki.source.journal", "system")["body"]["forward_to"] == [{"__expr__": "loki.write.loki.receiver"}]
    assert ap.tenants(spec) == {"mimir": "aws-rag-ec2", "loki": "aws-rag-ec2", "tempo": "aws-rag-ec2"}


def test_pipelines_switch_off_and_their_writers_go_with_them():
    spec, blocks = render(pipelines={"journal": {"enabled": False}, "otlp": {"enabled": False}}, endpoints={"mimir": ENDPOINTS["mimir"]})
    assert spec["enabled"] == ["host_metrics"]
    assert not [b for b in blocks if b["name"].startswith(("loki.", "otelcol."))]


def test_file_logs_one_source_per_target_with_labels():
    _spec, blocks = render(pipelines={"files": {"targets": [{"name": "nginx", "paths": ["/var/log/nginx/*.log"], "labels": {"service": "web"}}]}})
    match = find(blocks, "local.file_match", "nginx")["body"]["path_targets"]
    assert match == [{"__path__": "/var/log/nginx/*.log", "service": "web", "job": "nginx"}]
    assert find(blocks, "loki.source.file", "nginx")["body"]["targets"] == {"__expr__": "local.file_match.nginx.targets"}


def test_basic_auth_password_comes_from_the_environment_never_the_file():
    _spec, blocks = render(basic_auth={"username": "ec2-agent"}, tls={"ca_file": "/etc/alloy/ca.pem"})
    endpoint = child(find(blocks, "prometheus.remote_write", "mimir"), "endpoint")[0]
    auth = child(endpoint, "basic_auth")[0]["body"]
    assert auth == {"username": "ec2-agent", "password": {"__expr__": 'sys.env("ALLOY_BASIC_AUTH_PASSWORD")'}}
    assert child(endpoint, "tls_config")[0]["body"] == {"ca_file": "/etc/alloy/ca.pem"}
    client = child(find(blocks, "otelcol.exporter.otlp", "tempo"), "client")[0]
    assert client["body"]["auth"] == {"__expr__": "otelcol.auth.basic.tempo.handler"}
    assert child(client, "tls")[0]["body"]["ca_file"] == "/etc/alloy/ca.pem"


def test_per_endpoint_tenants_override_the_default():
    endpoints = copy.deepcopy(ENDPOINTS)
    endpoints["loki"]["tenant"] = "team-logs"
    spec, _blocks = render(endpoints=endpoints, tenant="aws-rag-ec2")
    assert ap.tenants(spec)["loki"] == "team-logs" and ap.tenants(spec)["mimir"] == "aws-rag-ec2"


def test_windows_agent_uses_the_windows_exporter_and_event_log_channels():
    spec, blocks = render(platform="windows", pipelines={"eventlog": {"channels": ["Application", "System", "Security"]}})
    assert spec["enabled"] == ["windows_metrics", "eventlog", "otlp"]
    assert "cpu" in find(blocks, "prometheus.exporter.windows", "host")["body"]["enabled_collectors"]
    channels = [b["body"]["eventlog_name"] for b in blocks if b["name"] == "loki.source.windowsevent"]
    assert channels == ["Application", "System", "Security"]
    assert not [b for b in blocks if b["name"] in ("prometheus.exporter.unix", "loki.source.journal")]


def test_collector_mode_pulls_cloudwatch_into_its_own_tenants():
    spec, blocks = render(mode="collector", endpoints={"mimir": ENDPOINTS["mimir"], "loki": ENDPOINTS["loki"]}, pipelines={
        "cloudwatch_metrics": {"region": "ap-northeast-2", "tenant": "aws-rag-cloudwatch", "extra_namespaces": [
            {"namespace": "AWS/SQS", "metrics": [{"name": "ApproximateNumberOfMessagesVisible", "statistics": ["Maximum"]}]}]},
        "cloudwatch_logs": {"enabled": True, "region": "ap-northeast-2", "tenant": "aws-rag-rds", "log_groups": ["/aws/rds/instance/rag/postgresql"]}})
    exporter = find(blocks, "prometheus.exporter.cloudwatch", "aws")
    types = [d["body"]["type"] for d in exporter["blocks"]]
    assert types == ["AWS/RDS", "AWS/ApplicationELB", "AWS/NetworkELB", "AWS/ElastiCache", "AWS/SQS"]
    assert child(find(blocks, "prometheus.remote_write", "cloudwatch"), "endpoint")[0]["body"]["headers"] == {"X-Scope-OrgID": "aws-rag-cloudwatch"}
    assert child(find(blocks, "loki.write", "cloudwatch"), "endpoint")[0]["body"]["tenant_id"] == "aws-rag-rds"
    groups = child(child(find(blocks, "otelcol.receiver.awscloudwatch", "logs"), "logs")[0], "groups")[0]
    assert [b["body"]["group_name"] for b in groups["blocks"]] == ["/aws/rds/instance/rag/postgresql"]
    assert ap.needs_experimental(spec) is True
    assert not [b for b in blocks if b["name"] in ("prometheus.exporter.unix", "otelcol.receiver.otlp")]


def test_user_blocks_are_appended_and_checked_with_the_rest():
    extra = [{"name": "prometheus.scrape", "label": "app", "body": {
        "targets": [{"__address__": "127.0.0.1:9100"}], "forward_to": [{"__expr__": "prometheus.remote_write.mimir.receiver"}]}}]
    _spec, blocks = render(extra_blocks=extra)
    assert find(blocks, "prometheus.scrape", "app")


@pytest.mark.parametrize("spec, message", [
    ({"mode": "daemon"}, "mode: must be one of agent, collector"),
    ({"platform": "macos"}, "platform: must be one of linux, windows"),
    ({"tenant": "bad tenant"}, "tenant: must be a tenant ID"),
    ({"pipelines": {"eventlog": {}}}, "pipelines: unknown key eventlog; allowed: files, host_metrics, journal, otlp (agent mode on linux)"),
    ({"pipelines": {"journal": {"enabled": "yes"}}}, "pipelines.journal.enabled: must be true or false"),
    ({"pipelines": {"host_metrics": {"scrape_interval": "soon"}}}, "pipelines.host_metrics.scrape_interval: must be a duration"),
    ({"pipelines": {"otlp": {"grpc_endpoint": "4317"}}}, "pipelines.otlp.grpc_endpoint: must be host:port"),
    ({"pipelines": {"otlp": {"http_idle_timeout": "1 minute"}}}, "pipelines.otlp.http_idle_timeout: must be a duration"),
    ({"pipelines": {"otlp": {"grpc_max_recv_msg_size": "4M"}}}, "pipelines.otlp.grpc_max_recv_msg_size: must be a size such as 4MiB"),
    ({"pipelines": {"otlp": {"http_timeout": "1m"}}}, "pipelines.otlp: unknown key http_timeout"),
    ({"alloy_version": "latest"}, "alloy_version: must be a version such as 1.18.1"),
    ({"endpoints": {"mimir": {"url": "mimir:9009"}}}, "endpoints.mimir.url: must be an URL"),
    ({"endpoints": {"mimir": ENDPOINTS["mimir"]}}, "endpoints.loki: is required because pipeline(s) journal are enabled"),
    ({"basic_auth": {"password": "x"}}, "basic_auth: unknown key password (did you mean password_env?); allowed: password_env, username"),
    ({"tls": {"cert_file": "/c.pem"}}, "tls: cert_file and key_file go together"),
    ({"labels": {"__meta": "x"}}, "labels.__meta: is not a valid label name"),
    ({"pipelines": {"files": {"targets": [{"name": "a-b", "paths": ["/x"]}]}}}, "pipelines.files.targets[0].name: must be an identifier"),
    ({"platform": "windows", "pipelines": {"eventlog": {"channels": ["Kernel"]}}}, "pipelines.eventlog.channels: must be one of Application"),
    ({"mode": "collector", "pipelines": {"cloudwatch_metrics": {}}}, "pipelines.cloudwatch_metrics.region: is required"),
    ({"mode": "collector", "pipelines": {"cloudwatch_metrics": {"region": "r", "extra_namespaces": [
        {"namespace": "AWS/SQS", "metrics": [{"name": "X", "statistics": ["P99"]}]}]}}},
     "pipelines.cloudwatch_metrics.namespaces[4].metrics[0].statistics: must be one of Average"),
    ({"mode": "collector", "pipelines": {"cloudwatch_metrics": {"region": "r"}, "cloudwatch_logs": {"enabled": True, "region": "r"}}},
     "pipelines.cloudwatch_logs.log_groups: must list at least one log group"),
    ({"surprise": 1}, "spec: unknown key surprise"),
])
def test_bad_specs_name_the_field(spec, message):
    spec.setdefault("endpoints", copy.deepcopy(ENDPOINTS))
    spec.setdefault("tenant", "team-a")
    with pytest.raises(ap.SpecError) as error:
        ap.validate(spec)
    assert message in str(error.value)


def test_validate_does_not_modify_the_callers_spec():
    spec = {"endpoints": copy.deepcopy(ENDPOINTS), "tenant": "team-a", "pipelines": {"journal": {"max_age": "1h"}}}
    before = copy.deepcopy(spec)
    ap.validate(spec)
    assert spec == before


def test_pipeline_tenants_default_to_the_spec_tenant():
    spec, blocks = render(mode="collector", tenant="acme-platform", endpoints={"mimir": ENDPOINTS["mimir"], "loki": ENDPOINTS["loki"]},
                          pipelines={"cloudwatch_metrics": {"region": "eu-west-1"},
                                     "cloudwatch_logs": {"enabled": True, "region": "eu-west-1", "log_groups": ["/app"]}})
    assert child(find(blocks, "prometheus.remote_write", "cloudwatch"), "endpoint")[0]["body"]["headers"] == {"X-Scope-OrgID": "acme-platform"}
    assert child(find(blocks, "loki.write", "cloudwatch"), "endpoint")[0]["body"]["tenant_id"] == "acme-platform"


def test_the_tenant_is_required():
    with pytest.raises(ap.SpecError) as error:
        ap.validate({"endpoints": copy.deepcopy(ENDPOINTS)})
    assert "tenant: must be a tenant ID" in str(error.value)


def test_every_problem_at_once_in_the_roles_variable_names():
    from ansible.errors import AnsibleFilterError
    from ansible_collections.lgtm.aws.plugins.filter.alloy import alloy_pipelines_config

    spec = {"endpoints": {"mimir": {"url": "ftp://mimir.example/push"}, "loki": ENDPOINTS["loki"], "tempo": ENDPOINTS["tempo"]},
            "tenant": "team-a", "labels": {"__bad": "x"}, "pipelines": {"journall": {}, "host_metrics": {"scrape_interval": "often"}}}
    with pytest.raises(AnsibleFilterError) as error:
        alloy_pipelines_config(spec, role=True)
    lines = str(error.value).splitlines()
    assert lines[0] == "lgtm.aws.alloy: 2 problem(s); nothing was changed."
    assert lines[1].startswith("- alloy_pipelines: unknown key journall (did you mean journal?)")
    assert lines[2].startswith("- alloy_pipelines.host_metrics.scrape_interval: must be a duration")
    spec["pipelines"] = {}
    with pytest.raises(AnsibleFilterError) as error:
        alloy_pipelines_config(spec, role=True)
    lines = str(error.value).splitlines()
    assert lines[1].startswith("- alloy_mimir_url: must be an URL starting with")
    assert lines[2].startswith("- alloy_labels.__bad: is not a valid label name")


# otelcol.receiver.otlp's server settings in Alloy 1.18 (docs: reference/components/otelcol/otelcol.receiver.otlp):
# the generator writes each one out, with Alloy 1.18's own default, so a configuration means the same on every
# version that has the setting. 1.18 added the HTTP timeouts; before them the HTTP server had none.
ALLOY_1_18_OTLP_DEFAULTS = {
    "grpc": {"endpoint": "0.0.0.0:4317", "max_recv_msg_size": "4MiB"},
    "http": {"endpoint": "0.0.0.0:4318", "max_request_body_size": "20MiB", "idle_timeout": "1m",
             "read_header_timeout": "1m", "write_timeout": "30s", "read_timeout": "0s"},
}


def otlp_servers(blocks):
    receiver = find(blocks, "otelcol.receiver.otlp", "apps")
    return dict((b["name"], b["body"]) for b in receiver["blocks"] if b["name"] in ("grpc", "http"))


@pytest.mark.parametrize("platform", ["linux", "windows"])
def test_otlp_servers_write_out_every_setting_with_alloy_1_18_defaults(platform):
    _spec, blocks = render(platform=platform)
    assert otlp_servers(blocks) == ALLOY_1_18_OTLP_DEFAULTS


def test_otlp_server_settings_are_the_users_to_change():
    # e.g. "0s" everywhere: the unbounded HTTP server of Alloy 1.17 and before.
    _spec, blocks = render(alloy_version="1.18.1", pipelines={"otlp": {
        "http_idle_timeout": "0s", "http_read_header_timeout": "0s", "http_write_timeout": "0s", "http_read_timeout": "2m",
        "http_max_request_body_size": "64MiB", "grpc_max_recv_msg_size": "16MiB", "grpc_endpoint": "127.0.0.1:4317"}})
    servers = otlp_servers(blocks)
    assert servers["http"] == {"endpoint": "0.0.0.0:4318", "max_request_body_size": "64MiB", "idle_timeout": "0s",
                               "read_header_timeout": "0s", "write_timeout": "0s", "read_timeout": "2m"}
    assert servers["grpc"] == {"endpoint": "127.0.0.1:4317", "max_recv_msg_size": "16MiB"}


@pytest.mark.parametrize("version", ["1.16.0", "v1.17.1"])
def test_an_older_alloy_gets_no_setting_it_does_not_know(version):
    _spec, blocks = render(alloy_version=version)
    assert otlp_servers(blocks) == {"grpc": ALLOY_1_18_OTLP_DEFAULTS["grpc"],
                                    "http": {"endpoint": "0.0.0.0:4318", "max_request_body_size": "20MiB"}}


def test_an_older_alloy_refuses_the_timeouts_asked_for_in_the_roles_variable_names():
    from ansible.errors import AnsibleFilterError
    from ansible_collections.lgtm.aws.plugins.filter.alloy import alloy_pipelines_config

    spec = {"endpoints": copy.deepcopy(ENDPOINTS), "tenant": "team-a", "alloy_version": "1.16.0",
            "pipelines": {"otlp": {"http_write_timeout": "10s", "http_max_request_body_size": "8MiB"}}}
    with pytest.raises(AnsibleFilterError) as error:
        alloy_pipelines_config(spec, role=True)
    lines = str(error.value).splitlines()
    assert lines[1:] == ["- alloy_pipelines.otlp.http_write_timeout: needs Alloy 1.18 or later "
                         "(otelcol.receiver.otlp has no write_timeout; alloy_version is 1.16.0)"]
    spec["alloy_version"] = "1.18.0"
    assert 'write_timeout         = "10s"' in alloy_pipelines_config(spec, role=True)["config"]


def test_the_otlp_server_table_and_the_pipeline_defaults_agree():
    otlp_defaults = ap.PIPELINE_DEFAULTS["otlp"]
    assert set(ap.OTLP_SERVER) == set(otlp_defaults) - {"enabled", "grpc_endpoint", "http_endpoint"}
    for key, (server, argument, _since) in ap.OTLP_SERVER.items():
        assert ALLOY_1_18_OTLP_DEFAULTS[server][argument] == otlp_defaults[key], key


def test_a_ca_given_as_pem_text_goes_into_every_writers_tls():
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    _spec, blocks = render(tls={"ca_pem": pem})
    endpoint = child(find(blocks, "prometheus.remote_write", "mimir"), "endpoint")[0]
    assert child(endpoint, "tls_config")[0]["body"] == {"ca_pem": pem}
    client = child(find(blocks, "otelcol.exporter.otlp", "tempo"), "client")[0]
    assert child(client, "tls")[0]["body"]["ca_pem"] == pem
