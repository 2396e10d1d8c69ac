"""Every workload identity of site.yml does its real AWS calls with its own credentials, against a local AWS that
enforces IAM, and is refused outside its scope.

site.yml --tags storage,identity,ecs converges once (as the account's admin, before IAM is enforced: the deployer's
own policy is proven by the deployer tests of issue 16). Then each workload gets ITS credentials the way
its service gets them (sts:AssumeRoleWithWebIdentity with a service account token for the IRSA roles, sts:AssumeRole
for the roles AWS services assume), IAM enforcement is switched on, and only those credentials are used.

Who judges what (docs/security.md, "Workload identities"):
- moto judges every call below: the action, and the resource for S3 (bucket and key ARNs) and, through
  tests/moto_server.py, for SSM parameter and Secrets Manager secret reads. Every other service is judged on the
  action alone (its resource is ``*``), which is all the documents of those workloads scope (``Resource: *``).
- moto cannot judge conditions, trust policies, the S3 TLS-only bucket policy or EFS mounts: those checks here read
  the documents AS DEPLOYED and judge them with tests/iam_eval.py (named ``evaluated_`` below); the same documents,
  as the plugins generate them, are judged case by case in tests/unit/test_workload_policy_conditions.py.
"""

import base64
import json
import os
import subprocess
import time
import urllib.request
from types import SimpleNamespace

import boto3
import botocore
import botocore.config
import botocore.exceptions
import pytest

from conftest import BIN_DIR, REGION, REPO_ROOT, PlaybookResult, running_moto

from iam_eval import ALLOW, EXPLICIT_DENY, IMPLICIT_DENY, assume_role, evaluate, web_identity_request

pytestmark = pytest.mark.integration

SITE = os.path.join(REPO_ROOT, "site.yml")
INVENTORY = os.path.join(REPO_ROOT, "inventories", "local")
PREFIX = "aws-rag-local"  # inventories/local: lgtm_name_prefix aws-rag, lgtm_environment local
OTHER = "other-local"  # another deployment's prefix in the same account
CW_READERS = {"cloudwatch_exporter": "ecs-cloudwatch-exporter", "grafana": "ecs-grafana", "alloy_collector": "alloy-collector"}


def _reset_auth(endpoint, count):
    """Requests moto lets through before it enforces IAM (``inf``: never; 0: from now on)."""
    request = urllib.request.Request(endpoint + "/moto-api/reset-auth", data=str(count).encode(), method="POST",
                                     headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(request, timeout=10).read()


def _client(endpoint, service, credentials=None, unsigned=False):
    credentials = credentials or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "aws_session_token": "testing"}
    config = botocore.config.Config(signature_version=botocore.UNSIGNED, retries={"max_attempts": 1}) if unsigned \
        else botocore.config.Config(retries={"max_attempts": 1})
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint, config=config, **credentials)


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def service_account_token(issuer, namespace, service_account, audience="sts.amazonaws.com"):
    """A projected service account token as EKS mounts it for IRSA (iss, sub, aud). Its signature is random bytes:
    moto verifies no token, so the claims are judged by tests/iam_eval.py against the role's trust policy."""
    now = int(time.time())
    claims = {"iss": issuer, "sub": "system:serviceaccount:%s:%s" % (namespace, service_account), "aud": [audience],
              "iat": now, "nbf": now, "exp": now + 3600,
              "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": service_account}}}
    header = {"alg": "RS256", "typ": "JWT", "kid": "lgtm-test"}
    return ".".join([_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), _b64(os.urandom(256))])


