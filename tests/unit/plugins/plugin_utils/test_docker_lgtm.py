"""The LGTM stack on one Docker host: the spec's checks and every generated configuration.

Prometheus's files are checked with Debian's promtool and Alertmanager's with amtool when they are installed
(they are on the development machine; the role checks again with the pinned image's own binaries)."""
import copy
import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from ansible_collections.lgtm.aws.plugins.filter.docker_lgtm import docker_lgtm_plan_filter, docker_lgtm_problems, docker_lgtm_secret_files
from ansible_collections.lgtm.aws.plugins.plugin_utils import docker_lgtm_grafana as grafana
from ansible_collections.lgtm.aws.plugins.plugin_utils import docker_lgtm_plan, docker_lgtm_spec
from ansible_collections.lgtm.aws.plugins.plugin_utils.docker_lgtm_checks import seconds
from ansible_collections.lgtm.aws.plugins.plugin_utils.spec_checks import SpecError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
BASE = {"tenants": ["team-a", "team-b"], "region": "eu-west-1", "domain": "obs.example.com"}
SECRETS = {"grafana_admin_password": "g-pass", "keycloak_admin_password": "k-pass", "oauth_client_secret": "o-secret"}
STORAGE = {"region": "eu-west-1", "kms_key_arn": None, "buckets": {
    "loki": {"name": "acme-dev-loki"}, "mimir_blocks": {"name": "acme-dev-mimir-blocks"},
    "mimir_ruler": {"name": "acme-dev-mimir-ruler"}, "mimir_alertmanager": {"name": "acme-dev-mimir-alertmanager"},
    "tempo": {"name": "acme-dev-tempo"}}}


def plan(changes=None, secrets=None, storage=None):
    spec = copy.deepcopy(BASE)
    spec.update(changes or {})
    return docker_lgtm_plan.plan(spec, secrets or SECRETS, storage)


def files_of(result):
    return dict((f["path"], f["content"]) for f in result["files"])


def container(result, service):
    return next(c for c in result["containers"] if c["service"] == service)


def write(tmp_path, result, service):
    for path, content in files_of(result).items():
        if path.startswith(service + "/"):
            target = tmp_path / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
    return tmp_path / service


def test_defaults_pin_the_seed_versions_and_the_registry_prefixes_every_image():
    images = docker_lgtm_spec.DEFAULTS["services"]
    for name, reference in (("grafana", "grafana/grafana:12.3.1"), ("prometheus", "prom/prometheus:v3.8.1"),
                            ("pushgateway", "prom/pushgateway:v1.11.2"), ("loki", "grafana/loki:3.5.9"),
                            ("tempo", "grafana/tempo:2.9.0"), ("alloy", "grafana/alloy:v1.12.1"),
                            ("alertmanager", "prom/alertmanager:v0.30.0")):
        assert images[name]["image"] == reference
    result = plan({"registry": "lgtm-local", "services": {"grafana": {"image": "grafana/grafana:12.3.2"}}})
    assert container(result, "grafana")["image"] == "lgtm-local/grafana/grafana:12.3.2"
    assert container(result, "mimir")["image"] == "lgtm-local/grafana/mimir:3.1.3"
    assert all(c["image"].startswith("lgtm-local/") for c in result["containers"])


def test_role_defaults_file_carries_the_same_images():
    with open(os.path.join(REPO, "roles", "docker_lgtm", "defaults", "main.yml")) as f:
        defaults = yaml.safe_load(f)
    for name, service in defaults["docker_lgtm_services"].items():
        assert service["image"] == docker_lgtm_spec.IMAGES[name]
    assert set(defaults["docker_lgtm_services"]) == set(docker_lgtm_spec.SERVICES)


