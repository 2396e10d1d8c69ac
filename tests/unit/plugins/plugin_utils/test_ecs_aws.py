"""The AWS side of ECS monitoring as data: names, network rules, config delivery, task definitions, bad input."""
import copy

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.lgtm.aws.plugins.filter.ecs_monitoring import ecs_monitoring_aws, ecs_monitoring_files
from ansible_collections.lgtm.aws.plugins.plugin_utils import ecs_aws, ecs_monitoring as em

ACCOUNT = "123456789012"
ADMIN = "arn:aws:secretsmanager:ap-northeast-2:%s:secret:grafana-admin-AbCdEf" % ACCOUNT
SLACK = "arn:aws:secretsmanager:ap-northeast-2:%s:secret:slack-webhook-GhIjKl" % ACCOUNT
OAUTH = "arn:aws:ssm:ap-northeast-2:%s:parameter/grafana/oauth-client-secret" % ACCOUNT
BASE_SPEC = {
    "name_prefix": "lgtm", "environment": "prod", "region": "ap-northeast-2", "services": [{"name": "api-1"}, {"name": "web"}],
    "allowed_cidrs": ["203.0.113.0/24"], "certificate_arn": "arn:aws:acm:ap-northeast-2:%s:certificate/0f0e-1a2b" % ACCOUNT,
    "network": {"vpc_id": "vpc-0abc", "private_subnets": ["subnet-0a1", "subnet-0c1"], "public_subnets": ["subnet-0a2", "subnet-0c2"]},
    "dns": {"zone": "example.com"}, "grafana": {"admin_secret_arn": ADMIN}, "slack": {"webhook_secret_arn": SLACK},
}
REFS = {"account_id": ACCOUNT, "region": "ap-northeast-2", "execution_role_arn": "arn:aws:iam::%s:role/exec" % ACCOUNT,
        "task_roles": {t: "arn:aws:iam::%s:role/%s" % (ACCOUNT, t) for t in em.TASKS},
        "efs": {"file_system_id": "fs-0123", "file_system_arn": "arn:aws:elasticfilesystem:ap-northeast-2:%s:file-system/fs-0123" % ACCOUNT,
                "access_point_id": "fsap-0123", "access_point_arn": "arn:aws:elasticfilesystem:ap-northeast-2:%s:access-point/fsap-0123" % ACCOUNT},
        "target_group_arn": "arn:aws:elasticloadbalancing:ap-northeast-2:%s:targetgroup/lgtm-prod-grafana/abc" % ACCOUNT}


def merged(base, changes):
    result = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def plan(refs="default", **changes):
    raw = merged(BASE_SPEC, changes)
    return ecs_aws.plan(em.validate(raw), ecs_monitoring_files(raw), REFS if refs == "default" else refs)


def test_security_groups_admit_only_the_design_paths_in_creation_order():
    groups = plan(refs=None)["security_groups"]
    assert [g["name"] for g in groups] == ["lgtm-prod-ecs-" + n for n in ("alb", "grafana", "prometheus", "alertmanager", "cloudwatch-exporter", "efs")]
    by_name = {g["name"].split("-ecs-")[1]: g["rules"] for g in groups}
    assert {(r["ports"][0], r["cidr_ip"]) for r in by_name["alb"]} == {(443, "203.0.113.0/24"), (80, "203.0.113.0/24")}
    assert [(r["ports"][0], r["group_name"]) for r in by_name["grafana"]] == [(3000, "lgtm-prod-ecs-alb")]
    assert [(r["ports"][0], r["group_name"]) for r in by_name["efs"]] == [(2049, "lgtm-prod-ecs-prometheus")]
    assert all("cidr_ip" not in r for name, rules in by_name.items() if name != "alb" for r in rules), "only the ALB faces a network"
    seen = set()
    for group in groups:
        assert all(r["group_name"] in seen for r in group["rules"] if "group_name" in r), "a group refers only to groups made before it"
        seen.add(group["name"])


