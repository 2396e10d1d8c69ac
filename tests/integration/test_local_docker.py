"""The Docker path's local engine and images (scripts/local-docker): every image runs and Docker reports it
healthy, stand-ins keep what they were given, the real Debian programs check configurations like the upstream
images' own binaries, and the SMTP sink receives a mail sent from a container on a user network."""

import json
import os
import subprocess
import textwrap
import time

import pytest

from docker_env import SCRIPT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PREFIX = f"lgtm-test-docker-{os.getpid()}"
REALM = {"realm": "example", "enabled": True, "clients": [{"clientId": "grafana", "redirectUris": ["https://grafana.example.org/login/generic_oauth"]}]}
# GET, as HEAD is refused by some (Pushgateway, the Caddy admin API).
WGET = "wget -qO /dev/null http://127.0.0.1:{port}{path}"

# key: (docker run arguments before the image, arguments after it, health command), per service.
RUNS = {
    "proxy": ([], [], WGET.format(port=2019, path="/config/")),
    "prometheus": (["-p", "127.0.0.1::9090"], [], WGET.format(port=9090, path="/-/ready")),
    "alertmanager": ([], [], WGET.format(port=9093, path="/-/ready")),
    "pushgateway": ([], [], WGET.format(port=9091, path="/-/ready")),
    "node_exporter": ([], [], WGET.format(port=9100, path="/metrics")),
    "memcached": ([], [], "printf 'stats\\r\\nquit\\r\\n' | busybox nc 127.0.0.1 11211 | grep -q uptime"),
    "grafana": (["-e", "GF_SECURITY_ADMIN_PASSWORD__FILE=/run/secrets/admin_password",
                 "-v", "{tmp}/admin_password:/run/secrets/admin_password:ro"], [], WGET.format(port=3000, path="/api/health")),
    "loki": ([], [], WGET.format(port=3100, path="/ready")),
    "tempo": (["-v", "{tmp}/tempo.yaml:/etc/tempo/tempo.yaml:ro"], ["-config.file=/etc/tempo/tempo.yaml", "-target=all"],
              WGET.format(port=3201, path="/ready")),
    "mimir": ([], ["-target=all"], WGET.format(port=8080, path="/ready")),
    "keycloak": (["-e", "KC_HEALTH_ENABLED=true", "-v", "{tmp}/realm.json:/opt/keycloak/data/import/realm.json:ro"],
                 ["start", "--import-realm", "--http-port=8080"], WGET.format(port=9000, path="/health/ready")),
    "cadvisor": ([], [], WGET.format(port=8080, path="/healthz")),
    "alloy": (["-v", "{tmp}/config.alloy:/etc/alloy/config.alloy:ro"],
              ["run", "--server.http.listen-addr=0.0.0.0:12345", "/etc/alloy/config.alloy"], WGET.format(port=12345, path="/-/ready")),
}


@pytest.fixture(scope="module")
def stack(local_docker, tmp_path_factory):  # noqa: F811
    """Every local image running on one user network, named PREFIX-<key>."""
    tmp = tmp_path_factory.mktemp("docker-smoke")
    (tmp / "tempo.yaml").write_text("server:\n  http_listen_port: 3201\nstorage:\n  trace:\n    backend: local\n")
    (tmp / "realm.json").write_text(json.dumps(REALM))
    (tmp / "config.alloy").write_text('logging {\n  level = "info"\n}\n')
    (tmp / "admin_password").write_text("not-in-the-state\n")
    os.chmod(tmp, 0o755)
    for path in tmp.iterdir():
        os.chmod(path, 0o644)
    network = PREFIX
    local_docker.docker("network", "create", network)
    names = []
    try:
        assert set(RUNS) <= set(local_docker.images), "a service of the contract has no local image"
        for key, (before, after, health) in RUNS.items():
            name = f"{PREFIX}-{key}"
            names.append(name)
            local_docker.docker("run", "-d", "--name", name, "--network", network, "--network-alias", key,
                                "--health-cmd", health, "--health-interval", "1s", "--health-retries", "60",
                                *[arg.format(tmp=tmp) for arg in before], local_docker.images[key], *after)
        yield {"network": network, "tmp": tmp, "names": {key: f"{PREFIX}-{key}" for key in RUNS}}
    finally:
        if names:
            local_docker.docker("rm", "-f", *names, check=False)
        local_docker.docker("network", "rm", network, check=False)


