"""Benchmark: a no-change run of the ECS part (``site.yml --tags ecs`` on a converged account), two code bases
side by side.

Run:
    git worktree add /tmp/ecs-old 2e96f72        # the code to compare with (once)
    .venv/bin/python bench/ecs_nochange.py [--old /tmp/ecs-old] [--new .] [--runs 5] [--profile] [--only old|new]

Each code base gets its own moto_server (the same moto build, one account each, so the two never change each
other's resources) and runs its own ``site.yml`` with its own ``inventories/local``: it converges once
(``--tags storage,identity,ecs``), a second run must report changed=0, then the timed no-change runs of
``--tags ecs`` alternate between the code bases. Prints every run's wall time and the median of each, and the
machine (nproc, CPU model). ``--profile`` adds the slowest tasks of each code base's last run
(ansible.posix.profile_tasks).

What is timed is the ECS part as it runs on a real account: ``inventories/local`` registers its stand-in fixtures
(VPC, subnets, certificate, secrets) in a play of its own on every run, which a real account's inventory does not
have; the timed runs skip it (``-e lgtm_local_aws=false``) and are handed the fixtures it registered, read back from
moto, as ``lgtm_local_fixtures``. ``--with-local-fixtures`` times the runs with that play included.
"""

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BIN_DIR = os.path.dirname(sys.executable)
REGION = "ap-northeast-2"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_moto(log_dir, label):
    port = free_port()
    env = dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true")
    log = open(os.path.join(log_dir, "moto-%s.log" % label), "w")  # pylint: disable=consider-using-with
    moto = shutil.which("moto_server", path=BIN_DIR) or "moto_server"
    proc = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env)  # pylint: disable=consider-using-with
    url = "http://127.0.0.1:%d" % port
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1)
            return proc, url
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("moto_server did not answer at %s" % url)