def test_bad_input_is_reported_all_at_once_in_the_users_variable_names(tmp_path):
    problems = docker_lgtm_problems({
        "docker_lgtm_tenants": ["a"], "docker_lgtm_region": "eu-west-1",
        "docker_lgtm_services": {"grafna": {"enabled": True}, "loki": {"image": "Grafana/Loki latest"}},
        "docker_lgtm_proxy": {"http_port": 8443, "https_port": 8443},
        "docker_lgtm_domain": "not a domain",
        "docker_lgtm_tls": {"mode": "files", "cert_file": str(tmp_path / "missing.pem"), "key_file": str(tmp_path / "missing.key")},
    })
    text = "\n".join(problems)
    # lgtm.aws.settings reports the unknown service from the argument spec; the plan filter names it too.
    assert "grafna" not in text
    with pytest.raises(Exception, match=r"docker_lgtm_services: unknown key grafna \(did you mean grafana\?\)"):
        docker_lgtm_plan_filter({"docker_lgtm_tenants": ["a"], "docker_lgtm_region": "x", "docker_lgtm_services": {"grafna": {}}})
    assert "docker_lgtm_services.loki.image: must be an image reference" in text
    assert "docker_lgtm_proxy.https_port: port 8443 is already used by http_port" in text
    assert "docker_lgtm_domain: must be a DNS domain" in text
    assert "docker_lgtm_tls.cert_file: file %s does not exist" % (tmp_path / "missing.pem") in text
    assert "docker_lgtm_tls.key_file: file" in text
    assert len(problems) == 5
    with pytest.raises(Exception) as error:
        docker_lgtm_plan_filter({"docker_lgtm_tenants": ["a"], "docker_lgtm_domain": "localhost"})
    assert "nothing was changed" in str(error.value) and "docker_lgtm_domain" in str(error.value)


@pytest.mark.parametrize("value", ["grafana/grafana", "grafana/grafana:", "UPPER/case:1", "a b:1", "x:1:2"])
def test_image_references_without_a_tag_or_malformed_are_refused(value):
    with pytest.raises(SpecError, match="services.grafana.image"):
        plan({"services": {"grafana": {"image": value}}})


@pytest.mark.parametrize("value", ["registry.example.com:5000/team/grafana:12.3.1", "grafana/grafana:12.3.1",
                                   "grafana/grafana@sha256:" + "a" * 64, "localhost:5000/grafana:1"])
def test_image_references_with_registries_and_digests_are_accepted(value):
    assert container(plan({"services": {"grafana": {"image": value}}}), "grafana")["image"] == value


def test_valid_certificate_files_pass_and_a_secret_in_env_is_refused(tmp_path):
    (tmp_path / "c.pem").write_text("x")
    (tmp_path / "k.pem").write_text("x")
    result = plan({"tls": {"mode": "files", "cert_file": str(tmp_path / "c.pem"), "key_file": str(tmp_path / "k.pem")}})
    assert "tls /etc/caddy/certs/cert.pem /etc/caddy/certs/key.pem" in files_of(result)["proxy/Caddyfile"]
    with pytest.raises(SpecError, match="services.grafana.env.GF_SECURITY_ADMIN_PASSWORD: looks like a secret"):
        plan({"services": {"grafana": {"env": {"GF_SECURITY_ADMIN_PASSWORD": "x"}}}})


def test_only_the_proxy_publishes_ports_and_it_routes_every_ui_host():
    result = plan()
    published = dict((c["service"], c["published_ports"]) for c in result["containers"] if c["published_ports"])
    assert published == {"proxy": ["0.0.0.0:80:80", "0.0.0.0:443:443"]}
    caddyfile = files_of(result)["proxy/Caddyfile"]
    for host, upstream in (("grafana", "grafana:3000"), ("prometheus", "prometheus:9090"),
                           ("alertmanager", "alertmanager:9093"), ("alloy", "alloy:12345"), ("keycloak", "keycloak:8080")):
        block = re.search(r"^%s\.obs\.example\.com \{\n(.*?)\n\}" % host, caddyfile, re.S | re.M)
        assert block and "reverse_proxy %s" % upstream in block.group(1), host
    assert "tls internal" in caddyfile
    assert "loki" not in re.sub(r"reverse_proxy /loki/api/v1/push loki:3100", "", caddyfile).replace("ingest", "")
    assert caddyfile.count("{") == caddyfile.count("}")


