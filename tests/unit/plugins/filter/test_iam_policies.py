import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.lgtm.aws.plugins.filter import iam_policies as f
from ansible_collections.lgtm.aws.plugins.filter.storage_spec import storage_bucket_specs, storage_outputs

STORAGE = storage_outputs(
    storage_bucket_specs({"name_prefix": "aws-rag", "environment": "prod", "components": ["loki", "mimir", "tempo"]}), "ap-northeast-2"
)
OIDC = {"arn": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.ap-northeast-2.amazonaws.com/id/ABC",
        "url": "https://oidc.eks.ap-northeast-2.amazonaws.com/id/ABC"}
SPEC = {
    "name_prefix": "aws-rag", "environment": "prod", "components": ["loki", "mimir", "tempo"], "irsa_enabled": True,
    "eks_cluster_name": "lab", "irsa_namespace": "monitoring", "irsa_service_accounts": {}, "ecs_enabled": True,
    "efs_file_system_arn": "", "secret_arns": [], "ec2_enabled": True, "alloy_collector_enabled": True, "tags": {},
}


def plan(**overrides):
    return f.identity_role_specs(dict(SPEC, **overrides), STORAGE, OIDC)


def roles_by_key(entries):
    return {e["key"]: e["role"] for e in entries}


def test_component_policy_touches_only_own_buckets():
    mimir = f.component_s3_policy(STORAGE, "mimir")
    resources = [r for s in mimir["Statement"] for r in s["Resource"]]
    assert sorted({r.split(":::")[1].split("/")[0] for r in resources}) == [
        "aws-rag-prod-mimir-alertmanager", "aws-rag-prod-mimir-blocks", "aws-rag-prod-mimir-ruler"]
    loki = f.component_s3_policy(STORAGE, "loki")
    assert not any("tempo" in r or "mimir" in r for s in loki["Statement"] for r in s["Resource"])


def test_component_policy_uses_storage_kms_key():
    key = "arn:aws:kms:ap-northeast-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    policy = f.component_s3_policy(dict(STORAGE, kms_key_arn=key), "tempo")
    assert policy["Statement"][-1]["Resource"] == [key]


def test_component_without_buckets_fails():
    with pytest.raises(AnsibleFilterError, match="has no buckets"):
        f.component_s3_policy({"buckets": {}}, "loki")


def test_full_plan_roles_and_names():
    roles = roles_by_key(plan())
    assert sorted(roles) == sorted([
        "irsa_loki", "irsa_mimir", "irsa_tempo", "ecs_task_execution", "ecs_task_prometheus", "ecs_task_grafana",
        "ecs_task_cloudwatch_exporter", "ecs_task_alertmanager", "alloy_agent", "alloy_collector"])
    assert roles["irsa_loki"]["name"] == "aws-rag-prod-loki-irsa"
    assert roles["alloy_agent"]["instance_profile"] is True
    assert roles["ecs_task_execution"]["managed_policy_arns"] == ["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"]


def test_irsa_role_trusts_custom_service_account():
    role = roles_by_key(plan(irsa_service_accounts={"loki": "loki-sa"}))["irsa_loki"]
    condition = role["trust_policy"]["Statement"][0]["Condition"]["StringEquals"]
    assert condition["oidc.eks.ap-northeast-2.amazonaws.com/id/ABC:sub"] == "system:serviceaccount:monitoring:loki-sa"


def test_execution_role_reads_given_secrets():
    arn = "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:grafana-admin-AbCdEf"
    role = roles_by_key(plan(secret_arns=[arn]))["ecs_task_execution"]
    assert role["inline_policies"]["read-secrets"]["Statement"][0]["Resource"] == [arn]


def test_toggles():
    assert sorted(roles_by_key(plan(ecs_enabled=False, ec2_enabled=False, alloy_collector_enabled=False))) == ["irsa_loki", "irsa_mimir", "irsa_tempo"]
    assert "irsa_loki" not in roles_by_key(plan(irsa_enabled=False))


