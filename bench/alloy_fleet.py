"""Benchmark: Alloy on 1, 5, 10 and 20 local fleet hosts over SSH and over podman exec, with lgtm.aws.alloy and
with grafana.grafana.alloy (bundled in the ansible package), from scratch and again with nothing to change, next
to one `ansible -m ping` over the same hosts and connection; with the control node's CPU time and peak memory.

Run: .venv/bin/python bench/alloy_fleet.py [--sizes 1,5,10,20] [--connections ssh,podman] [--roles lgtm,grafana]
     [--phases scratch,nochange] [--forks N] [--strategy linear|free] [--serial N] [--lgtm-play role|playbook]

Hosts are containers of scripts/local-fleet (its image, repository and SSH set-up; LGTM_FLEET_IMAGE,
LGTM_FLEET_DIR and the other variables it reads apply), named <prefix>-1..N, created fresh (not timed) before
each role's "from scratch" run and removed at the end. Both roles install the same stand-in alloy 1.18.1 package
with the same configuration text: lgtm.aws.alloy through the signed local APT repository, grafana.grafana.alloy
from the .deb its `deb:` install takes, with the configuration lgtm.aws.alloy renders for the host (rendered
before the timed runs, not timed).

Every timed run starts without SSH connections (a control directory of its own; `--warm` shares one per size and
connection, as consecutive runs within ControlPersist would). What is measured on the control node:
- wall time;
- CPU seconds (user + system) of ansible and everything it starts and waits for (workers, ssh or podman
  clients), plus the SSH master connections ControlPersist leaves in the background (read from /proc before
  they are closed); with podman, the container-side helpers podman starts are not counted;
- peak memory: the largest sum, sampled every --sample seconds, of the proportional set size (PSS: shared pages
  split among the processes sharing them, so forked workers are not counted many times) of those processes.
Prints a table and writes bench/results/alloy_fleet.json (--out).
"""

import argparse
import json
import os
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(REPO, ".venv", "bin")
FLEET = os.path.join(REPO, "scripts", "local-fleet")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
VERSION = "1.18.1"
COMMON = {
    "ansible_python_interpreter": "/usr/bin/python3",
    "alloy_mimir_url": "http://mimir.example.internal/api/v1/push",
    "alloy_loki_url": "http://loki.example.internal/loki/api/v1/push",
    "alloy_tempo_endpoint": "tempo.example.internal:4317",
    "alloy_apt_repository_url": "file:/srv/lgtm-fleet/apt",
    "alloy_apt_key_url": "file:///srv/lgtm-fleet/apt/gpg.key",
    # Both roles install this version of the stand-in package (the default pin of lgtm.aws.alloy).
    "alloy_version": VERSION,
}
ROLE_NAMES = {"lgtm": "lgtm.aws.alloy", "grafana": "grafana.grafana.alloy"}
PHASES = {"scratch": "from scratch", "nochange": "no change"}


def lgtm_play(options):
    if options.lgtm_play == "playbook":
        return None  # playbooks/alloy.yml itself
    # The role finds what it needs about the host inside its one module call: no fact gathering.
    return [{"name": "lgtm.aws.alloy", "hosts": "bench", "gather_facts": False, "roles": ["lgtm.aws.alloy"]}]


def render_play(config_dir):
    """Not timed: the configuration text lgtm.aws.alloy renders for each host, for grafana.grafana.alloy."""
    return [{"name": "render with lgtm.aws.alloy", "hosts": "bench", "gather_facts": False, "tasks": [
        {"name": "Render", "ansible.builtin.include_role": {"name": "lgtm.aws.alloy", "tasks_from": "render.yml"}},
        {"name": "Keep", "ansible.builtin.copy": {"content": "{{ alloy_rendered.config }}", "mode": "0644",
                                                  "dest": config_dir + "/{{ inventory_hostname }}.alloy"},
         "delegate_to": "localhost"}]}]


def grafana_play(config_dir):
    return [{"name": "grafana.grafana.alloy", "hosts": "bench", "gather_facts": True, "roles": [{
        "role": "grafana.grafana.alloy", "alloy_version": VERSION,
        "alloy_download_url_deb": "/srv/lgtm-fleet/apt/pool/main/alloy_%s_all.deb" % VERSION,
        "alloy_config": "{{ lookup('ansible.builtin.file', '%s/' ~ inventory_hostname ~ '.alloy') }}" % config_dir,
        "alloy_user_groups": ["adm", "systemd-journal"]}]}]


