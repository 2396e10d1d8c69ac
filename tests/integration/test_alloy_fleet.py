"""playbooks/alloy.yml on a small podman fleet: rolling batches, a failing and an unreachable host,
failure tolerance, and the fleet summary file, read back from the hosts themselves."""

import json
import os
import shlex
import shutil
import subprocess
import threading

import pytest
import yaml

from conftest import BIN_DIR, REPO_ROOT

pytestmark = pytest.mark.integration

FLEET = os.path.join(REPO_ROOT, "scripts", "local-fleet")
GOOD, BAD, GONE = "it-alloy-good", "it-alloy-bad", "it-alloy-gone"


@pytest.fixture(scope="module")
def fleet():
    if not shutil.which("podman"):
        pytest.skip("needs podman (make deps installs it)")
    subprocess.run([FLEET, "up", GOOD, BAD], check=True, cwd=REPO_ROOT, timeout=900)
    subprocess.run([FLEET, "down", GONE], check=True, cwd=REPO_ROOT)
    yield
    subprocess.run([FLEET, "down", GOOD, BAD], check=False, cwd=REPO_ROOT)


def inventory(tmp_path, **extra_vars):
    podman = {"ansible_connection": "containers.podman.podman", "ansible_python_interpreter": "/usr/bin/python3"}
    data = {"all": {
        "children": {
            "aws_control": {"hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}},
            # Inventory order is rollout order: the unreachable host goes first.
            "alloy_linux": {"hosts": {GONE: None, GOOD: None, BAD: {
                "alloy_config_override": 'prometheus.scrape "x" {\n\ttargets    = []\n\tforward_to = [prometheus.remote_write.nowhere.receiver]\n}\n'}},
                "vars": podman},
        },
        "vars": dict({
            "lgtm_output_dir": str(tmp_path / "out"),
            # The tenant follows the shared settings: <lgtm_name_prefix>-<lgtm_environment>.
            "lgtm_name_prefix": "acme",
            "lgtm_environment": "prod",
            "alloy_apt_repository_url": "file:/srv/lgtm-fleet/apt",
            "alloy_apt_key_url": "file:///srv/lgtm-fleet/apt/gpg.key",
            "alloy_mimir_url": "http://mimir.example.internal/api/v1/push",
            "alloy_loki_url": "http://loki.example.internal/loki/api/v1/push",
            "alloy_tempo_endpoint": "tempo.example.internal:4317",
            "alloy_connect_timeout": 5,
        }, **extra_vars),
    }}
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


def summary(tmp_path):
    return json.loads((tmp_path / "out" / "alloy" / "fleet-summary.json").read_text())


def on_host(host, *command):
    return subprocess.run(["podman", "exec", host] + list(command), capture_output=True, text=True, check=False).stdout.strip()


def test_rollout_goes_past_failing_and_unreachable_hosts_and_reports_each(fleet, run_playbook, tmp_path):
    result = run_playbook(os.path.join(REPO_ROOT, "playbooks", "alloy.yml"), "-e", "alloy_batch_size=1", inventory=inventory(tmp_path))
    assert result.rc != 0, "a run where hosts did not converge must fail"
    report = summary(tmp_path)
    assert report[GONE]["status"] == "unreachable"
    assert report[BAD]["status"] == "failed"
    assert "prometheus.remote_write.nowhere.receiver" in report[BAD]["error"]
    good = report[GOOD]
    assert good["status"] == "ok" and good["version"] == "v1.18.1" and good["service"] == "active/enabled" and good["changed"] is True
    assert good["config_sha256"] == on_host(GOOD, "sha256sum", "/etc/alloy/config.alloy").split()[0]
    assert good["tenants"] == {"mimir": "acme-prod", "loki": "acme-prod", "tempo": "acme-prod"}
    # The rejected configuration never reached the failing host.
    assert on_host(BAD, "sh", "-c", "test -e /etc/alloy/config.alloy && echo present") == ""
    assert on_host(BAD, "systemctl", "is-active", "alloy") != "active"

    again = run_playbook(os.path.join(REPO_ROOT, "playbooks", "alloy.yml"), "--limit", "%s,localhost" % GOOD, inventory=inventory(tmp_path))
    assert again.rc == 0, again.stdout[-3000:]
    assert again.stats[GOOD]["changed"] == 0
    assert summary(tmp_path)[GOOD]["changed"] is False


def test_rollout_stops_once_failures_exceed_the_tolerance(fleet, run_playbook, tmp_path):
    result = run_playbook(os.path.join(REPO_ROOT, "playbooks", "alloy.yml"), "-e", "alloy_batch_size=1",
                          inventory=inventory(tmp_path, alloy_max_fail_percentage=0))
    assert result.rc != 0
    report = summary(tmp_path)
    assert report[GONE]["status"] == "unreachable"
    assert report[GOOD]["status"] == "not run" and report[BAD]["status"] == "not run"
    assert GOOD not in result.stats or result.stats[GOOD].get("changed", 0) == 0


def test_a_host_that_answers_late_is_waited_for(fleet, run_playbook, tmp_path):
    """A host still booting when the rollout reaches it is given alloy_connect_timeout seconds."""
    subprocess.run(["podman", "stop", "-t", "5", GOOD], check=True, capture_output=True)
    starter = threading.Timer(10, subprocess.run, args=(["podman", "start", GOOD],), kwargs={"check": False})
    starter.start()
    try:
        result = run_playbook(os.path.join(REPO_ROOT, "playbooks", "alloy.yml"), "--limit", "%s,localhost" % GOOD,
                              inventory=inventory(tmp_path, alloy_connect_timeout=120))
    finally:
        starter.join()
    assert result.rc == 0, json.dumps(summary(tmp_path), indent=1)
    assert summary(tmp_path)[GOOD]["status"] == "ok"
    assert on_host(GOOD, "systemctl", "is-active", "alloy") == "active"


def test_a_host_whose_processes_are_gone_is_started_anew(fleet, run_playbook, tmp_path):
    """podman still records the host as running, but its conmon and init were killed (as when the session that
    started them ends): every exec fails. The local fleet play starts it anew before handing it over."""
    pids = subprocess.run(["podman", "inspect", "-f", "{{.State.ConmonPid}} {{.State.Pid}}", BAD],
                          capture_output=True, text=True, check=True).stdout.split()
    subprocess.run(["kill", "-9"] + pids, check=True)
    assert subprocess.run(["podman", "exec", BAD, "true"], capture_output=True, check=False).returncode != 0
    hosts = inventory(tmp_path, lgtm_local_fleet=True)
    result = run_playbook(os.path.join(REPO_ROOT, "playbooks", "local_fleet.yml"), "--limit", BAD, inventory=hosts)
    assert result.rc == 0, result.stdout[-3000:]
    assert result.stats[BAD]["rescued"] == 1
    assert on_host(BAD, "systemctl", "is-system-running") in ("running", "degraded")


COUNTING_PYTHON = "/usr/local/bin/python3-counting"


def test_a_no_change_host_costs_one_module_call(fleet, run_playbook, tmp_path):
    """Every module run on a host starts its Python once: an interpreter that counts its starts shows that a
    converged host costs one module call (lgtm.aws.alloy_host), whatever the connection."""
    playbook = os.path.join(REPO_ROOT, "playbooks", "alloy.yml")
    first = run_playbook(playbook, "--limit", "%s,localhost" % GOOD, inventory=inventory(tmp_path))
    assert first.rc == 0, first.stdout[-3000:]
    subprocess.run(["podman", "exec", GOOD, "sh", "-c",
                    "printf '#!/bin/sh\\necho \"$$\" >> /var/tmp/module-calls\\nexec /usr/bin/python3 \"$@\"\\n' > %s"
                    " && chmod 755 %s && rm -f /var/tmp/module-calls" % (COUNTING_PYTHON, COUNTING_PYTHON)], check=True)
    hosts = inventory(tmp_path)
    data = yaml.safe_load(open(hosts))
    data["all"]["children"]["alloy_linux"]["hosts"][GOOD] = {"ansible_python_interpreter": COUNTING_PYTHON}
    open(hosts, "w").write(yaml.safe_dump(data))
    again = run_playbook(playbook, "--limit", "%s,localhost" % GOOD, inventory=hosts)
    assert again.rc == 0 and again.stats[GOOD]["changed"] == 0, again.stdout[-3000:]
    calls = on_host(GOOD, "cat", "/var/tmp/module-calls").split()
    assert len(calls) == 1, "a no-change host made %d module calls" % len(calls)


def test_a_change_to_the_environment_file_alone_restarts_alloy_once(fleet, run_playbook, tmp_path):
    playbook = os.path.join(REPO_ROOT, "playbooks", "alloy.yml")
    first = run_playbook(playbook, "--limit", "%s,localhost" % GOOD, inventory=inventory(
        tmp_path, alloy_basic_auth_username="agent", alloy_basic_auth_password="first"))
    assert first.rc == 0, first.stdout[-3000:]
    config_before = on_host(GOOD, "sha256sum", "/etc/alloy/config.alloy")
    starts = "systemctl show alloy -p InvocationID --value; journalctl -u alloy -o cat | grep -c '^Started' || true"
    before = on_host(GOOD, "sh", "-c", starts).split()
    changed = run_playbook(playbook, "--limit", "%s,localhost" % GOOD,
                           inventory=inventory(tmp_path, alloy_basic_auth_username="agent",
                                               alloy_basic_auth_password="rotated-%d" % os.getpid()))
    assert changed.rc == 0, changed.stdout[-3000:]
    after = on_host(GOOD, "sh", "-c", starts).split()
    assert after[0] != before[0], "the service was not restarted"
    assert int(after[1]) == int(before[1]) + 1, "expected exactly one start, journal says %s -> %s" % (before[1], after[1])
    assert "rotated-%d" % os.getpid() in on_host(GOOD, "cat", "/etc/default/alloy")
    assert on_host(GOOD, "sha256sum", "/etc/alloy/config.alloy") == config_before, "only the environment file was to change"


def test_fleet_hosts_answer_over_ssh_with_the_fleet_key(fleet, aws_env, tmp_path):
    """scripts/local-fleet publishes each host's sshd on 127.0.0.1 and writes its entry into the fleet's ssh_config:
    Ansible's ssh connection reaches the hosts as root with the fleet's key; passwords are refused."""
    config = subprocess.run([FLEET, "ssh-config"], capture_output=True, text=True, check=True, cwd=REPO_ROOT).stdout.strip()
    published = subprocess.run(["podman", "port", GOOD, "22/tcp"], capture_output=True, text=True, check=True).stdout.split()[0]
    assert published.startswith("127.0.0.1:")
    entry = open(os.path.join(os.path.dirname(config), "hosts", GOOD + ".conf")).read()
    assert "Port %s\n" % published.split(":")[1] in entry
    hosts = tmp_path / "ssh.yml"
    hosts.write_text(yaml.safe_dump({"all": {"hosts": {GOOD: None, BAD: None}, "vars": {
        "ansible_connection": "ansible.builtin.ssh", "ansible_ssh_common_args": "-F " + shlex.quote(config),
        "ansible_python_interpreter": "/usr/bin/python3"}}}))
    whoami = subprocess.run([os.path.join(BIN_DIR, "ansible"), "all", "-i", str(hosts), "-m", "ansible.builtin.command", "-a", "id -un"],
                            capture_output=True, text=True, check=False, env=aws_env, cwd=REPO_ROOT, timeout=120)
    assert whoami.returncode == 0, whoami.stdout + whoami.stderr
    assert whoami.stdout.count("root") == 2, whoami.stdout
    password = subprocess.run(["ssh", "-F", config, "-o", "BatchMode=yes", "-o", "PreferredAuthentications=password", GOOD, "true"],
                              capture_output=True, text=True, check=False, timeout=60)
    assert password.returncode == 255 and "Permission denied" in password.stderr, password.stderr
