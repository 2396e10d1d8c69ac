"""A team's own automation repository (tests/example_repo) drives every capability through the built artifact.

The repository's settings are deliberately unlike inventories/local: prefix acme, environment prod, region
eu-west-1, tenant acme-platform, its own tags, its own output directory, ECS services on their own ports and
metrics paths, and no ecs_monitoring_spec name_prefix/region/environment. The collection is built with
``ansible-galaxy collection build``, installed into the repository's own collections path with its declared
dependencies, and the repository's playbook runs against this session's moto (AWS_REGION is us-east-1 in the
environment, so anything that ignores lgtm_region shows up in the wrong region) and a container of the local fleet
for Alloy. Everything is then read back from moto, the written files and the hosts.

One module-scoped run: install, converge, a second run (changed=0), ``--tags ecs`` on its own, and a run with
the output directory left to its default. Each test checks one promise, so a failure names one bug.

The runs are the deployer's, as a team would set it up: the installed artifact's ``lgtm.aws.deployer_policy``
playbook writes the policy for the repository's settings (its own playbook takes no run lock: ``lgtm_run_lock=false``),
that file is the only policy of the IAM user ``lgtm-deployer`` (scripts/local-aws-users) and moto enforces IAM;
what the account already has, and every read-back, is the administrator's.
"""

import fnmatch
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time
import types
import urllib.request

import boto3
import pytest
import yaml
from packaging.version import Version

from artifact import artifact, clean_env  # noqa: F401 pylint: disable=unused-import
from collection_scanner import SHIPPED, collections_used  # tests/collection_scanner.py
from conftest import BIN_DIR, LOCAL_AWS_USERS, REPO_ROOT, PlaybookResult

pytestmark = pytest.mark.integration

EXAMPLE = os.path.join(REPO_ROOT, "tests", "example_repo")
FLEET = os.path.join(REPO_ROOT, "scripts", "local-fleet")
REGION = "eu-west-1"
# The environment's region: only what ignores lgtm_region lands here.
ENV_REGION = "us-east-1"
BASE = "acme-prod"
TENANT = "acme-platform"
TAGS = {"CostCenter": "cc-4711", "Team": "platform"}
SERVICES = {"payments": (8080, "/actuator/prometheus"), "ledger": (9102, "/metrics")}
NAMESPACE = "observability.acme.internal"
COMPONENT_BUCKETS = ["loki", "mimir-blocks", "mimir-alertmanager", "mimir-ruler", "tempo"]
ECS_TASKS = ["prometheus", "grafana", "cloudwatch-exporter", "alertmanager"]
# Another deployment's particulars that must not reach this repository's resources or files.
FOREIGN = ("aws-rag", "ap-northeast-2", ENV_REGION, "lgtm-prod", "lgtm-dev")
SUFFIX = "%x" % os.getpid()
# One Alloy host (an agent): each host of the local fleet adds about a minute to the converge on 2 cores.
HOSTS = {"payments-1": "itest-acme-agent-" + SUFFIX}
# The staging stack on Docker (group_vars/lgtm_docker.yml): this machine's engine, with the local images tagged
# under the repository's registry mirror.
DOCKER_HOST = "obs-staging-1"
DOCKER = {"prefix": "acme-stg", "network": "acme-stg-net", "domain": "staging.obs.acme.example",
          "registry": "registry.acme.example:5000/mirror", "tenants": ["acme-platform", "acme-batch"], "realm": "acme-staging"}
DOCKER_SERVICES = ("proxy", "grafana", "keycloak", "loki", "tempo", "mimir", "memcached")


# moto's account: the deployer policy names it.
ACCOUNT_ID = "123456789012"
TESTING_KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "aws_session_token": "testing"}


def _client(endpoint, service, region=REGION, keys=None):
    return boto3.client(service, region_name=region, endpoint_url=endpoint, **(keys or TESTING_KEYS))


def _run(cmd, **kwargs):
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=900, **kwargs)


def _why(result):
    try:
        return result.failed_messages() or result.stdout[-3000:]
    except ValueError:  # no JSON: ansible-playbook stopped before its callback wrote anything
        return (result.stdout + result.stderr)[-3000:]


def _tree(path):
    """path -> (size, mtime) of every file under path (empty when path does not exist)."""
    files = {}
    for root, _dirs, names in os.walk(path):
        for name in names:
            full = os.path.join(root, name)
            stat = os.lstat(full)
            files[os.path.relpath(full, path)] = (stat.st_size, stat.st_mtime_ns)
    return files