def token_claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _credentials(response):
    creds = response["Credentials"]
    return {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"]}


def _converge(endpoint, out_dir):
    env = dict(os.environ)
    env.update(
        AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
        PATH=BIN_DIR + os.pathsep + env.get("PATH", ""), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    cmd = [os.path.join(BIN_DIR, "ansible-playbook"), SITE, "-i", INVENTORY, "--tags", "storage,identity,ecs",
           "-e", "lgtm_output_dir=%s" % out_dir]
    result = PlaybookResult(subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900, check=False))
    assert result.rc == 0, (result.stdout + result.stderr)[-4000:]
    return {name: json.loads((out_dir / ("%s.json" % name)).read_text()) for name in ("storage", "identity")}


def _task_definition_secrets(admin):
    """Every ``valueFrom`` the task definitions of the platform's services inject, and their awslogs groups."""
    ecs = admin("ecs")
    secrets, log_groups = set(), set()
    cluster = "%s-monitoring" % PREFIX
    services = ecs.describe_services(cluster=cluster, services=ecs.list_services(cluster=cluster)["serviceArns"])["services"]
    assert len(services) == 4, [s["serviceName"] for s in services]
    for arn in [s["taskDefinition"] for s in services]:
        for container in ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]["containerDefinitions"]:
            secrets.update(s["valueFrom"] for s in container.get("secrets", []))
            options = (container.get("logConfiguration") or {}).get("options") or {}
            if options.get("awslogs-group"):
                log_groups.add(options["awslogs-group"])
    return sorted(secrets), sorted(log_groups)


