"""tests/iam_calls.py: the evaluator (Action/Resource wildcards, Deny wins), the ARN of recorded calls, moto's view."""

import pytest

import iam_calls  # tests/iam_calls.py (tests/ is on the path: tests/conftest.py)

POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Buckets", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:Get*"], "Resource": ["arn:aws:s3:::acme-prod-*"]},
    {"Sid": "Roles", "Effect": "Allow", "Action": "iam:GetRole", "Resource": "arn:aws:iam::*:role/acme-prod-?x"},
    {"Sid": "Describe", "Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"},
    {"Sid": "NotThat", "Effect": "Deny", "Action": "s3:GetBucketPolicy", "Resource": "arn:aws:s3:::acme-prod-secret"},
]}


@pytest.mark.parametrize("action, resource, expected", [
    ("s3:ListBucket", "arn:aws:s3:::acme-prod-loki", True),
    ("S3:listbucket", "arn:aws:s3:::acme-prod-loki", True),  # actions are case-insensitive
    ("s3:ListBucket", "arn:aws:s3:::ACME-prod-loki", False),  # resources are not
    ("s3:ListBucket", "arn:aws:s3:::other-prod-loki", False),
    ("s3:PutBucketPolicy", "arn:aws:s3:::acme-prod-loki", False),
    ("s3:GetBucketTagging", "arn:aws:s3:::acme-prod-loki", True),
    ("s3:GetBucketPolicy", "arn:aws:s3:::acme-prod-secret", False),  # an explicit Deny wins
    ("iam:GetRole", "arn:aws:iam::123456789012:role/acme-prod-ax", True),
    ("iam:GetRole", "arn:aws:iam::123456789012:role/acme-prod-abx", False),  # ? is one character
    ("ec2:DescribeVpcs", "*", True),
    ("ec2:CreateVpc", "*", False),
    ("s3:ListBucket", "*", False),  # a scoped statement never allows the resource "*"
])
def test_allowed(action, resource, expected):
    assert iam_calls.allowed(POLICY, action, resource) is expected


def test_conditions_are_not_judged_silently():
    policy = {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}
    with pytest.raises(ValueError, match="Condition"):
        iam_calls.allowed(policy, "s3:ListBucket", "*")
    assert iam_calls.allowed(policy, "s3:ListBucket", "*", ignore_conditions=True)


def test_not_action_and_not_resource():
    policy = {"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::private"}]}
    assert iam_calls.allowed(policy, "s3:ListBucket", "arn:aws:s3:::public")
    assert not iam_calls.allowed(policy, "s3:ListBucket", "arn:aws:s3:::private")
    assert not iam_calls.allowed(policy, "iam:GetRole", "arn:aws:iam::1:role/x")


@pytest.mark.parametrize("call, expected", [
    ({"service": "s3", "action": "HeadBucket", "params": {"_path": "/acme-prod-loki"}}, ("s3:ListBucket", ["arn:aws:s3:::acme-prod-loki"])),
    ({"service": "s3", "action": "GetBucketEncryption", "params": {"_path": "/b"}}, ("s3:GetEncryptionConfiguration", ["arn:aws:s3:::b"])),
    ({"service": "iam", "action": "PutRolePolicy", "params": {"RoleName": "r", "PolicyName": "p"}},
     ("iam:PutRolePolicy", ["arn:aws:iam::123456789012:role/r"])),
    ({"service": "iam", "action": "CreateOpenIDConnectProvider", "params": {"Url": "https://oidc.eks.x.amazonaws.com/id/AB"}},
     ("iam:CreateOpenIDConnectProvider", ["arn:aws:iam::123456789012:oidc-provider/oidc.eks.x.amazonaws.com/id/AB"])),
    ({"service": "ec2", "action": "CreateSecurityGroup", "region": "eu-west-1", "params": {"GroupName": "g", "VpcId": "vpc-1"}},
     ("ec2:CreateSecurityGroup", ["arn:aws:ec2:eu-west-1:123456789012:security-group/*", "arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-1"])),
    ({"service": "ecs", "action": "DescribeServices", "region": "r", "params": {"cluster": "c", "services": ["a", "b"]}},
     ("ecs:DescribeServices", ["arn:aws:ecs:r:123456789012:service/c/a", "arn:aws:ecs:r:123456789012:service/c/b"])),
    ({"service": "ssm", "action": "GetParameters", "region": "r", "params": {"Names": ["/lgtm/x/a"]}},
     ("ssm:GetParameters", ["arn:aws:ssm:r:123456789012:parameter/lgtm/x/a"])),
    ({"service": "elasticfilesystem", "action": "DescribeMountTargets", "region": "r",
      "params": {"_path": "/2015-02-01/mount-targets", "_query": {"FileSystemId": "fs-12"}}},
     ("elasticfilesystem:DescribeMountTargets", ["arn:aws:elasticfilesystem:r:123456789012:file-system/fs-12"])),
    ({"service": "elasticloadbalancing", "action": "AddTags", "params": {"ResourceArns.member.1": "arn:x", "ResourceArns.member.2": "arn:y"}},
     ("elasticloadbalancing:AddTags", ["arn:x", "arn:y"])),
    ({"service": "eks", "action": "DescribeCluster", "region": "r", "params": {"_path": "/clusters/c"}},
     ("eks:DescribeCluster", ["arn:aws:eks:r:123456789012:cluster/c"])),
    ({"service": "sts", "action": "GetCallerIdentity", "params": {}}, None),
])
def test_iam_request_names_action_and_resource(call, expected):
    assert iam_calls.iam_request(call) == expected