def _written(root, before, after):
    """Files under root that changed between the snapshots and speak of this repository's deployment. (The working
    tree's out/ is shared: a `make run` beside the tests writes there too, about its own deployment.)"""
    changed = [name for name in after if before.get(name) != after[name]]
    ours = []
    for name in changed:
        try:
            with open(os.path.join(root, name), errors="replace") as handle:
                text = handle.read()
        except OSError:
            continue
        if any(word in text for word in (BASE, TENANT) + tuple(HOSTS)):
            ours.append(name)
    return sorted(ours)


# ---------------------------------------------------------------------------------------------------------------
# What the account and the fleet already have


@pytest.fixture(scope="module")
def account(moto_endpoint):
    """An empty account (this module's own), then what a real one has before the team's first run. ``client`` is the
    administrator's (the site fixture turns IAM enforcement on and sets ``keys`` to the administrator's)."""
    LOCAL_AWS_USERS.set_enforcement(moto_endpoint, False)  # an earlier file's deployer may have left it on
    urllib.request.urlopen(urllib.request.Request(moto_endpoint + "/moto-api/reset", method="POST"), timeout=10)
    ec2 = _client(moto_endpoint, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.%d.0/24" % index, AvailabilityZone=REGION + zone)["Subnet"]["SubnetId"]
               for index, zone in ((1, "a"), (2, "b"), (101, "a"), (102, "b"))]
    iam = _client(moto_endpoint, "iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    cluster_role = iam.create_role(RoleName="acme-eks-cluster-service", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    # A Kubernetes version EKS still runs (moto's default, 1.19, is older than any chart set supports).
    _client(moto_endpoint, "eks").create_cluster(name=BASE, version="1.31", roleArn=cluster_role,
                                                 resourcesVpcConfig={"subnetIds": subnets[:2]})
    certificate = _client(moto_endpoint, "acm").request_certificate(DomainName="grafana.acme.example")["CertificateArn"]
    _client(moto_endpoint, "route53").create_hosted_zone(Name="acme.example", CallerReference="acme-" + SUFFIX)
    secrets = _client(moto_endpoint, "secretsmanager")
    grafana = secrets.create_secret(Name="acme/observability/grafana-admin", SecretString="not-a-real-password")["ARN"]
    slack = secrets.create_secret(Name="acme/observability/slack-webhook", SecretString="http://127.0.0.1:9/slack")["ARN"]
    held = types.SimpleNamespace(keys=None)
    return types.SimpleNamespace(
        endpoint=moto_endpoint, held=held,
        client=lambda service, region=REGION: _client(moto_endpoint, service, region, held.keys),
        vars={"acme_vpc_id": vpc, "acme_private_subnets": subnets[:2], "acme_public_subnets": subnets[2:],
              "acme_certificate_arn": certificate, "acme_grafana_admin_secret_arn": grafana, "acme_slack_webhook_secret_arn": slack},
        cluster_role=cluster_role,
    )


@pytest.fixture(scope="module")
def fleet():
    """The Alloy host: a container of the local fleet (scripts/local-fleet's image), named for this run only and removed after."""
    if not shutil.which("podman"):
        pytest.skip("needs podman (make deps installs it)")
    started = time.monotonic()
    proc = _run([FLEET, "up"] + list(HOSTS.values()), cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr
    print("fleet up: %.0f s" % (time.monotonic() - started))
    yield HOSTS
    _run([FLEET, "down"] + list(HOSTS.values()), cwd=REPO_ROOT)


def _free_port():
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def docker(request, tmp_path_factory):
    """The Docker host of the staging stack: this machine's engine (None without one: the runs skip tag docker).
    The local images get the repository's registry prefix; the proxy gets free ports on 127.0.0.1 (the
    repository's own address is Acme's). Containers, network, volumes and the added tags are removed after."""
    try:
        engine = request.getfixturevalue("local_docker")
    except pytest.skip.Exception:
        yield None
        return
    tags = []
    for key in DOCKER_SERVICES:
        local = engine.images[key]
        tag = "%s/%s" % (DOCKER["registry"], local.split("/", 1)[1])
        engine.docker("tag", local, tag)
        tags.append(tag)
    ports = {"http": _free_port(), "https": _free_port()}
    try:
        yield types.SimpleNamespace(engine=engine, ports=ports, config_dir=tmp_path_factory.mktemp("acme-docker") / "config")
    finally:
        names = engine.docker("ps", "-aq", "--filter", "name=^%s-" % DOCKER["prefix"], check=False).stdout.split()
        if names:
            engine.docker("rm", "-f", *names, check=False)
        engine.docker("network", "rm", DOCKER["network"], check=False)
        volumes = engine.docker("volume", "ls", "-q", "--filter", "name=^%s-" % DOCKER["prefix"], check=False).stdout.split()
        if volumes:
            engine.docker("volume", "rm", *volumes, check=False)
        # Only the tags this fixture added (the images keep their lgtm-local names).
        engine.docker("image", "rm", *tags, check=False)


# ---------------------------------------------------------------------------------------------------------------
# The repository, the install and the runs


@pytest.fixture(scope="module")
def repo(tmp_path_factory, artifact, account, fleet, docker):  # noqa: F811 pylint: disable=redefined-outer-name
    """A copy of tests/example_repo with the account's ids, the fleet's containers and this machine's Docker Engine,
    lgtm.aws installed into it."""
    path = tmp_path_factory.mktemp("team") / "acme-observability"
    shutil.copytree(EXAMPLE, path)
    (path / "group_vars" / "all" / "account.yml").write_text(
        "---\n# The local AWS's ids of what the account already has (written by the test).\n" + yaml.safe_dump(account.vars, sort_keys=True))
    (path / "host_vars").mkdir()
    for host, container in fleet.items():
        (path / "host_vars" / (host + ".yml")).write_text(yaml.safe_dump({
            # The EC2 host is a container of the local fleet here, with the stand-in Alloy package repository.
            "ansible_connection": "containers.podman.podman", "ansible_host": container, "ansible_user": "root",
            "ansible_python_interpreter": "/usr/bin/python3",
            "alloy_apt_repository_url": "file:/srv/lgtm-fleet/apt", "alloy_apt_key_url": "file:///srv/lgtm-fleet/apt/gpg.key"}))
    if docker:
        # The staging host is this machine; its configuration in the test's directory, its ports free ones.
        (path / "host_vars" / (DOCKER_HOST + ".yml")).write_text(yaml.safe_dump({
            "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "docker_lgtm_config_dir": str(docker.config_dir), "docker_lgtm_backup_dir": str(docker.config_dir.parent / "backup"),
            "docker_lgtm_proxy": {"bind_address": "127.0.0.1", "http_port": docker.ports["http"], "https_port": docker.ports["https"]}}))

    # Galaxy is unreachable here, so requirements.yml's `lgtm.aws` is fetched as the built artifact, and the
    # install runs --offline: ansible-galaxy then resolves every dependency the artifact declares against the
    # collections already installed where Ansible looks (the `ansible` package bundles them in site-packages)
    # and checks their version ranges; a missing or too old dependency fails the install, as it would for a
    # user. Nothing is installed with --no-deps, so a dependency the artifact forgets to declare is not
    # papered over here (test_artifact_declares_the_collections_it_uses checks that side).
    requirements = yaml.safe_load((path / "requirements.yml").read_text())
    offline = tmp_path_factory.mktemp("galaxy") / "requirements.yml"
    offline.write_text(yaml.safe_dump({"collections": [{"name": str(artifact), "type": "file"}]}))
    install = _run([os.path.join(BIN_DIR, "ansible-galaxy"), "collection", "install", "--offline", "-r", str(offline)],
                   cwd=path, env=clean_env())
    collection = path / "collections" / "ansible_collections" / "lgtm" / "aws"
    listing = _run([os.path.join(BIN_DIR, "ansible-galaxy"), "collection", "list", "lgtm.aws", "--format", "json"], cwd=path, env=clean_env())
    return types.SimpleNamespace(path=path, collection=collection, install=install, listing=listing, requirements=requirements)


@pytest.fixture(scope="module")
def deployer(repo, account, tmp_path_factory):
    """The team's deployer: the installed artifact's playbook lgtm.aws.deployer_policy writes the policy for the
    repository's settings into its output directory (no AWS call); that file becomes the only policy of the user
    lgtm-deployer, and moto enforces IAM from then on. The environment the repository's runs use (no keys of its own:
    the deployer's profile)."""
    env = clean_env(
        AWS_ENDPOINT_URL=account.endpoint, AWS_REGION=ENV_REGION, AWS_DEFAULT_REGION=ENV_REGION,
        PATH=BIN_DIR + os.pathsep + os.environ.get("PATH", ""), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        env.pop(key, None)
    started = time.monotonic()
    proc = _run([os.path.join(BIN_DIR, "ansible-playbook"), "lgtm.aws.deployer_policy", "-e", "deployer_account_id=" + ACCOUNT_ID,
                 "-e", "lgtm_run_lock=false"], cwd=repo.path, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    policy_file = repo.path / "generated" / "prod" / "deployer-policy.json"
    policy = json.loads(policy_file.read_text())
    credentials = tmp_path_factory.mktemp("aws") / "credentials"
    profiles = LOCAL_AWS_USERS.bootstrap(account.endpoint, policy, str(credentials))
    account.held.keys = profiles["lgtm-admin"]
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(credentials), AWS_CONFIG_FILE=os.devnull, AWS_PROFILE="lgtm-deployer")
    print("deployer policy: %.0f s" % (time.monotonic() - started))
    return types.SimpleNamespace(env=env, policy=policy)


@pytest.fixture(scope="module")
def site(repo, account, docker, deployer, tmp_path_factory):  # pylint: disable=redefined-outer-name
    env = dict(deployer.env, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    timings = {}
    logs = tmp_path_factory.mktemp("runs")

    skip = [] if docker else ["--skip-tags", "docker"]

    def play(name, *args):
        started = time.monotonic()
        proc = _run([os.path.join(BIN_DIR, "ansible-playbook"), "observability.yml"] + list(args) + skip, cwd=repo.path, env=env)
        timings[name] = time.monotonic() - started
        # Kept outside the repository for reading after a failure.
        (logs / (re.sub(r"[^a-z]+", "-", name).strip("-") + ".json")).write_text(proc.stdout + proc.stderr)
        return PlaybookResult(proc)

    outside = [os.path.join(REPO_ROOT, "out"), str(repo.collection)]
    before = {p: _tree(p) for p in outside}
    beside = sorted(os.listdir(repo.path.parent))
    first = play("converge")
    second = play("second run")
    ecs_only = play("--tags ecs", "--tags", "ecs")
    after = {p: _tree(p) for p in outside}
    beside_after = sorted(os.listdir(repo.path.parent))
    root_entries = sorted(os.listdir(repo.path))

    # The documented default output directory: drop the repository's own setting, run storage and identity again.
    (repo.path / "group_vars" / "all" / "outputs.yml").unlink()
    default_run = play("default output dir", "--tags", "storage,identity")
    beside_default = sorted(os.listdir(repo.path.parent))
    print("example repository runs (output in %s): %s" % (logs, ", ".join("%s %.0f s" % item for item in timings.items())))
    return types.SimpleNamespace(first=first, second=second, ecs_only=ecs_only, default_run=default_run, before=before, after=after,
                                 beside=beside, beside_after=beside_after, beside_default=beside_default, root_entries=root_entries,
                                 out=repo.path / "generated" / "prod", timings=timings)


def _load(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


# ---------------------------------------------------------------------------------------------------------------
# Install


def test_artifact_installs_with_its_declared_dependencies(repo):
    assert repo.install.returncode == 0, repo.install.stdout + repo.install.stderr
    manifest = json.loads((repo.collection / "MANIFEST.json").read_text())["collection_info"]
    for dependency in manifest["dependencies"]:
        assert re.search(r"'%s:[0-9.]+' is already installed|Installing '%s:" % (re.escape(dependency), re.escape(dependency)),
                         repo.install.stdout), "dependency %s was not resolved: %s" % (dependency, repo.install.stdout)
    [wanted] = [c for c in repo.requirements["collections"] if c["name"] == "lgtm.aws"]
    assert Version(manifest["version"]) >= Version(wanted["version"].lstrip(">="))
    # The run uses the installed copy, not the working tree.
    found = json.loads(repo.listing.stdout)
    assert list(found) == [str(repo.path / "collections" / "ansible_collections")], found


def test_artifact_declares_the_collections_it_uses(repo):
    """Every collection what ships uses (the scanner of tests/unit/test_dependencies.py) is a declared dependency of the
    installed artifact, and every declared one is used."""
    manifest = json.loads((repo.collection / "MANIFEST.json").read_text())["collection_info"]
    declared = set(manifest["dependencies"])
    # Every collection Ansible could resolve here (the ``ansible`` package's), so an undeclared one is found too.
    known = declared | {f"{ns.name}.{name.name}" for root in sys.path if os.path.isdir(os.path.join(root, "ansible_collections"))
                        for ns in pathlib.Path(root, "ansible_collections").iterdir() if ns.is_dir()
                        for name in ns.iterdir() if name.is_dir() and not name.name.startswith(("_", "."))}
    used = set(collections_used(str(repo.collection), SHIPPED, known))
    assert used - declared == set(), "used but not declared"
    assert declared - used == set(), "declared but not used"


# ---------------------------------------------------------------------------------------------------------------
# Runs


def test_playbook_converges(site):
    assert site.first.rc == 0, _why(site.first)


def test_second_run_changes_nothing(site):
    assert site.second.rc == 0, _why(site.second)
    assert site.second.total("changed") == 0, site.second.changed_tasks()


def test_tags_ecs_alone_reads_the_outputs_from_the_users_output_dir(site):
    assert site.ecs_only.rc == 0, _why(site.ecs_only)
    assert site.ecs_only.total("changed") == 0, site.ecs_only.changed_tasks()


def test_runs_are_the_deployers_with_the_policy_for_the_repositorys_names(deployer, site, account):
    """The policy the artifact wrote names this repository's deployment (and the runs above used only it)."""
    assert deployer.env["AWS_PROFILE"] == "lgtm-deployer" and "AWS_ACCESS_KEY_ID" not in deployer.env
    statements = {s["Sid"]: s for s in deployer.policy["Statement"]}
    assert "RunLockPrefixed" not in statements, "the repository's playbook takes no run lock"
    assert sorted(statements["StorageBucketsPrefixed"]["Resource"]) == sorted("arn:aws:s3:::%s-%s" % (BASE, k) for k in COMPONENT_BUCKETS)
    assert statements["EcsSecurityGroupVpcInAccount"]["Resource"] == [
        "arn:aws:ec2:%s:%s:vpc/%s" % (REGION, ACCOUNT_ID, account.vars["acme_vpc_id"])]
    assert statements["IdentityClusterIssuerPrefixed"]["Resource"] == ["arn:aws:eks:%s:%s:cluster/%s" % (REGION, ACCOUNT_ID, BASE)]
    resources = json.dumps(deployer.policy)
    assert [word for word in FOREIGN if word in resources] == []


# ---------------------------------------------------------------------------------------------------------------
# Names, regions and tags read back from the local AWS


def test_buckets_follow_prefix_environment_region_and_tags(site, account):
    s3 = account.client("s3")
    names = sorted(b["Name"] for b in s3.list_buckets()["Buckets"])
    assert names == sorted("%s-%s" % (BASE, key) for key in COMPONENT_BUCKETS)
    for name in names:
        assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == REGION, name
        tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=name)["TagSet"]}
        assert TAGS.items() <= tags.items() and tags["Environment"] == "prod", (name, tags)


def test_iam_roles_follow_prefix_environment_and_tags(site, account):
    iam = account.client("iam")
    roles = {r["RoleName"]: r for r in iam.list_roles()["Roles"] if r["RoleName"] != "acme-eks-cluster-service"}
    assert roles and all(name.startswith(BASE + "-") for name in roles), sorted(roles)
    for component in ("loki", "mimir", "tempo"):
        assert "%s-%s-irsa" % (BASE, component) in roles
    assert {BASE + "-ecs-task-execution", BASE + "-alloy-agent", BASE + "-alloy-collector"} <= set(roles)
    for name in roles:
        tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=name)["Tags"]}
        assert TAGS.items() <= tags.items() and tags.get("Environment") == "prod" and tags.get("ManagedBy") == "lgtm.aws", (name, tags)
    trust = iam.get_role(RoleName=BASE + "-loki-irsa")["Role"]["AssumeRolePolicyDocument"]
    assert "oidc.eks.%s.amazonaws.com" % REGION in json.dumps(trust)


def test_oidc_provider_carries_the_documented_tags(site, account):
    iam = account.client("iam")
    [provider] = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert "oidc.eks.%s.amazonaws.com" % REGION in provider["Arn"]
    tags = {t["Key"]: t["Value"] for t in iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=provider["Arn"])["Tags"]}
    assert TAGS.items() <= tags.items(), tags
    assert tags.get("Environment") == "prod" and tags.get("ManagedBy") == "lgtm.aws" and tags.get("Purpose"), tags


