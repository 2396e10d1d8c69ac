"""Benchmark: seconds from a service's death to the Slack notification, with the generated ECS configs.

Run: .venv/bin/python bench/alert_latency.py [--fast]
Runs Debian's real Prometheus and Alertmanager on 127.0.0.1 with the files lgtm.aws.ecs_monitoring_files
renders (discovery pointed at a local target, Slack at a local stand-in). Default: the production settings
(scrape and evaluation every 15s, ServiceDown after 2m, group_wait 30s; the seed's bar is under 2 minutes
from death to notification... with a 2m `for`, the floor is 2m plus one scrape and one evaluation).
--fast: 1s intervals, 5s `for`, 1s group_wait (what the integration test uses).
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import conftest  # noqa: E402,F401 pylint: disable=unused-import,wrong-import-position

from test_ecs_config import SPEC, SlackStandIn, Target, local_stack, start  # noqa: E402 pylint: disable=wrong-import-position


def measure(spec, workdir):
    import json
    import pathlib
    import urllib.request
    target, slack = Target(), SlackStandIn()
    root, prom_port, am_port = local_stack(pathlib.Path(workdir), spec, target, slack)
    log = open(os.path.join(workdir, "servers.log"), "w")
    processes = [
        start(["prometheus-alertmanager", "--config.file", str(root / "alertmanager.yml"), "--storage.path", os.path.join(workdir, "am"),
               "--web.listen-address", "127.0.0.1:%d" % am_port, "--cluster.listen-address=", "--log.level=warn"], log),
        start(["prometheus", "--config.file", str(root / "prometheus.yml"), "--storage.tsdb.path", os.path.join(workdir, "tsdb"),
               "--web.listen-address", "127.0.0.1:%d" % prom_port, "--log.level=warn"], log),
    ]
    try:
        while True:
            try:
                up = json.load(urllib.request.urlopen("http://127.0.0.1:%d/api/v1/query?query=up" % prom_port, timeout=2))
                if up["data"]["result"] and up["data"]["result"][0]["value"][1] == "1":
                    break
            except OSError:
                pass
            time.sleep(0.5)
        target.stop()
        died = time.monotonic()
        while not slack.messages and time.monotonic() - died < 600:
            time.sleep(0.2)
        return slack.messages[0][0] - died if slack.messages else None
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)


def main():
    import tempfile
    parser = argparse.ArgumentParser()
    parser.add_argument("--fast", action="store_true")
    options = parser.parse_args()
    if options.fast:
        spec = dict(SPEC, scrape_interval="1s", evaluation_interval="1s", alertmanager_group_wait="1s", durations={"down": "5s"})
    else:
        spec = dict(SPEC)
    with tempfile.TemporaryDirectory() as workdir:
        seconds = measure(spec, workdir)
    label = "fast (1s intervals, for 5s)" if options.fast else "production (15s intervals, for 2m, group_wait 30s)"
    figure = "none within 600 s" if seconds is None else "{:.1f} s".format(seconds)
    print("%s: target death to Slack notification: %s" % (label, figure))


if __name__ == "__main__":
    main()
