"""The workload documents' conditions, trust and resource policies, judged by tests/iam_eval.py: what moto cannot judge.

moto 5 (tests/integration/test_workload_identities.py) judges the actions and S3, SSM and Secrets Manager resources of
each workload's real calls. It does not judge: OIDC ``sub``/``aud`` conditions and web identity trust at all, a trust
policy naming a ``Service``, ``aws:SecureTransport`` (it ignores the Bool operator, so the TLS-only bucket policy would
deny every call), ``aws:SourceAccount``, ``elasticfilesystem:AccessPointArn``, or an EFS mount. These tests judge the
documents exactly as the plugins generate them (docs/security.md, "Workload identities").
"""

import pytest

from ansible_collections.lgtm.aws.plugins.filter import iam_policies as f
from ansible_collections.lgtm.aws.plugins.filter.storage_spec import storage_bucket_specs, storage_outputs
from ansible_collections.lgtm.aws.plugins.module_utils import iam_documents as docs
from ansible_collections.lgtm.aws.plugins.module_utils.s3_buckets import desired_policy
from ansible_collections.lgtm.aws.plugins.plugin_utils.ecs_aws import file_system_policy

from iam_eval import ALLOW, EXPLICIT_DENY, IMPLICIT_DENY, assume_role, evaluate, web_identity_request

ACCOUNT = "123456789012"
ISSUER = "https://oidc.eks.ap-northeast-2.amazonaws.com/id/CLUSTER1"
PROVIDER = "arn:aws:iam::%s:oidc-provider/oidc.eks.ap-northeast-2.amazonaws.com/id/CLUSTER1" % ACCOUNT
STORAGE = storage_outputs(storage_bucket_specs({"name_prefix": "acme", "environment": "prod", "components": ["loki", "mimir", "tempo"]}),
                          "ap-northeast-2")
SPEC = {
    "name_prefix": "acme", "environment": "prod", "components": ["loki", "mimir", "tempo"], "irsa_enabled": True,
    "eks_cluster_name": "lab", "irsa_namespace": "monitoring", "irsa_service_accounts": {}, "ecs_enabled": True,
    "efs_file_system_arn": "", "secret_arns": [], "ecs_config_parameter_path": "/lgtm/acme-prod/ecs-monitoring",
    "ec2_enabled": True, "alloy_collector_enabled": True, "tags": {},
}
FILE_SYSTEM = "arn:aws:elasticfilesystem:ap-northeast-2:%s:file-system/fs-0123" % ACCOUNT
ACCESS_POINT = "arn:aws:elasticfilesystem:ap-northeast-2:%s:access-point/fsap-0123" % ACCOUNT


def roles(**overrides):
    plan = f.identity_role_specs(dict(SPEC, **overrides), STORAGE, {"arn": PROVIDER, "url": ISSUER})
    return {entry["key"]: entry["role"] for entry in plan}


def session(role):
    return "arn:aws:sts::%s:assumed-role/%s/session" % (ACCOUNT, role["name"])


def token(service_account, namespace="monitoring", audience="sts.amazonaws.com", issuer=ISSUER):
    return {"iss": issuer, "sub": "system:serviceaccount:%s:%s" % (namespace, service_account), "aud": [audience]}


# -- IRSA: the service account token's sub and aud (moto: not judged) ----------------------------------------------

@pytest.mark.parametrize("component", ["loki", "mimir", "tempo"])
def test_irsa_trust_takes_exactly_the_component_service_account(component):
    trust = roles()["irsa_" + component]["trust_policy"]
    assert assume_role(trust, web_identity_request(PROVIDER, token(component))) == ALLOW
    for other in {"loki", "mimir", "tempo", "default", component + "-x"} - {component}:
        assert assume_role(trust, web_identity_request(PROVIDER, token(other))) == IMPLICIT_DENY, other
    assert assume_role(trust, web_identity_request(PROVIDER, token(component, namespace="default"))) == IMPLICIT_DENY
    assert assume_role(trust, web_identity_request(PROVIDER, token(component, audience="vault"))) == IMPLICIT_DENY


