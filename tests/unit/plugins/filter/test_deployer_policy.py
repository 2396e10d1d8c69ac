"""The deployer policy generator (plugins/plugin_utils/deployer_policy.py) and its filter: scoping, facts, errors."""

import json
import os
import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.lgtm.aws.plugins.filter.deployer import deployer_policy
from ansible_collections.lgtm.aws.plugins.plugin_utils import deployer_policy as generator

REPO = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")
FACTS = {"name_prefix": "acme", "environment": "prod", "region": "eu-west-1", "account_id": "111122223333",
         "eks_cluster_name": "acme-prod", "ecs_vpc_id": "vpc-0abc"}


def statements(**overrides):
    return {s["Sid"]: s for s in deployer_policy(dict(FACTS, **overrides))["Statement"]}


def test_every_sid_says_how_it_is_scoped_and_star_only_where_no_resource_level():
    for sid, statement in statements(teardown=True).items():
        assert sid.endswith(generator.SUFFIXES), sid
        assert (statement["Resource"] == "*") == sid.endswith("AnyResource"), sid
        assert statement["Effect"] == "Allow" and "Condition" not in statement
        if sid.endswith("Prefixed"):
            for resource in statement["Resource"]:
                assert "acme-prod" in resource or resource.startswith("arn:aws:iam::aws:policy/"), (sid, resource)


def test_buckets_are_the_storage_roles_names_and_overrides():
    buckets = statements()["StorageBucketsPrefixed"]["Resource"]
    assert buckets == ["arn:aws:s3:::acme-prod-%s" % k for k in ("loki", "mimir-alertmanager", "mimir-blocks", "mimir-ruler", "tempo")]
    buckets = statements(components=["loki"], bucket_names={"loki": "logs-of-acme"})["StorageBucketsPrefixed"]["Resource"]
    assert buckets == ["arn:aws:s3:::logs-of-acme"]


def test_names_region_account_and_vpc_come_from_the_facts():
    found = statements()
    assert found["IdentityRolesPrefixed"]["Resource"] == ["arn:aws:iam::111122223333:role/acme-prod-*"]
    assert found["IdentityOidcProviderInAccount"]["Resource"] == ["arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/*"]
    assert found["IdentityClusterIssuerPrefixed"]["Resource"] == ["arn:aws:eks:eu-west-1:111122223333:cluster/acme-prod"]
    assert found["EcsParametersPrefixed"]["Resource"] == ["arn:aws:ssm:eu-west-1:111122223333:parameter/lgtm/acme-prod/ecs-monitoring/*"]
    assert found["EcsLogGroupsPrefixed"]["Resource"] == ["arn:aws:logs:eu-west-1:111122223333:log-group:/ecs/acme-prod/*"]
    assert found["EcsSecurityGroupVpcInAccount"]["Resource"] == ["arn:aws:ec2:eu-west-1:111122223333:vpc/vpc-0abc"]
    assert statements(account_id="", partition="aws-cn")["IdentityRolesPrefixed"]["Resource"] == ["arn:aws-cn:iam::*:role/acme-prod-*"]


def test_capabilities_select_statements_and_teardown_adds_deletes():
    only = statements(capabilities=["storage"])
    assert list(only) == ["StorageBucketsPrefixed"]
    assert "s3:DeleteBucket" not in json.dumps(statements())
    torn = statements(capabilities=["storage"], teardown=True)
    assert "s3:DeleteBucket" in torn["StorageTeardownBucketsPrefixed"]["Action"]
    # identity and eks both read the cluster: one statement.
    both = statements(capabilities=["identity", "eks"])
    assert "EksClusterPrefixed" not in both and "IdentityClusterIssuerPrefixed" in both
    assert list(statements(capabilities=["eks"])) == ["EksClusterPrefixed"]


def test_implicit_and_change_only_name_what_the_policy_holds():
    found = statements()
    assert set(generator.IMPLICIT) <= set(found)
    actions = {a for s in found.values() for a in s["Action"]}
    assert set(generator.CHANGE_ONLY) <= actions


@pytest.mark.parametrize("overrides, message", [
    ({"name_prefix": ""}, "name_prefix must be"),
    ({"environment": "pr*d"}, "environment must be"),
    ({"capabilities": ["storage", "dns"]}, "capabilities must be"),
    ({"components": ["loki", "pyroscope"]}, "components must be"),
    ({"account_id": "12345"}, "account_id must be the 12-digit"),
    ({"eks_cluster_name": ""}, "eks_cluster_name is needed"),
    ({"colour": "blue"}, "unknown deployer policy facts: colour"),
])
def test_bad_facts_are_named(overrides, message):
    with pytest.raises(AnsibleFilterError, match=message):
        deployer_policy(dict(FACTS, **overrides))


def test_storage_alone_needs_no_cluster():
    assert statements(capabilities=["storage"], eks_cluster_name="")


def test_docs_publish_the_generators_policy_for_the_default_settings():
    with open(os.path.join(REPO, "docs", "security.md")) as handle:
        text = handle.read()
    published = json.loads(re.search(r"### The policy for the default settings.*?```json\n(.*?)\n```", text, re.S).group(1))
    assert published == deployer_policy({"name_prefix": "lgtm", "environment": "dev", "region": "eu-west-1",
                                         "account_id": "111122223333", "eks_cluster_name": "lgtm-dev",
                                         "run_lock_name": "/lgtm/lgtm-dev/run-lock"})


def test_the_run_lock_is_one_parameter_whatever_the_capabilities():
    for capabilities in (["storage"], ["ecs", "eks"]):
        lock = statements(capabilities=capabilities, run_lock_name="/lgtm/lgtm-dev/run-lock")["RunLockPrefixed"]
        assert lock["Action"] == ["ssm:DeleteParameter", "ssm:GetParameter", "ssm:PutParameter"]
        assert lock["Resource"] == ["arn:aws:ssm:eu-west-1:111122223333:parameter/lgtm/lgtm-dev/run-lock"]
    assert "RunLockPrefixed" not in statements()
    with pytest.raises(AnsibleFilterError, match="run_lock_name must be an SSM parameter path"):
        deployer_policy({"name_prefix": "lgtm", "environment": "dev", "region": "eu-west-1", "run_lock_name": "run-*"})


def test_a_kms_key_adds_what_reading_it_needs():
    assert "StorageKmsKeyInAccount" not in statements()
    by_alias = statements(kms_key_id="alias/observability")
    assert by_alias["StorageKmsKeyInAccount"]["Resource"] == ["arn:aws:kms:eu-west-1:111122223333:key/*"]
    assert by_alias["StorageKmsAliasesAnyResource"]["Action"] == ["kms:ListAliases"]
    arn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    by_arn = statements(kms_key_id=arn)
    assert by_arn["StorageKmsKeyInAccount"]["Resource"] == [arn] and "StorageKmsAliasesAnyResource" not in by_arn