def fleet(*args, check=True):
    return subprocess.run([FLEET] + list(args), check=check, cwd=REPO, capture_output=True, text=True)


class Bench:
    def __init__(self, options, workdir):
        self.options = options
        self.workdir = workdir
        self.ssh_config = fleet("ssh-config").stdout.strip()
        self.control_dir = None
        self.master_cpu = {}  # SSH master PID: CPU seconds already counted
        self.dirty = True  # the hosts ran a role since they were created

    def hosts(self, size):
        return ["%s-%d" % (self.options.prefix, number) for number in range(1, size + 1)]

    def fresh_fleet(self, names):
        fleet("down", *self.hosts(max(self.options.sizes)))
        proc = fleet("up", *names, check=False)
        if proc.returncode != 0:
            sys.exit("scripts/local-fleet up failed:\n" + proc.stderr)
        self.dirty = False

    def inventory(self, names, connection):
        if connection == "ssh":
            reach = {"ansible_connection": "ansible.builtin.ssh", "ansible_ssh_common_args": "-F " + shlex.quote(self.ssh_config)}
        else:
            reach = {"ansible_connection": "containers.podman.podman"}
        data = {"all": {"children": {
            "bench": {"hosts": dict.fromkeys(names), "vars": dict(reach, **COMMON)},
            # playbooks/alloy.yml looks at these groups.
            "alloy_linux": {"hosts": dict.fromkeys(names)}, "alloy_windows": {"hosts": {}}, "alloy_collectors": {"hosts": {}},
        }}}
        path = os.path.join(self.workdir, "hosts-%s.yml" % connection)
        with open(path, "w") as handle:
            yaml.safe_dump(data, handle, sort_keys=False)
        return path

    def new_control_dir(self):
        # Short: ssh's socket paths must stay under 108 characters.
        self.control_dir = tempfile.mkdtemp(prefix="cp", dir="/tmp")

    def masters(self):
        """The PIDs of the SSH masters (ControlPersist) of the current control directory."""
        pids = []
        for name in sorted(os.listdir(self.control_dir)) if self.control_dir else []:
            check = subprocess.run(["ssh", "-o", "ControlPath=" + os.path.join(self.control_dir, name), "-O", "check", "x"],
                                   capture_output=True, text=True, check=False)
            match = re.search(r"pid=(\d+)", check.stderr)
            if match:
                pids.append(int(match.group(1)))
        return pids

    def close_connections(self):
        for name in sorted(os.listdir(self.control_dir)) if self.control_dir else []:
            subprocess.run(["ssh", "-o", "ControlPath=" + os.path.join(self.control_dir, name), "-O", "exit", "x"],
                           capture_output=True, check=False)
        if self.control_dir:
            shutil.rmtree(self.control_dir, ignore_errors=True)
        self.control_dir = None
        self.master_cpu = {}

    def timed(self, argv, names, connection):
        """Run one ansible command; wall seconds, control-node CPU seconds, peak PSS in MiB, rc, output."""
        if not self.options.warm or self.control_dir is None:
            self.new_control_dir()
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_FORKS=str(self.options.forks or len(names)),
                   ANSIBLE_SSH_CONTROL_PATH_DIR=self.control_dir, ANSIBLE_NOCOLOR="1",
                   PATH=BIN + os.pathsep + os.environ["PATH"])
        if self.options.strategy:
            env["ANSIBLE_STRATEGY"] = self.options.strategy
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        sampler = MemorySampler(proc.pid, self.control_dir, self.options.sample)
        sampler.start()
        output = proc.communicate()[0]
        seconds = time.monotonic() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        sampler.stop()
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        # The SSH masters run in the background, outside what getrusage sees: their CPU since the last look.
        for pid in self.masters():
            now = process_cpu(pid)
            cpu += now - self.master_cpu.get(pid, 0.0)
            self.master_cpu[pid] = now
        if not self.options.warm:
            self.close_connections()
        return {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "peak_mib": round(sampler.peak / 1024.0, 1),
                "rc": proc.returncode}, output

    def ping(self, names, connection, inventory):
        runs = []
        for _run in range(self.options.ping_runs):
            result, output = self.timed([os.path.join(BIN, "ansible"), "bench", "-i", inventory, "-m", "ansible.builtin.ping"],
                                        names, connection)
            if result["rc"] != 0:
                sys.stderr.write(output[-3000:])
            runs.append(result)
        middle = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
        return dict(middle, runs=[r["seconds"] for r in runs], changed=0)

    def playbook(self, play, names, connection, inventory, extra=()):
        if play is None:
            play_path = os.path.join(REPO, "playbooks", "alloy.yml")
            extra = ("-e", "alloy_target_hosts=bench", "-e", "lgtm_output_dir=" + os.path.join(self.workdir, "out")) + tuple(extra)
        else:
            if self.options.serial:
                play = [dict(p, serial=self.options.serial) for p in play]
            play_path = os.path.join(self.workdir, "play.yml")
            with open(play_path, "w") as handle:
                yaml.safe_dump(play, handle, sort_keys=False)
        if self.options.lgtm_play == "playbook" and self.options.serial:
            extra = tuple(extra) + ("-e", "alloy_batch_size=%s" % self.options.serial)
        result, output = self.timed([os.path.join(BIN, "ansible-playbook"), "-i", inventory, play_path] + list(extra), names, connection)
        recap = [line for line in output.splitlines() if re.match(r"^%s-\d+\s+:" % re.escape(self.options.prefix), line)]
        result["changed"] = sum(int(line.split("changed=")[1].split()[0]) for line in recap)
        self.dirty = True
        if result["rc"] != 0:
            sys.stderr.write(output[-4000:])
        return result

    def render(self, names, inventory):
        config_dir = os.path.join(self.workdir, "config")
        os.makedirs(config_dir, exist_ok=True)
        play_path = os.path.join(self.workdir, "render.yml")
        with open(play_path, "w") as handle:
            yaml.safe_dump(render_play(config_dir), handle, sort_keys=False)
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), PATH=BIN + os.pathsep + os.environ["PATH"])
        proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", inventory, play_path], cwd=REPO, env=env,
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            sys.exit("rendering the configuration for grafana.grafana.alloy failed:\n" + proc.stdout[-3000:])
        return config_dir


