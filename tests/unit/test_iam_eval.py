"""tests/iam_eval.py: the evaluator the workload-identity tests judge conditions with (what moto cannot judge)."""

import pytest

from iam_eval import ALLOW, EXPLICIT_DENY, IMPLICIT_DENY, assume_role, condition_holds, evaluate, web_identity_request

ROLE = "arn:aws:iam::123456789012:role/app"
SESSION = "arn:aws:sts::123456789012:assumed-role/app/i-0abc"


def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, resource="*", **extra):
    return dict({"Effect": "Allow", "Action": action, "Resource": resource}, **extra)


def req(action, resource="*", principal=None, **context):
    return {"action": action, "resource": resource, "principal": principal or {"AWS": SESSION}, "context": context}


@pytest.mark.parametrize("pattern, action, expected", [
    ("s3:GetObject", "s3:GetObject", ALLOW),
    ("s3:getobject", "s3:GetObject", ALLOW),  # actions are case-insensitive
    ("s3:Get*", "s3:GetObjectTagging", ALLOW),
    ("s3:Get?bject", "s3:GetObject", ALLOW),
    ("s3:Get*", "s3:PutObject", IMPLICIT_DENY),
    ("s3:GetObject", "s3:GetObjectTagging", IMPLICIT_DENY),  # no prefix match without a wildcard
    (["s3:PutObject", "s3:GetObject"], "s3:GetObject", ALLOW),
])
def test_action_matching(pattern, action, expected):
    assert evaluate([(doc(allow(pattern)), "identity")], req(action)) == expected


@pytest.mark.parametrize("pattern, resource, expected", [
    ("arn:aws:s3:::logs/*", "arn:aws:s3:::logs/a/b", ALLOW),
    ("arn:aws:s3:::logs/*", "arn:aws:s3:::logs", IMPLICIT_DENY),
    ("arn:aws:s3:::logs", "arn:aws:s3:::logs-archive", IMPLICIT_DENY),
    ("arn:aws:s3:::logs*", "arn:aws:s3:::logs-archive", ALLOW),
    ("arn:aws:s3:::LOGS/*", "arn:aws:s3:::logs/a", IMPLICIT_DENY),  # resources are case-sensitive
    ("arn:aws:s3:::a.b/*", "arn:aws:s3:::axb/k", IMPLICIT_DENY),  # a dot is a dot (moto reads it as any character)
    ("arn:aws:ssm:*:123456789012:parameter/lgtm/x/*", "arn:aws:ssm:ap-northeast-2:123456789012:parameter/lgtm/x/a/b", ALLOW),
    ("arn:aws:ssm:*:123456789012:parameter/lgtm/x/*", "arn:aws:ssm:ap-northeast-2:123456789012:parameter/lgtm/y/a", IMPLICIT_DENY),
])
def test_resource_matching(pattern, resource, expected):
    assert evaluate([(doc(allow("s3:GetObject", pattern)), "identity")], req("s3:GetObject", resource)) == expected


def test_explicit_deny_wins_over_any_allow_and_not_action_reads_inverted():
    policies = [(doc(allow("*")), "identity"), (doc({"Effect": "Deny", "NotAction": "s3:Get*", "Resource": "*"}), "identity")]
    assert evaluate(policies, req("s3:GetObject")) == ALLOW
    assert evaluate(policies, req("s3:PutObject")) == EXPLICIT_DENY
    assert evaluate([], req("s3:GetObject")) == IMPLICIT_DENY


def test_identity_statement_without_resource_matches_nothing_and_may_not_name_a_principal():
    assert evaluate([(doc({"Effect": "Allow", "Action": "*"}), "identity")], req("s3:GetObject")) == IMPLICIT_DENY
    with pytest.raises(ValueError, match="names a Principal"):
        evaluate([(doc(allow("*", Principal="*")), "identity")], req("s3:GetObject"))