def test_ecs_names_follow_the_shared_prefix_environment_and_region(site, account):
    ecs = account.client("ecs")
    clusters = ecs.describe_clusters(clusters=[BASE + "-monitoring"], include=["TAGS"])["clusters"]
    assert len(clusters) == 1, "no ECS cluster %s-monitoring in %s; clusters there: %s" % (BASE, REGION, ecs.list_clusters()["clusterArns"])
    cluster = clusters[0]
    assert cluster["status"] == "ACTIVE"
    assert TAGS.items() <= {t["key"]: t["value"] for t in cluster["tags"]}.items()
    assert ecs.list_clusters()["clusterArns"] == [cluster["clusterArn"]]
    services = {arn.rsplit("/", 1)[1] for arn in ecs.list_services(cluster=cluster["clusterArn"])["serviceArns"]}
    assert services == {"%s-%s" % (BASE, task) for task in ECS_TASKS}
    groups = account.client("logs").describe_log_groups()["logGroups"]
    assert sorted(g["logGroupName"] for g in groups) == sorted("/ecs/%s/%s" % (BASE, task) for task in ECS_TASKS)
    assert {g["retentionInDays"] for g in groups} == {90}
    parameters = [p["Name"] for p in account.client("ssm").describe_parameters(MaxResults=50)["Parameters"]]
    assert parameters and all(p.startswith("/lgtm/%s/ecs-monitoring/" % BASE) for p in parameters), parameters
    namespaces = [n["Name"] for n in account.client("servicediscovery").list_namespaces()["Namespaces"]]
    assert namespaces == [NAMESPACE]
    for region in (ENV_REGION, "ap-northeast-2"):
        assert account.client("ecs", region).list_clusters()["clusterArns"] == [], region
        assert account.client("logs", region).describe_log_groups()["logGroups"] == [], region
        assert account.client("ssm", region).describe_parameters()["Parameters"] == [], region


