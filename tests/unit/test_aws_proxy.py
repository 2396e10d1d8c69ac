"""tests/aws_proxy.py on its own: it names each call's service and action, and botocore reads its faults as the
error codes real AWS sends (so the retry tests exercise the real retry rules)."""

import signal
import subprocess
import time

import boto3
import botocore.config
import botocore.exceptions
import pytest

from aws_proxy import Proxy, descendants  # tests/aws_proxy.py (tests/ is on the path: tests/conftest.py)

server_module = pytest.importorskip("moto.server")


@pytest.fixture(scope="module")
def proxy():
    moto = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    server = Proxy("http://%s:%d" % (host, port)).start()
    yield server
    server.stop()
    moto.stop()


@pytest.fixture
def client(proxy):
    proxy.configure(throttle=0.0, error=0.0, plain_503=0.0, slow=0.0, invisible=0.0)
    proxy.stats.reset()
    config = botocore.config.Config(retries={"total_max_attempts": 1})
    return lambda service: boto3.client(service, region_name="eu-west-1", endpoint_url=proxy.url, aws_access_key_id="testing",
                                        aws_secret_access_key="testing", config=config)


def calls(proxy):
    return {(c["service"], c["action"]): c["read"] for c in proxy.stats.snapshot()["calls"]}


def test_calls_are_named_by_service_and_action_and_counted_as_reads_or_writes(proxy, client):
    s3 = client("s3")
    s3.create_bucket(Bucket="proxy-test", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket="proxy-test", Key="a/b.json", Body=b"{}")
    s3.list_objects_v2(Bucket="proxy-test")
    s3.head_bucket(Bucket="proxy-test")
    client("iam").list_roles()
    client("ecs").list_clusters()
    client("efs").describe_file_systems()
    client("ec2").describe_vpcs()
    assert calls(proxy) == {
        ("s3", "CreateBucket"): False, ("s3", "PutObject"): False, ("s3", "ListObjectsV2"): True, ("s3", "HeadBucket"): True,
        ("iam", "ListRoles"): True, ("ecs", "ListClusters"): True, ("elasticfilesystem", "DescribeFileSystems"): True,
        ("ec2", "DescribeVpcs"): True}
    assert [m["action"] for m in proxy.stats.snapshot()["mutations"]] == ["CreateBucket", "PutObject"]


@pytest.mark.parametrize("service, call, kind, code", [
    ("s3", lambda c: c.list_buckets(), "throttle", "SlowDown"),
    ("s3", lambda c: c.head_bucket(Bucket="proxy-test"), "throttle", "503"),  # HEAD: no body, botocore names the status
    ("iam", lambda c: c.list_roles(), "throttle", "Throttling"),
    ("ec2", lambda c: c.describe_vpcs(), "throttle", "RequestLimitExceeded"),
    ("ecs", lambda c: c.list_clusters(), "throttle", "ThrottlingException"),
    ("efs", lambda c: c.describe_file_systems(), "throttle", "ThrottlingException"),
    ("iam", lambda c: c.list_roles(), "error", "InternalError"),
    ("ecs", lambda c: c.list_clusters(), "error", "InternalFailure"),
    ("ssm", lambda c: c.describe_parameters(), "plain_503", "503"),
])
def test_faults_arrive_as_the_error_codes_aws_sends(proxy, client, service, call, kind, code):
    aws = client(service)
    proxy.configure(**{kind: 1.0})
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call(aws)
    assert raised.value.response["Error"]["Code"] == code
    assert proxy.stats.snapshot()["calls"] == [], "a faulted call never reaches the local AWS"


def test_a_new_role_is_invisible_to_the_next_call_naming_it(proxy, client):
    iam = client("iam")
    proxy.configure(invisible=1.0)
    iam.create_role(RoleName="proxy-new", AssumeRolePolicyDocument="{}")
    with pytest.raises(botocore.exceptions.ClientError, match="NoSuchEntity"):
        iam.get_role(RoleName="proxy-new")
    assert iam.get_role(RoleName="proxy-new")["Role"]["RoleName"] == "proxy-new"


@pytest.mark.parametrize("module, passes", [("lgtm.aws.iam_roles", False), ("amazon.aws.iam_role", True)])
def test_botocore_retries_get_through_except_in_this_collections_modules(proxy, module, passes):
    """A fault on a call of an lgtm.aws module lasts through botocore's own retries; other modules' calls pass."""
    config = botocore.config.Config(retries={"total_max_attempts": 2, "mode": "standard"})
    iam = boto3.client("iam", region_name="eu-west-1", endpoint_url=proxy.url, aws_access_key_id="testing",
                       aws_secret_access_key="testing", config=config)
    proxy.configure(throttle=1.0, error=0.0, plain_503=0.0, slow=0.0, invisible=0.0)
    proxy.stats.module = module
    try:
        if passes:
            assert "Roles" in iam.list_roles()
        else:
            with pytest.raises(botocore.exceptions.ClientError, match="Throttling"):
                iam.list_roles()
    finally:
        proxy.stats.module = "-"


@pytest.mark.parametrize("when, reached", [("answer", True), ("request", False)])
def test_a_run_is_killed_at_the_chosen_mutating_call_with_the_processes_below_it(proxy, client, when, reached):
    """kill_at counts the mutating calls of kill_phase (of kill_action when set); the process group and every process
    below its leader get SIGKILL, after the call reached the local AWS ("answer") or before ("request")."""
    # A leader in its own session with a child in yet another session, as ansible-playbook and its workers are.
    run = subprocess.Popen(["sh", "-c", "setsid sleep 120 & wait"], start_new_session=True)
    s3 = client("s3")
    try:
        proxy.stats.phase = "storage"
        proxy.configure(kill_pgid=run.pid, kill_phase="storage", kill_action="s3:CreateBucket", kill_at=2, kill_when=when)
        s3.create_bucket(Bucket="kill-1-%s" % when, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        s3.put_bucket_tagging(Bucket="kill-1-%s" % when, Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})  # not counted
        assert run.poll() is None
        deadline = time.time() + 10
        while not descendants(run.pid) and time.time() < deadline:
            time.sleep(0.05)
        below = descendants(run.pid)
        assert below, "the test's child process did not start"
        with pytest.raises(botocore.exceptions.BotoCoreError):  # the connection closes without an answer
            s3.create_bucket(Bucket="kill-2-%s" % when, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        assert run.wait(timeout=10) == -signal.SIGKILL
        for pid in below:
            deadline = time.time() + 10
            while time.time() < deadline and _alive(pid):
                time.sleep(0.05)
            assert not _alive(pid), "process %d below the leader survived" % pid
        assert proxy.stats.snapshot()["killed"] == {"phase": "storage", "task": "-", "service": "s3", "action": "CreateBucket", "when": when}
        names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
        assert ("kill-2-%s" % when in names) is reached
    finally:
        proxy.configure(kill_pgid=None, kill_phase=None, kill_action=None, kill_at=0)
        if run.poll() is None:
            run.kill()


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