def test_validate_only_without_oidc():
    entries = f.identity_role_specs(SPEC, STORAGE)
    assert not any(e["key"].startswith("irsa_") for e in entries)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"components": ["loki", "jaeger"]}, "- identity_components: unknown component 'jaeger'"),
        ({"components": ["loki", "mimri"]}, "unknown component 'mimri' (did you mean mimir?)"),
        ({"eks_cluster_name": ""}, "- identity_eks_cluster_name: is required when identity_irsa_enabled is true"),
        ({"irsa_namespace": "Monitoring"}, "- identity_irsa_namespace: 'Monitoring' must be a Kubernetes name"),
        ({"irsa_service_accounts": {"loki": "loki_sa"}}, "- identity_irsa_service_accounts.loki: 'loki_sa' must be a Kubernetes name"),
        ({"irsa_service_accounts": {"lokki": "logs"}}, "- identity_irsa_service_accounts: unknown key lokki (did you mean loki?)"),
        ({"efs_file_system_arn": "fs-12345"}, "- identity_efs_file_system_arn: 'fs-12345' is not an ARN"),
        ({"efs_file_system_arn": "arn:aws:s3:::bucket"}, "is an ARN of service 's3', expected 'elasticfilesystem'"),
        ({"secret_arns": ["arn:aws:s3:::x"]}, "- identity_secret_arns[0]: 'arn:aws:s3:::x' must be a Secrets Manager secret ARN"),
        ({"ecs_config_parameter_path": "lgtm/config"}, "- identity_ecs_config_parameter_path: 'lgtm/config' must be an SSM parameter path"),
        ({"tags": ["Team"]}, "- identity_tags: must be a mapping"),
        ({"environment": "e" * 60}, "- identity_name_prefix: with identity_environment 'eeee"),
        ({"environment": "e" * 60}, "IAM allows 64"),
    ],
)
def test_bad_identity_specs(overrides, message):
    with pytest.raises(AnsibleFilterError) as error:
        f.identity_role_specs(dict(SPEC, **overrides), STORAGE)
    assert message in str(error.value)
    assert "nothing was changed" in str(error.value)


def test_every_problem_of_the_input_at_once_in_the_users_names():
    bad = dict(SPEC, components=["loki", "jaeger"], eks_cluster_name="", irsa_namespace="Monitoring",
               irsa_service_accounts={"loki": "Loki_SA", "tempoo": "t"}, efs_file_system_arn="fs-1",
               secret_arns=["arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:ok-AbCdEf", "nope", "arn:aws:s3:::x"],
               ecs_config_parameter_path="no slash")
    with pytest.raises(AnsibleFilterError) as error:
        f.identity_role_specs(bad, {"buckets": {}, "kms_key_arn": "alias/x"})
    lines = str(error.value).splitlines()
    assert lines[0] == "lgtm.aws.identity: 11 problems in the variables; nothing was changed."
    fields = [line[2:].split(":")[0] for line in lines[1:]]
    assert fields == [
        "identity_components", "identity_eks_cluster_name", "identity_irsa_namespace", "identity_irsa_service_accounts",
        "identity_irsa_service_accounts.loki", "identity_storage_outputs", "identity_storage_outputs.kms_key_arn",
        "identity_efs_file_system_arn", "identity_secret_arns[1]", "identity_secret_arns[2]", "identity_ecs_config_parameter_path"]
    assert "has no bucket for component 'loki'" in lines[6]


def test_preflight_without_storage_outputs_checks_the_rest():
    """Before the storage role has run (storage_outputs None), the spec is still checked; the buckets are not."""
    entries = f.identity_role_specs(SPEC, None)
    assert roles_by_key(entries)["ecs_task_execution"]["managed_policy_arns"]
    with pytest.raises(AnsibleFilterError, match="identity_irsa_namespace"):
        f.identity_role_specs(dict(SPEC, irsa_namespace="Bad"), None)