def test_ecs_task_execution_role_may_read_everything_the_tasks_reference(site, account):
    """Every SSM parameter and secret a task definition injects is within what the execution role may read."""
    ecs, iam = account.client("ecs"), account.client("iam")
    role = BASE + "-ecs-task-execution"
    documents = [iam.get_role_policy(RoleName=role, PolicyName=p)["PolicyDocument"] for p in iam.list_role_policies(RoleName=role)["PolicyNames"]]
    allowed = [r for d in documents for s in d["Statement"] if s["Effect"] == "Allow"
               for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]
    referenced = []
    for arn in ecs.list_services(cluster=BASE + "-monitoring")["serviceArns"]:
        [service] = ecs.describe_services(cluster=BASE + "-monitoring", services=[arn])["services"]
        definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
        assert definition["executionRoleArn"].endswith(":role/" + role)
        for container in definition["containerDefinitions"]:
            assert container["logConfiguration"]["options"]["awslogs-region"] == REGION
            referenced += [s["valueFrom"] for s in container.get("secrets", [])]
    assert referenced
    unreadable = [ref for ref in referenced if not any(fnmatch.fnmatchcase(ref, pattern) for pattern in allowed)]
    assert unreadable == [], "the execution role may read %s" % allowed


# ---------------------------------------------------------------------------------------------------------------
# The written files