class Tree(object):
    """One code base: its directory (with .collections linking it as lgtm.aws), its moto and output directory."""

    def __init__(self, label, path, work):
        self.label, self.path = label, os.path.abspath(path)
        self.out = os.path.join(work, label)
        os.makedirs(self.out)
        self.moto, self.url = start_moto(work, label)
        self.times = []
        self.last = ""
        self.extra = []

    def env(self, profile):
        env = dict(os.environ, AWS_ENDPOINT_URL=self.url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                   AWS_SESSION_TOKEN="testing", AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION,
                   ANSIBLE_CONFIG=os.path.join(self.path, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   PATH=BIN_DIR + os.pathsep + os.environ.get("PATH", ""))
        if profile:
            env["ANSIBLE_CALLBACKS_ENABLED"] = "ansible.posix.profile_tasks"
            env["PROFILE_TASKS_TASK_OUTPUT_LIMIT"] = "all"
        return env

    def fixtures(self):
        """lgtm_local_fixtures as the local stand-in play notes them, read back from this code base's moto."""
        def client(service):
            return boto3.client(service, region_name=REGION, endpoint_url=self.url, aws_access_key_id="testing",
                                aws_secret_access_key="testing", aws_session_token="testing")
        [vpc] = [v["VpcId"] for v in client("ec2").describe_vpcs()["Vpcs"] if not v.get("IsDefault")]
        subnets = sorted(client("ec2").describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"],
                         key=lambda subnet: tuple(int(part) for part in subnet["CidrBlock"].split("/")[0].split(".")))
        [certificate] = client("acm").list_certificates()["CertificateSummaryList"]
        secrets = {s["Name"].rsplit("/", 1)[1]: s["ARN"] for s in client("secretsmanager").list_secrets()["SecretList"]}
        path = os.path.join(self.out, "..", "fixtures-%s.json" % self.label)
        with open(path, "w") as handle:
            json.dump({"lgtm_local_aws": False, "lgtm_local_fixtures": {
                "vpc_id": vpc, "subnets": [subnet["SubnetId"] for subnet in subnets],
                "certificate_arn": certificate["CertificateArn"], "secrets": secrets}}, handle)
        return os.path.abspath(path)

    def playbook(self, tags, profile=False, extra=()):
        cmd = [os.path.join(BIN_DIR, "ansible-playbook"), "site.yml", "-i", "inventories/local", "--tags", tags,
               "-e", "lgtm_output_dir=%s" % self.out] + list(extra)
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=self.path, env=self.env(profile), capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError("%s: %s failed:\n%s" % (self.label, " ".join(cmd), proc.stdout[-4000:] + proc.stderr[-2000:]))
        self.last = proc.stdout
        return elapsed, changed(proc.stdout)

    def stop(self):
        self.moto.terminate()
        self.moto.wait(timeout=10)


def changed(stdout):
    return sum(int(n) for n in re.findall(r"\bchanged=(\d+)", stdout))


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return "nproc %d, CPU %s" % (os.cpu_count(), model)


def slowest(stdout, count=15):
    lines = [line for line in stdout.splitlines() if re.search(r"-{3,} \d+\.\d+s$", line)]
    return lines[:count]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--old", default="/tmp/ecs-old", help="the code base to compare with (a git worktree)")
    parser.add_argument("--new", default=REPO, help="this code base")
    parser.add_argument("--runs", type=int, default=5, help="timed no-change runs per code base")
    parser.add_argument("--profile", action="store_true", help="print the slowest tasks of each code base's last run")
    parser.add_argument("--only", choices=["old", "new"], help="time one code base only (to profile it)")
    parser.add_argument("--with-local-fixtures", action="store_true", help="time the runs with the local stand-in's fixture play")
    args = parser.parse_args()
    for path in (args.old, args.new):
        if not os.path.isdir(os.path.join(path, ".collections", "ansible_collections", "lgtm", "aws")):
            parser.error("%s needs .collections/ansible_collections/lgtm/aws linking it (ln -s ../../.. there)" % path)

    work = tempfile.mkdtemp(prefix="ecs-nochange-")
    trees = []
    try:
        trees = [Tree(label, path, work) for label, path in (("old", args.old), ("new", args.new)) if args.only in (None, label)]
        for tree in trees:
            seconds = tree.playbook("storage,identity,ecs")[0]
            print("%s: converged in %.1f s" % (tree.label, seconds), flush=True)
            seconds, count = tree.playbook("storage,identity,ecs")
            if count:
                raise RuntimeError("%s: the second run changed %d task(s):\n%s" % (tree.label, count, tree.last[-4000:]))
            tree.extra = [] if args.with_local_fixtures else ["-e", "@" + tree.fixtures()]
        for run in range(args.runs):
            for tree in trees:
                seconds, count = tree.playbook("ecs", profile=args.profile and run == args.runs - 1, extra=tree.extra)
                if count:
                    raise RuntimeError("%s: a no-change run changed %d task(s):\n%s" % (tree.label, count, tree.last[-4000:]))
                tree.times.append(seconds)
                print("run %d %s: %.1f s" % (run + 1, tree.label, seconds), flush=True)
        medians = [statistics.median(tree.times) for tree in trees]
        print()
        print("command: ansible-playbook site.yml -i inventories/local --tags ecs%s (converged account, changed=0)"
              % ("" if args.with_local_fixtures else " -e lgtm_local_aws=false -e lgtm_local_fixtures=<read back from moto>"))
        print("machine: %s" % machine())
        for tree in trees:
            runs = " ".join("%.1f" % t for t in tree.times)
            print("%-4s %-40s median %6.1f s  runs %s" % (tree.label, tree.path, statistics.median(tree.times), runs))
        if len(medians) == 2:
            print("speed-up: %.1fx" % (medians[0] / medians[1]))
        if args.profile:
            for tree in trees:
                print("\nslowest tasks, %s:" % tree.label)
                print("\n".join(slowest(tree.last)))
    finally:
        for tree in trees:
            tree.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