@pytest.mark.parametrize("named, principal, expected", [
    ({"AWS": ROLE}, {"AWS": SESSION}, ALLOW),  # a role ARN names its sessions
    ({"AWS": ROLE}, {"AWS": "arn:aws:sts::123456789012:assumed-role/other/i-0abc"}, IMPLICIT_DENY),
    ({"AWS": "123456789012"}, {"AWS": "arn:aws:iam::123456789012:user/u"}, ALLOW),
    ({"AWS": "arn:aws:iam::123456789012:root"}, {"AWS": SESSION}, ALLOW),
    ({"AWS": "arn:aws:iam::210987654321:root"}, {"AWS": SESSION}, IMPLICIT_DENY),
    ({"Service": ["ec2.amazonaws.com", "ecs-tasks.amazonaws.com"]}, {"Service": "ecs-tasks.amazonaws.com"}, ALLOW),
    ({"Service": "ec2.amazonaws.com"}, {"Service": "ecs-tasks.amazonaws.com"}, IMPLICIT_DENY),
    ({"Service": "ec2.amazonaws.com"}, {"AWS": SESSION}, IMPLICIT_DENY),
    ("*", {"Service": "ec2.amazonaws.com"}, ALLOW),
    ({"AWS": "*"}, {"AWS": SESSION}, ALLOW),
])
def test_principal_matching(named, principal, expected):
    policy = doc(allow("s3:GetObject", "arn:aws:s3:::b/*", Principal=named))
    assert evaluate([(policy, "resource")], req("s3:GetObject", "arn:aws:s3:::b/k", principal)) == expected


@pytest.mark.parametrize("operator, expected, context, holds", [
    ("StringEquals", "a", {"k": "a"}, True),
    ("StringEquals", "a", {"k": "A"}, False),  # values are case-sensitive
    ("StringEquals", "a", {"K": "a"}, True),  # keys are not
    ("StringEquals", ["a", "b"], {"k": "b"}, True),
    ("StringEquals", "a", {}, False),  # a missing key does not match
    ("StringEqualsIfExists", "a", {}, True),
    ("StringEqualsIfExists", "a", {"k": "b"}, False),
    ("StringNotEquals", "a", {"k": "b"}, True),
    ("StringNotEquals", "a", {"k": "a"}, False),
    ("StringNotEquals", "a", {}, True),  # negated operators hold for a missing key
    ("StringLike", "system:serviceaccount:ns:*", {"k": "system:serviceaccount:ns:loki"}, True),
    ("StringLike", "system:serviceaccount:ns:*", {"k": "system:serviceaccount:other:loki"}, False),
    ("StringNotLike", "x*", {"k": "xy"}, False),
    ("Bool", "false", {"k": "false"}, True),
    ("Bool", "false", {"k": "true"}, False),
    ("Bool", "false", {"k": False}, True),
    ("Bool", "false", {}, False),
    ("ArnLike", "arn:aws:iam::*:role/app", {"k": ROLE}, True),
    ("ArnEquals", ROLE, {"k": "arn:aws:iam::123456789012:role/other"}, False),
])
def test_condition_operators(operator, expected, context, holds):
    assert condition_holds(operator, "k", expected, context) is holds


def test_an_unknown_operator_or_a_multi_valued_key_is_an_error_not_a_guess():
    with pytest.raises(ValueError, match="NumericLessThan"):
        condition_holds("NumericLessThan", "k", "1", {"k": "0"})
    with pytest.raises(ValueError, match="several values"):
        condition_holds("StringEquals", "k", "a", {"k": ["a", "b"]})
    with pytest.raises(ValueError, match="one audience"):
        web_identity_request("arn:aws:iam::123456789012:oidc-provider/x", {"iss": "https://x", "sub": "s", "aud": ["a", "b"]})


def test_all_conditions_of_a_statement_must_hold():
    policy = doc(allow("s3:*", "*", Condition={"StringEquals": {"a": "1", "b": "2"}, "Bool": {"c": "true"}}))
    assert evaluate([(policy, "identity")], req("s3:GetObject", a="1", b="2", c="true")) == ALLOW
    assert evaluate([(policy, "identity")], req("s3:GetObject", a="1", b="3", c="true")) == IMPLICIT_DENY
    assert evaluate([(policy, "identity")], req("s3:GetObject", a="1", b="2")) == IMPLICIT_DENY


def test_web_identity_request_from_token_claims():
    provider = "arn:aws:iam::123456789012:oidc-provider/oidc.example/id/X"
    request = web_identity_request(provider, {"iss": "https://oidc.example/id/X", "sub": "system:serviceaccount:m:loki",
                                              "aud": ["sts.amazonaws.com"]})
    assert request == {"action": "sts:AssumeRoleWithWebIdentity", "principal": {"Federated": provider},
                       "context": {"oidc.example/id/X:sub": "system:serviceaccount:m:loki", "oidc.example/id/X:aud": "sts.amazonaws.com"}}
    trust = doc({"Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity",
                 "Condition": {"StringEquals": {"oidc.example/id/X:sub": "system:serviceaccount:m:loki"}}})
    assert assume_role(trust, request) == ALLOW
    assert assume_role(trust, dict(request, action="sts:AssumeRole")) == IMPLICIT_DENY