def test_s3_storage_uses_the_storage_roles_buckets_and_local_volumes_otherwise():
    result = plan({"storage": {"mimir": {"backend": "s3"}, "loki": {"backend": "s3"}, "tempo": {"backend": "local"}}},
                  storage=STORAGE)
    files = files_of(result)
    mimir, loki, tempo = (yaml.safe_load(files[p]) for p in ("mimir/mimir.yml", "loki/loki.yml", "tempo/tempo.yml"))
    assert mimir["blocks_storage"]["s3"]["bucket_name"] == "acme-dev-mimir-blocks"
    assert mimir["ruler_storage"]["s3"]["bucket_name"] == "acme-dev-mimir-ruler"
    assert mimir["target"] == "all" and mimir["multitenancy_enabled"] is True
    assert mimir["blocks_storage"]["bucket_store"]["index_cache"]["memcached"]["addresses"] == "dns+memcached:11211"
    assert loki["common"]["storage"]["s3"]["bucketnames"] == "acme-dev-loki" and loki["auth_enabled"] is True
    assert loki["schema_config"]["configs"][0]["store"] == "tsdb"
    assert tempo["storage"]["trace"]["backend"] == "local" and tempo["multitenancy_enabled"] is True
    assert "access_key" not in json.dumps([mimir, loki, tempo]) and "secret_access_key" not in json.dumps([mimir, loki, tempo])
    with pytest.raises(SpecError, match=r"storage.mimir.buckets.blocks: no bucket"):
        plan({"storage": {"mimir": {"backend": "s3"}}})


def test_grafana_datasources_per_tenant_carry_the_tenant_header_and_correlations():
    sources = yaml.safe_load(files_of(plan())["grafana/provisioning/datasources/lgtm.yml"])["datasources"]
    by_uid = dict((s["uid"], s) for s in sources)
    for tenant in ("team-a", "team-b"):
        for kind in ("mimir", "loki", "tempo"):
            source = by_uid["%s-%s" % (kind, tenant)]
            assert source["jsonData"]["httpHeaderName1"] == "X-Scope-OrgID"
            assert source["secureJsonData"]["httpHeaderValue1"] == tenant
        assert by_uid["loki-" + tenant]["jsonData"]["derivedFields"][0]["datasourceUid"] == "tempo-" + tenant
        tempo = by_uid["tempo-" + tenant]["jsonData"]
        assert tempo["tracesToLogsV2"]["datasourceUid"] == "loki-" + tenant
        assert tempo["serviceMap"]["datasourceUid"] == "mimir-" + tenant
        assert by_uid["mimir-" + tenant]["jsonData"]["exemplarTraceIdDestinations"][0]["datasourceUid"] == "tempo-" + tenant
    assert "X-Scope-OrgID" not in json.dumps(by_uid["prometheus"])
    regex = re.compile(by_uid["loki-team-a"]["jsonData"]["derivedFields"][0]["matcherRegex"])
    assert regex.search('level=info trace_id=4bf92f3577b34da6 msg="x"').group(1) == "4bf92f3577b34da6"


def _ini(text):
    sections, current = {}, None
    for line in text.splitlines():
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
        elif " = " in line:
            key, value = line.split(" = ", 1)
            current[key] = value
    return sections


def test_keycloak_realm_and_grafana_oauth_settings_agree():
    result = plan()
    files = files_of(result)
    realm, ini = json.loads(files["keycloak/realm.json"]), _ini(files["grafana/grafana.ini"])
    oauth, client = ini["auth.generic_oauth"], json.loads(files["keycloak/realm.json"])["clients"][0]
    assert client["clientId"] == oauth["client_id"] == "grafana"
    assert client["secret"] == SECRETS["oauth_client_secret"]
    assert oauth["client_secret"] == "$__file{/run/secrets/oauth_client_secret}"
    assert client["redirectUris"] == ["https://grafana.obs.example.com/login/generic_oauth"]
    assert oauth["auth_url"] == "https://keycloak.obs.example.com/realms/%s/protocol/openid-connect/auth" % realm["realm"]
    assert oauth["token_url"].endswith("/realms/%s/protocol/openid-connect/token" % realm["realm"])
    mapper = client["protocolMappers"][0]
    assert mapper["protocolMapper"] == "oidc-group-membership-mapper" and mapper["config"]["full.path"] == "false"
    assert mapper["config"]["claim.name"] == oauth["groups_attribute_path"] == "groups"
    # Every realm group maps to its Grafana role through the JMESPath Grafana evaluates; no group, no access.
    for group in realm["groups"]:
        role = next(r for r, g in docker_lgtm_spec.DEFAULTS["keycloak"]["role_groups"].items() if g == group["name"])
        assert "contains(groups[*], '%s') && '%s'" % (group["name"], role) in oauth["role_attribute_path"]
    assert oauth["role_attribute_strict"] == "true"
    assert ini["auth"]["disable_login_form"] == "true" and oauth["enabled"] == "true"
    assert ini["security"]["admin_password"] == "$__file{/run/secrets/grafana_admin_password}"
    assert "k-pass" in files["keycloak/keycloak.conf"]
    sensitive = set(f["path"] for f in result["files"] if f["sensitive"])
    assert sensitive == {"keycloak/realm.json", "keycloak/keycloak.conf"}
    for f in result["files"]:
        if not f["sensitive"]:
            assert not any(value in f["content"] for value in SECRETS.values()), f["path"]