def test_irsa_trust_takes_no_other_cluster_and_no_other_way_in():
    trust = roles()["irsa_loki"]["trust_policy"]
    other_issuer = "https://oidc.eks.ap-northeast-2.amazonaws.com/id/CLUSTER2"
    other_provider = PROVIDER.replace("CLUSTER1", "CLUSTER2")
    assert assume_role(trust, web_identity_request(other_provider, token("loki", issuer=other_issuer))) == IMPLICIT_DENY
    # The right claims presented for another provider (its conditions name CLUSTER1's keys: they are missing).
    assert assume_role(trust, web_identity_request(other_provider, token("loki"))) == IMPLICIT_DENY
    assert assume_role(trust, {"action": "sts:AssumeRole", "principal": {"AWS": "arn:aws:iam::%s:root" % ACCOUNT}}) == IMPLICIT_DENY
    assert assume_role(trust, {"action": "sts:AssumeRole", "principal": {"Service": "ec2.amazonaws.com"}}) == IMPLICIT_DENY


def test_irsa_trust_follows_a_renamed_service_account():
    trust = roles(irsa_service_accounts={"mimir": "mimir-distributed"})["irsa_mimir"]["trust_policy"]
    assert assume_role(trust, web_identity_request(PROVIDER, token("mimir-distributed"))) == ALLOW
    assert assume_role(trust, web_identity_request(PROVIDER, token("mimir"))) == IMPLICIT_DENY


# -- S3: the TLS-only bucket policy with each component's policy (moto: ignores aws:SecureTransport) ------------------

@pytest.mark.parametrize("component", ["loki", "mimir", "tempo"])
def test_buckets_take_their_component_over_tls_only(component):
    role = roles()["irsa_" + component]
    identity = (role["inline_policies"]["s3-access"], "identity")
    for bucket in STORAGE["buckets"].values():
        policies = [identity, (desired_policy(bucket["name"]), "resource")]
        own = bucket["component"] == component
        for action, resource in (("s3:GetObject", bucket["arn"] + "/k"), ("s3:PutObject", bucket["arn"] + "/k"),
                                 ("s3:ListBucket", bucket["arn"])):
            request = {"action": action, "resource": resource, "principal": {"AWS": session(role)}}
            over_tls = evaluate(policies, dict(request, context={"aws:SecureTransport": "true"}))
            assert over_tls == (ALLOW if own else IMPLICIT_DENY), (bucket["name"], action)
            assert evaluate(policies, dict(request, context={"aws:SecureTransport": "false"})) == EXPLICIT_DENY


def test_tls_only_bucket_policy_refuses_even_the_account_admin_over_plain_http():
    admin = ({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}, "identity")
    bucket = STORAGE["buckets"]["loki"]
    policies = [admin, (desired_policy(bucket["name"]), "resource")]
    request = {"action": "s3:DeleteBucket", "resource": bucket["arn"], "principal": {"AWS": "arn:aws:iam::%s:user/admin" % ACCOUNT}}
    assert evaluate(policies, dict(request, context={"aws:SecureTransport": "false"})) == EXPLICIT_DENY
    assert evaluate(policies, dict(request, context={"aws:SecureTransport": "true"})) == ALLOW


# -- Prometheus's EFS mount: no API to call (moto: no mount, no file system policy evaluation) -----------------------

def _mount(role, context, file_system_arn_in_identity, action="elasticfilesystem:ClientMount"):
    task_roles = roles(efs_file_system_arn=FILE_SYSTEM if file_system_arn_in_identity else "")
    prometheus_arn = "arn:aws:iam::%s:role/%s" % (ACCOUNT, task_roles["ecs_task_prometheus"]["name"])
    policies = [(p, "identity") for p in task_roles[role]["inline_policies"].values()]
    policies.append((file_system_policy(FILE_SYSTEM, prometheus_arn, ACCESS_POINT), "resource"))
    return evaluate(policies, {"action": action, "resource": FILE_SYSTEM, "principal": {"AWS": session(task_roles[role])}, "context": context})


