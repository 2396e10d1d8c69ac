"""moto itself refuses what the deployer policy lacks: the storage play as a deployer user whose policy lacks one
S3 action and one bucket, against a moto_server that enforces IAM (scripts/local-aws-users). The exactness of the
policy for a whole run (every call allowed, every action and resource used, other deployments denied) is judged in
tests/integration/test_aws_faults.py, whose runs are the deployer's (docs/security.md)."""

import os
import subprocess
import time
import urllib.request

import boto3
import botocore.exceptions
import pytest

from conftest import BIN_DIR, LOCAL_AWS_USERS as USERS, REGION, REPO_ROOT, PlaybookResult, running_moto

import iam_calls  # tests/iam_calls.py (tests/ is on the path: tests/conftest.py)

from ansible_collections.lgtm.aws.plugins.plugin_utils import deployer_policy as generator

pytestmark = pytest.mark.integration


INVENTORY = os.path.join(REPO_ROOT, "inventories", "local")
BASE = "aws-rag-local"  # inventories/local: lgtm_name_prefix-lgtm_environment


@pytest.fixture(scope="module")
def account(tmp_path_factory):
    """One moto_server for this file (IAM enforced once the users exist): its URL."""
    with running_moto(tmp_path_factory.mktemp("moto-iam"), dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true")) as url:
        yield url


@pytest.fixture
def deploy(account, tmp_path, monkeypatch):
    """``deploy(policy, tags)``: a fresh account whose deployer has ``policy``; site.yml --tags ``tags`` as that user."""
    credentials = str(tmp_path / "credentials")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", credentials)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=account, AWS_SHARED_CREDENTIALS_FILE=credentials, AWS_CONFIG_FILE=os.devnull,
        AWS_PROFILE="lgtm-deployer", AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION,
        ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1", PATH=BIN_DIR + os.pathsep + env.get("PATH", ""),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_CALLBACK_RESULT_FORMAT="json",
    )

    def run(policy, tags, *args):
        USERS.set_enforcement(account, False)
        urllib.request.urlopen(urllib.request.Request(account + "/moto-api/reset", method="POST"), timeout=10).close()
        USERS.bootstrap(account, policy, credentials)
        cmd = [os.path.join(BIN_DIR, "ansible-playbook"), os.path.join(REPO_ROOT, "site.yml"), "-i", INVENTORY, "--tags", tags,
               "-e", "lgtm_output_dir=%s" % tmp_path, "-e", "lgtm_local_aws_admin_profile=lgtm-admin",
               "-e", "deployer_account_id=%s" % iam_calls.ACCOUNT] + list(args)
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
        result = PlaybookResult(proc)
        result.seconds = time.monotonic() - started
        return result

    return run


def _policy():
    """The generator's policy for inventories/local (the VPC as any: the fixtures make it during the run)."""
    return generator.deployer_policy({"name_prefix": "aws-rag", "environment": "local", "region": REGION, "account_id": iam_calls.ACCOUNT,
                                      "components": ["loki", "mimir", "tempo"], "eks_cluster_name": "aws-rag-local",
                                      "run_lock_name": "/lgtm/aws-rag-local/run-lock"})


def _explain(result):
    try:
        return "rc=%s\n%s" % (result.rc, "\n".join(str(m)[:800] for m in result.failed_messages()))
    except ValueError:
        return "rc=%s\n%s" % (result.rc, (result.stdout + result.stderr)[-3000:])


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
    s3 = boto3.Session(profile_name="lgtm-deployer").client("s3", endpoint_url=account, region_name=REGION)
    s3.head_bucket(Bucket="%s-loki" % BASE)  # made before the tagging was refused
    for call in (lambda: s3.head_bucket(Bucket="%s-tempo" % BASE),
                 lambda: s3.create_bucket(Bucket="%s-tempo" % BASE, CreateBucketConfiguration={"LocationConstraint": REGION})):
        with pytest.raises(botocore.exceptions.ClientError) as denied:
            call()
        assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403, denied.value.response