def test_every_local_image_runs_and_docker_reports_it_healthy(local_docker, stack):  # noqa: F811
    unhealthy = local_docker.wait_healthy(stack["names"].values())
    logs = {name: local_docker.docker("logs", "--tail", "5", name, check=False).stderr for name in unhealthy}
    assert not unhealthy, f"not healthy: {unhealthy}; logs: {logs}"
    # The published port is on the loopback address only.
    bound = local_docker.docker("port", stack["names"]["prometheus"], "9090").stdout.split()
    assert bound and all(b.startswith("127.0.0.1:") for b in bound), bound
    # Real programs where Debian has them, labelled stand-ins for the rest.
    labels = {key: json.loads(local_docker.docker("image", "inspect", "-f", "{{json .Config.Labels}}",
                                                  local_docker.images[key]).stdout) for key in RUNS}
    descriptions = {key: value["org.opencontainers.image.description"] for key, value in labels.items()}
    standins = {key for key, text in descriptions.items() if text.startswith("lgtm.aws local stand-in: not ")}
    assert standins == {"grafana", "loki", "tempo", "mimir", "keycloak", "cadvisor", "alloy"}, descriptions


def test_a_stand_in_records_its_arguments_configuration_and_environment_names_but_no_secret(local_docker, stack):  # noqa: F811
    assert not local_docker.wait_healthy([stack["names"]["tempo"], stack["names"]["grafana"], stack["names"]["keycloak"]])
    tempo = local_docker.standin_state(stack["names"]["tempo"])
    assert tempo["argv"] == ["tempo", "-config.file=/etc/tempo/tempo.yaml", "-target=all"]
    assert tempo["files"]["/etc/tempo/tempo.yaml"] == (stack["tmp"] / "tempo.yaml").read_text()
    assert tempo["ports"] == {"http": "3201"} and tempo["uid"] == 10001
    grafana = local_docker.standin_state(stack["names"]["grafana"])
    assert "GF_SECURITY_ADMIN_PASSWORD__FILE" in grafana["env_names"]
    assert grafana["secret_files"] == ["admin_password"]
    raw = local_docker.docker("exec", stack["names"]["grafana"], "cat", "/standin/state.json").stdout
    assert "not-in-the-state" not in raw
    keycloak = local_docker.standin_state(stack["names"]["keycloak"])
    assert keycloak["realms"] == ["example"]
    answer = local_docker.docker("exec", stack["names"]["prometheus"], "wget", "-qO-",
                                 "http://keycloak:8080/realms/example/.well-known/openid-configuration").stdout
    assert json.loads(answer)["issuer"] == "http://keycloak:8080/realms/example"


def test_the_real_programs_check_configurations_at_the_upstream_paths(local_docker, stack):  # noqa: F811
    tmp = stack["tmp"]
    (tmp / "good.yml").write_text("scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['node_exporter:9100']\n")
    (tmp / "bad.yml").write_text("scrape_configs:\n  - job_name: node\n    scrape_interval: soon\n")
    (tmp / "am.yml").write_text("route:\n  receiver: mail\nreceivers:\n  - name: mail\n    email_configs:\n      - to: ops@example.org\n"
                                "        from: am@example.org\n        smarthost: smtp-sink:25\n")
    (tmp / "loki-bad.yaml").write_text("server: [unclosed\n")
    (tmp / "bad.alloy").write_text('logging {\n  level = "info"\n')
    for path in tmp.iterdir():
        os.chmod(path, 0o644)
    mount = ["-v", f"{tmp}:/check:ro"]

    def check(key, entrypoint, *args):
        return local_docker.docker("run", "--rm", *mount, "--entrypoint", entrypoint, local_docker.images[key], *args, check=False)

    assert check("prometheus", "/bin/promtool", "check", "config", "/check/good.yml").returncode == 0
    rejected = check("prometheus", "/bin/promtool", "check", "config", "/check/bad.yml")
    assert rejected.returncode == 1 and "soon" in rejected.stdout + rejected.stderr
    assert check("alertmanager", "/bin/amtool", "check-config", "/check/am.yml").returncode == 0
    assert check("loki", "/usr/bin/loki", "-verify-config", "-config.file=/etc/loki/local-config.yaml").returncode == 0
    assert check("loki", "/usr/bin/loki", "-verify-config", "-config.file=/check/loki-bad.yaml").returncode == 1
    assert check("alloy", "/bin/alloy", "validate", "/check/bad.alloy").returncode == 1
    # A stand-in refuses to start on a configuration the real server would reject, as the real one does.
    (tmp / "refused.yaml").write_text("server:\n  http_listen_port: 3100\n# lgtm-standin: refuse-to-start\n")
    os.chmod(tmp / "refused.yaml", 0o644)
    for config in ("/check/loki-bad.yaml", "/check/refused.yaml"):
        started = local_docker.docker("run", "--rm", *mount, local_docker.images["loki"], f"-config.file={config}", check=False)
        assert started.returncode == 1 and config in started.stderr, started.stderr


