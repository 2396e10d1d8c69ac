"""site.yml (storage, identity, ECS) as the deployer: an IAM user with only the generated deployer policy, against a
moto_server that enforces IAM, through tests/aws_proxy.py that records every call.

What each check proves (docs/security.md, "What moto checks"):
- moto judges every call the deployer signs against what moto can judge of the policy (actions everywhere, and
  resources for S3): the run succeeds, and a policy narrowed by one S3 action or one bucket makes it fail;
- tests/iam_calls.py names each recorded call's IAM action and resource ARN and judges them against the policy as
  AWS would (Action and Resource with wildcards): every call is allowed, every action and every resource of the
  policy is used by a call (or is listed as implicit or change-only, with its reason), removing any one action or
  resource denies a call, and the same calls against another deployment's names are denied.
The local fixtures (what the account has before site.yml) are made by the administrator user.
"""

import copy
import importlib.machinery
import importlib.util
import json
import os
import subprocess
import time
import urllib.request

import boto3
import botocore.exceptions
import pytest

from conftest import BIN_DIR, REGION, REPO_ROOT, PlaybookResult, running_moto

import iam_calls  # tests/iam_calls.py (tests/ is on the path: tests/conftest.py)
from aws_proxy import Proxy

from ansible_collections.lgtm.aws.plugins.plugin_utils import deployer_policy as generator

pytestmark = pytest.mark.integration


def _load_users():
    """scripts/local-aws-users (a script without .py) as a module."""
    loader = importlib.machinery.SourceFileLoader("local_aws_users", os.path.join(REPO_ROOT, "scripts", "local-aws-users"))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


USERS = _load_users()
INVENTORY = os.path.join(REPO_ROOT, "inventories", "local")
BASE = "aws-rag-local"  # inventories/local: lgtm_name_prefix-lgtm_environment
FIXTURES = "Local AWS stand-in fixtures"


@pytest.fixture(scope="module")
def account(tmp_path_factory):
    """One moto_server (IAM enforced once the users exist) behind one recording proxy for this file."""
    with running_moto(tmp_path_factory.mktemp("moto-iam"), dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true")) as url:
        proxy = Proxy(url).start()
        proxy.upstream_url = url
        yield proxy
        proxy.stop()


@pytest.fixture
def deploy(account, tmp_path, monkeypatch):
    """``deploy(policy, tags)``: a fresh account whose deployer has ``policy``; site.yml --tags ``tags`` as that user."""
    credentials = str(tmp_path / "credentials")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", credentials)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=account.url, AWS_SHARED_CREDENTIALS_FILE=credentials, AWS_CONFIG_FILE=os.devnull,
        AWS_PROFILE="lgtm-deployer", AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION,
        ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1", PATH=BIN_DIR + os.pathsep + env.get("PATH", ""),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_CALLBACK_RESULT_FORMAT="json",
        ANSIBLE_CALLBACK_PLUGINS=os.path.join(REPO_ROOT, "tests", "callback_plugins"), ANSIBLE_CALLBACKS_ENABLED="aws_proxy_phases",
    )

    def run(policy, tags, *args, fresh=True):
        if fresh:
            USERS.set_enforcement(account.upstream_url, False)
            urllib.request.urlopen(urllib.request.Request(account.upstream_url + "/moto-api/reset", method="POST"), timeout=10).close()
            USERS.bootstrap(account.upstream_url, policy, credentials)
        account.stats.reset()
        cmd = [os.path.join(BIN_DIR, "ansible-playbook"), os.path.join(REPO_ROOT, "site.yml"), "-i", INVENTORY, "--tags", tags,
               "-e", "lgtm_output_dir=%s" % tmp_path, "-e", "lgtm_local_aws_admin_profile=lgtm-admin",
               "-e", "deployer_account_id=%s" % iam_calls.ACCOUNT] + list(args)
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
        result = PlaybookResult(proc)
        result.seconds = time.monotonic() - started
        result.requests = [r for r in account.stats.snapshot()["requests"] if r["phase"] != FIXTURES]
        result.policy_file = tmp_path / "deployer-policy.json"
        return result

    return run


def _policy():
    """The generator's policy for inventories/local (the VPC as any: the fixtures make it during the run)."""
    return generator.deployer_policy({"name_prefix": "aws-rag", "environment": "local", "region": REGION, "account_id": iam_calls.ACCOUNT,
                                      "components": ["loki", "mimir", "tempo"], "eks_cluster_name": "aws-rag-local"})


def _explain(result):
    try:
        return "rc=%s\n%s" % (result.rc, "\n".join(str(m)[:800] for m in result.failed_messages()))
    except ValueError:
        return "rc=%s\n%s" % (result.rc, (result.stdout + result.stderr)[-3000:])


def _requests(result):
    """(IAM action, resource) of every recorded call that needs a permission."""
    pairs = []
    for call in result.requests:
        named = iam_calls.iam_request(call)
        if named:
            pairs += [(named[0], resource) for resource in named[1]]
    return pairs


def test_site_runs_as_the_deployer_and_the_policy_is_exact(deploy):
    """A first run and a rerun (which reads what the first made) as the deployer; their calls judged together."""
    first = deploy(_policy(), "storage,identity,ecs")
    assert first.rc == 0, _explain(first)
    result = deploy(None, "storage,identity,ecs", fresh=False)
    assert result.rc == 0, _explain(result)
    assert result.total("changed") == 0, result.changed_tasks()
    result.requests = first.requests + result.requests
    (result.policy_file.parent / "calls.json").write_text(json.dumps(result.requests))
    # site.yml wrote the policy for these settings (the fixtures' VPC included): judge the calls against that file.
    policy = json.loads(result.policy_file.read_text())
    assert policy == generator.deployer_policy({
        "name_prefix": "aws-rag", "environment": "local", "region": REGION, "account_id": iam_calls.ACCOUNT,
        "components": ["loki", "mimir", "tempo"], "eks_cluster_name": "aws-rag-local",
        "ecs_vpc_id": [s for s in policy["Statement"] if s["Sid"] == "EcsSecurityGroupVpcInAccount"][0]["Resource"][0].rpartition("/")[2]})
    calls = _requests(result)
    assert len(calls) > 100, "the proxy saw the run's calls"
    _judge(policy, calls)
    print("\nas the deployer: %d calls; first run %.0f s, rerun %.0f s" % (len(calls), first.seconds, result.seconds))


