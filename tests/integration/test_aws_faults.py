"""The storage, identity and ECS plays of site.yml through tests/aws_proxy.py, as the deployer with moto enforcing IAM:
a no-change rerun makes no mutating AWS call, and with 20% of the calls throttled (and new IAM roles not yet visible)
the plays converge and a rerun changes nothing; the deployer policy is exact for their calls (judge_deployer_policy).
The proxy keeps a fault on this collection's calls through botocore's own quick retries, so they get through only by
the modules' retries (amazon.aws AWSRetry.jittered_backoff, docs/retries.md)."""

import json
import os
import subprocess
import time
import urllib.request

import pytest

from conftest import BIN_DIR, LOCAL_AWS_USERS, REGION, REPO_ROOT, PlaybookResult, proxied_moto

import iam_calls  # tests/iam_calls.py
from aws_proxy import summarize  # tests/aws_proxy.py (tests/ is on the path: tests/conftest.py)

from ansible_collections.lgtm.aws.plugins.plugin_utils import deployer_policy as generator

pytestmark = pytest.mark.integration

SITE = os.path.join(REPO_ROOT, "site.yml")
INVENTORY = os.path.join(REPO_ROOT, "inventories", "local")
TAGS = "storage,identity,ecs"
# 20% of the calls throttled (S3 SlowDown, JSON ThrottlingException, query Throttling, EC2 RequestLimitExceeded),
# a few 500s, plain 503s and slow answers, and every new IAM role, instance profile and OIDC provider invisible
# to the next call that names it.
# The local fixtures (what a real account has before site.yml) are registered without faults.
FAULTS = {"throttle": 0.2, "error": 0.02, "plain_503": 0.02, "slow": 0.02, "slow_seconds": 0.3, "invisible": 1.0,
          "skip_phases": ["Local AWS stand-in fixtures"]}


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    """One local AWS behind one proxy for this file."""
    with proxied_moto(tmp_path_factory.mktemp("moto-faults")) as server:
        yield server


# The deployer's policy for inventories/local (lgtm.aws.deployer_policy; the VPC as any: the fixtures make it).
FACTS = {"name_prefix": "aws-rag", "environment": "local", "region": REGION, "account_id": iam_calls.ACCOUNT,
         "components": ["loki", "mimir", "tempo"], "eks_cluster_name": "aws-rag-local", "run_lock_name": "/lgtm/aws-rag-local/run-lock"}


