"""Runs of site.yml killed half-way and run again, and two runs at once, through tests/aws_proxy.py.

Killed runs: the proxy SIGKILLs the run's process group (ansible-playbook, its workers and the module) at the N-th
mutating call of a capability, either after the call reached the local AWS but before its answer returns (the change
happened, the run never learnt it) or before it is forwarded. The kill points are drawn from a seed and chained: each
run is killed at the next point, so the eight points cost about one converge plus the restarts. The account then converges,
holds exactly one of everything (read back with the AWS APIs, not from the run's own report), a rerun changes nothing
and makes no mutating call besides the run lock's, and the EKS play's calls are counted with it.

Two runs at once: the run lock (lgtm.aws.run_lock, playbooks/run_lock.yml) lets one through (the rerun); the other
stops before any change with a message naming the holder. The Alloy fleet's kills are in test_killed_fleet.py."""

import collections
import json
import os
import random
import signal
import subprocess
import time
import urllib.request

import boto3
import pytest

from conftest import BIN_DIR, REGION, REPO_ROOT, PlaybookResult, proxied_moto

from aws_proxy import summarize  # tests/aws_proxy.py (tests/ is on the path: tests/conftest.py)

pytestmark = pytest.mark.integration

SITE = os.path.join(REPO_ROOT, "site.yml")
INVENTORY = os.path.join(REPO_ROOT, "inventories", "local")
SEED = 16
FIXTURES = "Local AWS stand-in fixtures"
LOCK_PHASES = ("Run lock: take", "Run lock: release")
# Kill points: (capability as the proxy counts it, the call to count or None for any mutating one, points, about
# that many calls in a first run, tags of the runs killed there). Random ones land anywhere in a capability; the ECS
# ones aimed at one kind of call land where a lost answer could leave a duplicate (a second security group rule,
# mount target, listener rule, task definition revision or ECS service). With the three kills of the Alloy rollout
# (test_killed_fleet.py) that makes eleven points. Each N is drawn between 1 and calls / points; the aimed ones are killed after the
# call reached AWS (its answer lost), the random ones before or after as drawn. The first run of a capability also
# runs the one before it to its end (its outputs are the next one's inputs).
PLAN = [
    ("storage", None, 1, 30, "storage"),
    ("identity", None, 2, 25, "storage,identity"),
    ("ecs_monitoring", "ec2:AuthorizeSecurityGroupIngress", 1, 6, "identity,ecs"),
    ("ecs_monitoring", "elasticfilesystem:CreateMountTarget", 1, 2, "ecs"),
    ("ecs_monitoring", "elasticloadbalancing:CreateRule", 1, 1, "ecs"),
    ("ecs_monitoring", "ecs:RegisterTaskDefinition", 1, 4, "ecs"),
    ("ecs_monitoring", "ecs:CreateService", 1, 4, "ecs"),
]
FINAL_TAGS = "storage,identity,ecs,eks"
LOCK = "/lgtm/aws-rag-local/run-lock"  # lgtm_run_lock_name of inventories/local


