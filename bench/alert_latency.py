"""Benchmark: seconds from a service's death to the Slack notification, with the generated ECS configs.

Run: .venv/bin/python bench/alert_latency.py [--fast | --two-minute-rule]
Runs Debian's real Prometheus and Alertmanager on 127.0.0.1 with the files lgtm.aws.ecs_monitoring_files
renders (discovery pointed at a local target, Slack at a local stand-in). Default: the spec's defaults
(scrape and evaluation every 15s, ServiceDown after 1m, group_wait 10s); the example deployment's bar is under
2 minutes from death to notification.
--two-minute-rule: a ServiceDown `for: 2m`, as the example deployment's design wrote it (its floor is 2m plus a
scrape and an evaluation).
--fast: 1s intervals, 5s `for`, 1s group_wait (what the integration test uses).
"""

import argparse
import os
import pathlib
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import conftest  # noqa: E402,F401 pylint: disable=unused-import,wrong-import-position

from test_ecs_config import SPEC, death_to_notification  # noqa: E402 pylint: disable=wrong-import-position


def main():
    parser = argparse.ArgumentParser()
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--fast", action="store_true")
    choice.add_argument("--two-minute-rule", action="store_true")
    options = parser.parse_args()
    if options.fast:
        spec = dict(SPEC, scrape_interval="1s", evaluation_interval="1s", alertmanager_group_wait="1s", durations={"down": "5s"})
        label = "fast (1s intervals, for 5s, group_wait 1s)"
    elif options.two_minute_rule:
        spec = dict(SPEC, durations={"down": "2m"})
        label = "two-minute rule (15s intervals, for 2m, group_wait 10s)"
    else:
        spec = dict(SPEC)
        label = "defaults (15s intervals, for 1m, group_wait 10s)"
    with tempfile.TemporaryDirectory() as workdir:
        seconds = death_to_notification(spec, pathlib.Path(workdir), timeout=600)[0]
    figure = "none within 600 s" if seconds is None else "{:.1f} s".format(seconds)
    print("%s: target death to Slack notification: %s" % (label, figure))


if __name__ == "__main__":
    main()
