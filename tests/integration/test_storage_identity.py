"""Storage and identity against the local AWS: every promise read back through boto3."""

import json
import os

import boto3
import botocore.exceptions
import pytest

from conftest import REGION, REPO_ROOT, running_moto

pytestmark = pytest.mark.integration

PLAYBOOK = os.path.join(REPO_ROOT, "tests", "integration", "playbooks", "platform.yml")
BUCKETS = {
    "itest-dev-loki": ("loki", "logs", 365),
    "itest-dev-mimir-blocks": ("mimir", "metrics", 365),
    "itest-dev-mimir-alertmanager": ("mimir", "state", None),
    "itest-dev-mimir-ruler": ("mimir", "state", None),
    "itest-dev-tempo": ("tempo", "traces", 7),
}


@pytest.fixture
def eks_cluster(aws_client):
    cluster = aws_client("eks").create_cluster(
        name="lab", roleArn="arn:aws:iam::123456789012:role/eks", resourcesVpcConfig={"subnetIds": ["subnet-1"]}
    )
    return cluster["cluster"]["identity"]["oidc"]["issuer"]


@pytest.fixture
def converge(run_playbook, tmp_path, eks_cluster, as_deployer):
    # The playbook runs as the deployer (its policy with teardown: the absent tests delete), moto enforcing IAM;
    # aws_client reads back as the administrator.
    as_deployer(name_prefix="itest", environment="dev", eks_cluster_name="lab", capabilities=["storage", "identity"], teardown=True,
                kms_key_id="alias/observability")

    def run(*args, **extra):
        outputs = tmp_path / "outputs.json"
        result = run_playbook(PLAYBOOK, *args, extra_vars=dict({"outputs_file": str(outputs), "lgtm_output_dir": str(tmp_path / "out")}, **extra))
        result.outputs = json.loads(outputs.read_text()) if outputs.exists() else None
        return result

    return run


def rules_by_id(s3, bucket):
    return {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}


def role_policy(iam, role, name):
    return iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]