@pytest.mark.parametrize("scoped_in_identity", [False, True], ids=["file-system-policy", "and-identity-efs-arn"])
def test_prometheus_mounts_through_its_access_point_over_tls_only(scoped_in_identity):
    via_access_point = {"aws:SecureTransport": "true", "elasticfilesystem:AccessPointArn": ACCESS_POINT}
    for action in ("elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"):
        assert _mount("ecs_task_prometheus", via_access_point, scoped_in_identity, action) == ALLOW
    assert _mount("ecs_task_prometheus", via_access_point, scoped_in_identity, "elasticfilesystem:ClientRootAccess") == IMPLICIT_DENY
    # Without an access point: the file system root, outside the access point's uid, gid and directory.
    assert _mount("ecs_task_prometheus", {"aws:SecureTransport": "true"}, scoped_in_identity) == IMPLICIT_DENY
    plain_nfs = dict(via_access_point, **{"aws:SecureTransport": "false"})
    assert _mount("ecs_task_prometheus", plain_nfs, scoped_in_identity) == EXPLICIT_DENY
    for other in ("ecs_task_grafana", "ecs_task_cloudwatch_exporter", "ecs_task_alertmanager", "ecs_task_execution"):
        assert _mount(other, via_access_point, scoped_in_identity) == IMPLICIT_DENY, other


# -- Service roles: who may assume them (moto: a Service principal is a server error) ----------------------------

SERVICES = {
    "ecs_task_execution": {"ecs-tasks.amazonaws.com"}, "ecs_task_prometheus": {"ecs-tasks.amazonaws.com"},
    "ecs_task_grafana": {"ecs-tasks.amazonaws.com"}, "ecs_task_cloudwatch_exporter": {"ecs-tasks.amazonaws.com"},
    "ecs_task_alertmanager": {"ecs-tasks.amazonaws.com"}, "alloy_agent": {"ec2.amazonaws.com"},
    "alloy_collector": {"ec2.amazonaws.com", "ecs-tasks.amazonaws.com"},
}


@pytest.mark.parametrize("key", sorted(SERVICES))
def test_service_roles_trust_only_their_services(key):
    trust = roles()[key]["trust_policy"]
    for service in ("ecs-tasks.amazonaws.com", "ec2.amazonaws.com", "lambda.amazonaws.com", "eks.amazonaws.com"):
        request = {"action": "sts:AssumeRole", "principal": {"Service": service}, "context": {"aws:SourceAccount": ACCOUNT}}
        assert assume_role(trust, request) == (ALLOW if service in SERVICES[key] else IMPLICIT_DENY), service
    for principal in ("arn:aws:iam::%s:root" % ACCOUNT, "arn:aws:iam::%s:user/admin" % ACCOUNT, "*"):
        assert assume_role(trust, {"action": "sts:AssumeRole", "principal": {"AWS": principal}}) == IMPLICIT_DENY
    assert assume_role(trust, web_identity_request(PROVIDER, token("loki"))) == IMPLICIT_DENY


@pytest.mark.parametrize("key", sorted(k for k in SERVICES if k.startswith("ecs_task")))
def test_ecs_roles_given_the_account_take_only_its_tasks(key):
    trust = roles(account_id=ACCOUNT)[key]["trust_policy"]
    ecs = {"action": "sts:AssumeRole", "principal": {"Service": "ecs-tasks.amazonaws.com"}}
    assert assume_role(trust, dict(ecs, context={"aws:SourceAccount": ACCOUNT})) == ALLOW
    assert assume_role(trust, dict(ecs, context={"aws:SourceAccount": "210987654321"})) == IMPLICIT_DENY
    assert assume_role(trust, ecs) == IMPLICIT_DENY


