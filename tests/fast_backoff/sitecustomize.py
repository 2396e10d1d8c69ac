"""Test-only: shorten the retry back-off sleeps of amazon.aws's AWSRetry and of botocore (by LGTM_TEST_BACKOFF_SCALE,
default 0.05).

tests/integration/test_aws_faults.py puts this directory on PYTHONPATH of its ansible-playbook runs, so the modules'
retries keep their real schedule shape (jittered, doubling, capped) while a run with 20% of calls throttled does
not spend minutes asleep. Only sleeps called from amazon.aws's module_utils/cloud.py (the AWSRetry loop) and
botocore/endpoint.py (botocore's own retries) change; bench/aws_faults.py measures with the real schedules.
"""

import os
import sys
import time

_SCALE = float(os.environ.get("LGTM_TEST_BACKOFF_SCALE", "0.05"))
_SLEEP = time.sleep


def _sleep(seconds):
    caller = sys._getframe(1).f_code.co_filename.replace(os.sep, "/")  # pylint: disable=protected-access
    if caller.endswith(("amazon/aws/plugins/module_utils/cloud.py", "botocore/endpoint.py")):
        seconds *= _SCALE
    _SLEEP(seconds)


time.sleep = _sleep