def _relabel(labels, rules):
    """Prometheus's relabelling (replace, keep, drop) of one target's labels; None when the target is dropped."""
    for rule in rules:
        value = rule.get("separator", ";").join(labels.get(name, "") for name in rule.get("source_labels", []))
        match = re.fullmatch(rule.get("regex", "(.*)"), value)
        action = rule.get("action", "replace")
        if (action == "drop" and match) or (action == "keep" and not match):
            return None
        if action == "replace" and match:
            labels[rule["target_label"]] = re.sub(r"\$\{?([0-9]+)\}?", lambda ref, m=match: m.group(int(ref.group(1))) or "",
                                                  rule.get("replacement", "$1"))
    return labels


def _scraped(config):
    """(job, address, metrics path) of every target prometheus.yml names (static and DNS service discovery)."""
    for job in config["scrape_configs"]:
        base = {"job": job["job_name"], "__metrics_path__": job.get("metrics_path", "/metrics")}
        targets = [dict(base, __address__=target, **static.get("labels", {})) for static in job.get("static_configs", []) for target in static["targets"]]
        targets += [dict(base, __address__="%s:%s" % (name, dns.get("port")), __meta_dns_name=name)
                    for dns in job.get("dns_sd_configs", []) for name in dns["names"]]
        for labels in targets:
            labels = _relabel(labels, job.get("relabel_configs", []))
            if labels:
                yield job["job_name"], labels["__address__"], labels["__metrics_path__"]