def kill_points(seed=SEED):
    draw = random.Random(seed)
    points, seen = [], set()
    for phase, action, count, calls, tags in PLAN:
        for _index in range(count):
            first = phase not in seen
            seen.add(phase)
            points.append({"phase": phase, "action": action, "at": draw.randint(1, max(1, calls // count - 1)),
                           "when": "answer" if action else draw.choice(["answer", "request"]),
                           "tags": tags if first else phase.replace("ecs_monitoring", "ecs")})
    return points


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    """One local AWS behind one proxy for this file."""
    with proxied_moto(tmp_path_factory.mktemp("moto-kills")) as server:
        yield server


@pytest.fixture
def site(proxy, tmp_path):
    """A fresh account; ``site(tags, kill=None)`` runs site.yml through the proxy (``start`` only starts it)."""
    urllib.request.urlopen(urllib.request.Request(proxy.upstream_url + "/moto-api/reset", method="POST"), timeout=10)
    env = dict(os.environ)
    env.update(
        AWS_ENDPOINT_URL=proxy.url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
        PATH=BIN_DIR + os.pathsep + env.get("PATH", ""), PYTHONPATH=os.path.join(REPO_ROOT, "tests", "fast_backoff"),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_CALLBACK_RESULT_FORMAT="json",
        ANSIBLE_CALLBACK_PLUGINS=os.path.join(REPO_ROOT, "tests", "callback_plugins"), ANSIBLE_CALLBACKS_ENABLED="aws_proxy_phases,lgtm.aws.run_lock",
    )

    def start(tags, out=None, extra=()):
        cmd = [os.path.join(BIN_DIR, "ansible-playbook"), SITE, "-i", INVENTORY, "--tags", tags,
               "-e", "lgtm_output_dir=%s" % (out or tmp_path / "out")] + list(extra)
        return subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)  # its own process group: the proxy kills all of it

    def run(tags, kill=None, out=None, extra=()):
        proxy.configure(kill_pgid=None, kill_action=None)
        proxy.stats.reset()
        started = time.monotonic()
        proc = start(tags, out, extra)
        if kill:
            proxy.configure(kill_pgid=proc.pid, kill_phase=kill["phase"], kill_action=kill["action"], kill_at=kill["at"],
                            kill_when=kill["when"])
        stdout, stderr = proc.communicate(timeout=900)
        result = PlaybookResult(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr))
        result.seconds = time.monotonic() - started
        result.calls = proxy.stats.snapshot()
        result.summary = summarize(result.calls)
        proxy.configure(kill_pgid=None)
        (tmp_path / ("run-%d.json" % time.monotonic_ns())).write_text(json.dumps({"tags": tags, "kill": kill, "rc": proc.returncode,
                                                                                  "calls": result.calls, "stdout": stdout[-20000:]}))
        return result

    def two_at_once(tags):
        """(first, second): two runs at once, the second started once the first holds the run lock."""
        proxy.configure(kill_pgid=None, kill_action=None)
        proxy.stats.reset()
        started = time.monotonic()
        first = start(tags)
        ssm = run.client("ssm")
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and first.poll() is None:
            try:
                if json.loads(ssm.get_parameter(Name=LOCK)["Parameter"]["Value"]).get("pid") == first.pid:
                    break
            except ssm.exceptions.ParameterNotFound:
                pass
            time.sleep(0.1)
        second = start(tags, out=tmp_path / "second")
        results = []
        for proc in (second, first):
            stdout, stderr = proc.communicate(timeout=900)
            result = PlaybookResult(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr))
            result.pid, result.seconds = proc.pid, time.monotonic() - started
            results.insert(0, result)
        results[0].calls = proxy.stats.snapshot()
        results[0].summary = summarize(results[0].calls)
        results[1].calls, results[1].summary = results[0].calls, results[0].summary
        return results

    run.start = start
    run.two_at_once = two_at_once
    run.client = lambda service: boto3.client(service, region_name=REGION, endpoint_url=proxy.upstream_url, aws_access_key_id="testing",
                                              aws_secret_access_key="testing", aws_session_token="testing")
    return run


def explain(result):
    try:
        failed = ["%s: %s" % (task["task"]["name"], str(host.get("msg"))[:800])
                  for play in json.loads(result.stdout)["plays"]
                  for task in play["tasks"] for host in task["hosts"].values() if host.get("failed")]
    except ValueError:
        failed = [(result.stdout + result.stderr)[-3000:]]
    return "rc=%s, calls %s\n%s" % (result.rc, result.summary, "\n".join(failed))


def product_mutations(result):
    return [m for m in result.calls["mutations"] if m["phase"] not in LOCK_PHASES]


def duplicates(names):
    return sorted(name for name, count in collections.Counter(names).items() if count > 1)