def test_secrets_reach_containers_as_files_never_in_the_environment():
    result = plan({"smtp": {"smarthost": "smtp.example.com:587", "from": "a@example.com", "to": ["b@example.com"],
                            "username": "mailer"},
                   "slack": {"channel": "#alerts"},
                   "secrets": {"smtp_password": "s-pass", "slack_webhook_url": "https://hooks.example/x"}})
    for c in result["containers"]:
        environment = json.dumps(c["env"])
        assert not any(v in environment for v in list(SECRETS.values()) + ["s-pass", "hooks.example"]), c["service"]
    targets = [m["target"] for m in container(result, "alertmanager")["mounts"]]
    assert "/run/secrets/smtp_password" in targets and "/run/secrets/slack_webhook_url" in targets
    assert all(m["read_only"] for m in container(result, "alertmanager")["mounts"] if m["type"] == "bind")
    assert "spec" in result and "secrets" not in result["spec"]
    assert {s["name"] for s in result["secrets"]} >= {"smtp_password", "slack_webhook_url", "grafana_admin_password"}


def test_every_container_has_health_check_limits_and_its_own_hash():
    result = plan()
    assert len(result["containers"]) == len(docker_lgtm_spec.SERVICES)
    for c in result["containers"]:
        assert c["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL") and c["memory"] and c["cpus"]
        assert len(c["labels"]["lgtm.aws/config-hash"]) == 32
    changed = plan({"prometheus": {"scrape_interval": "30s"}})
    differs = sorted(c["service"] for c, d in zip(result["containers"], changed["containers"]) if c["labels"] != d["labels"])
    # Prometheus's own file changed; the others keep their hash (so their containers are not restarted).
    assert differs == ["prometheus"]
    rotated = plan(secrets=dict(SECRETS, oauth_client_secret="new"))
    differs = sorted(c["service"] for c, d in zip(result["containers"], rotated["containers"]) if c["labels"] != d["labels"])
    assert differs == ["grafana", "keycloak"]


def test_alloy_collector_writes_cloudwatch_to_its_tenants_and_otlp_to_tempo():
    result = plan({"alloy": {"cloudwatch_metrics_tenant": "team-b", "cloudwatch_logs_tenant": "team-a",
                             "pipelines": {"cloudwatch_logs": {"enabled": True, "log_groups": ["/aws/rds/x"]}}}})
    text = files_of(result)["alloy/config.alloy"]
    assert 'prometheus.exporter.cloudwatch "aws"' in text and '"X-Scope-OrgID" = "team-b"' in text
    assert 'tenant_id = "team-a"' in text and 'otelcol.exporter.otlp "tempo"' in text and '"tempo:4317"' in text
    assert "--stability.level=experimental" in container(result, "alloy")["command"]
    with pytest.raises(SpecError, match="alloy.cloudwatch_metrics_tenant: 'other' is not one of tenants"):
        plan({"alloy": {"cloudwatch_metrics_tenant": "other"}})


PROMTOOL, AMTOOL = shutil.which("promtool"), shutil.which("amtool")