def test_prometheus_scrapes_each_service_on_its_own_port_and_path(site):
    config = _load(site.out / "ecs" / "prometheus.yml")
    seen = {name: set() for name in SERVICES}
    jobs = {}
    for job, address, path in _scraped(config):
        host, _sep, port = address.partition(":")
        service = host.split(".")[0]
        if service in SERVICES and host == "%s.%s" % (service, NAMESPACE):
            seen[service].add((int(port), path))
            jobs.setdefault(job, set()).add(service)
    assert seen == {name: {expected} for name, expected in SERVICES.items()}, seen
    # The job ServiceDown watches covers every service (so each is scraped there on its own port and path).
    rules = _load(site.out / "ecs" / "rules" / "alerts.yml")
    [down] = [r for g in rules["groups"] for r in g["rules"] if r.get("alert") == "ServiceDown"]
    watched = re.findall(r'job=~?"([^"]+)"', down["expr"])
    covered = set().union(*(services for name, services in jobs.items() if any(re.fullmatch(w, name) for w in watched)))
    assert covered == set(SERVICES), (down["expr"], jobs)


def test_ecs_configuration_follows_region_environment_and_tenant(site):
    config = _load(site.out / "ecs" / "prometheus.yml")
    assert config["global"]["external_labels"]["environment"] == "prod"
    regions = [sd["region"] for job in config["scrape_configs"] for sd in job.get("ec2_sd_configs", []) + job.get("aws_sd_configs", [])]
    assert regions and set(regions) == {REGION}, regions
    assert _load(site.out / "ecs" / "cloudwatch-exporter.yml")["region"] == REGION
    [remote_write] = config["remote_write"]
    assert remote_write["headers"]["X-Scope-OrgID"] == TENANT