def test_a_second_image_build_reuses_every_image(local_docker):  # noqa: F811
    started = time.time()
    proc = subprocess.run([SCRIPT, "images"], capture_output=True, text=True, timeout=300, check=True)
    assert "built" not in proc.stderr, proc.stderr
    assert time.time() - started < 20


ALERTMANAGER_MAIL = """\
global:
  smtp_smarthost: smtp-sink:25
  smtp_from: alertmanager@example.org
  smtp_auth_username: alertmanager
  smtp_auth_password: a-password
route:
  receiver: mail
  group_wait: 0s
receivers:
  - name: mail
    email_configs:
      - to: ops@example.org
        tls_config:
          insecure_skip_verify: true
"""


def test_the_smtp_sink_receives_mails_sent_from_containers_on_a_user_network(local_docker, stack, tmp_path):  # noqa: F811
    """One from Python's smtplib (AUTH PLAIN), one from the real Alertmanager (Go's client: STARTTLS, AUTH LOGIN)."""
    mail_dir = tmp_path / "mail"
    (tmp_path / "alertmanager.yml").write_text(ALERTMANAGER_MAIL)
    os.chmod(tmp_path, 0o755)
    os.chmod(tmp_path / "alertmanager.yml", 0o644)
    send = textwrap.dedent("""\
        import smtplib, ssl
        smtp = smtplib.SMTP("smtp-sink", 25, timeout=10)
        smtp.starttls(context=ssl._create_unverified_context())
        smtp.login("smtplib", "a-password")
        smtp.sendmail("am@example.org", ["ops@example.org"], "Subject: [FIRING:1] TargetDown\\r\\n\\r\\nnode_exporter is down\\r\\n")
        smtp.quit()
        """)
    alertmanager = f"{PREFIX}-mailer"
    with local_docker.smtp_sink(stack["network"], mail_dir, f"{PREFIX}-sink") as sink:
        try:
            assert not local_docker.wait_healthy([sink], timeout=30)
            local_docker.docker("exec", "-i", stack["names"]["alertmanager"], "python3", "-", input=send)
            local_docker.docker("run", "-d", "--name", alertmanager, "--network", stack["network"],
                                "-v", f"{tmp_path}/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro",
                                local_docker.images["alertmanager"], "--config.file=/etc/alertmanager/alertmanager.yml",
                                "--storage.path=/alertmanager", "--cluster.listen-address=")
            deadline = time.time() + 30
            while time.time() < deadline:
                added = local_docker.docker("exec", alertmanager, "/bin/amtool", "alert", "add", "NodeDown", "job=node",
                                            "--alertmanager.url=http://127.0.0.1:9093", check=False)
                if added.returncode == 0:
                    break
                time.sleep(0.5)
            while len(local_docker.mails(mail_dir)) < 2 and time.time() < deadline:
                time.sleep(0.2)
        finally:
            local_docker.docker("rm", "-f", alertmanager, check=False)
    by_user = {mail["auth_user"]: mail for mail in local_docker.mails(mail_dir)}
    assert set(by_user) == {"smtplib", "alertmanager"}, by_user
    assert all(mail["starttls"] and mail["rcpt_to"] == ["ops@example.org"] for mail in by_user.values())
    assert by_user["smtplib"]["subject"] == "[FIRING:1] TargetDown"
    assert "node_exporter is down" in (mail_dir / by_user["smtplib"]["file"]).read_text()
    assert "NodeDown" in by_user["alertmanager"]["subject"]
    assert "a-password" not in (mail_dir / "index.jsonl").read_text()