def test_every_file_reaches_its_container_through_an_ssm_parameter():
    result = plan()
    parameters = {p["name"]: p for p in result["parameters"]}
    assert all(name.startswith("/lgtm/lgtm-prod/ecs-monitoring/") for name in parameters), "never under the reserved /aws prefix"
    prometheus = result["task_definitions"]["prometheus"]["containers"][0]
    environment = {e["name"]: e["value"] for e in prometheus["environment"]}
    secrets = {s["name"]: s["valueFrom"] for s in prometheus["secrets"]}
    placed = dict(pair.split("=", 1) for pair in environment["LGTM_FILES"].split())
    assert set(placed.values()) == {"/etc/prometheus/prometheus.yml", "/etc/prometheus/rules/alerts.yml"}
    for variable in placed:
        assert secrets[variable].split(":parameter", 1)[1] in parameters
    assert prometheus["entryPoint"][:2] == ["sh", "-c"] and 'printenv "$var" > "$path"' in prometheus["entryPoint"][2]
    assert prometheus["entryPoint"][2].endswith('exec /bin/prometheus --config.file=/etc/prometheus/prometheus.yml --storage.tsdb.path=/prometheus '
                                                "--web.console.libraries=/usr/share/prometheus/console_libraries "
                                                '--web.console.templates=/usr/share/prometheus/consoles --web.enable-lifecycle "$@"')
    assert prometheus["command"] == ["--storage.tsdb.retention.time=15d"]
    alertmanager = result["task_definitions"]["alertmanager"]["containers"][0]
    assert {"name": "LGTM_FILE_SLACK", "valueFrom": SLACK} in alertmanager["secrets"]
    assert "LGTM_FILE_SLACK=/etc/alertmanager/secrets/slack-webhook-url" in {e["name"]: e["value"] for e in alertmanager["environment"]}["LGTM_FILES"]
    grafana = result["task_definitions"]["grafana"]["containers"][0]
    grafana_paths = {e["name"]: e["value"] for e in grafana["environment"]}["LGTM_FILES"]
    assert "/tmp/grafana/provisioning/datasources/lgtm.yml" in grafana_paths and "/tmp/grafana/dashboards/web.json" not in grafana_paths
    assert "/tmp/grafana/dashboards/service-web.json" in grafana_paths


def test_parameters_above_4_kb_are_advanced_and_above_8_kb_fail_naming_the_file():
    spec = em.validate(merged(BASE_SPEC, {}))
    files = ecs_monitoring_files(merged(BASE_SPEC, {}))
    files["dashboards/service-web.json"] = "x" * 5000
    tiers = {p["name"].rsplit("/", 1)[1]: p["tier"] for p in ecs_aws.parameters(spec, files)}
    assert tiers["service-web.json"] == "Advanced" and tiers["prometheus.yml"] == "Standard"
    files["dashboards/service-web.json"] = "x" * 9000
    with pytest.raises(em.SpecError, match=r"files.dashboards/service-web.json: is 9000 bytes"):
        ecs_aws.parameters(spec, files)


def test_a_changed_rule_rolls_prometheus_only():
    before = plan()["checksums"]
    after = plan(thresholds={"cpu_percent": 90})["checksums"]
    assert before["prometheus"] != after["prometheus"]
    assert before["alertmanager"] == after["alertmanager"] and before["cloudwatch_exporter"] == after["cloudwatch_exporter"]


def test_prometheus_is_one_writer_on_encrypted_iam_authorised_efs():
    result = plan()
    assert result["services"]["prometheus"]["deployment_configuration"] == {"minimum_healthy_percent": 0, "maximum_percent": 100}
    assert result["services"]["grafana"]["deployment_configuration"] == {"minimum_healthy_percent": 100, "maximum_percent": 200}
    [volume] = result["task_definitions"]["prometheus"]["volumes"]
    efs = volume["efsVolumeConfiguration"]
    assert (efs["transitEncryption"], efs["authorizationConfig"]) == ("ENABLED", {"accessPointId": "fsap-0123", "iam": "ENABLED"})
    assert result["access_point"] == {"name": "prometheus", "path": "/prometheus", "uid": 65534, "gid": 65534, "permissions": "0755"}
    policy = result["file_system_policy"]["Statement"]
    assert policy[0]["Principal"] == {"AWS": REFS["task_roles"]["prometheus"]}
    assert policy[1]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert (result["task_definitions"]["prometheus"]["cpu"], result["task_definitions"]["prometheus"]["memory"]) == ("1024", "2048")