def test_buckets_have_every_promised_property(converge, aws_client):
    result = converge()
    assert result.rc == 0, result.stdout[-3000:]
    s3 = aws_client("s3")
    assert sorted(b["Name"] for b in s3.list_buckets()["Buckets"]) == sorted(BUCKETS)
    for bucket, (component, signal, days) in BUCKETS.items():
        sse = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert sse["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert block == {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
        ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
        assert ownership == [{"ObjectOwnership": "BucketOwnerEnforced"}]
        (deny,) = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
        assert deny["Effect"] == "Deny" and deny["Action"] == "s3:*" and deny["Principal"] == "*"
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert sorted(deny["Resource"]) == ["arn:aws:s3:::%s" % bucket, "arn:aws:s3:::%s/*" % bucket]
        rules = rules_by_id(s3, bucket)
        assert rules["lgtm-abort-incomplete-multipart"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
        if days is None:
            assert "lgtm-expire-objects" not in rules
        else:
            assert rules["lgtm-expire-objects"]["Expiration"] == {"Days": days}
            assert rules["lgtm-expire-objects"]["Status"] == "Enabled"
        tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
        assert tags == {"Project": "lgtm", "Environment": "dev", "ManagedBy": "lgtm.aws", "Component": component, "Signal": signal}
        assert s3.get_bucket_versioning(Bucket=bucket).get("Status") in (None, "Suspended")
    assert result.outputs["storage"]["buckets"]["mimir_blocks"]["name"] == "itest-dev-mimir-blocks"


def test_iam_least_privilege_and_irsa_trust(converge, aws_client, eks_cluster):
    result = converge()
    assert result.rc == 0, result.stdout[-3000:]
    iam = aws_client("iam")
    host = eks_cluster.replace("https://", "")
    (provider,) = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert provider["Arn"].endswith(":oidc-provider/" + host)
    details = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=provider["Arn"])
    assert details["ClientIDList"] == ["sts.amazonaws.com"]
    # The tags docs/identity.md promises on the provider, as on every role (not only lgtm_tags).
    assert {t["Key"]: t["Value"] for t in details["Tags"]} == {
        "Project": "lgtm", "Environment": "dev", "ManagedBy": "lgtm.aws", "Purpose": "eks-oidc-provider"}

    own_buckets = {"loki": ["itest-dev-loki"], "mimir": ["itest-dev-mimir-alertmanager", "itest-dev-mimir-blocks", "itest-dev-mimir-ruler"],
                   "tempo": ["itest-dev-tempo"]}
    for component, buckets in own_buckets.items():
        role = "itest-dev-%s-irsa" % component
        (statement,) = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert statement["Principal"] == {"Federated": provider["Arn"]}
        assert statement["Condition"] == {"StringEquals": {
            host + ":sub": "system:serviceaccount:monitoring:" + component, host + ":aud": "sts.amazonaws.com"}}
        policy = {s["Sid"]: s for s in role_policy(iam, role, "s3-access")["Statement"]}
        assert policy["ListBuckets"]["Action"] == ["s3:ListBucket"]
        assert policy["ListBuckets"]["Resource"] == ["arn:aws:s3:::" + b for b in buckets]
        assert policy["ReadWriteObjects"]["Resource"] == ["arn:aws:s3:::%s/*" % b for b in buckets]
        expected = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
        if component == "tempo":
            expected = ["s3:DeleteObject", "s3:GetObject", "s3:GetObjectTagging", "s3:PutObject", "s3:PutObjectTagging"]
        assert policy["ReadWriteObjects"]["Action"] == expected
        assert "UseBucketKey" not in policy
        assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []

    execution = iam.get_role(RoleName="itest-dev-ecs-task-execution")["Role"]
    assert execution["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    attached = [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName="itest-dev-ecs-task-execution")["AttachedPolicies"]]
    assert attached == ["AmazonECSTaskExecutionRolePolicy"]
    exporter = role_policy(iam, "itest-dev-ecs-cloudwatch-exporter", "task")["Statement"][0]
    assert all(a.split(":")[1].startswith(("Get", "List", "Describe", "Filter")) for a in exporter["Action"])

    profile = iam.get_instance_profile(InstanceProfileName="itest-dev-alloy-agent")["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == ["itest-dev-alloy-agent"]
    agent_trust = profile["Roles"][0]["AssumeRolePolicyDocument"]["Statement"][0]
    assert agent_trust["Principal"] == {"Service": "ec2.amazonaws.com"}
    collector = iam.get_role(RoleName="itest-dev-alloy-collector")["Role"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert sorted(collector["Principal"]["Service"]) == ["ec2.amazonaws.com", "ecs-tasks.amazonaws.com"]

    outputs = result.outputs["identity"]
    assert outputs["irsa_roles"]["loki"]["arn"] == iam.get_role(RoleName="itest-dev-loki-irsa")["Role"]["Arn"]
    assert outputs["ec2_instance_profile"]["arn"] == profile["Arn"]


def test_second_run_changes_nothing(converge):
    first = converge()
    assert first.rc == 0, first.stdout[-3000:]
    assert first.total("changed") > 0
    second = converge()
    assert second.rc == 0
    assert second.total("changed") == 0


def test_drift_is_repaired(converge, aws_client):
    assert converge().rc == 0
    s3, iam = aws_client("s3"), aws_client("iam")
    s3.delete_public_access_block(Bucket="itest-dev-loki")
    s3.put_bucket_lifecycle_configuration(Bucket="itest-dev-tempo", LifecycleConfiguration={"Rules": [
        {"ID": "lgtm-expire-objects", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 999}},
        {"ID": "team-archive", "Status": "Enabled", "Filter": {"Prefix": "archive/"}, "Expiration": {"Days": 30}}]})
    iam.put_role_policy(RoleName="itest-dev-loki-irsa", PolicyName="s3-access", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    result = converge()
    assert result.rc == 0 and result.total("changed") == 2
    assert s3.get_public_access_block(Bucket="itest-dev-loki")["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    rules = rules_by_id(s3, "itest-dev-tempo")
    assert rules["lgtm-expire-objects"]["Expiration"] == {"Days": 7}
    assert rules["team-archive"]["Expiration"] == {"Days": 30}, "rules the collection does not own are kept"
    statements = role_policy(iam, "itest-dev-loki-irsa", "s3-access")["Statement"]
    assert "s3:*" not in json.dumps(statements)


def test_kms_encryption_and_key_in_policy(converge, aws_client):
    key = aws_client("kms").create_key(Description="observability")["KeyMetadata"]
    aws_client("kms").create_alias(AliasName="alias/observability", TargetKeyId=key["KeyId"])
    result = converge(storage_encryption="aws:kms", storage_kms_key_id="alias/observability")
    assert result.rc == 0, result.stdout[-3000:]
    sse = aws_client("s3").get_bucket_encryption(Bucket="itest-dev-loki")["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert sse["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/observability"}
    assert sse["BucketKeyEnabled"] is True
    kms = [s for s in role_policy(aws_client("iam"), "itest-dev-tempo-irsa", "s3-access")["Statement"] if s["Sid"] == "UseBucketKey"]
    assert kms[0]["Resource"] == [key["Arn"]]
    assert kms[0]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]


def test_check_mode_on_empty_account_changes_nothing(converge, aws_client):
    result = converge("--check")
    assert result.rc == 0, result.stdout[-3000:]
    assert result.total("changed") > 0, "check mode reports what it would do"
    assert aws_client("s3").list_buckets()["Buckets"] == []
    assert [r for r in aws_client("iam").list_roles()["Roles"] if r["RoleName"].startswith("itest-")] == []
    assert aws_client("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"] == []


def _diffs(result):
    """Every diff the play reported, from the JSON callback's output."""
    return [host["diff"] for play in json.loads(result.stdout)["plays"] for task in play["tasks"]
            for host in task["hosts"].values() if host.get("diff")]


def test_diff_shows_lifecycle_and_policy_changes(converge):
    assert converge().rc == 0
    result = converge("--check", "--diff", storage_retention_days={"logs": 365, "metrics": 365, "traces": 3}, identity_irsa_namespace="observability")
    assert result.rc == 0, result.stdout[-3000:]
    diffs = _diffs(result)
    bucket_diff = next(d for d in diffs if "itest-dev-tempo" in d.get("before", {}))
    before_days = [r["Expiration"]["Days"] for r in bucket_diff["before"]["itest-dev-tempo"]["lifecycle"] if "Expiration" in r]
    after_days = [r["Expiration"]["Days"] for r in bucket_diff["after"]["itest-dev-tempo"]["lifecycle"] if "Expiration" in r]
    assert (before_days, after_days) == ([7], [3])
    role_diff = next(d for d in diffs if "itest-dev-loki-irsa" in d.get("before", {}))
    assert "system:serviceaccount:monitoring:loki" in json.dumps(role_diff["before"]["itest-dev-loki-irsa"]["trust_policy"])
    assert "system:serviceaccount:observability:loki" in json.dumps(role_diff["after"]["itest-dev-loki-irsa"]["trust_policy"])


def test_absent_refuses_non_empty_buckets_then_force_deletes(converge, aws_client):
    assert converge(run_identity=False).rc == 0
    s3 = aws_client("s3")
    with pytest.raises(botocore.exceptions.ClientError, match="Forbidden"):
        s3.put_object(Bucket="itest-dev-tempo", Key="over-plain-http", Body=b"{}")  # the TLS-only policy at work
    s3.delete_bucket_policy(Bucket="itest-dev-tempo")  # the local AWS speaks plain HTTP: lift it to seed data
    s3.put_object(Bucket="itest-dev-tempo", Key="single-tenant/block/meta.json", Body=b"{}")
    refused = converge(run_identity=False, storage_state="absent")
    assert refused.rc != 0
    assert any("Refusing to delete buckets that are not empty: itest-dev-tempo" in m for m in refused.failed_messages())
    assert len(s3.list_buckets()["Buckets"]) == 5, "no bucket is deleted when one is refused"
    forced = converge(run_identity=False, storage_state="absent", storage_force=True)
    assert forced.rc == 0, forced.stdout[-3000:]
    assert s3.list_buckets()["Buckets"] == []


BAD_INPUTS = [
    ({"storage_bucket_names": {"loki": "Logs_Bucket"}}, "bucket_names.loki: bucket name 'Logs_Bucket'"),
    ({"storage_retention_days": {"logs": -30, "metrics": 365, "traces": 7}}, "retention_days.logs must be a whole number of days, 1 or more"),
    ({"storage_components": ["loki", "elasticsearch"]}, "storage_components"),
    ({"storage_encryption": "aws:kms", "storage_kms_key_id": "not-a-key"}, "kms_key_id 'not-a-key' must be a KMS key id"),
    ({"storage_encryption": "aws:kms", "storage_kms_key_id": "alias/missing"}, "storage_kms_key_id alias/missing names no KMS key"),
    ({"lgtm_name_prefix": "Team_A"}, "name_prefix 'Team_A' must be lowercase"),
    ({"storage_tags": {"aws:createdBy": "me"}}, "reserved prefix 'aws:'"),
    # Identity input is checked by the identity preflight, before the storage role creates any bucket.
    ({"identity_efs_file_system_arn": "fs-0123"}, "identity_efs_file_system_arn: 'fs-0123' is not an ARN"),
    ({"identity_secret_arns": ["arn:aws:s3:::secret-bucket"]}, "identity_secret_arns[0]: 'arn:aws:s3:::secret-bucket' must be a Secrets Manager"),
    ({"lgtm_eks_cluster_name": "no-such-cluster"}, "identity_eks_cluster_name: EKS cluster 'no-such-cluster' does not exist"),
    ({"lgtm_eks_cluster_name": ""}, "identity_eks_cluster_name: is required when identity_irsa_enabled is true"),
    ({"identity_irsa_namespace": "Monitoring"}, "identity_irsa_namespace: 'Monitoring' must be a Kubernetes name"),
    ({"identity_irsa_namespace": "Monitoring", "identity_irsa_service_accounts": {"lokki": "loki"}},
     ["lgtm.aws.identity: 2 problems in the variables; nothing was changed.\n- identity_irsa_namespace: 'Monitoring' must be a Kubernetes name",
      "\n- identity_irsa_service_accounts: unknown key lokki (did you mean loki?)"]),
    # (with the identity role too, its preflight reports the role names over 64 characters first)
    ({"lgtm_environment": "production-environment-for-the-observability-platform", "run_identity": False}, "must be 3 to 63 characters long (got 64)"),
    ({"identity_environment": "production-environment-for-the-observability-platform"}, "IAM allows 64"),
]


@pytest.mark.parametrize("extra, messages", BAD_INPUTS, ids=[str(m)[:40] for _e, m in BAD_INPUTS])
def test_bad_input_fails_clearly_and_creates_nothing(converge, aws_client, extra, messages):
    result = converge(**extra)
    assert result.rc != 0
    failures = result.failed_messages()
    assert len(failures) == 1, failures
    for message in messages if isinstance(messages, list) else [messages]:
        assert message in failures[0], failures[0]
    assert aws_client("s3").list_buckets()["Buckets"] == []
    assert [r for r in aws_client("iam").list_roles()["Roles"] if r["RoleName"].startswith("itest-")] == []
    assert aws_client("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"] == []


def test_role_path_is_never_changed_silently(converge, aws_client):
    """IAM cannot move a role to another path: the run names the role and both paths, and changes nothing."""
    iam = aws_client("iam")
    iam.create_role(RoleName="itest-dev-ecs-grafana", Path="/teams/", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    result = converge()
    assert result.rc != 0, "a path difference the module cannot apply must not pass as a change"
    (failure,) = result.failed_messages()
    assert "role 'itest-dev-ecs-grafana' exists with path '/teams/', not '/'" in failure, failure
    assert "IAM cannot move a role to another path" in failure
    assert aws_client("s3").list_buckets()["Buckets"] == [], "the identity preflight fails before the storage role"
    assert [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("itest-")] == ["itest-dev-ecs-grafana"]
    assert iam.get_role(RoleName="itest-dev-ecs-grafana")["Role"]["Path"] == "/teams/"


@pytest.fixture(scope="module")
def moto_without_managed_policies(tmp_path_factory):
    """A second moto_server started as a user might start their own: without MOTO_IAM_LOAD_MANAGED_POLICIES."""
    env = {k: v for k, v in os.environ.items() if k != "MOTO_IAM_LOAD_MANAGED_POLICIES"}
    with running_moto(tmp_path_factory.mktemp("moto-plain"), env) as url:
        yield url


def plain_moto_client(url, service):
    return boto3.client(service, region_name=REGION, endpoint_url=url, aws_access_key_id="testing",
                        aws_secret_access_key="testing", aws_session_token="testing")


def test_missing_managed_policy_fails_before_any_bucket(run_playbook, tmp_path, moto_without_managed_policies):
    url = moto_without_managed_policies
    plain_moto_client(url, "eks").create_cluster(
        name="lab", roleArn="arn:aws:iam::123456789012:role/eks", resourcesVpcConfig={"subnetIds": ["subnet-1"]})
    result = run_playbook(PLAYBOOK, extra_vars={"lgtm_output_dir": str(tmp_path)}, env={"AWS_ENDPOINT_URL": url})
    assert result.rc != 0
    (failure,) = result.failed_messages()
    assert ("roles[0] (itest-dev-ecs-task-execution).managed_policy_arns: policy "
            "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy does not exist") in failure, failure
    assert "MOTO_IAM_LOAD_MANAGED_POLICIES=true" in failure
    assert plain_moto_client(url, "s3").list_buckets()["Buckets"] == [], "no bucket before the identity checks pass"
    assert plain_moto_client(url, "iam").list_roles()["Roles"] == []


def test_iam_roles_checks_every_managed_policy_before_any_change(run_playbook, tmp_path, moto_without_managed_policies):
    """The module on its own: the first role is fine, the second wants two missing policies: nothing is created."""
    url = moto_without_managed_policies
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    playbook = tmp_path / "iam_roles.yml"
    playbook.write_text(json.dumps([{"name": "iam_roles alone", "hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Two roles", "lgtm.aws.iam_roles": {"roles": [
            {"name": "itest-first", "trust_policy": trust},
            {"name": "itest-second", "trust_policy": trust, "managed_policy_arns": [
                "arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::123456789012:policy/itest-missing"]}]}}]}]))
    result = run_playbook(str(playbook), env={"AWS_ENDPOINT_URL": url})
    assert result.rc != 0
    (failure,) = result.failed_messages()
    assert failure.startswith("Nothing was changed: "), failure
    assert "roles[1] (itest-second).managed_policy_arns: policy arn:aws:iam::123456789012:policy/itest-missing does not exist" in failure
    assert "roles[1] (itest-second).managed_policy_arns: policy arn:aws:iam::aws:policy/ReadOnlyAccess does not exist" in failure
    assert [r["RoleName"] for r in plain_moto_client(url, "iam").list_roles()["Roles"] if r["RoleName"].startswith("itest-")] == []


def _deprecations(result):
    """Deprecation warnings of a run: those the JSON callback records, and any printed."""
    found = [d["msg"] for play in json.loads(result.stdout)["plays"] for task in play["tasks"]
             for host in task["hosts"].values() for d in host.get("deprecations", [])]
    return found + [line for line in (result.stdout + result.stderr).splitlines() if "DEPRECATION WARNING" in line]


def test_runs_print_no_deprecation_warning(converge, run_playbook, aws_client, tmp_path):
    """Neither storage+identity nor the local AWS fixtures use amazon.aws options or return values it deprecates."""
    # The fixtures stand for what an administrator made (the converge fixture runs the playbooks as the deployer).
    fixtures = run_playbook(os.path.join(REPO_ROOT, "playbooks", "local_aws.yml"), inventory=os.path.join(REPO_ROOT, "inventories", "local"),
                            extra_vars={"lgtm_local_aws_admin_profile": "lgtm-admin"})
    assert fixtures.rc == 0, fixtures.stdout[-3000:]
    assert _deprecations(fixtures) == []
    # amazon.aws.iam_role also made an instance profile for the EKS cluster's service role (create_instance_profile).
    assert aws_client("iam").list_instance_profiles()["InstanceProfiles"] == []
    platform = converge()
    assert platform.rc == 0, platform.stdout[-3000:]
    assert _deprecations(platform) == []


def test_tag_changes_reach_buckets_roles_and_provider(converge, aws_client):
    assert converge().rc == 0
    result = converge(lgtm_tags={"Team": "observability"})
    assert result.rc == 0, result.stdout[-3000:]
    iam, s3 = aws_client("iam"), aws_client("s3")
    role_tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName="itest-dev-loki-irsa")["Tags"]}
    assert role_tags == {"Team": "observability", "Environment": "dev", "ManagedBy": "lgtm.aws", "Purpose": "irsa-loki"}
    (provider,) = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    provider_tags = {t["Key"]: t["Value"] for t in iam.get_open_id_connect_provider(OpenIDConnectProviderArn=provider["Arn"])["Tags"]}
    assert provider_tags == {"Team": "observability", "Environment": "dev", "ManagedBy": "lgtm.aws", "Purpose": "eks-oidc-provider"}
    bucket_tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket="itest-dev-loki")["TagSet"]}
    assert "Project" not in bucket_tags and bucket_tags["Team"] == "observability"
