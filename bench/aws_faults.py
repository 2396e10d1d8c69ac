"""Benchmark: AWS calls of the storage, identity and ECS plays, and their time with 20% of the calls throttled.

Run:
    .venv/bin/python bench/aws_faults.py [--rounds 1] [--throttle 0.2] [--tags storage,identity,ecs] [--json out/aws_faults.json]

One moto_server behind tests/aws_proxy.py. Each round runs, on a fresh account each time,
``site.yml -i inventories/local --tags storage,identity,ecs`` twice (a first run and a rerun) without faults, then
twice with ``--throttle`` of the calls throttled (the order of the two alternates between rounds; ``--throttle 0``: only
without faults). ``--tags`` chooses the plays (e.g. ``storage,identity,ecs,eks`` counts the EKS play's calls too). The proxy counts
the calls that reach the local AWS, reads and mutating calls, per capability (the role of the task that made them,
from tests/callback_plugins/aws_proxy_phases.py); the fixtures play of inventories/local is counted apart and never
faulted. Unlike the tests, the runs keep the real retry schedules (AWSRetry's and botocore's back-off sleeps).
Prints a Markdown table for docs/benchmarks.md.
"""

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BIN_DIR = os.path.dirname(sys.executable)
REGION = "ap-northeast-2"
sys.path.insert(0, os.path.join(REPO, "tests"))
from aws_proxy import Proxy, summarize  # noqa: E402  pylint: disable=wrong-import-position

FIXTURES = "Local AWS stand-in fixtures"


def start_moto(log):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    moto = shutil.which("moto_server", path=BIN_DIR) or shutil.which("moto_server")
    proc = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT,
                            env=dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true"))
    url = "http://127.0.0.1:%d" % port
    for _attempt in range(150):
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1)
            return proc, url
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("moto_server did not start")


TAGS = "storage,identity,ecs"
LOCK_PHASES = ("Run lock: take", "Run lock: release")


def run(proxy, moto_url, out_dir, faults, tags=TAGS):
    proxy.configure(**faults)
    proxy.stats.reset()
    env = dict(os.environ, AWS_ENDPOINT_URL=proxy.url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_SESSION_TOKEN="testing", AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION,
               ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), PATH=BIN_DIR + os.pathsep + os.environ.get("PATH", ""),
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
               ANSIBLE_CALLBACK_PLUGINS=os.path.join(REPO, "tests", "callback_plugins"), ANSIBLE_CALLBACKS_ENABLED="aws_proxy_phases")
    cmd = [os.path.join(BIN_DIR, "ansible-playbook"), os.path.join(REPO, "site.yml"), "-i", os.path.join(REPO, "inventories", "local"),
           "--tags", tags, "-e", "lgtm_output_dir=%s" % out_dir]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=3600)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit("run failed (rc=%d): %s" % (proc.returncode, proc.stdout[-3000:]))
    stats = json.loads(proc.stdout)["stats"]
    snapshot = proxy.stats.snapshot()
    return {"seconds": round(seconds, 1), "changed": sum(h.get("changed", 0) for h in stats.values()),
            "calls": summarize(snapshot), "mutations": [m for m in snapshot["mutations"] if m["phase"] not in LOCK_PHASES]}


def converge_twice(proxy, moto_url, faults, tags=TAGS):
    urllib.request.urlopen(urllib.request.Request(moto_url + "/moto-api/reset", method="POST"), timeout=10)
    out_dir = tempfile.mkdtemp(prefix="lgtm-bench-faults-")
    try:
        return run(proxy, moto_url, out_dir, faults, tags), run(proxy, moto_url, out_dir, faults, tags)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def table(results):
    lines = ["| run | faults | wall time | changed | reads | writes | faults answered |", "|---|---|---:|---:|---:|---:|---:|"]
    for mode, rounds in results.items():
        for index, (first, rerun) in enumerate(rounds, 1):
            for name, entry in (("first run", first), ("rerun", rerun)):
                calls = entry["calls"]
                fixture = calls["by_phase"].get(FIXTURES, {"reads": 0, "writes": 0})
                lines.append("| %s (round %d) | %s | %.0f s | %d | %d | %d | %d |" % (
                    name, index, mode, entry["seconds"], entry["changed"], calls["reads"] - fixture["reads"],
                    calls["writes"] - fixture["writes"], calls["faults"]))
    return "\n".join(lines)


def per_capability(first, rerun):
    lines = ["| capability | first run: reads | first run: writes | rerun: reads | rerun: writes |", "|---|---:|---:|---:|---:|"]
    phases = sorted(set(first["calls"]["by_phase"]) | set(rerun["calls"]["by_phase"]))
    for phase in phases:
        a = first["calls"]["by_phase"].get(phase, {"reads": 0, "writes": 0})
        b = rerun["calls"]["by_phase"].get(phase, {"reads": 0, "writes": 0})
        lines.append("| %s | %d | %d | %d | %d |" % (phase, a["reads"], a["writes"], b["reads"], b["writes"]))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--throttle", type=float, default=0.2)
    parser.add_argument("--tags", default=TAGS, help="site.yml --tags (default %(default)s)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    none = {"throttle": 0.0, "skip_phases": [FIXTURES]}
    throttled = {"throttle": args.throttle, "skip_phases": [FIXTURES], "seed": 16}
    label = "%d%% throttled" % round(args.throttle * 100)
    results = {"none": [], label: []} if args.throttle else {"none": []}
    with tempfile.TemporaryFile() as log:
        moto, moto_url = start_moto(log)
        proxy = Proxy(moto_url).start()
        try:
            for index in range(args.rounds):
                order = [("none", none), (label, throttled)] if args.throttle else [("none", none)]
                for mode, faults in (order if index % 2 == 0 else order[::-1]):
                    results[mode].append(converge_twice(proxy, moto_url, faults, args.tags))
                    first, rerun = results[mode][-1]
                    print("%s: first run %.0f s, rerun %.0f s (changed=%d, mutating calls %d, faults %d)" % (
                        mode, first["seconds"], rerun["seconds"], rerun["changed"], len(rerun["mutations"]), rerun["calls"]["faults"]), flush=True)
        finally:
            proxy.stop()
            moto.terminate()
            moto.wait(timeout=10)
    print("\nmachine: %d cores, %s, Python %s\n" % (os.cpu_count(), platform.processor() or platform.machine(), platform.python_version()))
    print(table(results))
    print()
    print(per_capability(*results["none"][0]))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