@pytest.fixture
def converge(proxy, tmp_path):
    """A fresh account; ``converge(faults)`` runs site.yml --tags storage,identity,ecs through the proxy with faults, as
    the deployer: an IAM user holding only the generated deployer policy, moto enforcing IAM (docs/security.md); the
    local fixtures are made by the administrator user."""
    LOCAL_AWS_USERS.set_enforcement(proxy.upstream_url, False)
    urllib.request.urlopen(urllib.request.Request(proxy.upstream_url + "/moto-api/reset", method="POST"), timeout=10)
    credentials = str(tmp_path / "aws-credentials")
    LOCAL_AWS_USERS.bootstrap(proxy.upstream_url, generator.deployer_policy(FACTS), credentials)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=proxy.url, AWS_SHARED_CREDENTIALS_FILE=credentials, AWS_CONFIG_FILE=os.devnull, AWS_PROFILE="lgtm-deployer",
        AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
        PATH=BIN_DIR + os.pathsep + env.get("PATH", ""),
        # Shorter back-off sleeps (AWSRetry's and botocore's), same schedule shape.
        PYTHONPATH=os.path.join(REPO_ROOT, "tests", "fast_backoff"),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_CALLBACK_RESULT_FORMAT="json",
        ANSIBLE_CALLBACK_PLUGINS=os.path.join(REPO_ROOT, "tests", "callback_plugins"), ANSIBLE_CALLBACKS_ENABLED="aws_proxy_phases",
    )

    def run(faults=None, *args):
        proxy.configure(**dict({"throttle": 0.0, "error": 0.0, "plain_503": 0.0, "slow": 0.0, "invisible": 0.0}, **(faults or {})))
        proxy.stats.reset()
        cmd = [os.path.join(BIN_DIR, "ansible-playbook"), SITE, "-i", INVENTORY, "--tags", TAGS, "-e", "lgtm_output_dir=%s" % tmp_path,
               "-e", "lgtm_local_aws_admin_profile=lgtm-admin", "-e", "deployer_account_id=%s" % iam_calls.ACCOUNT]
        started = time.monotonic()
        proc = subprocess.run(cmd + list(args), cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
        result = PlaybookResult(proc)
        result.seconds = time.monotonic() - started
        result.calls = proxy.stats.snapshot()
        result.summary = summarize(result.calls)
        result.policy_file = tmp_path / "deployer-policy.json"
        (tmp_path / ("run-%d.json" % time.monotonic_ns())).write_text(proc.stdout)
        return result

    return run


def explain(result):
    """The failed tasks with their messages, or the output's tail when there is no JSON."""
    try:
        failed = ["%s: %s %s" % (task["task"]["name"], str(host.get("msg"))[:600], str(host.get("exception", ""))[-1500:])
                  for play in json.loads(result.stdout)["plays"]
                  for task in play["tasks"] for host in task["hosts"].values() if host.get("failed")]
    except ValueError:
        failed = [(result.stdout + result.stderr)[-3000:]]
    return "rc=%s, calls %s\n%s" % (result.rc, result.summary, "\n".join(failed))


def slowest_tasks(result, count=8):
    """The tasks that took longest, with seconds, from the JSON callback's durations."""
    from datetime import datetime  # pylint: disable=import-outside-toplevel
    spans = []
    for play in json.loads(result.stdout)["plays"]:
        for task in play["tasks"]:
            duration = task["task"]["duration"]
            if duration.get("end"):
                seconds = (datetime.fromisoformat(duration["end"].rstrip("Z")) - datetime.fromisoformat(duration["start"].rstrip("Z"))).total_seconds()
                spans.append((round(seconds, 1), task["task"]["name"]))
    return sorted(spans, reverse=True)[:count]


def reads_per_capability(result):
    table = {}
    for call in result.calls["calls"]:
        if call["read"]:
            table.setdefault(call["phase"], {}).setdefault(call["service"], 0)
            table[call["phase"]][call["service"]] += call["count"]
    return table


def test_converges_under_faults_and_a_rerun_makes_no_mutating_call(converge):
    """20% throttled (and the other faults): the plays converge; a rerun under the same faults reports changed=0 and
    makes no mutating AWS call at all. Prints the calls of both runs and the rerun's reads per capability."""
    first = converge(FAULTS)
    assert first.rc == 0, explain(first)
    assert first.summary["writes"] > 0, "the proxy sees the first run's creates"
    injected = {f["kind"] for f in first.calls["faults"]}
    assert {"throttle", "error", "plain_503", "slow", "invisible"} <= injected, first.calls["faults"]
    second = converge(FAULTS)
    assert second.rc == 0, explain(second)
    assert second.total("changed") == 0, second.changed_tasks()
    # Besides the run lock's own writes (taken first, released last: playbooks/run_lock.yml).
    writes = [m for m in second.calls["mutations"] if m["phase"] not in ("Run lock: take", "Run lock: release")]
    assert writes == [], "a no-change rerun made mutating AWS calls: %s" % json.dumps(writes, indent=1)
    assert second.summary["faults"] > 0
    judge_deployer_policy(first, second)
    print("\nfirst run (%.0f s): %d reads, %d writes, %d faults" % (first.seconds, first.summary["reads"], first.summary["writes"], first.summary["faults"]),
          json.dumps(first.summary["by_phase"], sort_keys=True))
    print("rerun (%.0f s): %d reads, %d writes, %d faults" % (second.seconds, second.summary["reads"], second.summary["writes"], second.summary["faults"]),
          json.dumps(second.summary["by_phase"], sort_keys=True))
    print("rerun reads per capability and service:", json.dumps(reads_per_capability(second), sort_keys=True))
    print("slowest tasks of the first run:", slowest_tasks(first))


def judge_deployer_policy(first, second):
    """Both runs were the deployer's, moto enforcing what it can of its policy (actions, and S3 resources). Judge the
    policy site.yml published against every call they made (tests/iam_calls.py, docs/security.md): every call allowed
    (Action and Resource), every action and resource used (or implicit / change-only, with a reason), removing any one
    of them denies a call, other deployments' names are denied, and ``*`` only where the action takes no resource."""
    policy = json.loads(second.policy_file.read_text())
    vpc = [s for s in policy["Statement"] if s["Sid"] == "EcsSecurityGroupVpcInAccount"][0]["Resource"][0].rpartition("/")[2]
    assert policy == generator.deployer_policy(dict(FACTS, ecs_vpc_id=vpc)), "site.yml wrote the generator's policy"
    calls = iam_calls.permissions(first.calls["requests"] + second.calls["requests"], skip_phases=FAULTS["skip_phases"])
    assert len(calls) > 100, "the proxy saw the runs' calls"
    iam_calls.judge(policy, calls, generator.IMPLICIT, generator.CHANGE_ONLY, "aws-rag", "local")
