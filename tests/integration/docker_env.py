"""The Docker Engine and the local images, for the tests of the Docker path (``scripts/local-docker``).

The fixture is registered once, in tests/integration/conftest.py: a test module that imported it as well would
make a second session fixture of its own in the same worker (two leases of one pid, the second unlink failing).

``local_docker`` (session-scoped) starts dockerd when nothing answers on its socket and builds the local
images once (``scripts/local-docker images`` skips images whose recipe has not changed, and builds under a
lock, so parallel workers share one build). It gives a ``LocalDocker``: ``images`` maps every service key of
lgtm.aws.docker_lgtm (and ``smtp-sink``) to its local tag, ``docker(...)`` runs the docker CLI, and
``smtp_sink(network, mail_dir)`` starts a private SMTP sink. A dockerd the fixture started is stopped when
the last test session that uses it ends; one that was already running is left alone.
"""

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import time

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCRIPT = os.path.join(REPO_ROOT, "scripts", "local-docker")
STATE_DIR = os.path.realpath(os.environ.get("LGTM_DOCKER_STATE_DIR", os.path.join(REPO_ROOT, ".cache", "local-docker")))
SESSIONS = os.path.join(STATE_DIR, "test-sessions")
TESTS_MARK = os.path.join(STATE_DIR, "dockerd.started-by-tests")


def script(*args, env=None, timeout=1200):
    proc = subprocess.run([SCRIPT, *args], cwd=REPO_ROOT, env=dict(os.environ, **(env or {})),
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"scripts/local-docker {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


class LocalDocker:
    def __init__(self, images):
        self.images = images

    @staticmethod
    def docker(*args, check=True, timeout=120, input=None):
        proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, input=input, check=False)
        if check:
            assert proc.returncode == 0, f"docker {' '.join(args)}: {proc.stderr}"
        return proc

    def health(self, container):
        return self.docker("inspect", "-f", "{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}",
                           container, check=False).stdout.strip()

    def wait_healthy(self, containers, timeout=90):
        """Wait until Docker reports every container healthy; {container: status} of those that are not."""
        deadline = time.time() + timeout
        pending = {name: "" for name in containers}
        while pending and time.time() < deadline:
            for name in list(pending):
                pending[name] = self.health(name)
                if pending[name] == "healthy":
                    del pending[name]
            if pending:
                time.sleep(0.5)
        return pending

    def standin_state(self, container):
        return json.loads(self.docker("exec", container, "cat", "/standin/state.json").stdout)

    @contextlib.contextmanager
    def smtp_sink(self, network, mail_dir, name):
        """A private SMTP sink (``smtp-sink:25`` on ``network``) keeping its mails in ``mail_dir``."""
        env = {"LGTM_SMTP_SINK_NAME": name, "LGTM_SMTP_SINK_DIR": str(mail_dir)}
        script("smtp-sink", "start", network, env=env)
        try:
            yield name
        finally:
            script("smtp-sink", "stop", env=env)

    @staticmethod
    def mails(mail_dir):
        path = os.path.join(str(mail_dir), "index.jsonl")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]


@contextlib.contextmanager
def _sessions_lock():
    os.makedirs(SESSIONS, exist_ok=True)
    with open(os.path.join(STATE_DIR, "test-sessions.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


@pytest.fixture(scope="session")
def local_docker():
    if not shutil.which("dockerd") or not shutil.which("docker") or not shutil.which("debootstrap"):
        pytest.skip("needs Debian's docker.io and debootstrap (make deps installs them)")
    lease = os.path.join(SESSIONS, str(os.getpid()))
    with _sessions_lock():
        script("start", env={"LGTM_DOCKER_FOR_TESTS": "1"}, timeout=120)
        open(lease, "w").close()
    try:
        script("images")
        images = dict(line.split("=", 1) for line in script("list").split())
        yield LocalDocker(images)
    finally:
        with _sessions_lock():
            if os.path.exists(lease):
                os.unlink(lease)
            others = []
            for name in os.listdir(SESSIONS):
                if name.isdigit() and _alive(int(name)):
                    others.append(name)
                else:
                    os.unlink(os.path.join(SESSIONS, name))
            if not others and os.path.exists(TESTS_MARK):
                script("stop", timeout=120)