def _judge(policy, calls):
    """The checks of ``policy`` against the (IAM action, resource) of the run's calls (see the module docstring)."""

    # (a) every call is allowed by the published policy, Action and Resource.
    denied = sorted({(a, r) for a, r in calls if not iam_calls.allowed(policy, a, r)})
    assert denied == [], "calls the deployer policy does not allow: %s" % denied

    # (b) every action of the policy is made by a call, or is implicit or change-only with a reason.
    implicit = {a for s in policy["Statement"] if s["Sid"] in generator.IMPLICIT for a in s["Action"]}
    made = {a for a, _r in calls}
    unused = sorted({a for s in policy["Statement"] for a in s["Action"]} - made - implicit - set(generator.CHANGE_ONLY))
    assert unused == [], "actions no call of the run makes (widened?): %s" % unused
    assert not made & set(generator.CHANGE_ONLY), "made by the run, so not change-only: %s" % sorted(made & set(generator.CHANGE_ONLY))

    # (c) every resource of every statement is used by a call of one of its actions (implicit and change-only aside).
    for statement in policy["Statement"]:
        if statement["Sid"] in generator.IMPLICIT or set(statement["Action"]) <= set(generator.CHANGE_ONLY):
            continue
        for resource in iam_calls._as_list(statement["Resource"]):  # pylint: disable=protected-access
            one = {"Version": "2012-10-17", "Statement": [dict(statement, Resource=resource)]}
            assert any(iam_calls.allowed(one, a, r) for a, r in calls), "%s: no call uses %s" % (statement["Sid"], resource)

    # Narrowed by one action or one resource: some call is denied.
    for index, statement in enumerate(policy["Statement"]):
        if statement["Sid"] in generator.IMPLICIT or set(statement["Action"]) <= set(generator.CHANGE_ONLY):
            continue
        for action in statement["Action"]:
            if action in generator.CHANGE_ONLY:
                continue
            narrowed = copy.deepcopy(policy)
            narrowed["Statement"][index]["Action"].remove(action)
            assert any(not iam_calls.allowed(narrowed, a, r) for a, r in calls if a == action), "%s: %s is not needed" % (statement["Sid"], action)
        resources = iam_calls._as_list(statement["Resource"])  # pylint: disable=protected-access
        for resource in resources:
            narrowed = copy.deepcopy(policy)
            narrowed["Statement"][index]["Resource"] = [r for r in resources if r != resource] or ["arn:aws:s3:::nothing"]
            assert any(not iam_calls.allowed(narrowed, a, r) for a, r in calls), "%s: %s is not needed" % (statement["Sid"], resource)

    # Widened: the same calls against another deployment's names are denied; "*" only where no resource is named.
    for action, resource in calls:
        if BASE in resource:
            for other in iam_calls.foreign(resource, "aws-rag", "local"):
                assert not iam_calls.allowed(policy, action, other), (action, resource, other)
    for statement in policy["Statement"]:
        if statement["Resource"] == "*":
            assert statement["Sid"].endswith("AnyResource"), statement["Sid"]
            named = sorted({(a, r) for a, r in calls if a in statement["Action"] and r != "*"})
            assert named == [], "%s: these calls name a resource, so the action can be scoped: %s" % (statement["Sid"], named)
        else:
            assert not statement["Sid"].endswith("AnyResource"), statement["Sid"]


def test_moto_denies_a_narrowed_policy(deploy, account):
    """moto itself refuses what the policy lacks: with one S3 action (s3:PutBucketTagging) removed the storage run
    fails; with one bucket removed the deployer is refused on that bucket and allowed on the others."""
    policy = _policy()
    storage = policy["Statement"][0]
    assert storage["Sid"] == "StorageBucketsPrefixed"
    storage["Action"].remove("s3:PutBucketTagging")
    storage["Resource"].remove("arn:aws:s3:::%s-tempo" % BASE)
    # Storage needs none of the local fixtures: leave them out (lgtm_local_aws=false, and the secrets the inventory
    # takes from them and the cluster for the identity preflight the storage play runs) to keep this short.
    result = deploy(policy, "storage", "-e", "lgtm_local_aws=false", "-e", '{"identity_secret_arns": [], "identity_irsa_enabled": false}')
    assert result.rc != 0, "the run passed with a narrowed policy"
    assert any("AccessDenied" in str(m) and "PutBucketTagging" in str(m) for m in result.failed_messages()), _explain(result)
    s3 = boto3.Session(profile_name="lgtm-deployer").client("s3", endpoint_url=account.upstream_url, region_name=REGION)
    s3.head_bucket(Bucket="%s-loki" % BASE)  # made before the tagging was refused
    for call in (lambda: s3.head_bucket(Bucket="%s-tempo" % BASE),
                 lambda: s3.create_bucket(Bucket="%s-tempo" % BASE, CreateBucketConfiguration={"LocationConstraint": REGION})):
        with pytest.raises(botocore.exceptions.ClientError) as denied:
            call()
        assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403, denied.value.response
