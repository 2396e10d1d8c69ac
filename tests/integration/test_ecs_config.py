"""The ECS monitoring files, proven with Debian's real promtool, amtool, Prometheus and Alertmanager."""

import http.server
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.request

import pytest
import yaml

from ansible_collections.lgtm.aws.plugins.filter.ecs_monitoring import ecs_monitoring_files
from ansible_collections.lgtm.aws.plugins.plugin_utils import ecs_monitoring as em

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not shutil.which("promtool") or not shutil.which("amtool"),
                                 reason="needs promtool and amtool (Debian packages prometheus and prometheus-alertmanager; make deps)")]
SHARED = {"name_prefix": "acme", "region": "eu-west-1", "environment": "prod", "tenant": "acme-platform"}
# A service on its own port and metrics path beside ones on the defaults (9090, /metrics).
SPEC = {"services": [{"name": "payments", "port": 8080, "metrics_path": "/actuator/prometheus"}, {"name": "api-1"}, {"name": "web"}],
        "slack": {"routes": {"critical": "#alerts-critical", "warning": "#alerts-warning"}}}


def files_of(spec):
    return ecs_monitoring_files(spec, SHARED)


def write(files, root):
    for path, content in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    return root


def run(*cmd, cwd=None):
    return subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_promtool_accepts_config_and_rules_and_the_rule_tests_pass(tmp_path):
    root = write(files_of(SPEC), tmp_path)
    checked = run("promtool", "check", "config", "prometheus.yml", cwd=root)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 1 rule files found" in checked.stdout + checked.stderr
    rules = run("promtool", "check", "rules", "rules/alerts.yml", cwd=root)
    assert rules.returncode == 0 and "7 rules found" in rules.stdout, rules.stdout + rules.stderr
    tested = run("promtool", "test", "rules", "alerts.test.yml", cwd=root / "tests")
    assert tested.returncode == 0 and "SUCCESS" in tested.stdout, tested.stdout + tested.stderr


@pytest.mark.parametrize("threshold", ["cpu_percent", "memory_percent", "disk_percent", "error_rate_percent", "p95_latency_seconds"])
def test_rule_tests_fail_when_a_threshold_is_broken(tmp_path, threshold):
    good = em.validate(dict(SPEC), SHARED)
    broken = em.validate(dict(SPEC, thresholds={threshold: good["thresholds"][threshold] * 3}), SHARED)
    write({"rules/alerts.yml": yaml.safe_dump(em.alert_rules(broken)), "tests/alerts.test.yml": yaml.safe_dump(em.rule_tests(good))}, tmp_path)
    tested = run("promtool", "test", "rules", "alerts.test.yml", cwd=tmp_path / "tests")
    assert tested.returncode != 0, "promtool test rules passed with %s tripled" % threshold


def test_aws_sd_section_stays_out_of_what_old_promtool_checks(tmp_path):
    root = write(files_of(dict(SPEC, prometheus_version="3.8.0")), tmp_path)
    assert (root / "scrape_configs" / "aws-ecs.yml").exists()
    assert run("promtool", "check", "config", "prometheus.yml", cwd=root).returncode == 0
    assert "aws_sd_configs" not in (root / "prometheus.yml").read_text()


def test_amtool_accepts_the_config_and_routes_by_severity(tmp_path):
    root = write(files_of(SPEC), tmp_path)
    assert run("amtool", "check-config", "alertmanager.yml", cwd=root).returncode == 0
    for severity in ("critical", "warning"):
        routed = run("amtool", "config", "routes", "test", "--config.file", "alertmanager.yml", "severity=" + severity, "alertname=X", cwd=root)
        assert routed.stdout.strip() == "slack-" + severity, routed.stdout + routed.stderr


def test_every_dashboard_query_is_valid_promql(tmp_path):
    exprs = [target["expr"] for board in em.dashboards(em.validate(dict(SPEC), SHARED)).values() for panel in board["panels"] for target in panel["targets"]]
    rules = {"groups": [{"name": "dashboards", "rules": [{"record": "dashboard:query_%d" % n, "expr": expr} for n, expr in enumerate(exprs)]}]}
    (tmp_path / "queries.yml").write_text(yaml.safe_dump(rules))
    checked = run("promtool", "check", "rules", "queries.yml", cwd=tmp_path)
    assert checked.returncode == 0 and "%d rules found" % len(exprs) in checked.stdout, checked.stdout + checked.stderr


def test_bad_promql_is_caught_by_the_same_check(tmp_path):
    (tmp_path / "queries.yml").write_text(yaml.safe_dump({"groups": [{"name": "d", "rules": [{"record": "x:y", "expr": "sum(rate(up[5m])"}]}]}))
    assert run("promtool", "check", "rules", "queries.yml", cwd=tmp_path).returncode != 0