def test_grafana_oauth_through_cognito_maps_groups_to_roles_and_keeps_secrets_out_of_the_environment():
    result = plan(grafana={"oauth": {"provider": "cognito", "client_id": "abc", "client_secret_arn": OAUTH, "cognito_domain": "auth.example.com",
                                     "role_mapping": {"Admin": ["ops"], "Editor": ["dev", "qa"]}}})
    grafana = result["task_definitions"]["grafana"]["containers"][0]
    environment = {e["name"]: e["value"] for e in grafana["environment"]}
    secrets = {s["name"]: s["valueFrom"] for s in grafana["secrets"]}
    assert environment["GF_AUTH_GENERIC_OAUTH_AUTH_URL"] == "https://auth.example.com/oauth2/authorize"
    assert environment["GF_AUTH_GENERIC_OAUTH_ROLE_ATTRIBUTE_PATH"] == (
        "contains(\"cognito:groups\"[*], 'ops') && 'Admin' || contains(\"cognito:groups\"[*], 'dev') && 'Editor' || "
        "contains(\"cognito:groups\"[*], 'qa') && 'Editor' || 'Viewer'")
    assert environment["GF_SERVER_ROOT_URL"] == "https://grafana.example.com/"
    assert secrets == dict(secrets, GF_SECURITY_ADMIN_PASSWORD=ADMIN, GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET=OAUTH)
    assert not any("SECRET" in name or "PASSWORD" in name for name in environment)


