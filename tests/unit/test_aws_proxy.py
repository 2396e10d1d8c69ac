"""tests/aws_proxy.py on its own: it names each call's service and action, and botocore reads its faults as the
error codes real AWS sends (so the retry tests exercise the real retry rules)."""

import boto3
import botocore.config
import botocore.exceptions
import pytest

from aws_proxy import Proxy  # tests/aws_proxy.py (tests/ is on the path: tests/conftest.py)

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