def process_cpu(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class MemorySampler(threading.Thread):
    """Peak sum of PSS (KiB) over a process tree and the SSH masters of a control directory."""

    def __init__(self, root, control_dir, interval):
        super().__init__(daemon=True)
        self.root, self.control_dir, self.interval = root, control_dir, interval
        self.peak, self.masters = 0, set()
        self._done = threading.Event()

    def stop(self):
        self._done.set()
        self.join()

    def run(self):
        while not self._done.is_set():
            self.sample()
            self._done.wait(self.interval)

    def sample(self):
        parents, commands = {}, {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry) as handle:
                    head, tail = handle.read().rsplit(")", 1)
            except OSError:
                continue
            parents[int(entry)] = int(tail.split()[1])
            commands[int(entry)] = head.split("(", 1)[1]
        tree, changed = {self.root}, True
        while changed:
            grown = {pid for pid, parent in parents.items() if parent in tree} - tree
            tree |= grown
            changed = bool(grown)
        for pid, command in commands.items():
            if command == "ssh" and pid not in tree and self.control_dir and self._is_master(pid):
                self.masters.add(pid)
        total = sum(pss(pid) for pid in tree | self.masters)
        self.peak = max(self.peak, total)

    def _is_master(self, pid):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as handle:
                return self.control_dir.encode() in handle.read()
        except OSError:
            return False


def pss(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def table(results):
    lines = ["| hosts | connection | what | phase | wall | per host | vs ping | changed | CPU s | CPU s/host | peak MiB | MiB/host | rc |",
             "|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    pings = {(r["hosts"], r["connection"]): r["seconds"] for r in results if r["what"] == "ping"}
    for r in results:
        ping = pings.get((r["hosts"], r["connection"]))
        ratio = "%.1f×" % (r["seconds"] / ping) if ping and r["what"] != "ping" else ""
        lines.append("| %d | %s | %s | %s | %.1f s | %.2f s | %s | %s | %.1f | %.2f | %.0f | %.1f | %d |" % (
            r["hosts"], r["connection"], r["what"], r["phase"], r["seconds"], r["seconds"] / r["hosts"], ratio, r["changed"],
            r["cpu_seconds"], r["cpu_seconds"] / r["hosts"], r["peak_mib"], r["peak_mib"] / r["hosts"], r["rc"]))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--sizes", default="1,5,10,20", type=lambda s: [int(n) for n in s.split(",")])
    parser.add_argument("--connections", default="ssh,podman", type=lambda s: s.split(","))
    parser.add_argument("--roles", default="lgtm,grafana", type=lambda s: s.split(","), help="lgtm, grafana, or none (ping only)")
    parser.add_argument("--phases", default="scratch,nochange", type=lambda s: s.split(","))
    parser.add_argument("--forks", type=int, default=0, help="default: as many as hosts")
    parser.add_argument("--strategy", choices=["linear", "free"], help="default: ansible.cfg's (linear)")
    parser.add_argument("--serial", help="the play's batch size (lgtm play=playbook: alloy_batch_size)")
    parser.add_argument("--lgtm-play", choices=["role", "playbook"], default="role",
                        help="role: the role in a play of its own (default); playbook: playbooks/alloy.yml")
    parser.add_argument("--ping-runs", type=int, default=3, help="ping runs per size and connection (the median is kept)")
    parser.add_argument("--warm", action="store_true", help="keep SSH connections between the runs of a size and connection")
    parser.add_argument("--sample", type=float, default=0.5, help="memory sampling interval, seconds")
    parser.add_argument("--prefix", default="bench-alloy", help="host names: PREFIX-1..N")
    parser.add_argument("--keep", action="store_true", help="leave the hosts of the last run")
    parser.add_argument("--out", default=os.path.join(REPO, "bench", "results", "alloy_fleet.json"))
    options = parser.parse_args()
    unknown = set(options.roles) - set(ROLE_NAMES) - {"none"} or set(options.phases) - set(PHASES) \
        or set(options.connections) - {"ssh", "podman"}
    if unknown:
        parser.error("unknown: %s" % ", ".join(sorted(unknown)))

    results = []
    settings = {"forks": options.forks or "hosts", "strategy": options.strategy or "linear", "serial": options.serial,
                "warm": options.warm, "lgtm_play": options.lgtm_play, "nproc": os.cpu_count(), "date": time.strftime("%Y-%m-%d")}
    print("settings: %s" % json.dumps(settings), flush=True)

    def record(result, **labels):
        result.update(labels)
        results.append(result)
        print("%2d hosts %-6s %-22s %-12s %7.1f s  CPU %6.1f s  peak %5.0f MiB  changed=%d rc=%d" % (
            result["hosts"], result["connection"], result["what"], result["phase"], result["seconds"],
            result["cpu_seconds"], result["peak_mib"], result["changed"], result["rc"]), flush=True)

    with tempfile.TemporaryDirectory() as workdir:
        bench = Bench(options, workdir)
        try:
            for size in options.sizes:
                names = bench.hosts(size)
                for connection in options.connections:
                    inventory = bench.inventory(names, connection)
                    bench.fresh_fleet(names)
                    record(bench.ping(names, connection, inventory), hosts=size, connection=connection, what="ping", phase="")
                    for role in [r for r in options.roles if r != "none"]:
                        if role == "grafana":
                            play = grafana_play(bench.render(names, inventory))
                        else:
                            play = lgtm_play(options)
                        for phase in options.phases:
                            if phase == "scratch" and bench.dirty:
                                bench.close_connections()
                                bench.fresh_fleet(names)
                            record(bench.playbook(play, names, connection, inventory), hosts=size, connection=connection,
                                   what=ROLE_NAMES[role], phase=PHASES[phase])
                    bench.close_connections()
        finally:
            bench.close_connections()
            if not options.keep:
                fleet("down", *bench.hosts(max(options.sizes)), check=False)
    print()
    print(table(results))
    os.makedirs(os.path.dirname(os.path.abspath(options.out)), exist_ok=True)
    with open(options.out, "w") as handle:
        json.dump({"settings": settings, "results": results}, handle, indent=2)


if __name__ == "__main__":
    main()