def test_eks_values_follow_buckets_region_roles_and_tenant(site):
    eks = site.out / "eks"
    assert sorted(os.listdir(eks)) == sorted(["loki.values.yaml", "mimir.values.yaml", "tempo.values.yaml", "otel-collector.values.yaml",
                                              "otel-operator.values.yaml", "grafana.values.yaml", "plan.yaml", "instrumentation.yaml",
                                              "argocd", "dashboards"])
    loki = _load(eks / "loki.values.yaml")
    assert loki["loki"]["storage"]["bucketNames"]["chunks"] == BASE + "-loki"
    assert loki["loki"]["storage"]["s3"]["region"] == REGION
    assert loki["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(":role/%s-loki-irsa" % BASE)
    mimir = _load(eks / "mimir.values.yaml")["mimir"]["structuredConfig"]
    assert mimir["blocks_storage"]["s3"]["bucket_name"] == BASE + "-mimir-blocks"
    assert mimir["common"]["storage"]["s3"]["region"] == REGION
    assert _load(eks / "tempo.values.yaml")["storage"]["trace"]["s3"]["region"] == REGION
    assert _load(eks / "plan.yaml")["cluster"] == {"name": BASE, "region": REGION}
    grafana = (eks / "grafana.values.yaml").read_text()
    collector = (eks / "otel-collector.values.yaml").read_text()
    assert TENANT in grafana and TENANT in collector


def test_outputs_land_in_the_users_output_dir(site):
    storage = json.loads((site.out / "storage.json").read_text())
    assert sorted(b["name"] for b in storage["buckets"].values()) == sorted("%s-%s" % (BASE, k) for k in COMPONENT_BUCKETS)
    identity = json.loads((site.out / "identity.json").read_text())
    assert identity["ecs"]["execution_role_arn"].endswith(":role/%s-ecs-task-execution" % BASE)
    assert (site.out / "ecs" / "prometheus.yml").is_file() and (site.out / "ecs" / "aws-resources.json").is_file()
    assert (site.out / "eks" / "plan.yaml").is_file()


def test_nothing_from_another_deployment_in_any_written_file_or_the_run_output(site):
    found = []
    for root, _dirs, names in os.walk(site.out):
        for name in names:
            text = open(os.path.join(root, name)).read()
            found += ["%s: %s" % (os.path.relpath(os.path.join(root, name), site.out), word) for word in FOREIGN if word in text]
    assert found == []
    run_output = site.first.stdout
    assert [word for word in FOREIGN if word in run_output] == []
    assert re.findall(r"seed [0-9]{3}", run_output) == []


def test_nothing_is_written_outside_the_repository(site, repo):
    shared_out = os.path.join(REPO_ROOT, "out")
    assert _written(shared_out, site.before[shared_out], site.after[shared_out]) == [], "written under %s" % shared_out
    collection = str(repo.collection)
    changed = sorted(name for name, _stat in set(site.after[collection].items()) ^ set(site.before[collection].items()))
    assert changed == [], "written into the installed collection"
    assert site.beside_after == site.beside, "written beside the repository"
    assert not (repo.collection / "out").exists() and not (repo.collection.parent / "out").exists()
    assert "out" not in site.root_entries, "the repository's own lgtm_output_dir is generated/prod, yet out/ appeared"


def test_default_output_dir_is_out_beside_the_inventory(site, repo):
    assert site.default_run.rc == 0, _why(site.default_run)
    assert site.beside_default == site.beside, "written beside the repository"
    for name in ("storage.json", "identity.json"):
        written = repo.path / "out" / name
        assert written.is_file(), sorted(os.listdir(repo.path))
        assert json.loads(written.read_text()) == json.loads((site.out / name).read_text())


# ---------------------------------------------------------------------------------------------------------------
# Alloy on the hosts


def _on_host(container, *command):
    return _run(["podman", "exec", container] + list(command)).stdout


def test_alloy_agent_follows_tenant_and_environment(site, fleet):
    agent = _on_host(fleet["payments-1"], "cat", "/etc/alloy/config.alloy")
    assert agent, "Alloy was not configured on the host"
    assert re.search(r'"X-Scope-OrgID"\s*=\s*"%s"' % TENANT, agent) and re.search(r'tenant_id\s*=\s*"%s"' % TENANT, agent), agent
    assert re.search(r'environment\s*=\s*"prod"', agent), agent
    assert [word for word in FOREIGN if word in agent] == []
    assert _on_host(fleet["payments-1"], "systemctl", "is-active", "alloy").strip() == "active"


# ---------------------------------------------------------------------------------------------------------------
# The staging stack on Docker


def _inside(docker, service, path):
    return docker.engine.docker("exec", "-u", "0", "%s-%s" % (DOCKER["prefix"], service), "cat", path).stdout


def test_docker_stack_follows_the_repositorys_names_network_registry_and_ports(site, docker):
    if not docker:
        pytest.skip("no Docker Engine here")
    assert site.first.rc == 0, _why(site.first)
    engine = docker.engine
    running = engine.docker("ps", "--filter", "network=%s" % DOCKER["network"], "--format", "{{.Names}} {{.Image}}").stdout.split("\n")
    found = dict(line.split(" ", 1) for line in running if line)
    assert sorted(found) == sorted("%s-%s" % (DOCKER["prefix"], s) for s in DOCKER_SERVICES)
    assert all(image.startswith(DOCKER["registry"] + "/") for image in found.values()), found
    assert engine.wait_healthy(found, timeout=5) == {}
    published = {}
    for name in found:
        bindings = json.loads(engine.docker("inspect", "-f", "{{json .HostConfig.PortBindings}}", name).stdout) or {}
        published[name] = sorted("%s:%s" % (b["HostIp"], b["HostPort"]) for bound in bindings.values() for b in bound or [])
    assert {name: ports for name, ports in published.items() if ports} == {
        "%s-proxy" % DOCKER["prefix"]: sorted("127.0.0.1:%d" % p for p in docker.ports.values())}


def test_docker_stack_serves_the_repositorys_domain_and_tenants(site, docker):
    if not docker:
        pytest.skip("no Docker Engine here")
    domain = DOCKER["domain"]
    caddyfile = _inside(docker, "proxy", "/etc/caddy/Caddyfile")
    for host in ("grafana", "keycloak", "ingest"):
        assert re.search(r"^%s\.%s \{" % (host, re.escape(domain)), caddyfile, re.M), host
    assert "prometheus.%s" % domain not in caddyfile, "a disabled service is not routed"
    ini = _inside(docker, "grafana", "/etc/grafana/grafana.ini")
    assert re.search(r"^root_url = https://grafana\.%s/$" % re.escape(domain), ini, re.M), ini
    assert "/realms/%s/" % DOCKER["realm"] in ini
    realm = json.loads(_inside(docker, "keycloak", "/opt/keycloak/data/import/realm.json"))
    [client] = realm["clients"]
    assert realm["realm"] == DOCKER["realm"] and client["redirectUris"] == ["https://grafana.%s/login/generic_oauth" % domain]
    datasources = yaml.safe_load(_inside(docker, "grafana", "/etc/grafana/provisioning/datasources/lgtm.yml"))["datasources"]
    tenants = sorted(set(d["secureJsonData"]["httpHeaderValue1"] for d in datasources if "secureJsonData" in d))
    assert tenants == sorted(DOCKER["tenants"])
    ingest = json.loads((site.out / "docker" / DOCKER_HOST / "ingest.json").read_text())
    assert ingest["loki_push_url"] == "https://ingest.%s:%d/loki/api/v1/push" % (domain, docker.ports["https"])
    assert ingest["tenants"] == DOCKER["tenants"] and (site.out / "docker" / DOCKER_HOST / "ingest-ca.pem").is_file()


def test_example_repo_is_what_the_test_claims(repo):
    """The settings the assertions above rely on are the repository's own (no spec name_prefix/region/environment)."""
    spec = _load(os.path.join(EXAMPLE, "group_vars", "all", "ecs.yml"))["ecs_monitoring_spec"]
    assert not {"name_prefix", "region", "environment"} & set(spec)
    settings = _load(os.path.join(EXAMPLE, "group_vars", "all", "lgtm.yml"))
    assert (settings["lgtm_name_prefix"], settings["lgtm_environment"], settings["lgtm_region"], settings["lgtm_tenant"]) == ("acme", "prod", REGION, TENANT)
    assert {s["name"]: (s["port"], s["metrics_path"]) for s in spec["services"]} == SERVICES
    docker = _load(os.path.join(EXAMPLE, "group_vars", "lgtm_docker.yml"))
    assert (docker["docker_lgtm_container_prefix"], docker["docker_lgtm_network"], docker["docker_lgtm_domain"],
            docker["docker_lgtm_registry"], docker["docker_lgtm_tenants"], docker["docker_lgtm_keycloak"]["realm"]) == (
        DOCKER["prefix"], DOCKER["network"], DOCKER["domain"], DOCKER["registry"], DOCKER["tenants"], DOCKER["realm"])
    enabled = set(("proxy", "grafana", "prometheus", "alertmanager", "pushgateway", "node_exporter", "cadvisor", "loki", "tempo",
                   "mimir", "memcached", "keycloak", "alloy")) - set(docker["docker_lgtm_services"])
    assert enabled == set(DOCKER_SERVICES)