def test_an_unknown_call_is_an_error_not_a_pass():
    with pytest.raises(iam_calls.UnknownCall):
        iam_calls.iam_request({"service": "kinesis", "action": "PutRecord", "params": {}})
    with pytest.raises(iam_calls.UnknownCall):
        iam_calls.iam_request({"service": "iam", "action": "CreateUser", "params": {"UserName": "u"}})


def test_moto_view_keeps_s3_scoped_and_names_moto_s3_actions_and_widens_the_rest():
    view = iam_calls.moto_view(POLICY)
    buckets, roles = view["Statement"][0], view["Statement"][1]
    assert buckets["Resource"] == ["arn:aws:s3:::acme-prod-*"]
    assert {"s3:HeadBucket", "s3:ListObjectsV2", "s3:ListBucket"} <= set(buckets["Action"])
    assert roles["Resource"] == "*" and roles["Action"] == "iam:GetRole"


def test_moto_view_allows_moto_batch_deletes_where_objects_may_be_deleted():
    view = iam_calls.moto_view({"Statement": [{"Sid": "Objects", "Effect": "Allow", "Action": ["s3:DeleteObject"], "Resource": ["arn:aws:s3:::b/*"]}]})
    assert view["Statement"][1] == {"Sid": "ObjectsMotoBatch", "Effect": "Allow", "Action": ["s3:DeleteObject"], "Resource": ["arn:aws:s3:::b"]}


def test_foreign_names_other_deployments_a_wider_pattern_would_match():
    others = iam_calls.foreign("arn:aws:iam::1:role/acme-prod-loki-irsa", "acme", "prod")
    assert others == ["arn:aws:iam::1:role/zzother-elsewhere-loki-irsa", "arn:aws:iam::1:role/acme-zzother-loki-irsa",
                      "arn:aws:iam::1:role/acmezz-prod-loki-irsa"]
    scoped = {"Statement": [{"Effect": "Allow", "Action": "iam:GetRole", "Resource": "arn:aws:iam::*:role/acme-prod-*"}]}
    assert not any(iam_calls.allowed(scoped, "iam:GetRole", other) for other in others)
    for wider in ("arn:aws:iam::*:role/acme-*", "arn:aws:iam::*:role/acme*", "arn:aws:iam::*:role/*"):
        widened = {"Statement": [dict(scoped["Statement"][0], Resource=wider)]}
        assert any(iam_calls.allowed(widened, "iam:GetRole", other) for other in others), wider


def test_judge_accepts_an_exact_policy_and_names_what_is_wider_or_narrower():
    calls = [("s3:ListBucket", "arn:aws:s3:::acme-prod-loki"), ("ec2:DescribeVpcs", "*")]
    exact = {"Statement": [
        {"Sid": "BucketsPrefixed", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": ["arn:aws:s3:::acme-prod-loki"]},
        {"Sid": "DescribeAnyResource", "Effect": "Allow", "Action": ["ec2:DescribeVpcs"], "Resource": "*"}]}
    iam_calls.judge(exact, calls, {}, {}, "acme", "prod")

    def fails(change, message):
        policy = {"Statement": [dict(s) for s in exact["Statement"]]}
        change(policy["Statement"])
        with pytest.raises(AssertionError, match=message):
            iam_calls.judge(policy, calls, {}, {}, "acme", "prod")

    fails(lambda st: st[0].update(Action=["s3:ListBucket", "s3:PutBucketPolicy"]), "actions no call of the run makes")
    fails(lambda st: st[0].update(Resource=["arn:aws:s3:::acme-prod-loki", "arn:aws:s3:::acme-prod-more"]), "no call uses")
    fails(lambda st: st[0].update(Resource=["arn:aws:s3:::acme-*"]), "acme-zzother-loki")
    fails(lambda st: st[0].update(Action=["s3:GetBucketPolicy"]), "does not allow")
    fails(lambda st: st[0].update(Resource="*"), "AnyResource|does not allow|zzother")
    fails(lambda st: st[1].update(Sid="DescribePrefixed"), "DescribePrefixed")
