"""Benchmark: how long lgtm.aws checks and writes Alloy configurations of growing size.

Run: .venv/bin/python bench/alloy_check.py
Prints, per size, the median of 5 runs of check (parse + duplicate + reference checks) and of write.
"""

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import conftest  # noqa: E402,F401 pylint: disable=unused-import,wrong-import-position

from ansible_collections.lgtm.aws.plugins.module_utils import alloy_syntax  # noqa: E402 pylint: disable=wrong-import-position

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "unit", "fixtures", "alloy", "linux_agent.alloy")


def config_of(lines):
    """Copies of the Linux agent fixture with labels made unique, up to about ``lines`` lines."""
    with open(FIXTURE) as handle:
        base = handle.read()
    blocks = alloy_syntax.parse(base)
    copies, out = 0, []
    while sum(text.count("\n") for text in out) < lines:
        for block in blocks:
            block = dict(block)
            if "label" in block:
                block["label"] = "%s_%d" % (block["label"], copies)
            out.append(alloy_syntax.write_block(block))
        copies += 1
    return "\n".join(out)


def median_seconds(function, *args):
    runs = []
    for _run in range(5):
        start = time.perf_counter()
        function(*args)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main():
    print("%8s %8s %12s %12s" % ("lines", "blocks", "check ms", "write ms"))
    for lines in (200, 2000, 20000):
        text = config_of(lines)
        blocks = alloy_syntax.parse(text)
        check_ms = median_seconds(alloy_syntax.check, text) * 1000
        write_ms = median_seconds(alloy_syntax.write, blocks) * 1000
        print("%8d %8d %12.1f %12.1f" % (text.count("\n"), len(blocks), check_ms, write_ms))


if __name__ == "__main__":
    main()