# ---------------------------------------------------------------------------
# End to end: a service dies, ServiceDown reaches the Slack stand-in.


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Target:
    """A service exposing its metrics on 127.0.0.1 at ``path`` only (anything else is a 404)."""

    def __init__(self, path="/metrics"):
        def do_get(handler):
            found = handler.path.split("?")[0] == path
            handler.send_response(200 if found else 404)
            handler.end_headers()
            handler.wfile.write(b"app_info 1\n" if found else b"not here\n")

        handler = type("H", (http.server.BaseHTTPRequestHandler,), {"do_GET": do_get, "log_message": lambda self, *a: None})
        self.server = http.server.HTTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class SlackStandIn:
    """Receives Alertmanager's Slack webhook posts (JSON with text/attachments) on 127.0.0.1."""

    def __init__(self):
        self.messages = []
        received = self.messages

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((time.monotonic(), json.loads(body)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def local_stack(tmp_path, spec, target, slack):
    """The generated files, with discovery pointed at this machine (Cloud Map names do not resolve here): the
    service's DNS discovery becomes a static target carrying the name DNS discovery would have found, so the
    job's own relabelling (service label, metrics path) runs as generated."""
    files = files_of(spec)
    root = write(files, tmp_path / "config")
    prom = yaml.safe_load(files["prometheus.yml"])
    am_port, prom_port = free_port(), free_port()
    for job in prom["scrape_configs"]:
        if job["job_name"] == "ecs-services":
            job.pop("dns_sd_configs")
            job["static_configs"] = [{"targets": ["127.0.0.1:%d" % target.port], "labels": {"__meta_dns_name": "payments.monitoring.local"}}]
    prom["scrape_configs"] = [job for job in prom["scrape_configs"] if job["job_name"] == "ecs-services"]
    prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = ["127.0.0.1:%d" % am_port]
    (root / "prometheus.yml").write_text(yaml.safe_dump(prom))
    am = yaml.safe_load(files["alertmanager.yml"])
    secret = root / "slack-webhook-url"
    secret.write_text("http://127.0.0.1:%d/services/T000/B000/XXXX" % slack.port)
    for receiver in am["receivers"]:
        receiver["slack_configs"][0]["api_url_file"] = str(secret)
    (root / "alertmanager.yml").write_text(yaml.safe_dump(am))
    return root, prom_port, am_port


def start(cmd, log):
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)


def death_to_notification(spec, workdir, timeout=60):
    """Run Prometheus and Alertmanager on the generated files, stop the target once it is scraped, and
    return (seconds until the Slack stand-in got a post or None, the first post, the servers' log path)."""
    target, slack = Target("/actuator/prometheus"), SlackStandIn()
    root, prom_port, am_port = local_stack(workdir, spec, target, slack)
    log_path = workdir / "servers.log"
    log = open(log_path, "w")
    processes = [
        start(["prometheus-alertmanager", "--config.file", str(root / "alertmanager.yml"), "--storage.path", str(workdir / "am"),
               "--web.listen-address", "127.0.0.1:%d" % am_port, "--cluster.listen-address=", "--log.level=warn"], log),
        start(["prometheus", "--config.file", str(root / "prometheus.yml"), "--storage.tsdb.path", str(workdir / "tsdb"),
               "--web.listen-address", "127.0.0.1:%d" % prom_port, "--log.level=warn"], log),
    ]
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not scraped(prom_port):
            time.sleep(0.5)
        if time.monotonic() >= deadline:
            return None, None, log_path
        target.stop()
        died = time.monotonic()
        while time.monotonic() < died + timeout and not slack.messages:
            time.sleep(0.2)
        if not slack.messages:
            return None, None, log_path
        return slack.messages[0][0] - died, slack.messages[0][1], log_path
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=20)
        log.close()


def scraped(port):
    try:
        up = json.load(urllib.request.urlopen("http://127.0.0.1:%d/api/v1/query?query=up" % port, timeout=2))
    except OSError:
        return False
    return bool(up["data"]["result"]) and up["data"]["result"][0]["value"][1] == "1"


@pytest.mark.skipif(not shutil.which("prometheus") or not shutil.which("prometheus-alertmanager"),
                    reason="needs Debian's prometheus and prometheus-alertmanager servers (make deps)")
def test_service_down_reaches_slack(tmp_path):
    spec = dict(SPEC, scrape_interval="1s", evaluation_interval="1s", alertmanager_group_wait="1s", durations={"down": "5s"})
    seconds, message, log = death_to_notification(spec, tmp_path)
    assert seconds is not None, "no notification within 60 s of the target's death; see %s" % log
    text = json.dumps(message)
    # Scraped on its own metrics path first (the target answers nowhere else), then reported by its name.
    assert "ServiceDown" in text and "Service payments is down" in text and "#alerts-critical" in text
    print("target death to Slack: %.1f s" % seconds)