def test_missing_bucket_for_component():
    with pytest.raises(AnsibleFilterError, match="identity_storage_outputs: has no bucket for component 'tempo'"):
        f.identity_role_specs(SPEC, storage_outputs(storage_bucket_specs({"name_prefix": "a", "environment": "b", "components": ["loki", "mimir"]}), "r"))


def test_malformed_kms_arn_in_storage_outputs():
    with pytest.raises(AnsibleFilterError, match="identity_storage_outputs.kms_key_arn: 'alias/x' is not an ARN"):
        f.identity_role_specs(SPEC, dict(STORAGE, kms_key_arn="alias/x"))


def test_resource_tags_carry_the_standard_tags():
    tags = f.identity_resource_tags(dict(SPEC, tags={"Team": "obs", "Environment": "ignored"}), "eks-oidc-provider")
    assert tags == {"Team": "obs", "Environment": "prod", "ManagedBy": "lgtm.aws", "Purpose": "eks-oidc-provider"}
    with pytest.raises(AnsibleFilterError, match="identity_tags must be a mapping"):
        f.identity_resource_tags(dict(SPEC, tags=["x"]), "p")


def test_trust_policy_filter_validates():
    with pytest.raises(AnsibleFilterError, match="provider_arn 'x' is not an ARN"):
        f.irsa_trust_policy("x", OIDC["url"], "monitoring", "loki")
    with pytest.raises(AnsibleFilterError, match="must use https"):
        f.irsa_trust_policy(OIDC["arn"], "http://o/id/A", "monitoring", "loki")


def test_oidc_issuer_host_filter():
    assert f.oidc_issuer_host(OIDC["url"]) == "oidc.eks.ap-northeast-2.amazonaws.com/id/ABC"


def test_service_trust_filter_rejects_unknown():
    with pytest.raises(AnsibleFilterError, match="unknown service lambda"):
        f.service_trust_policy(["lambda"])


def test_outputs_contract():
    entries = plan()
    results = [{"name": e["role"]["name"], "arn": "arn:aws:iam::1:role/" + e["role"]["name"],
                "instance_profile_arn": "arn:aws:iam::1:instance-profile/" + e["role"]["name"] if e["role"].get("instance_profile") else None}
               for e in entries]
    out = f.identity_outputs(entries, results, OIDC)
    assert out["irsa_roles"]["tempo"] == {"name": "aws-rag-prod-tempo-irsa", "arn": "arn:aws:iam::1:role/aws-rag-prod-tempo-irsa",
                                          "namespace": "monitoring", "service_account": "tempo"}
    assert out["ecs"]["task_roles"]["prometheus"] == "arn:aws:iam::1:role/aws-rag-prod-ecs-prometheus"
    assert out["ec2_instance_profile"]["arn"] == "arn:aws:iam::1:instance-profile/aws-rag-prod-alloy-agent"
    assert out["oidc_provider_arn"] == OIDC["arn"]


def test_ecs_outputs_say_what_the_execution_role_may_read():
    secret = "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:grafana-admin-AbCdEf"
    entries = plan(secret_arns=[secret], ecs_config_parameter_path="/lgtm/acme-prod/ecs-monitoring")
    results = [{"name": e["role"]["name"], "arn": "arn:aws:iam::1:role/" + e["role"]["name"]} for e in entries]
    ecs = f.identity_outputs(entries, results, OIDC)["ecs"]
    assert ecs["secret_arns"] == [secret]
    assert ecs["config_parameter_path"] == "/lgtm/acme-prod/ecs-monitoring"
    assert ecs["execution_role_arn"] == "arn:aws:iam::1:role/aws-rag-prod-ecs-task-execution"
    # ... and what the execution role's policy grants: the same secret and the parameters under that path.
    resources = [r for s in roles_by_key(entries)["ecs_task_execution"]["inline_policies"]["read-secrets"]["Statement"] for r in s["Resource"]]
    assert secret in resources and "arn:aws:ssm:*:*:parameter/lgtm/acme-prod/ecs-monitoring/*" in resources
    assert f.identity_outputs(plan(ecs_config_parameter_path=""), results, OIDC)["ecs"]["config_parameter_path"] == ""
