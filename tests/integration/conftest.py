"""Fixtures for integration tests: a private moto_server and ansible-playbook runs against it.

Each test session starts its own ``moto_server`` on a free loopback port, so the
tests never touch a server a developer or ``make run`` is using. Playbooks run
as a user would run them: ``ansible-playbook`` in a subprocess, reaching the
local AWS over HTTP through ``AWS_ENDPOINT_URL``.
"""

import configparser
import contextlib
import importlib.machinery
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import boto3
import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN_DIR = os.path.dirname(sys.executable)
REGION = "ap-northeast-2"


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"moto_server did not answer at {url}")


@contextlib.contextmanager
def running_moto(log_dir, env):
    """A moto_server on a free loopback port for the ``with`` block (its URL), logging to ``log_dir``/moto.log."""
    moto = shutil.which("moto_server", path=BIN_DIR) or shutil.which("moto_server")
    if not moto:
        pytest.skip("needs moto_server (pip install 'moto[server]'); `make test` installs it")
    port = _free_port()
    with open(os.path.join(str(log_dir), "moto.log"), "w") as out:
        # tests/moto_server.py: moto_server with its signature check fixed for IAM-enforced runs (test_iam_deployer.py).
        proc = subprocess.Popen([sys.executable, os.path.join(REPO_ROOT, "tests", "moto_server.py"), "-H", "127.0.0.1", "-p", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url + "/moto-api/")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.contextmanager
def proxied_moto(log_dir):
    """A local AWS (with the AWS managed policies) behind tests/aws_proxy.py for the ``with`` block: the proxy,
    with the local AWS's own URL as ``upstream_url``."""
    from aws_proxy import Proxy  # pylint: disable=import-outside-toplevel  # tests/aws_proxy.py

    with running_moto(log_dir, dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true")) as url:
        server = Proxy(url).start()
        server.upstream_url = url
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory):
    # AWS managed policies (e.g. AmazonECSTaskExecutionRolePolicy) exist in moto only when asked for.
    with running_moto(tmp_path_factory.mktemp("moto"), dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true")) as url:
        yield url


def _local_aws_users():
    """scripts/local-aws-users (a script without .py) as a module: the IAM-enforced users of the local AWS."""
    loader = importlib.machinery.SourceFileLoader("local_aws_users", os.path.join(REPO_ROOT, "scripts", "local-aws-users"))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


LOCAL_AWS_USERS = _local_aws_users()
AWS_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


@pytest.fixture
def moto_reset(moto_endpoint):
    """Give a test an empty AWS account (and IAM not enforced: an earlier test's as_deployer may have turned it on)."""
    LOCAL_AWS_USERS.set_enforcement(moto_endpoint, False)
    req = urllib.request.Request(moto_endpoint + "/moto-api/reset", method="POST")
    urllib.request.urlopen(req, timeout=10)
    return moto_endpoint


@pytest.fixture
def aws_env(moto_reset):
    env = dict(os.environ)
    env.update(
        AWS_ENDPOINT_URL=moto_reset,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        PATH=BIN_DIR + os.pathsep + env.get("PATH", ""),
    )
    return env


@pytest.fixture
def as_deployer(aws_env, tmp_path):
    """``as_deployer(**facts)``: from then on the test's playbooks run as the deployer, an IAM user holding only
    ``lgtm.aws.deployer_policy(facts)``, with moto enforcing IAM (scripts/local-aws-users, docs/security.md);
    ``aws_client`` (the test's assertions) uses the administrator. Returns the policy."""
    from ansible_collections.lgtm.aws.plugins.plugin_utils.deployer_policy import deployer_policy  # pylint: disable=import-outside-toplevel

    def enable(**facts):
        # site.yml's run lock (lgtm_run_lock_name's default) unless the facts say otherwise.
        lock = {"run_lock_name": "/lgtm/%s-%s/run-lock" % (facts.get("name_prefix"), facts.get("environment"))}
        policy = deployer_policy(dict({"region": REGION, "account_id": "123456789012"}, **dict(lock, **facts)))
        credentials = str(tmp_path / "aws-credentials")
        LOCAL_AWS_USERS.bootstrap(aws_env["AWS_ENDPOINT_URL"], policy, credentials)
        for key in AWS_KEYS:
            aws_env.pop(key, None)
        aws_env.update(AWS_SHARED_CREDENTIALS_FILE=credentials, AWS_CONFIG_FILE=os.devnull, AWS_PROFILE="lgtm-deployer")
        return policy

    return enable


@pytest.fixture
def aws_client(aws_env):
    def factory(service, region=REGION):
        keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "aws_session_token": "testing"}
        if aws_env.get("AWS_PROFILE") == "lgtm-deployer":  # as_deployer: assertions as the administrator
            saved = configparser.ConfigParser()
            saved.read(aws_env["AWS_SHARED_CREDENTIALS_FILE"])
            keys = dict(saved["lgtm-admin"])
        return boto3.client(service, region_name=region, endpoint_url=aws_env["AWS_ENDPOINT_URL"], **keys)

    return factory


class PlaybookResult:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    @property
    def stats(self):
        """Per-host play recap parsed from the JSON callback output."""
        return json.loads(self.stdout)["stats"]

    def total(self, key):
        return sum(host.get(key, 0) for host in self.stats.values())

    def changed_tasks(self):
        """Names of the tasks that reported a change, for assertion messages."""
        names = []
        for play in json.loads(self.stdout).get("plays", []):
            for task in play.get("tasks", []):
                if any(result.get("changed") for result in task.get("hosts", {}).values()):
                    names.append(task["task"]["name"])
        return names

    def failed_messages(self):
        messages = []
        for play in json.loads(self.stdout).get("plays", []):
            for task in play.get("tasks", []):
                for result in task.get("hosts", {}).values():
                    if result.get("failed"):
                        messages.append(result.get("msg", ""))
        return messages


@pytest.fixture
def run_playbook(aws_env, tmp_path):
    """Run a playbook with ansible-playbook and the JSON callback; return PlaybookResult. After ``as_deployer`` the
    run is the deployer's, and inventories/local's fixtures play (playbooks/local_aws.yml) uses the administrator."""

    def run(playbook, *args, extra_vars=None, inventory=None, env=None):
        cmd = [os.path.join(BIN_DIR, "ansible-playbook"), playbook]
        cmd += ["-i", inventory or os.path.join(REPO_ROOT, "tests", "integration", "inventory.yml")]
        if extra_vars:
            path = tmp_path / f"extra-vars-{time.monotonic_ns()}.json"
            path.write_text(json.dumps(extra_vars))
            cmd += ["-e", f"@{path}"]
        cmd += list(args)
        if aws_env.get("AWS_PROFILE") == "lgtm-deployer":
            # as_deployer: what a real account already has (inventories/local's fixtures) is made by the administrator.
            cmd += ["-e", "lgtm_local_aws_admin_profile=lgtm-admin"]
        run_env = dict(aws_env, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_CALLBACK_RESULT_FORMAT="json")
        run_env.update(env or {})
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env=run_env, capture_output=True, text=True, timeout=900, check=False)
        return PlaybookResult(proc)

    return run


# The Docker Engine fixture, registered here once for every test module (tests/integration/docker_env.py).
from docker_env import local_docker  # noqa: E402,F401 pylint: disable=unused-import,wrong-import-position
