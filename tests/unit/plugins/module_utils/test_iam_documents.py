import pytest

from ansible_collections.lgtm.aws.plugins.module_utils import iam_documents as docs

LOKI = ["arn:aws:s3:::p-e-loki"]
KEY = "arn:aws:kms:ap-northeast-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def statement(policy, sid):
    return next(s for s in policy["Statement"] if s["Sid"] == sid)


def test_loki_and_mimir_need_exactly_list_get_put_delete():
    for component in ("loki", "mimir"):
        policy = docs.component_s3_policy(LOKI, component)
        assert statement(policy, "ListBuckets")["Action"] == ["s3:ListBucket"]
        assert statement(policy, "ListBuckets")["Resource"] == LOKI
        assert statement(policy, "ReadWriteObjects")["Action"] == ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
        assert statement(policy, "ReadWriteObjects")["Resource"] == ["arn:aws:s3:::p-e-loki/*"]


def test_tempo_adds_object_tagging():
    policy = docs.component_s3_policy(["arn:aws:s3:::p-e-tempo"], "tempo")
    assert statement(policy, "ReadWriteObjects")["Action"] == [
        "s3:DeleteObject", "s3:GetObject", "s3:GetObjectTagging", "s3:PutObject", "s3:PutObjectTagging",
    ]


def test_kms_statement_only_with_a_key_and_only_on_that_key():
    assert len(docs.component_s3_policy(LOKI, "loki")["Statement"]) == 2
    kms = statement(docs.component_s3_policy(LOKI, "loki", KEY), "UseBucketKey")
    assert kms["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert kms["Resource"] == [KEY]


def test_no_wildcards_in_component_policies():
    policy = docs.component_s3_policy(LOKI, "mimir", KEY)
    for s in policy["Statement"]:
        assert all("*" not in action for action in s["Action"])
        assert "*" not in s["Resource"]


def test_every_action_has_a_reason():
    tables = [docs.S3_BUCKET_ACTIONS, docs.S3_OBJECT_ACTIONS, docs.TEMPO_EXTRA_OBJECT_ACTIONS, docs.KMS_ACTIONS, docs.EFS_CLIENT_ACTIONS,
              docs.DISCOVERY_ACTIONS, docs.CLOUDWATCH_READ_ACTIONS, docs.EC2_AGENT_ACTIONS] + list(docs.SECRET_READ_ACTIONS.values())
    for table in tables:
        for action, reason in table:
            assert ":" in action and len(reason) > 10


def test_read_only_tables_hold_no_write_actions():
    for table in (docs.CLOUDWATCH_READ_ACTIONS, docs.EC2_AGENT_ACTIONS, docs.DISCOVERY_ACTIONS):
        for action, _reason in table:
            verb = action.split(":")[1]
            assert verb.startswith(("Get", "List", "Describe", "Filter")), action


@pytest.mark.parametrize(
    "issuer, host",
    [
        ("https://oidc.eks.ap-northeast-2.amazonaws.com/id/ABC", "oidc.eks.ap-northeast-2.amazonaws.com/id/ABC"),
        ("oidc.eks.us-east-1.amazonaws.com/id/XYZ/", "oidc.eks.us-east-1.amazonaws.com/id/XYZ"),
        ("https://issuer.example.com", "issuer.example.com"),
    ],
)
def test_issuer_host(issuer, host):
    assert docs.issuer_host(issuer) == host


@pytest.mark.parametrize("issuer", ["http://oidc.example.com/id/1", "https://oidc.example.com:8443/id", "https://x.example.com/?a=1", "", None])
def test_bad_issuers(issuer):
    with pytest.raises(ValueError):
        docs.issuer_host(issuer)


def test_irsa_trust_is_exactly_one_service_account_and_audience():
    trust = docs.irsa_trust_policy("arn:aws:iam::1:oidc-provider/o/id/A", "https://o/id/A", "monitoring", "loki")
    (s,) = trust["Statement"]
    assert s["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert s["Principal"] == {"Federated": "arn:aws:iam::1:oidc-provider/o/id/A"}
    assert s["Condition"] == {"StringEquals": {"o/id/A:sub": "system:serviceaccount:monitoring:loki", "o/id/A:aud": "sts.amazonaws.com"}}


def test_ecs_trust_limited_to_account():
    (s,) = docs.service_trust_policy(["ecs-tasks"], "123456789012")["Statement"]
    assert s["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert s["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_prometheus_efs_rights_scoped_to_file_system():
    fs = "arn:aws:elasticfilesystem:ap-northeast-2:123456789012:file-system/fs-123"
    policy = docs.prometheus_task_policy(fs)
    assert statement(policy, "MountPrometheusData") == {
        "Sid": "MountPrometheusData", "Effect": "Allow",
        "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"], "Resource": [fs],
        "Condition": {"StringLike": {"elasticfilesystem:AccessPointArn": "arn:aws:elasticfilesystem:ap-northeast-2:123456789012:access-point/*"}},
    }
    assert len(docs.prometheus_task_policy()["Statement"]) == 1


def test_secret_policy_splits_services():
    policy = docs.secret_read_policy(["arn:aws:secretsmanager:r:1:secret:a", "arn:aws:ssm:r:1:parameter/b"])
    assert [s["Action"] for s in policy["Statement"]] == [["secretsmanager:GetSecretValue"], ["ssm:GetParameters"]]
    assert docs.secret_read_policy([]) is None


@pytest.mark.parametrize(
    "arn, service, prefix, ok",
    [
        (KEY, "kms", "key/", True),
        ("arn:aws:kms:ap-northeast-2:123456789012:alias/x", "kms", "key/", False),
        ("arn:aws:s3:::bucket", "kms", None, False),
        ("not-an-arn", None, None, False),
    ],
)
def test_arn_error(arn, service, prefix, ok):
    assert (docs.arn_error(arn, service, prefix) is None) is ok