def account(client):
    """What the account holds, read with the AWS APIs: {kind: sorted list of names/keys}."""
    s3, iam, ecs, ec2, efs = client("s3"), client("iam"), client("ecs"), client("ec2"), client("efs")
    sd, elb, logs, ssm = client("servicediscovery"), client("elbv2"), client("logs"), client("ssm")
    held = {"buckets": [b["Name"] for b in s3.list_buckets()["Buckets"]]}
    roles = [r for page in iam.get_paginator("list_roles").paginate() for r in page["Roles"] if not r["Path"].startswith("/aws-service-role/")]
    held["roles"] = [r["RoleName"] for r in roles]
    held["instance_profiles"] = ["%s:%s" % (p["InstanceProfileName"], ",".join(sorted(r["RoleName"] for r in p["Roles"])))
                                 for page in iam.get_paginator("list_instance_profiles").paginate() for p in page["InstanceProfiles"]]
    held["oidc_providers"] = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    held["task_definitions"] = [arn.rsplit("/", 1)[1] for status in ("ACTIVE", "INACTIVE")
                                for arn in ecs.list_task_definitions(status=status)["taskDefinitionArns"]]
    held["services"] = [arn.rsplit("/", 1)[1] for cluster in ecs.list_clusters()["clusterArns"]
                        for arn in ecs.list_services(cluster=cluster)["serviceArns"]]
    groups = ec2.describe_security_groups()["SecurityGroups"]
    held["security_groups"] = ["%s/%s" % (g["VpcId"], g["GroupName"]) for g in groups]
    held["security_group_rules"] = [
        "%s %s %s-%s %s" % (g["GroupName"], p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), source)
        for g in groups for p in g["IpPermissions"]
        for source in [r["CidrIp"] for r in p["IpRanges"]] + [pair["GroupId"] for pair in p["UserIdGroupPairs"]]]
    file_systems = efs.describe_file_systems()["FileSystems"]
    held["file_systems"] = [f["CreationToken"] for f in file_systems]
    held["access_points"] = ["%s %s" % (a["FileSystemId"], a.get("RootDirectory", {}).get("Path")) for a in efs.describe_access_points()["AccessPoints"]]
    mount_targets = [m for f in file_systems for m in efs.describe_mount_targets(FileSystemId=f["FileSystemId"])["MountTargets"]]
    held["mount_targets"] = ["%s %s" % (m["FileSystemId"], m["SubnetId"]) for m in mount_targets]
    held["namespaces"] = [n["Name"] for n in sd.list_namespaces()["Namespaces"]]
    held["discovery_services"] = ["%s %s" % (s.get("NamespaceId"), s["Name"]) for s in sd.list_services()["Services"]]
    balancers = elb.describe_load_balancers()["LoadBalancers"]
    held["load_balancers"] = [b["LoadBalancerName"] for b in balancers]
    held["target_groups"] = [t["TargetGroupName"] for t in elb.describe_target_groups()["TargetGroups"]]
    listeners = [li for b in balancers for li in elb.describe_listeners(LoadBalancerArn=b["LoadBalancerArn"])["Listeners"]]
    held["listeners"] = ["%s %s" % (li["LoadBalancerArn"].rsplit("/", 2)[1], li["Port"]) for li in listeners]
    held["listener_rules"] = ["%s %s" % (li["Port"], json.dumps(r["Conditions"], sort_keys=True))
                              for li in listeners for r in elb.describe_rules(ListenerArn=li["ListenerArn"])["Rules"]]
    held["log_groups"] = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    held["parameters"] = [p["Name"] for page in ssm.get_paginator("describe_parameters").paginate() for p in page["Parameters"]]
    held["network_interfaces"] = ["%s %s" % (n["SubnetId"], n.get("Description", "")) for n in ec2.describe_network_interfaces()["NetworkInterfaces"]]
    return {kind: sorted(names) for kind, names in held.items()}


