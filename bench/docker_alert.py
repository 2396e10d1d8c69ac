"""Benchmark: seconds from a scraped target's death to the alert e-mail, on the Docker stack (lgtm.aws.docker_lgtm).

Run:
    .venv/bin/python bench/docker_alert.py [--runs 5] [--timings default,short] [--keep]

Brings up its own stack with the role (``playbooks/docker.yml``; prefix and network ``bench-alert``, no published
port, the local images of ``scripts/local-docker images``: Debian's real Prometheus, Alertmanager, Pushgateway and
node exporter) with only the alerting path enabled, and a private SMTP sink (``smtp-sink:25`` on its network) as
Alertmanager's smarthost. For each set of timings it converges the role with them (only Prometheus and Alertmanager
are recreated), then kills the node exporter container ``--runs`` times and measures, polling Prometheus's and
Alertmanager's HTTP APIs on their container addresses every 0.1 s:

    death (``docker kill`` returned) -> Prometheus's failed scrape (the target's lastScrape, health down)
    -> TargetDown pending (the alert's activeAt) -> firing (first seen) -> in Alertmanager (first seen)
    -> the FIRING mail in the sink (its arrival time)

Each death comes at a random moment (a pause of up to scrape_interval + evaluation_interval first), so the runs
sample the scrape and evaluation cycles. After each it starts the exporter again and waits for the RESOLVED mail
and for Alertmanager to drop the empty group (it does so every 30 s), so that every death starts a new group as a
first death would.
The bound from the settings: a death is seen at the next scrape (within scrape_interval), the next evaluation
(within evaluation_interval) makes TargetDown pending, it fires target_down_for later (at an evaluation) and goes
to Alertmanager at once, which sends the first mail of a new group group_wait later:
    target_down_for + group_wait  <=  death to mail  <=  that + scrape_interval + evaluation_interval.
Everything it made (containers, network, volumes, configuration, sink) is removed at the end unless --keep.
"""

import argparse
import datetime
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BIN_DIR = os.path.dirname(sys.executable)
PREFIX = "bench-alert"
TIMINGS = {
    # The role's defaults.
    "default": {"prometheus": {"scrape_interval": "15s", "evaluation_interval": "15s", "target_down_for": "1m"},
                "alertmanager": {"group_wait": "10s", "group_interval": "1m", "repeat_interval": "4h"}},
    # What the Molecule scenario docker_lgtm uses.
    "short": {"prometheus": {"scrape_interval": "1s", "evaluation_interval": "1s", "target_down_for": "2s"},
              "alertmanager": {"group_wait": "1s", "group_interval": "2s", "repeat_interval": "4h"}},
}
ENABLED = ("prometheus", "alertmanager", "pushgateway", "node_exporter")
SERVICES = ("proxy", "grafana", "prometheus", "alertmanager", "pushgateway", "node_exporter", "cadvisor",
            "loki", "tempo", "mimir", "memcached", "keycloak", "alloy")
POLL = 0.1


def seconds(duration):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    total, number = 0.0, ""
    rest = duration
    while rest:
        while rest and rest[0].isdigit():
            number, rest = number + rest[0], rest[1:]
        unit = "ms" if rest.startswith("ms") else rest[0]
        rest = rest[len(unit):]
        total, number = total + int(number) * units[unit], ""
    return total


def bound(timing):
    p, a = timing["prometheus"], timing["alertmanager"]
    low = seconds(p["target_down_for"]) + seconds(a["group_wait"])
    return low, low + seconds(p["scrape_interval"]) + seconds(p["evaluation_interval"])


def rfc3339(text):
    """Prometheus's and Alertmanager's timestamps (nanoseconds, Z or an offset) as seconds since the epoch."""
    text = text.replace("Z", "+00:00")
    if "." in text:
        head, tail = text.split(".", 1)
        digits = "".join(c for c in tail if c.isdigit())
        text = head + "." + digits[:6].ljust(6, "0") + tail[len(digits):]
    return datetime.datetime.fromisoformat(text).timestamp()


def docker(*args, check=True):
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120, check=False)
    if check and proc.returncode:
        raise RuntimeError("docker %s: %s" % (" ".join(args), proc.stderr))
    return proc.stdout.strip()


def get(url):
    with urllib.request.urlopen(url, timeout=2) as answer:
        return json.loads(answer.read())


