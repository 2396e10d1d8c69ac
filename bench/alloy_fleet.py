"""Benchmark: converge Alloy on 1, 5, 10 and 20 podman systemd hosts, with lgtm.aws.alloy and with
grafana.grafana.alloy (bundled in the ansible package), from scratch and again with nothing to change.

Run: .venv/bin/python bench/alloy_fleet.py [--sizes 1,5,10,20] [--roles lgtm,grafana]
Both roles install the same stand-in alloy 1.16.0 package from scripts/local-fleet (lgtm.aws.alloy
through the signed APT repository, grafana.grafana.alloy from the .deb file its `deb:` install takes)
with the same configuration text. Hosts are created fresh (not timed) before each from-scratch run;
forks = number of hosts. Prints one line per run and writes bench/results/alloy_fleet.json.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(REPO, ".venv", "bin")
FLEET = os.path.join(REPO, "scripts", "local-fleet")
PODMAN = {"ansible_connection": "containers.podman.podman", "ansible_python_interpreter": "/usr/bin/python3"}
COMMON = {
    "alloy_mimir_url": "http://mimir.example.internal/api/v1/push",
    "alloy_loki_url": "http://loki.example.internal/loki/api/v1/push",
    "alloy_tempo_endpoint": "tempo.example.internal:4317",
}
LGTM_PLAY = [{"name": "lgtm.aws.alloy", "hosts": "bench", "gather_facts": True, "roles": ["lgtm.aws.alloy"]}]
# grafana.grafana.alloy gets the same configuration text the lgtm role renders for a host.
GRAFANA_PLAY = [
    {"name": "render with lgtm.aws", "hosts": "bench", "gather_facts": True, "tasks": [
        {"name": "Render", "ansible.builtin.include_role": {"name": "lgtm.aws.alloy", "tasks_from": "render.yml"}}]},
    {"name": "grafana.grafana.alloy", "hosts": "bench", "gather_facts": True, "roles": [{
        "role": "grafana.grafana.alloy", "alloy_version": "1.16.0",
        "alloy_download_url_deb": "/srv/lgtm-fleet/apt/pool/main/alloy_1.16.0_all.deb",
        "alloy_config": "{{ alloy_config_content }}", "alloy_user_groups": ["adm", "systemd-journal"]}]},
]


def hosts(size):
    return ["bench-alloy-%d" % number for number in range(1, size + 1)]


def fresh_fleet(names):
    subprocess.run([FLEET, "down"] + hosts(20), check=True, cwd=REPO)
    subprocess.run([FLEET, "up"] + names, check=True, cwd=REPO, capture_output=True)


def run(play, names, workdir):
    inventory = {"all": {"children": {"bench": {"hosts": dict.fromkeys(names), "vars": dict(PODMAN, **COMMON)}},
                         "vars": {"alloy_apt_repository_url": "file:/srv/lgtm-fleet/apt",
                                  "alloy_apt_key_url": "file:///srv/lgtm-fleet/apt/gpg.key"}}}
    inventory_path, play_path = os.path.join(workdir, "hosts.yml"), os.path.join(workdir, "play.yml")
    with open(inventory_path, "w") as handle:
        yaml.safe_dump(inventory, handle)
    with open(play_path, "w") as handle:
        yaml.safe_dump(play, handle, sort_keys=False)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_FORKS=str(len(names)),
               PATH=BIN + os.pathsep + os.environ["PATH"])
    start = time.monotonic()
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", inventory_path, play_path], cwd=REPO, env=env,
                          capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    recap = [line for line in proc.stdout.splitlines() if line.startswith("bench-alloy-")]
    changed = sum(int(line.split("changed=")[1].split()[0]) for line in recap)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:])
    return {"seconds": round(seconds, 1), "per_host": round(seconds / len(names), 2), "changed": changed, "rc": proc.returncode}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,5,10,20")
    parser.add_argument("--roles", default="lgtm,grafana")
    options = parser.parse_args()
    plays = {"lgtm": LGTM_PLAY, "grafana": GRAFANA_PLAY}
    results = []
    with tempfile.TemporaryDirectory() as workdir:
        for size in [int(s) for s in options.sizes.split(",")]:
            for role in options.roles.split(","):
                names = hosts(size)
                fresh_fleet(names)
                for phase in ("from scratch", "no change"):
                    result = dict(run(plays[role], names, workdir), role=role, hosts=size, phase=phase)
                    results.append(result)
                    print("%-8s %2d hosts  %-12s %7.1f s  %5.2f s/host  changed=%d rc=%d" % (
                        role, size, phase, result["seconds"], result["per_host"], result["changed"], result["rc"]), flush=True)
    subprocess.run([FLEET, "down"] + hosts(20), check=False, cwd=REPO)
    os.makedirs(os.path.join(REPO, "bench", "results"), exist_ok=True)
    with open(os.path.join(REPO, "bench", "results", "alloy_fleet.json"), "w") as handle:
        json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