# -- Identity policies: conditions and resources of the documents ----------------------------------------------------

def test_execution_role_reads_the_configuration_path_and_the_given_secrets_only():
    secret = "arn:aws:secretsmanager:ap-northeast-2:%s:secret:acme-prod/grafana-admin-password-AbCdEf" % ACCOUNT
    execution = roles(secret_arns=[secret], account_id=ACCOUNT)["ecs_task_execution"]
    policies = [(p, "identity") for p in execution["inline_policies"].values()]

    def read(action, resource):
        return evaluate(policies, {"action": action, "resource": resource, "principal": {"AWS": session(execution)}})

    parameter = "arn:aws:ssm:ap-northeast-2:%s:parameter" % ACCOUNT
    assert read("ssm:GetParameters", parameter + "/lgtm/acme-prod/ecs-monitoring/prometheus/prometheus.yml") == ALLOW
    assert read("ssm:GetParameters", parameter + "/lgtm/acme-prod/ecs-monitoring") == IMPLICIT_DENY
    assert read("ssm:GetParameters", parameter + "/lgtm/acme-prod/ecs-monitoring-other/x") == IMPLICIT_DENY
    assert read("ssm:GetParameters", parameter + "/lgtm/acme-staging/ecs-monitoring/x") == IMPLICIT_DENY
    assert read("ssm:GetParameters", parameter.replace(ACCOUNT, "210987654321") + "/lgtm/acme-prod/ecs-monitoring/x") == IMPLICIT_DENY
    assert read("ssm:GetParameter", parameter + "/lgtm/acme-prod/ecs-monitoring/x") == IMPLICIT_DENY
    assert read("secretsmanager:GetSecretValue", secret) == ALLOW
    assert read("secretsmanager:GetSecretValue", secret.replace("grafana-admin-password", "db-password")) == IMPLICIT_DENY
    assert read("secretsmanager:PutSecretValue", secret) == IMPLICIT_DENY


def test_the_workload_documents_name_only_conditions_the_evaluator_knows():
    """Every condition in every generated document is judged somewhere above (an unknown one would raise there)."""
    keys = set()
    every = roles(account_id=ACCOUNT, efs_file_system_arn=FILE_SYSTEM)
    documents = [r["trust_policy"] for r in every.values()] + [p for r in every.values() for p in r["inline_policies"].values()]
    documents += [desired_policy("b"), file_system_policy(FILE_SYSTEM, "arn:aws:iam::%s:role/p" % ACCOUNT, ACCESS_POINT)]
    for document in documents:
        for statement in document["Statement"]:
            for operator, block in statement.get("Condition", {}).items():
                keys.update("%s %s" % (operator, k.replace(ISSUER[len("https://"):], "<issuer>")) for k in block)
    assert keys == {"StringEquals aws:SourceAccount", "StringEquals <issuer>:sub", "StringEquals <issuer>:aud",
                    "Bool aws:SecureTransport", "StringEquals elasticfilesystem:AccessPointArn",
                    "StringLike elasticfilesystem:AccessPointArn"}


def test_kms_key_use_is_scoped_to_the_one_key():
    key = "arn:aws:kms:ap-northeast-2:%s:key/1234abcd-12ab-34cd-56ef-1234567890ab" % ACCOUNT
    policy = docs.component_s3_policy([STORAGE["buckets"]["loki"]["arn"]], "loki", key)
    request = {"action": "kms:Decrypt", "resource": key, "principal": {"AWS": "x"}}
    assert evaluate([(policy, "identity")], request) == ALLOW
    assert evaluate([(policy, "identity")], dict(request, resource=key.replace("1234abcd", "9999abcd"))) == IMPLICIT_DENY
    assert evaluate([(policy, "identity")], dict(request, action="kms:Encrypt")) == IMPLICIT_DENY