class Stack:
    def __init__(self, workdir):
        self.workdir = workdir
        self.mail_dir = os.path.join(workdir, "mail")
        self.sink_env = dict(os.environ, LGTM_SMTP_SINK_NAME=PREFIX + "-smtp-sink", LGTM_SMTP_SINK_DIR=self.mail_dir)
        self.inventory = os.path.join(workdir, "inventory.yml")
        self.urls = {}
        settings = {
            "lgtm_name_prefix": PREFIX, "lgtm_environment": "bench", "lgtm_region": "eu-west-1",
            "lgtm_tenant": "bench-tenant", "lgtm_output_dir": os.path.join(workdir, "out"),
            "docker_lgtm_registry": "lgtm-local", "docker_lgtm_install_docker": False,
            "docker_lgtm_container_prefix": PREFIX, "docker_lgtm_network": PREFIX, "docker_lgtm_domain": "bench.example.com",
            "docker_lgtm_config_dir": os.path.join(workdir, "config"), "docker_lgtm_backup_dir": os.path.join(workdir, "backup"),
            "docker_lgtm_services": dict((name, {"enabled": name in ENABLED}) for name in SERVICES),
            "docker_lgtm_smtp": {"smarthost": "smtp-sink:25", "from": "alertmanager@bench.example.com",
                                 "to": ["oncall@bench.example.com"], "require_tls": False},
            "docker_lgtm_healthcheck": {"interval": "2s", "start_period": "10s"},
        }
        with open(self.inventory, "w") as f:
            json.dump({"all": {"children": {"lgtm_docker": {"hosts": {"localhost": {
                "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}, "vars": settings}}, f)

    def playbook(self, extra):
        path = os.path.join(self.workdir, "extra.json")
        with open(path, "w") as f:
            json.dump(extra, f)
        started = time.time()
        proc = subprocess.run([os.path.join(BIN_DIR, "ansible-playbook"), "playbooks/docker.yml", "-i", self.inventory,
                               "-e", "@" + path], cwd=REPO, capture_output=True, text=True, check=False)
        if proc.returncode:
            raise RuntimeError("ansible-playbook failed:\n%s\n%s" % (proc.stdout[-4000:], proc.stderr[-2000:]))
        return time.time() - started

    def up(self, timing):
        took = self.playbook({"docker_lgtm_prometheus": timing["prometheus"], "docker_lgtm_alertmanager": timing["alertmanager"]})
        subprocess.run([os.path.join(REPO, "scripts", "local-docker"), "smtp-sink", "start", PREFIX], env=self.sink_env,
                       check=True, capture_output=True)
        for name, port in (("prometheus", 9090), ("alertmanager", 9093)):
            address = docker("inspect", "-f", "{{(index .NetworkSettings.Networks \"%s\").IPAddress}}" % PREFIX, "%s-%s" % (PREFIX, name))
            self.urls[name] = "http://%s:%d" % (address, port)
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                health = self.health()
                if health.get("node") == "up" and health.get("pushgateway") == "up":
                    return took
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError("the targets did not come up: %s" % self.health())

    def down(self):
        subprocess.run([os.path.join(REPO, "scripts", "local-docker"), "smtp-sink", "stop"], env=self.sink_env, check=False,
                       capture_output=True)
        self.playbook({"docker_lgtm_state": "absent", "docker_lgtm_purge": True})

    def targets(self):
        return get(self.urls["prometheus"] + "/api/v1/targets?state=active")["data"]["activeTargets"]

    def health(self):
        return dict((t["labels"]["job"], t["health"]) for t in self.targets())

    def prometheus_alert(self):
        for alert in get(self.urls["prometheus"] + "/api/v1/alerts")["data"]["alerts"]:
            if alert["labels"].get("alertname") == "TargetDown" and alert["labels"].get("job") == "node":
                return alert
        return None

    def alertmanager_alert(self):
        query = urllib.parse.quote('alertname="TargetDown"')
        for alert in get(self.urls["alertmanager"] + "/api/v2/alerts?active=true&filter=" + query):
            if alert["labels"].get("job") == "node" and alert["status"]["state"] == "active":
                return alert
        return None

    def mails(self):
        path = os.path.join(self.mail_dir, "index.jsonl")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def wait_mail(self, state, after, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for mail in self.mails():
                if mail["received"] > after and mail["subject"].startswith("[%s" % state) and "TargetDown" in mail["subject"]:
                    return mail
            time.sleep(POLL)
        return None


def one_death(stack, timing, log):
    exporter = PREFIX + "-node-exporter"
    low, high = bound(timing)
    # A death at a random moment of the scrape and evaluation cycles (one run after another would otherwise
    # fall at about the same phase of them).
    time.sleep(random.uniform(0, seconds(timing["prometheus"]["scrape_interval"]) + seconds(timing["prometheus"]["evaluation_interval"])))
    killed_at = time.time()
    docker("kill", exporter)
    death = time.time()
    marks = {}
    deadline = death + high + 60
    while time.time() < deadline and "mail" not in marks:
        now = time.time()
        if "scrape" not in marks:
            node = next(t for t in stack.targets() if t["labels"]["job"] == "node")
            if node["health"] == "down" and rfc3339(node["lastScrape"]) >= killed_at:
                marks["scrape"] = rfc3339(node["lastScrape"])
        alert = stack.prometheus_alert()
        if alert and "pending" not in marks and alert["state"] in ("pending", "firing"):
            marks["pending"] = rfc3339(alert["activeAt"])
        if alert and alert["state"] == "firing" and "firing" not in marks:
            marks["firing"] = now
        if "alertmanager" not in marks and stack.alertmanager_alert():
            marks["alertmanager"] = now
        mail = next((m for m in stack.mails() if m["received"] > death and m["subject"].startswith("[FIRING")
                     and "TargetDown" in m["subject"]), None)
        if mail:
            marks["mail"] = mail["received"]
            marks["subject"] = mail["subject"]
        time.sleep(POLL)
    docker("start", exporter)
    started = time.time()
    row = dict((k, round(v - death, 2)) for k, v in marks.items() if k != "subject")
    row["subject"] = marks.get("subject")
    resolved = stack.wait_mail("RESOLVED", started, timeout=high + seconds(timing["alertmanager"]["group_interval"]) + 60)
    row["resolved_after_start"] = round(resolved["received"] - started, 2) if resolved else None
    log(json.dumps(row))
    # Alertmanager removes a group whose alerts all resolved at its next maintenance (every 30 s); a death before
    # that would join the old group and wait for its group_interval instead of group_wait.
    while time.time() - (resolved["received"] if resolved else started) < 32:
        time.sleep(0.5)
    deadline = time.time() + 60
    while stack.health().get("node") != "up" and time.time() < deadline:
        time.sleep(0.5)
    return row


def summary(rows, key):
    values = [r[key] for r in rows if r.get(key) is not None]
    if not values:
        return "-"
    return "%.1f (%.1f-%.1f)" % (statistics.median(values), min(values), max(values))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--timings", default="default,short", help="comma-separated: " + ", ".join(TIMINGS))
    parser.add_argument("--keep", action="store_true", help="leave the stack running")
    options = parser.parse_args()
    for needed in ("docker",):
        if not shutil.which(needed):
            sys.exit("needs %s (scripts/local-docker start; images)" % needed)
    subprocess.run([os.path.join(REPO, "scripts", "local-docker"), "images"], check=True, capture_output=True)
    workdir = tempfile.mkdtemp(prefix="bench-docker-alert-")
    os.chmod(workdir, 0o755)
    stack = Stack(workdir)
    results = {}
    with open(os.path.join(workdir, "log.jsonl"), "w") as logfile:
        def log(text):
            print(text, flush=True)
            logfile.write(text + "\n")
        try:
            for name in options.timings.split(","):
                timing = TIMINGS[name]
                took = stack.up(timing)
                log("# %s: %s; role run %.0f s" % (name, json.dumps(timing), took))
                results[name] = [one_death(stack, timing, log) for run in range(options.runs)]
        finally:
            if not options.keep:
                stack.down()
                shutil.rmtree(os.path.join(workdir, "config"), ignore_errors=True)
    model = platform.machine()
    with open("/proc/cpuinfo") as f:
        model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    print("\nmachine: %d cores, %s, Python %s" % (os.cpu_count(), model, platform.python_version()))
    for name, rows in results.items():
        low, high = bound(TIMINGS[name])
        print("\n%s timings %s; expected %g-%g s; %d deaths, median (min-max) seconds after death:"
              % (name, json.dumps(TIMINGS[name]), low, high, len(rows)))
        for key in ("scrape", "pending", "firing", "alertmanager", "mail", "resolved_after_start"):
            print("  %-22s %s" % (key, summary(rows, key)))
    if not options.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print("\nkept: the stack %s-* and %s (log.jsonl, mail/)" % (PREFIX, workdir))


if __name__ == "__main__":
    main()