def test_listeners_forward_grafanas_name_and_redirect_http():
    https, http = plan()["listeners"]
    assert https["Certificates"] == [{"CertificateArn": BASE_SPEC["certificate_arn"]}] and https["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    assert https["Rules"][0]["Conditions"] == [{"Field": "host-header", "Values": ["grafana.example.com"]}]
    assert https["DefaultActions"][0]["Type"] == "fixed-response"
    assert http["DefaultActions"][0]["RedirectConfig"]["Protocol"] == "HTTPS"
    assert "Rules" not in plan()["listeners_without_rules"][0]


@pytest.mark.parametrize("changes, message", [
    ({"certificate_arn": ""}, "certificate_arn: is required"),
    ({"certificate_arn": "arn:aws:iam::123456789012:server-certificate/x"}, "certificate_arn: must be an ACM certificate ARN"),
    ({"allowed_cidrs": []}, "allowed_cidrs: is required"),
    ({"allowed_cidrs": ["office"]}, "allowed_cidrs: 'office' is not a CIDR"),
    ({"network": {"vpc_id": "my-vpc"}}, "network.vpc_id: must be the VPC's id"),
    ({"network": {"public_subnets": ["subnet-0a2"]}}, "network.public_subnets: needs at least 2 subnet id"),
    ({"network": {"private_subnets": []}}, "network.private_subnets: needs at least 1 subnet id"),
    ({"dns": {"zone": ""}}, "dns.zone: is required"),
    ({"dns": {"zone": "not a domain"}}, "dns.zone: must be a DNS domain"),
    ({"grafana": {"admin_secret_arn": ""}}, "grafana.admin_secret_arn: is required"),
    ({"grafana": {"admin_secret_arn": "hunter2"}}, "grafana.admin_secret_arn: must be a Secrets Manager secret ARN"),
    ({"slack": {"webhook_secret_arn": ""}}, "slack.webhook_secret_arn: is required"),
    ({"grafana": {"oauth": {"provider": "okta"}}}, "grafana.oauth.provider: 'okta' is not one of none, cognito, generic"),
    ({"grafana": {"oauth": {"provider": "cognito", "client_id": "abc", "client_secret_arn": OAUTH}}}, "grafana.oauth.cognito_domain"),
    ({"grafana": {"oauth": {"provider": "generic", "client_id": "abc", "client_secret_arn": OAUTH, "auth_url": "http://idp"}}},
     "grafana.oauth.auth_url: must be an https:// URL"),
    ({"grafana": {"oauth": {"provider": "generic", "client_id": "abc"}}}, "grafana.oauth.client_secret_arn"),
    ({"container_insights": "on"}, "container_insights: 'on' is not one of enabled, disabled, enhanced"),
    ({"log_retention_days": 10}, "log_retention_days: 10 is not one of 1, 3, 5"),
    ({"images": {"loki": "grafana/loki"}}, "images: unknown key"),
    ({"name_prefix": "LGTM"}, "name_prefix: must be a lower-case DNS label"),
    ({"tasks": {"prometheus": {"cpu": 1024, "memory": 512}}}, "tasks.prometheus.memory: 512 MiB does not go with 1024 CPU units"),
    ({"slack": {"routes": {"info": "#info"}}}, "slack.routes: unknown key"),
    ({"cloudwatch_exporter": {"metrics": [{"aws_namespace": "AWS/RDS"}]}}, r"cloudwatch_exporter.metrics\[0\]: needs aws_namespace and aws_metric_name"),
])
def test_bad_input_fails_naming_the_field(changes, message):
    with pytest.raises(em.SpecError, match=message):
        plan(refs=None, **changes)


def test_cloudwatch_exporter_reads_ecs_and_alb_and_what_the_user_lists():
    config = em.cloudwatch_exporter_config(em.validate(merged(BASE_SPEC, {"cloudwatch_exporter": {"metrics": [
        {"aws_namespace": "AWS/RDS", "aws_metric_name": "CPUUtilization", "aws_dimensions": ["DBInstanceIdentifier"]}]}})))
    metrics = {(m["aws_namespace"], m["aws_metric_name"]): m for m in config["metrics"]}
    assert {("AWS/ECS", "CPUUtilization"), ("AWS/ECS", "MemoryUtilization"), ("AWS/ApplicationELB", "TargetResponseTime")} <= set(metrics)
    assert metrics[("AWS/RDS", "CPUUtilization")]["aws_statistics"] == ["Average"]
    assert config["region"] == "ap-northeast-2"


# The identity role's ECS outputs as lgtm.aws.identity publishes them (identity_outputs.ecs).
IDENTITY = {"execution_role_arn": REFS["execution_role_arn"], "task_roles": dict(REFS["task_roles"]),
            "secret_arns": [ADMIN, SLACK], "config_parameter_path": "/lgtm/lgtm-prod/ecs-monitoring"}


def test_references_to_the_identity_role_that_hold_pass():
    assert ecs_aws.check_references(em.validate(BASE_SPEC), IDENTITY, ["/lgtm/lgtm-prod/ecs-monitoring/prometheus/prometheus.yml"]) == []
    # IAM wildcards and a Secrets Manager reference to one JSON key of the secret are what ECS reads too.
    spec = em.validate(merged(BASE_SPEC, {"slack": {"webhook_secret_arn": SLACK + ":url::"}}))
    wildcard = dict(IDENTITY, secret_arns=["arn:aws:secretsmanager:ap-northeast-2:%s:secret:*" % ACCOUNT])
    assert ecs_aws.check_references(spec, wildcard) == []


def test_every_secret_the_tasks_inject_must_be_readable_by_the_execution_role_all_reported_at_once():
    oauth = {"provider": "cognito", "client_id": "abc", "client_secret_arn": OAUTH, "cognito_domain": "auth.example.com"}
    database = "arn:aws:secretsmanager:ap-northeast-2:%s:secret:grafana-db-MnOpQr" % ACCOUNT
    raw = merged(BASE_SPEC, {"grafana": {"oauth": oauth, "database_url_secret_arn": database}})
    with pytest.raises(AnsibleFilterError) as caught:
        ecs_monitoring_aws(raw, ecs_monitoring_files(raw), identity=dict(IDENTITY, secret_arns=[ADMIN]))
    message = str(caught.value)
    for field, arn in (("grafana.database_url_secret_arn", database), ("grafana.oauth.client_secret_arn", OAUTH),
                       ("slack.webhook_secret_arn", SLACK)):
        assert "ecs_monitoring_spec.%s: %s is not readable by the task execution role; add it to identity_secret_arns" % (field, arn) in message
    assert "grafana.admin_secret_arn" not in message


def test_parameters_outside_the_path_the_execution_role_may_read_are_refused():
    raw = merged(BASE_SPEC, {"name_prefix": "acme"})
    with pytest.raises(AnsibleFilterError, match=r"ecs_monitoring_spec.name_prefix: the configuration parameters "
                                                 r"\(/lgtm/acme-prod/ecs-monitoring/.*\) would be outside /lgtm/lgtm-prod/ecs-monitoring/\*"):
        ecs_monitoring_aws(raw, ecs_monitoring_files(raw), identity=IDENTITY)


def test_missing_identity_outputs_are_named_before_any_call():
    problems = dict(ecs_aws.check_references(em.validate(BASE_SPEC), {"execution_role_arn": None, "task_roles": {"grafana": "x"}}))
    assert set(problems) == {"ecs_monitoring_identity.execution_role_arn", "ecs_monitoring_identity.task_roles.prometheus",
                             "ecs_monitoring_identity.task_roles.grafana", "ecs_monitoring_identity.task_roles.cloudwatch_exporter",
                             "ecs_monitoring_identity.task_roles.alertmanager", "ecs_monitoring_identity.secret_arns",
                             "ecs_monitoring_identity.config_parameter_path", "grafana.admin_secret_arn", "slack.webhook_secret_arn"}
    assert "run lgtm.aws.identity" in problems["ecs_monitoring_identity.secret_arns"]
    [(field, message)] = ecs_aws.check_references(em.validate(BASE_SPEC), None)
    assert field == "ecs_monitoring_identity" and "identity_ecs_enabled=true" in message


def test_every_missing_aws_input_is_reported_at_once():
    raw = merged(BASE_SPEC, {"certificate_arn": "", "dns": {"zone": ""}, "allowed_cidrs": []})
    with pytest.raises(AnsibleFilterError) as caught:
        ecs_monitoring_aws(raw, ecs_monitoring_files(raw))
    message = str(caught.value)
    for field in ("certificate_arn: is required", "dns.zone: is required", "allowed_cidrs: is required"):
        assert "ecs_monitoring_spec." + field in message


def test_services_as_one_call_takes_them():
    families = ecs_aws.names(em.validate(BASE_SPEC))["families"]
    groups = {name: "sg-%d" % index for index, name in enumerate(ecs_aws.names(em.validate(BASE_SPEC))["security_groups"].values())}
    refs = dict(REFS, task_definitions={family: {"revision": family + ":7"} for family in families.values()}, security_group_ids=groups,
                cloudmap_services={name: {"arn": "arn:cloudmap:" + name} for name in ("prometheus", "grafana", "alertmanager", "cloudwatch-exporter")})
    services = {s["name"]: s for s in plan(refs=refs)["ecs_services"]}
    prometheus, grafana = services["lgtm-prod-prometheus"], services["lgtm-prod-grafana"]
    assert prometheus["task_definition"] == "lgtm-prod-prometheus:7" and prometheus["security_groups"] == [groups["lgtm-prod-ecs-prometheus"]]
    assert (prometheus["minimum_healthy_percent"], prometheus["maximum_percent"]) == (0, 100)
    assert prometheus["load_balancers"] == [] and prometheus["service_registries"] == [{"registryArn": "arn:cloudmap:prometheus"}]
    assert grafana["load_balancers"] == [{"targetGroupArn": REFS["target_group_arn"], "containerName": "grafana", "containerPort": 3000}]
    assert all(s["subnets"] == ["subnet-0a1", "subnet-0c1"] and s["assign_public_ip"] is False for s in services.values())
    assert "ecs_services" not in plan(), "without the revisions there is nothing to hand to the services"