def test_runs_killed_at_eight_points_then_run_again_converge_with_one_of_everything(site, tmp_path):
    """Chained kills across storage, identity and ECS; then one converge, an exact account, and a rerun of 0 writes
    during which a second run at once stops at the run lock."""
    kills, log = [], []
    for point in kill_points():
        result = site(point["tags"], kill=point)
        killed = result.calls["killed"]
        where = "%s %s in %r" % (killed["service"], killed["action"], killed["task"]) if killed else "not reached"
        log.append("%s %s #%d (%s): %s, %.0f s" % (point["phase"], point["action"] or "any", point["at"], point["when"], where, result.seconds))
        (tmp_path / "kills.log").write_text("\n".join(log) + "\n")
        if killed:
            assert result.rc == -signal.SIGKILL, explain(result)
            kills.append(killed)
            if len(kills) > 1:
                # The killed run before this one left the run lock behind: this run took it over.
                taken = [m["action"] for m in result.calls["mutations"] if m["phase"] == LOCK_PHASES[0]]
                assert taken == ["PutParameter", "DeleteParameter", "PutParameter"], (taken, "\n".join(log))
        else:
            assert result.rc == 0, explain(result)
    print("\n" + "\n".join(log))
    assert len(kills) == len(kill_points()), "only %d of the kill points were reached:\n%s" % (len(kills), "\n".join(log))
    assert {k["phase"] for k in kills} == {"storage", "identity", "ecs_monitoring"}
    assert {k["when"] for k in kills} == {"answer", "request"}

    final = site("ecs,eks")  # storage and identity were run to their end before the ECS kills
    assert final.rc == 0, explain(final)
    held = account(site.client)

    # The rerun, with a second run started once it holds the run lock: the second stops at the lock, naming the
    # first, before any change; the rerun changes nothing and makes no mutating call besides the lock's.
    first, second = site.two_at_once(FINAL_TAGS)
    assert first.rc == 0, explain(first)
    assert first.total("changed") == 0, first.changed_tasks()
    assert second.rc != 0 and second.total("changed") == 0, explain(second)
    message = " ".join(second.failed_messages())
    assert "Another run holds the lock %s" % LOCK in message and "pid %d," % first.pid in message, message
    writes = collections.Counter(m["action"] for m in first.calls["mutations"])
    # The lock's: the rerun's PutParameter and DeleteParameter, the second run's PutParameter that found it taken.
    assert writes == {"PutParameter": 2, "DeleteParameter": 1}, "mutating calls of a rerun after the kills: %s" % json.dumps(
        first.calls["mutations"], indent=1)
    assert account(site.client) == held, "the rerun changed the account"

    # A run that fails after taking the lock (here on a misspelt variable) does not reach the release play; the
    # lgtm.aws.run_lock callback releases the lock when the run ends.
    failed = site("storage", extra=("-e", "storage_bucket_prefixx=typo"))
    assert failed.rc != 0 and any("storage_bucket_prefixx" in m for m in failed.failed_messages()), explain(failed)
    assert "released the run lock %s" % LOCK in failed.stderr, failed.stderr[-2000:]
    assert LOCK not in [p["Name"] for p in site.client("ssm").describe_parameters()["Parameters"]]

    # Exactly one of everything: nothing a killed run did is there twice, nothing it left undone is missing.
    assert {kind: duplicates(names) for kind, names in held.items() if duplicates(names)} == {}
    out = tmp_path / "out"
    storage = json.loads((out / "storage.json").read_text())
    identity = json.loads((out / "identity.json").read_text())
    assert set(held["buckets"]) == {b["name"] for b in storage["buckets"].values()}
    role_arns = set()

    def collect(value):
        if isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)
        elif isinstance(value, str) and ":role/" in value:
            role_arns.add(value.rsplit("/", 1)[1])

    collect(identity)
    assert role_arns <= set(held["roles"])
    families = collections.Counter(name.split(":")[0] for name in held["task_definitions"])
    assert families and set(families.values()) == {1}, "one task definition revision per family: %s" % held["task_definitions"]
    assert all(name.endswith(":1") for name in held["task_definitions"]), held["task_definitions"]
    assert len(held["file_systems"]) == 1
    assert LOCK not in held["parameters"], "the last run released the lock"
    print("account:", json.dumps({kind: len(names) for kind, names in held.items()}, sort_keys=True))
    print("final converge %.0f s (%s); rerun %.0f s: %s" % (
        final.seconds, json.dumps(final.summary["by_phase"], sort_keys=True), first.seconds, json.dumps(first.summary["by_phase"], sort_keys=True)))