@pytest.mark.skipif(not PROMTOOL, reason="promtool is not installed")
def test_prometheus_config_and_alert_rules_pass_promtool(tmp_path):
    result = plan()
    root = write(tmp_path, result, "prometheus")
    config = yaml.safe_load((root / "prometheus.yml").read_text())
    config["rule_files"] = [str(root / "rules" / "*.yml")]
    (root / "prometheus.yml").write_text(yaml.safe_dump(config))
    subprocess.run([PROMTOOL, "check", "config", str(root / "prometheus.yml")], check=True, capture_output=True)
    tests = yaml.safe_load((root / "tests" / "alerts.test.yml").read_text())
    tests["rule_files"] = [str(root / "rules" / "alerts.yml")]
    (root / "tests" / "alerts.test.yml").write_text(yaml.safe_dump(tests))
    run = subprocess.run([PROMTOOL, "test", "rules", str(root / "tests" / "alerts.test.yml")], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    jobs = dict((j["job_name"], j) for j in config["scrape_configs"])
    assert jobs["pushgateway"]["honor_labels"] is True
    assert {"node", "cadvisor", "pushgateway", "grafana", "loki", "tempo", "mimir", "alertmanager", "alloy", "keycloak", "proxy"} <= set(jobs)
    alerts = [r["alert"] for r in yaml.safe_load((root / "rules" / "alerts.yml").read_text())["groups"][0]["rules"]]
    assert {"TargetDown", "ContainerDown", "ContainerRestarting", "HostDiskSpaceLow", "HostMemoryLow"} <= set(alerts)


@pytest.mark.skipif(not PROMTOOL, reason="promtool is not installed")
def test_a_broken_rule_test_fails_promtool(tmp_path):
    """The rule tests can fail: an expectation the rules do not meet is caught."""
    root = write(tmp_path, plan(), "prometheus")
    tests = yaml.safe_load((root / "tests" / "alerts.test.yml").read_text())
    tests["rule_files"] = [str(root / "rules" / "alerts.yml")]
    tests["tests"][0]["alert_rule_test"][0]["exp_alerts"] = []
    (root / "tests" / "broken.yml").write_text(yaml.safe_dump(tests))
    assert subprocess.run([PROMTOOL, "test", "rules", str(root / "tests" / "broken.yml")], capture_output=True, check=False).returncode != 0


@pytest.mark.skipif(not AMTOOL, reason="amtool is not installed")
def test_alertmanager_config_passes_amtool_with_smtp_and_slack(tmp_path):
    result = plan({"smtp": {"smarthost": "smtp.example.com:587", "from": "a@example.com", "to": ["b@example.com", "c@example.com"],
                            "username": "mailer"}, "slack": {"channel": "#alerts"},
                   "secrets": {"smtp_password": "s", "slack_webhook_url": "https://hooks.example/x"}})
    root = write(tmp_path, result, "alertmanager")
    config = yaml.safe_load((root / "alertmanager.yml").read_text())
    assert config["global"]["smtp_auth_password_file"] == "/run/secrets/smtp_password"
    assert config["receivers"][0]["email_configs"][0]["to"] == "b@example.com, c@example.com"
    run = subprocess.run([AMTOOL, "check-config", str(root / "alertmanager.yml")], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr


def test_alert_timings_reach_prometheus_and_alertmanager_and_defaults_stay_under_two_minutes():
    """The settings that bound death-to-mail, and the default bound: for + group_wait + a scrape + an evaluation."""
    defaults = plan()["spec"]
    bound = sum(seconds(v) for v in (defaults["prometheus"]["target_down_for"], defaults["alertmanager"]["group_wait"],
                                     defaults["prometheus"]["scrape_interval"], defaults["prometheus"]["evaluation_interval"]))
    assert bound == 100
    fast = plan({"prometheus": {"scrape_interval": "1s", "evaluation_interval": "2s", "target_down_for": "0s"},
                 "alertmanager": {"group_wait": "1s", "group_interval": "5s", "repeat_interval": "1h"}})
    files = files_of(fast)
    config = yaml.safe_load(files["prometheus/prometheus.yml"])["global"]
    assert (config["scrape_interval"], config["evaluation_interval"]) == ("1s", "2s")
    rules = yaml.safe_load(files["prometheus/rules/alerts.yml"])["groups"][0]["rules"]
    assert next(r for r in rules if r["alert"] == "TargetDown")["for"] == "0s"
    route = yaml.safe_load(files["alertmanager/alertmanager.yml"])["route"]
    assert (route["group_wait"], route["group_interval"], route["repeat_interval"]) == ("1s", "5s", "1h")
    # Only the two changed containers change.
    before = dict((c["service"], c["labels"]["lgtm.aws/config-hash"]) for c in plan()["containers"])
    after = dict((c["service"], c["labels"]["lgtm.aws/config-hash"]) for c in fast["containers"])
    assert sorted(name for name in before if before[name] != after[name]) == ["alertmanager", "prometheus"]


def test_zero_intervals_are_refused_with_the_users_names():
    problems = "\n".join(docker_lgtm_problems({
        "docker_lgtm_tenants": ["a"], "docker_lgtm_region": "eu-west-1",
        "docker_lgtm_prometheus": {"scrape_interval": "0s", "evaluation_interval": "soon", "target_down_for": "0s"},
        "docker_lgtm_alertmanager": {"group_wait": "0s", "group_interval": "0m", "repeat_interval": "4h"}}))
    assert "docker_lgtm_prometheus.scrape_interval: must be longer than zero" in problems
    assert "docker_lgtm_prometheus.evaluation_interval: must be a duration" in problems
    assert "docker_lgtm_alertmanager.group_interval: must be longer than zero" in problems
    assert "target_down_for" not in problems and "group_wait" not in problems and problems.count("\n") == 2
    with pytest.raises(SpecError, match="alertmanager: unknown key group_wiat"):
        plan({"alertmanager": {"group_wiat": "1s"}})


@pytest.mark.skipif(not PROMTOOL, reason="promtool is not installed")
@pytest.mark.parametrize("down_for", ["0s", "2s", "20m", "1h30m"])
def test_rule_tests_follow_target_down_for(tmp_path, down_for):
    """The promtool cases hold for any `for`: at once, seconds, and longer than their former 15-minute window."""
    root = write(tmp_path, plan({"prometheus": {"target_down_for": down_for}}), "prometheus")
    tests = yaml.safe_load((root / "tests" / "alerts.test.yml").read_text())
    tests["rule_files"] = [str(root / "rules" / "alerts.yml")]
    (root / "tests" / "alerts.test.yml").write_text(yaml.safe_dump(tests))
    run = subprocess.run([PROMTOOL, "test", "rules", str(root / "tests" / "alerts.test.yml")], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr


def test_checks_run_the_images_own_binaries_on_the_next_configuration():
    result = plan({"registry": "lgtm-local"})
    checks = container(result, "prometheus")["checks"]
    assert checks[0][:5] == ["docker", "run", "--rm", "--network", "none"]
    assert "{scratch}/prometheus:/etc/prometheus:ro" in checks[0]
    assert checks[0][checks[0].index("--entrypoint") + 1:][:2] == ["/bin/promtool", "lgtm-local/prom/prometheus:v3.8.1"]
    assert container(result, "alertmanager")["checks"][0][-2:] == ["check-config", "/etc/alertmanager/alertmanager.yml"]
    assert "validate" in container(result, "proxy")["checks"][0]
    assert container(plan({"services": {"loki": {"check": False}}}), "loki")["checks"] == []


def test_disabled_services_leave_no_files_or_containers_and_dependencies_are_checked():
    result = plan({"services": {"keycloak": {"enabled": False}, "memcached": {"enabled": False}},
                   "grafana": {"login_form": True}})
    assert "keycloak" not in {c["service"] for c in result["containers"]}
    assert not any(f["path"].startswith("keycloak/") for f in result["files"])
    assert "auth.generic_oauth" not in files_of(result)["grafana/grafana.ini"]
    assert "index_cache" not in files_of(result)["mimir/mimir.yml"]
    with pytest.raises(SpecError, match="grafana.login_form: must be true when services.keycloak is disabled"):
        plan({"services": {"keycloak": {"enabled": False}}})
    with pytest.raises(SpecError, match="services.mimir.enabled: must be true while services.alloy is enabled"):
        plan({"services": {"mimir": {"enabled": False}}})


def test_uids_stay_valid_for_any_tenant():
    assert grafana.uid("mimir", "aws-rag-cloudwatch") == "mimir-aws-rag-cloudwatch"
    assert re.match(r"^[A-Za-z0-9_-]{1,40}$", grafana.uid("tempo", "t.(x)*" + "y" * 60))


# Top-level blocks of the configuration references of the pinned versions (Mimir 3.1, Loki 3.5, Tempo 2.9): no
# binary of theirs runs here, so the generator is held to the documented keys (the role runs `loki -verify-config`).
MIMIR_KEYS = {"target", "multitenancy_enabled", "server", "distributor", "querier", "ingester_client", "ingester", "limits",
              "frontend_worker", "frontend", "blocks_storage", "compactor", "store_gateway", "ruler", "ruler_storage",
              "alertmanager", "alertmanager_storage", "runtime_config", "memberlist", "query_scheduler", "usage_stats", "common"}
LOKI_KEYS = {"target", "auth_enabled", "server", "distributor", "querier", "query_scheduler", "frontend", "query_range", "ruler",
             "ingester_client", "ingester", "index_gateway", "storage_config", "chunk_store_config", "schema_config", "compactor",
             "limits_config", "frontend_worker", "table_manager", "memberlist", "runtime_config", "tracing", "analytics", "common"}
TEMPO_KEYS = {"target", "multitenancy_enabled", "stream_over_http_enabled", "http_api_prefix", "server", "distributor",
              "ingester_client", "querier", "query_frontend", "compactor", "ingester", "metrics_generator", "storage",
              "overrides", "memberlist", "usage_report", "cache"}


@pytest.mark.parametrize("storage", [{}, {"mimir": {"backend": "s3"}, "loki": {"backend": "s3"}, "tempo": {"backend": "s3"}}])
def test_backend_configurations_use_only_documented_blocks(storage):
    files = files_of(plan({"storage": storage}, storage=STORAGE))
    for path, known in (("mimir/mimir.yml", MIMIR_KEYS), ("loki/loki.yml", LOKI_KEYS), ("tempo/tempo.yml", TEMPO_KEYS)):
        config = yaml.safe_load(files[path])
        assert set(config) <= known, (path, set(config) - known)
    tempo = yaml.safe_load(files["tempo/tempo.yml"])
    assert tempo["metrics_generator"]["storage"]["remote_write"][0]["url"] == "http://mimir:8080/api/v1/push"
    assert tempo["metrics_generator"]["storage"]["remote_write_add_org_id_header"] is True


def test_booleans_given_as_words_on_the_command_line_are_booleans():
    result = plan({"purge": "true", "services": {"alloy": {"enabled": "false"}}, "grafana": {"login_form": "yes"}})
    assert result["spec"]["purge"] is True and "alloy" not in result["spec"]["enabled"]
    assert result["spec"]["grafana"]["login_form"] is True
    with pytest.raises(SpecError, match="purge: must be true or false"):
        plan({"purge": "maybe"})


def test_files_as_one_rendered_files_call_keep_secret_bearing_ones_apart_and_check_each_service_alone():
    result = plan(secrets=SECRETS)
    rendered = result["rendered"]
    assert set(rendered["sensitive_files"]) == {"keycloak/realm.json", "keycloak/keycloak.conf"}
    assert set(rendered["files"]) | set(rendered["sensitive_files"]) == set(f["path"] for f in result["files"])
    assert not any(v in json.dumps(rendered["files"]) for v in SECRETS.values())
    assert rendered["files"]["prometheus/prometheus.yml"]["mode"] == "0644"
    assert result["directories"]["keycloak"] == "0700" and result["directories"]["prometheus/rules"] == "0755"
    by_service = {}
    for check in result["validate"]:
        by_service.setdefault(check["when_changed"][0], []).append(check["argv"])
    assert set(by_service) == {"prometheus", "alertmanager", "proxy", "loki", "alloy"}
    assert len(by_service["prometheus"]) == 2 and all("{scratch}/prometheus:/etc/prometheus:ro" in a for a in by_service["prometheus"])


def test_secret_files_write_given_values_and_generate_the_others_once():
    result = plan()
    args = docker_lgtm_secret_files(result, {"grafana_admin_password": "given-one"}, "CERT", "KEY")
    files = args["sensitive_files"]
    assert files["secrets/grafana_admin_password"] == {"content": "given-one", "mode": "0444"}
    generated = files["secrets/oauth_client_secret"]["content"]
    assert re.match(r"^[A-Za-z0-9]{32}$", generated)
    assert generated != docker_lgtm_secret_files(result)["sensitive_files"]["secrets/oauth_client_secret"]["content"]
    # Only the generated ones are kept once written (a given value replaces the file).
    assert args["keep_existing"] == ["secrets/keycloak_admin_password", "secrets/oauth_client_secret"]
    assert files["certs/key.pem"] == {"content": "KEY", "mode": "0400"} and args["directories"]["secrets"] == "0700"
    assert "certs/key.pem" not in docker_lgtm_secret_files(result)["sensitive_files"]


HASH = "$2a$14$C0lwopK1zRTExJwh30im1ufu5hcI0kUBMn9WU4pLuBCHIgsrx6wXG"


def test_ingest_host_forwards_only_push_paths_for_the_stacks_tenants_and_tells_agents_where():
    result = plan({"proxy": {"bind_address": "127.0.0.1", "extra_bind_addresses": ["10.88.0.1"], "http_port": 8080,
                             "https_port": 8443, "ingest_basic_auth": {"agent": HASH}}})
    caddyfile = files_of(result)["proxy/Caddyfile"]
    block = re.search(r"^ingest\.obs\.example\.com \{\n(.*?)\n\}$", caddyfile, re.S | re.M).group(1)
    tenants = BASE["tenants"]
    assert ["not header X-Scope-OrgID \"%s\"" % t for t in tenants] == re.findall(r"not header X-Scope-OrgID \"[^\"]+\"", block)
    order = [line.strip().split(" ")[0] + " " + line.strip().split(" ")[1] for line in block.splitlines()
             if line.strip().startswith(("respond", "basicauth", "reverse_proxy"))]
    assert order == ["respond @outside", "basicauth {", "respond @untenanted", "reverse_proxy /api/v1/push",
                     "reverse_proxy /otlp/v1/metrics", "reverse_proxy /loki/api/v1/push", "reverse_proxy /v1/traces",
                     "reverse_proxy /opentelemetry.proto.collector.trace.v1.TraceService/*", "respond 404"]
    assert "agent %s" % HASH in block and "h2c://tempo:4317" in block
    ingest = result["ingest"]
    assert ingest["mimir_remote_write_url"] == "https://ingest.obs.example.com:8443/api/v1/push"
    assert ingest["tempo_otlp_grpc_endpoint"] == "ingest.obs.example.com:8443" and ingest["tenants"] == tenants
    assert ingest["basic_auth_users"] == ["agent"] and result["ingest_ca"].endswith("/root.crt")
    assert container(result, "proxy")["published_ports"] == [
        "127.0.0.1:8080:80", "127.0.0.1:8443:443", "10.88.0.1:8080:80", "10.88.0.1:8443:443"]
    # Switched off: no ingest host, nothing for agents.
    off = plan({"proxy": {"ingest": False}})
    assert "ingest." not in files_of(off)["proxy/Caddyfile"] and off["ingest"] is None
    default = plan()
    assert default["ingest"]["base_url"] == "https://ingest.obs.example.com" and "basicauth" not in files_of(default)["proxy/Caddyfile"]


def test_ingest_options_are_checked():
    with pytest.raises(SpecError) as error:
        plan({"proxy": {"extra_bind_addresses": ["10.88.0.1", "not-an-ip"], "ingest_basic_auth": {"agent": "plain-password"}}})
    text = str(error.value.problems)
    assert "proxy.extra_bind_addresses" in text and "proxy.ingest_basic_auth" in text and "bcrypt" in text
    with pytest.raises(SpecError, match="needs a bind_address other than 0.0.0.0"):
        plan({"proxy": {"extra_bind_addresses": ["10.88.0.1"]}})
