"""The Alloy rollout killed half-way and run again, on a podman fleet of this test's own: the controller killed while
the hosts converge, and a host's module killed in the middle of installing the package (dpkg interrupted, as when
the host loses power or its SSH session). A rerun brings every host to a running Alloy with an intact configuration,
and a run after that changes nothing. The rollout makes no AWS call: the proxy counts none (docs/benchmarks.md)."""

import json
import os
import random
import shutil
import signal
import subprocess

import pytest
import yaml

from conftest import BIN_DIR, REPO_ROOT, PlaybookResult

from aws_proxy import Proxy, descendants, summarize  # tests/aws_proxy.py (tests/ is on the path: tests/conftest.py)

pytestmark = pytest.mark.integration

FLEET = os.path.join(REPO_ROOT, "scripts", "local-fleet")
HOSTS = ["kr-alloy-1", "kr-alloy-2", "kr-alloy-3"]
PLAYBOOK = os.path.join(REPO_ROOT, "playbooks", "alloy.yml")
CONVERGE_TASK = "Converge Alloy on this host"
SEED = 16


@pytest.fixture(scope="module")
def fleet():
    if not shutil.which("podman"):
        pytest.skip("needs podman (make deps installs it)")
    subprocess.run([FLEET, "down"] + HOSTS, check=False, cwd=REPO_ROOT, capture_output=True)  # fresh hosts, no Alloy yet
    subprocess.run([FLEET, "up"] + HOSTS, check=True, cwd=REPO_ROOT, timeout=900)
    yield
    subprocess.run([FLEET, "down"] + HOSTS, check=False, cwd=REPO_ROOT)


@pytest.fixture
def proxy():
    # No local AWS behind it: the rollout must not call AWS at all, and a call would be counted before failing.
    server = Proxy("http://127.0.0.1:9").start()
    yield server
    server.stop()