def _prepare(admin, outputs):
    """What a real account holds besides the platform: another deployment's secrets, data to read, objects to find."""
    s3, ssm, secrets, logs, cloudwatch = admin("s3"), admin("ssm"), admin("secretsmanager"), admin("logs"), admin("cloudwatch")
    prepared = {"bucket_policies": {}}
    for bucket in outputs["storage"]["buckets"].values():
        # moto ignores the policy's Bool aws:SecureTransport condition, so its TLS-only Deny would refuse every object
        # call, over TLS or not: the policy is kept for tests/iam_eval.py and removed from moto (docs/security.md).
        prepared["bucket_policies"][bucket["name"]] = json.loads(s3.get_bucket_policy(Bucket=bucket["name"])["Policy"])
        s3.delete_bucket_policy(Bucket=bucket["name"])
        s3.put_object(Bucket=bucket["name"], Key="seed/object", Body=b"written by the account's admin")
    ssm.put_parameter(Name="/lgtm/%s/ecs-monitoring/prometheus/prometheus.yml" % OTHER, Value="x", Type="String")
    prepared["other_secret"] = secrets.create_secret(Name="%s/grafana-admin-password" % OTHER, SecretString="x")["ARN"]
    logs.create_log_group(logGroupName="/lgtm-probe/app")
    logs.create_log_stream(logGroupName="/lgtm-probe/app", logStreamName="s")
    logs.put_log_events(logGroupName="/lgtm-probe/app", logStreamName="s",
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": "hello"}])
    cloudwatch.put_metric_data(Namespace="LGTM/Probe", MetricData=[{"MetricName": "up", "Value": 1.0}])
    prepared["secrets"], prepared["log_groups"] = _task_definition_secrets(admin)
    efs = admin("efs")
    (file_system,) = [f for f in efs.describe_file_systems()["FileSystems"] if f.get("Name") == "%s-prometheus" % PREFIX]
    prepared["file_system_arn"] = file_system["FileSystemArn"]
    prepared["file_system_policy"] = json.loads(efs.describe_file_system_policy(FileSystemId=file_system["FileSystemId"])["Policy"])
    (access_point,) = efs.describe_access_points(FileSystemId=file_system["FileSystemId"])["AccessPoints"]
    prepared["access_point_arn"] = access_point["AccessPointArn"]
    return prepared


def _documents(admin, role_arn):
    """A role's trust policy and every policy document it holds (inline and attached), as deployed."""
    iam = admin("iam")
    name = role_arn.rsplit("/", 1)[1]
    role = iam.get_role(RoleName=name)["Role"]
    policies = [iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"] for p in iam.list_role_policies(RoleName=name)["PolicyNames"]]
    for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        version = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
        policies.append(iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=version)["PolicyVersion"]["Document"])
    return {"trust": role["AssumeRolePolicyDocument"], "policies": policies}


@pytest.fixture(scope="module")
def account(tmp_path_factory):
    """The converged platform in a local AWS that enforces IAM, and each workload's credentials."""
    log_dir = tmp_path_factory.mktemp("workload-identities")
    with running_moto(log_dir, dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true")) as endpoint:
        outputs = _converge(endpoint, log_dir / "out")

        def admin(service):
            return _client(endpoint, service)

        prepared = _prepare(admin, outputs)
        identity = outputs["identity"]
        issuer, provider = identity["oidc_issuer"], identity["oidc_provider_arn"]
        oidc = admin("iam").get_open_id_connect_provider(OpenIDConnectProviderArn=provider)
        roles, documents, tokens = {}, {}, {}
        web_sts = _client(endpoint, "sts", unsigned=True)  # the SDK in a pod calls it unsigned, with the token only
        for component, irsa in identity["irsa_roles"].items():
            tokens[component] = service_account_token(issuer, irsa["namespace"], irsa["service_account"])
            roles["irsa_" + component] = _credentials(web_sts.assume_role_with_web_identity(
                RoleArn=irsa["arn"], RoleSessionName="botocore-session-%s" % component, WebIdentityToken=tokens[component]))
            documents["irsa_" + component] = _documents(admin, irsa["arn"])
        service_roles = dict({"ecs_" + k: v for k, v in identity["ecs"]["task_roles"].items()},
                             ecs_task_execution=identity["ecs"]["execution_role_arn"],
                             alloy_collector=identity["alloy_collector_role_arn"],
                             alloy_agent=identity["ec2_instance_profile"]["role_arn"])
        for key, arn in service_roles.items():
            # AWS's service assumes these; moto checks no trust policy here (the evaluated_ tests judge them).
            roles[key] = _credentials(admin("sts").assume_role(RoleArn=arn, RoleSessionName="lgtm-%s" % key.replace("_", "-")))
            documents[key] = _documents(admin, arn)
        _reset_auth(endpoint, 0)  # from here on every request must be signed by a known principal and is judged

        def client(role, service):
            return _client(endpoint, service, roles[role])

        yield SimpleNamespace(client=client, outputs=outputs, prepared=prepared, documents=documents, tokens=tokens,
                              role_arns=service_roles, oidc=oidc, endpoint=endpoint)


def _session(role_arn, name):
    """The principal of a session of the role, as AWS names it in a request."""
    return "arn:aws:sts::%s:assumed-role/%s/%s" % (role_arn.split(":")[4], role_arn.rsplit("/", 1)[1], name)


def allowed(call, **kwargs):
    try:
        return call(**kwargs)
    except botocore.exceptions.ClientError as error:
        pytest.fail("%s(%s) was refused: %s" % (call.__name__, kwargs, error))


def denied(call, **kwargs):
    """The call is refused by IAM: 403 with AccessDenied (moto's JSON services answer it in XML: read the message;
    a HEAD answer has no body, as in AWS)."""
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(**kwargs)
    error = info.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403, (call.__name__, kwargs, error)
    if not call.__name__.startswith("head_"):
        assert "AccessDenied" in error["Error"].get("Code", "") + str(info.value), (call.__name__, kwargs, error)


# -- Loki, Mimir, Tempo: IRSA ------------------------------------------------------------------------------------

def _buckets(account, component):
    return [b["name"] for b in account.outputs["storage"]["buckets"].values() if b["component"] == component]


@pytest.mark.parametrize("component", ["loki", "mimir", "tempo"])
def test_irsa_role_reads_and_writes_only_its_own_buckets(account, component):
    """moto-enforced: put, get, head, list, multipart upload and delete in each own bucket; every object and bucket
    call in another component's bucket refused; no bucket-level or account-level S3 call; object tagging for Tempo
    only (its documented minimal policy)."""
    s3 = account.client("irsa_" + component, "s3")
    for bucket in _buckets(account, component):
        key = "probe/%s/chunk" % component
        allowed(s3.put_object, Bucket=bucket, Key=key, Body=b"data")
        assert allowed(s3.get_object, Bucket=bucket, Key=key)["Body"].read() == b"data"
        allowed(s3.head_object, Bucket=bucket, Key="seed/object")
        listed = allowed(s3.list_objects_v2, Bucket=bucket, Prefix="probe/")
        assert [o["Key"] for o in listed["Contents"]] == [key]
        upload = allowed(s3.create_multipart_upload, Bucket=bucket, Key=key + "-multi")
        part = allowed(s3.upload_part, Bucket=bucket, Key=key + "-multi", UploadId=upload["UploadId"], PartNumber=1, Body=b"p")
        allowed(s3.complete_multipart_upload, Bucket=bucket, Key=key + "-multi", UploadId=upload["UploadId"],
                MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]})
        tagging = {"Tagging": {"TagSet": [{"Key": "tempo", "Value": "block"}]}}
        if component == "tempo":
            allowed(s3.put_object_tagging, Bucket=bucket, Key=key, **tagging)
            allowed(s3.get_object_tagging, Bucket=bucket, Key=key)
        else:
            denied(s3.put_object_tagging, Bucket=bucket, Key=key, **tagging)
            denied(s3.get_object_tagging, Bucket=bucket, Key=key)
        allowed(s3.delete_object, Bucket=bucket, Key=key)
        allowed(s3.delete_object, Bucket=bucket, Key=key + "-multi")
        denied(s3.put_bucket_policy, Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": []}))
        denied(s3.delete_bucket_policy, Bucket=bucket)
        denied(s3.get_bucket_policy, Bucket=bucket)
        denied(s3.put_bucket_lifecycle_configuration, Bucket=bucket, LifecycleConfiguration={"Rules": []})
        denied(s3.delete_bucket, Bucket=bucket)
    denied(s3.list_buckets)
    for other in [c for c in ("loki", "mimir", "tempo") if c != component]:
        for bucket in _buckets(account, other):
            denied(s3.list_objects_v2, Bucket=bucket)
            denied(s3.get_object, Bucket=bucket, Key="seed/object")
            denied(s3.head_object, Bucket=bucket, Key="seed/object")
            denied(s3.put_object, Bucket=bucket, Key="probe/%s" % component, Body=b"x")
            denied(s3.delete_object, Bucket=bucket, Key="seed/object")
    denied(account.client("irsa_" + component, "ssm").get_parameters, Names=["/lgtm/%s/ecs-monitoring/grafana/grafana.ini" % PREFIX])


@pytest.mark.parametrize("component", ["loki", "mimir", "tempo"])
def test_evaluated_irsa_trust_takes_only_the_component_service_account(account, component):
    """Judged by tests/iam_eval.py on the deployed trust policy (moto verifies no token and evaluates no web identity
    trust): the token the test signed in for the component's service account is accepted; the same claims for any
    other service account, namespace, audience or cluster are not."""
    trust = account.documents["irsa_" + component]["trust"]
    irsa = account.outputs["identity"]["irsa_roles"][component]
    provider = account.outputs["identity"]["oidc_provider_arn"]
    claims = token_claims(account.tokens[component])
    # What IAM checks before the trust policy: the token's issuer is the provider, its audience a client id of it.
    assert provider.split(":oidc-provider/")[1] == claims["iss"].split("://")[1]
    assert claims["aud"] == account.oidc["ClientIDList"] == ["sts.amazonaws.com"]
    assert assume_role(trust, web_identity_request(provider, claims)) == ALLOW
    wrong = [dict(claims, sub="system:serviceaccount:%s:%s" % (irsa["namespace"], other)) for other in ("loki", "mimir", "tempo", "default")
             if other != irsa["service_account"]]
    wrong += [dict(claims, sub="system:serviceaccount:kube-system:%s" % irsa["service_account"]),
              dict(claims, aud=["sigstore"])]
    for bad in wrong:
        assert assume_role(trust, web_identity_request(provider, bad)) == IMPLICIT_DENY, bad
    other_cluster = dict(claims, iss="https://oidc.eks.%s.amazonaws.com/id/OTHERCLUSTER" % REGION)
    assert assume_role(trust, web_identity_request(provider.replace(claims["iss"].split("/id/")[1], "OTHERCLUSTER"), other_cluster)) == IMPLICIT_DENY


@pytest.mark.parametrize("component", ["loki", "mimir", "tempo"])
def test_evaluated_buckets_refuse_plain_http_even_to_their_component(account, component):
    """Judged by tests/iam_eval.py (moto ignores aws:SecureTransport): the deployed bucket policy and the role's
    deployed policy allow the component over TLS and refuse it over plain HTTP."""
    session = _session(account.outputs["identity"]["irsa_roles"][component]["arn"], "pod")
    for bucket in _buckets(account, component):
        policies = [(d, "identity") for d in account.documents["irsa_" + component]["policies"]]
        policies.append((account.prepared["bucket_policies"][bucket], "resource"))
        request = {"action": "s3:GetObject", "resource": "arn:aws:s3:::%s/k" % bucket, "principal": {"AWS": session}}
        assert evaluate(policies, dict(request, context={"aws:SecureTransport": "true"})) == ALLOW
        assert evaluate(policies, dict(request, context={"aws:SecureTransport": "false"})) == EXPLICIT_DENY


# -- ECS -------------------------------------------------------------------------------------------------------

def test_execution_role_reads_exactly_its_parameters_and_secrets(account):
    """moto-enforced (resources through tests/moto_server.py): every secret and parameter the task definitions
    inject is read as the ECS agent reads it; another deployment's parameter and secret, and every write, are refused.
    The AWS managed AmazonECSTaskExecutionRolePolicy lets it write the tasks' awslogs streams (and pull from ECR)."""
    ssm, secrets = account.client("ecs_task_execution", "ssm"), account.client("ecs_task_execution", "secretsmanager")
    references = account.prepared["secrets"]
    kinds = {r.split(":")[2] for r in references}
    assert kinds == {"ssm", "secretsmanager"}, references
    for reference in references:
        if reference.split(":")[2] == "ssm":
            name = reference.split(":parameter", 1)[1]
            answer = allowed(ssm.get_parameters, Names=[name], WithDecryption=True)
            assert answer["InvalidParameters"] == [] and answer["Parameters"][0]["Value"], reference
        else:
            secret_arn = ":".join(reference.split(":")[:7])  # without a JSON key / version suffix
            assert allowed(secrets.get_secret_value, SecretId=secret_arn)["SecretString"]
    parameter_path = account.outputs["identity"]["ecs"]["config_parameter_path"]
    own = [r.split(":parameter", 1)[1] for r in references if r.split(":")[2] == "ssm"]
    assert all(n.startswith(parameter_path + "/") for n in own), own
    denied(ssm.get_parameters, Names=["/lgtm/%s/ecs-monitoring/prometheus/prometheus.yml" % OTHER])
    denied(ssm.get_parameters, Names=[own[0], "/lgtm/%s/ecs-monitoring/prometheus/prometheus.yml" % OTHER])
    denied(secrets.get_secret_value, SecretId=account.prepared["other_secret"])
    denied(ssm.get_parameters_by_path, Path=parameter_path)
    denied(ssm.put_parameter, Name=own[0], Value="changed", Type="String", Overwrite=True)
    own_secret = [":".join(r.split(":")[:7]) for r in references if r.split(":")[2] == "secretsmanager"][0]
    denied(secrets.put_secret_value, SecretId=own_secret, SecretString="changed")
    denied(secrets.list_secrets)
    logs = account.client("ecs_task_execution", "logs")
    for group in account.prepared["log_groups"]:
        allowed(logs.create_log_stream, logGroupName=group, logStreamName="ecs/probe/1")
        allowed(logs.put_log_events, logGroupName=group, logStreamName="ecs/probe/1",
                logEvents=[{"timestamp": int(time.time() * 1000), "message": "started"}])
    denied(logs.delete_log_group, logGroupName=account.prepared["log_groups"][0])
    denied(logs.create_log_group, logGroupName="/ecs/%s/new" % PREFIX)
    allowed(account.client("ecs_task_execution", "ecr").get_authorization_token)
    denied(account.client("ecs_task_execution", "s3").list_buckets)


def test_prometheus_task_role_discovers_targets_and_nothing_more(account):
    """moto-enforced: the service discovery reads of ec2_sd_configs and ECS discovery; writes and other services refused."""
    ec2, ecs = account.client("ecs_prometheus", "ec2"), account.client("ecs_prometheus", "ecs")
    allowed(ec2.describe_instances)
    allowed(ec2.describe_availability_zones)
    clusters = allowed(ecs.list_clusters)["clusterArns"]
    assert clusters
    allowed(ecs.describe_clusters, clusters=clusters)
    services = allowed(ecs.list_services, cluster=clusters[0])["serviceArns"]
    assert services
    allowed(ecs.describe_services, cluster=clusters[0], services=services[:10])
    allowed(ecs.list_tasks, cluster=clusters[0])
    denied(ecs.update_service, cluster=clusters[0], service=services[0], desiredCount=0)
    denied(ecs.list_task_definitions)
    denied(ec2.create_tags, Resources=["i-0123456789abcdef0"], Tags=[{"Key": "k", "Value": "v"}])
    denied(account.client("ecs_prometheus", "s3").list_buckets)
    denied(account.client("ecs_prometheus", "cloudwatch").list_metrics)


def test_evaluated_prometheus_mounts_its_file_system_only_through_its_access_point_over_tls(account):
    """Judged by tests/iam_eval.py: moto has no NFS mount, so elasticfilesystem:ClientMount/ClientWrite cannot be
    called. The deployed file system policy with each role's deployed policies: Prometheus's task role mounts and
    writes through its access point over TLS; not without the access point, not without TLS, never as root; the
    other task roles not at all."""
    prepared = account.prepared
    fs_policy = (prepared["file_system_policy"], "resource")

    def mount(role, context, action="elasticfilesystem:ClientMount"):
        session = _session(account.role_arns[role], "task")
        policies = [(d, "identity") for d in account.documents[role]["policies"]] + [fs_policy]
        return evaluate(policies, {"action": action, "resource": prepared["file_system_arn"], "principal": {"AWS": session},
                                   "context": context})

    via_access_point = {"aws:SecureTransport": "true", "elasticfilesystem:AccessPointArn": prepared["access_point_arn"]}
    assert mount("ecs_prometheus", via_access_point) == ALLOW
    assert mount("ecs_prometheus", via_access_point, "elasticfilesystem:ClientWrite") == ALLOW
    assert mount("ecs_prometheus", via_access_point, "elasticfilesystem:ClientRootAccess") == IMPLICIT_DENY
    assert mount("ecs_prometheus", {"aws:SecureTransport": "true"}) == IMPLICIT_DENY
    assert mount("ecs_prometheus", dict(via_access_point, **{"aws:SecureTransport": "false"})) == EXPLICIT_DENY
    other_access_point = {"elasticfilesystem:AccessPointArn": prepared["access_point_arn"] + "0"}
    assert mount("ecs_prometheus", dict(via_access_point, **other_access_point)) == IMPLICIT_DENY
    for other in ("ecs_grafana", "ecs_alertmanager", "ecs_cloudwatch_exporter", "ecs_task_execution"):
        assert mount(other, via_access_point) == IMPLICIT_DENY, other


def test_alertmanager_task_role_has_no_aws_access(account):
    """moto-enforced: Alertmanager sends to Slack over HTTPS and needs no AWS call; its role is refused every one."""
    denied(account.client("ecs_alertmanager", "cloudwatch").list_metrics)
    denied(account.client("ecs_alertmanager", "s3").list_buckets)
    denied(account.client("ecs_alertmanager", "ec2").describe_instances)
    denied(account.client("ecs_alertmanager", "ssm").get_parameters, Names=["/lgtm/%s/ecs-monitoring/alertmanager/alertmanager.yml" % PREFIX])


# -- CloudWatch readers: the exporter and Grafana on ECS, Alloy in collector mode ----------------------------------

@pytest.mark.parametrize("role", sorted(CW_READERS))
def test_cloudwatch_reader_reads_metrics_logs_and_tags_and_writes_nothing(account, role):
    """moto-enforced: CloudWatch metrics, Logs and resource tags read; every write refused."""
    key = "ecs_" + role if role != "alloy_collector" else role
    cloudwatch, logs, tags = account.client(key, "cloudwatch"), account.client(key, "logs"), account.client(key, "resourcegroupstaggingapi")
    metrics = allowed(cloudwatch.list_metrics, Namespace="LGTM/Probe")["Metrics"]
    assert [m["MetricName"] for m in metrics] == ["up"]
    now = time.time()
    allowed(cloudwatch.get_metric_data, StartTime=now - 600, EndTime=now + 60, MetricDataQueries=[
        {"Id": "up", "MetricStat": {"Metric": {"Namespace": "LGTM/Probe", "MetricName": "up"}, "Period": 60, "Stat": "Average"}}])
    allowed(cloudwatch.get_metric_statistics, Namespace="LGTM/Probe", MetricName="up", StartTime=now - 600, EndTime=now + 60,
            Period=60, Statistics=["Average"])
    allowed(tags.get_resources, ResourceTypeFilters=["s3"])
    groups = [g["logGroupName"] for g in allowed(logs.describe_log_groups, logGroupNamePrefix="/lgtm-probe/")["logGroups"]]
    assert groups == ["/lgtm-probe/app"]
    allowed(logs.describe_log_streams, logGroupName="/lgtm-probe/app")
    events = allowed(logs.get_log_events, logGroupName="/lgtm-probe/app", logStreamName="s")["events"]
    assert [e["message"] for e in events] == ["hello"]
    allowed(logs.filter_log_events, logGroupName="/lgtm-probe/app")
    denied(cloudwatch.put_metric_data, Namespace="LGTM/Probe", MetricData=[{"MetricName": "up", "Value": 0.0}])
    denied(cloudwatch.delete_alarms, AlarmNames=["x"])
    denied(logs.create_log_stream, logGroupName="/lgtm-probe/app", logStreamName="t")
    denied(logs.put_log_events, logGroupName="/lgtm-probe/app", logStreamName="s", logEvents=[{"timestamp": int(now * 1000), "message": "x"}])
    denied(logs.delete_log_group, logGroupName="/lgtm-probe/app")
    denied(logs.tag_resource, resourceArn="arn:aws:logs:%s:123456789012:log-group:/lgtm-probe/app" % REGION, tags={"k": "v"})
    denied(tags.tag_resources, ResourceARNList=["arn:aws:s3:::%s-loki" % PREFIX], Tags={"k": "v"})
    denied(account.client(key, "s3").list_buckets)
    denied(account.client(key, "ec2").describe_instances)


# -- Alloy agents on EC2 -----------------------------------------------------------------------------------------

def test_agent_instance_profile_reads_its_instance_labels_only(account):
    """moto-enforced: the instance profile's role (identity outputs) reads instance tags and attributes for labels;
    nothing else. Its deployed policy is exactly those two reads."""
    (policy,) = account.documents["alloy_agent"]["policies"]
    assert sorted(a for s in policy["Statement"] for a in s["Action"]) == ["ec2:DescribeInstances", "ec2:DescribeTags"]
    ec2 = account.client("alloy_agent", "ec2")
    allowed(ec2.describe_tags, Filters=[{"Name": "resource-type", "Values": ["instance"]}])
    allowed(ec2.describe_instances)
    denied(ec2.describe_volumes)
    denied(ec2.create_tags, Resources=["i-0123456789abcdef0"], Tags=[{"Key": "Name", "Value": "x"}])
    denied(account.client("alloy_agent", "cloudwatch").list_metrics)
    denied(account.client("alloy_agent", "logs").describe_log_groups)
    denied(account.client("alloy_agent", "s3").list_buckets)
    denied(account.client("alloy_agent", "ssm").get_parameters, Names=["/lgtm/%s/ecs-monitoring/grafana/grafana.ini" % PREFIX])


# -- Who may assume the service roles ------------------------------------------------------------------------------

SERVICE_TRUST = {
    "ecs_task_execution": {"ecs-tasks.amazonaws.com"}, "ecs_prometheus": {"ecs-tasks.amazonaws.com"},
    "ecs_grafana": {"ecs-tasks.amazonaws.com"}, "ecs_cloudwatch_exporter": {"ecs-tasks.amazonaws.com"},
    "ecs_alertmanager": {"ecs-tasks.amazonaws.com"}, "alloy_agent": {"ec2.amazonaws.com"},
    "alloy_collector": {"ec2.amazonaws.com", "ecs-tasks.amazonaws.com"},
}


@pytest.mark.parametrize("role", sorted(SERVICE_TRUST))
def test_evaluated_service_roles_trust_only_their_service(account, role):
    """Judged by tests/iam_eval.py on the deployed trust policies (moto 5 fails with a server error on a Service
    principal): only the AWS services the workload runs on may assume the role; no user, role or other service."""
    trust = account.documents[role]["trust"]
    account_id = account.role_arns[role].split(":")[4]
    context = {"aws:SourceAccount": account_id}
    for service in ("ecs-tasks.amazonaws.com", "ec2.amazonaws.com", "lambda.amazonaws.com"):
        expected = ALLOW if service in SERVICE_TRUST[role] else IMPLICIT_DENY
        assert assume_role(trust, {"action": "sts:AssumeRole", "principal": {"Service": service}, "context": context}) == expected, service
    for principal in ("arn:aws:iam::%s:user/someone" % account_id, "arn:aws:iam::%s:root" % account_id):
        assert assume_role(trust, {"action": "sts:AssumeRole", "principal": {"AWS": principal}, "context": context}) == IMPLICIT_DENY