def inventory(tmp_path):
    podman = {"ansible_connection": "containers.podman.podman", "ansible_python_interpreter": "/usr/bin/python3"}
    data = {"all": {
        "children": {
            "aws_control": {"hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}},
            "alloy_linux": {"hosts": {host: None for host in HOSTS}, "vars": podman},
        },
        "vars": {
            "lgtm_output_dir": str(tmp_path / "out"), "lgtm_name_prefix": "acme", "lgtm_environment": "prod",
            "alloy_apt_repository_url": "file:/srv/lgtm-fleet/apt", "alloy_apt_key_url": "file:///srv/lgtm-fleet/apt/gpg.key",
            "alloy_mimir_url": "http://mimir.example.internal/api/v1/push", "alloy_loki_url": "http://loki.example.internal/loki/api/v1/push",
            "alloy_tempo_endpoint": "tempo.example.internal:4317", "alloy_connect_timeout": 5,
        },
    }}
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


def on_host(host, script):
    return subprocess.run(["podman", "exec", host, "sh", "-c", script], capture_output=True, text=True, check=False).stdout.strip()


# Runs on the host: waits for the dpkg that unpacks or configures a package to begin changing its database, SIGKILLs
# it and then the processes above it up to the module (apt-get, the module's Python), and prints what it killed.
WATCHER = r"""
import os, signal, time
def cmdline(pid):
    try:
        return open("/proc/%s/cmdline" % pid, "rb").read().replace(b"\0", b" ").decode()
    except OSError:
        return ""
def parent(pid):
    return int(open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()[1])
deadline = time.time() + 170
while time.time() < deadline:
    for pid in filter(str.isdigit, os.listdir("/proc")):
        line = cmdline(pid)
        if line.startswith(("dpkg ", "/usr/bin/dpkg ")) and (" --unpack " in line or " --configure " in line):
            # Once dpkg has recorded a change of its database (a numbered journal entry): killed there, it is
            # half-way, and apt refuses to install until the journal is replayed.
            while cmdline(pid) == line and not any(n.isdigit() for n in os.listdir("/var/lib/dpkg/updates")):
                time.sleep(0.0005)
            chain, up = [], int(pid)
            while up > 1 and len(chain) < 4:  # dpkg, apt-get, the module's Python (and its shell)
                chain.append(up)
                if "python" in cmdline(up):
                    break
                up = parent(up)
            for victim in chain:
                os.kill(victim, signal.SIGKILL)
            print(line)
            raise SystemExit(0)
    time.sleep(0.002)
"""


def kill_tree(proc):
    """SIGKILL a run started in its own session: its process group and every process below it (Ansible's workers
    have sessions of their own)."""
    for pid in [proc.pid] + descendants(proc.pid):
        try:
            (os.killpg if pid == proc.pid else os.kill)(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_rollout_killed_mid_converge_and_mid_install_then_run_again_runs_alloy_everywhere(fleet, proxy, tmp_path):
    hosts_file = inventory(tmp_path)
    env = dict(os.environ, AWS_ENDPOINT_URL=proxy.url, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH=BIN_DIR + os.pathsep + os.environ.get("PATH", ""), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
               ANSIBLE_CALLBACK_RESULT_FORMAT="json", ANSIBLE_CALLBACK_PLUGINS=os.path.join(REPO_ROOT, "tests", "callback_plugins"),
               ANSIBLE_CALLBACKS_ENABLED="aws_proxy_phases")
    draw = random.Random(SEED)

    def start():
        proxy.configure(kill_pgid=None)
        proxy.stats.reset()
        return subprocess.Popen([os.path.join(BIN_DIR, "ansible-playbook"), PLAYBOOK, "-i", hosts_file], cwd=REPO_ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)

    def finish(proc):
        out, err = proc.communicate(timeout=600)
        return PlaybookResult(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))

    log = []
    # Kill 1: a host's package install dies with dpkg half-way: a watcher on the host SIGKILLs dpkg the moment it
    # unpacks or configures the package, then the apt-get and the module above it; the controller is killed with them.
    victim = HOSTS[0]
    watcher = subprocess.Popen(["podman", "exec", victim, "python3", "-c", WATCHER], stdout=subprocess.PIPE, text=True)
    proc = start()
    try:
        caught = watcher.communicate(timeout=180)[0].strip()
    except subprocess.TimeoutExpired:
        watcher.kill()
        caught = ""
    kill_tree(proc)
    finish(proc)
    assert caught, "dpkg never ran on %s" % victim
    log.append("killed on %s: %s" % (victim, caught[:120]))
    journal = on_host(victim, "ls /var/lib/dpkg/updates").split()
    log.append("then dpkg's journal: %s" % journal)
    assert any(name.isdigit() for name in journal), "\n".join(log) + ": the kill left dpkg's journal empty; it was to leave it half-way"

    # Kills 2 and 3: the controller alone, a drawn time after the hosts' converge task started (the modules go on or not).
    for _index in range(2):
        proc = start()
        delay = round(draw.uniform(0.5, 4.0), 1)
        proxy.configure(kill_pgid=proc.pid, kill_task=CONVERGE_TASK, kill_delay=delay)
        result = finish(proc)
        log.append("controller killed %.1f s after %r started: rc=%s (%s)" % (delay, CONVERGE_TASK, result.rc, proxy.stats.snapshot()["killed"]))

    final = finish(start())
    print("\n" + "\n".join(log))
    assert final.rc == 0, "\n".join(log) + "\n" + final.stdout[-4000:]
    summary = json.loads((tmp_path / "out" / "alloy" / "fleet-summary.json").read_text())
    for host in HOSTS:
        assert summary[host]["status"] == "ok" and summary[host]["service"] == "active/enabled", (host, summary[host])
        assert on_host(host, "systemctl is-active alloy") == "active", host
        assert on_host(host, "dpkg-query -W -f='${Status} ${Version}' alloy").endswith(" ok installed 1.18.1"), host
        assert on_host(host, "dpkg --audit") == "", host
        assert summary[host]["config_sha256"] == on_host(host, "sha256sum /etc/alloy/config.alloy").split()[0], host
        assert on_host(host, "ls -A /etc/alloy /etc/default | grep '^\\.' || true") == "", "temporary files left on %s" % host
    again = finish(start())
    assert again.rc == 0 and again.total("changed") == 0, again.stdout[-3000:]
    calls = summarize(proxy.stats.snapshot())
    assert calls["reads"] + calls["writes"] == 0, "the Alloy rollout called AWS: %s" % proxy.stats.snapshot()["calls"]
