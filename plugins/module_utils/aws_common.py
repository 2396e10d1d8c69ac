# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small helpers shared by this collection's AWS modules."""

try:
    import botocore
    import botocore.config
except ImportError:
    pass  # AnsibleAWSModule reports the missing botocore

import functools

from ansible_collections.amazon.aws.plugins.module_utils.botocore import paginated_query_with_retries
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

# Error codes AWS answers when it throttles or fails for a moment, beyond those AWSRetry retries by itself
# (Throttling, RequestLimitExceeded, TooManyRequestsException, ServiceUnavailable, Unavailable, InternalError,
# InternalFailure): the JSON protocol's ThrottlingException, S3's SlowDown, Route 53's PriorRequestNotComplete,
# and an HTTP 500/502/503/504 without an error code (botocore names those by the status). docs/retries.md.
RETRY_CODES = ("ThrottlingException", "ThrottledException", "RequestThrottled", "RequestThrottledException", "SlowDown",
               "PriorRequestNotComplete", "500", "502", "503", "504")
# amazon.aws's jittered back-off: 10 attempts, each retry after a random wait of up to 3 s doubling per retry
# (3, 6, 12, ... capped at 60 s).
RETRIES, DELAY, BACKOFF, MAX_DELAY = 10, 3, 2.0, 60
# Appended to the User-Agent of this collection's AWS calls (CloudTrail's userAgent shows who called).
USER_AGENT = "lgtm.aws"


def retry_decorator(*extra_codes):
    """AWSRetry.jittered_backoff for RETRY_CODES and ``extra_codes`` (e.g. NoSuchEntity right after an IAM create)."""
    return AWSRetry.jittered_backoff(retries=RETRIES, delay=DELAY, backoff=BACKOFF, max_delay=MAX_DELAY,
                                     catch_extra_error_codes=list(RETRY_CODES + extra_codes))


class RetryingClient:
    """A boto3 client of which every call retries with ``retry_decorator`` (amazon.aws's wrapper, aws_retry=True),
    and ``paginate(operation, **params)`` returns the full result of a paginated call, retried as a whole."""

    def __init__(self, module, service, *extra_codes):
        self.decorator = retry_decorator(*extra_codes)
        self.wrapped = module.client(service, retry_decorator=self.decorator, config=botocore.config.Config(user_agent_extra=USER_AGENT))

    def __getattr__(self, name):
        attribute = getattr(self.wrapped, name)
        if name in ("get_paginator", "can_paginate", "get_waiter", "generate_presigned_url") or not callable(attribute):
            return attribute
        return functools.partial(attribute, aws_retry=True)

    def paginate(self, operation, **params):
        return paginated_query_with_retries(self.wrapped, operation, retry_decorator=self.decorator, **params)


def error_code(error):
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    return getattr(error, "response", {}).get("Error", {}).get("Code", "")


def tag_list(tags):
    """A tag mapping as the AWS APIs take it: [{"Key": k, "Value": v}], sorted by key."""
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def sync_tags(current, desired, untag, tag):
    """Make ``current`` tags equal ``desired``: ``untag(keys)`` removes, ``tag(tag_list)`` adds or updates."""
    stale = [k for k in current if k not in desired]
    if stale:
        untag(stale)
    if desired and desired != current:
        tag(tag_list(desired))


def converge(module, service, problems, action, what, value_errors=False):
    """The shape of every batch module's run: fail naming every problem of the input before any AWS call, else
    ``action(client)`` -> ``(changed, diffs, result)`` with a retrying client, and exit with the diff.
    With ``value_errors``, a ValueError the action raises (a plan it refuses) fails the run as a problem too."""
    if problems:
        module.fail_json(msg="Nothing was changed: " + "; ".join(problems))
    client = RetryingClient(module, service)
    try:
        changed, diffs, result = action(client)
    except ValueError as error:
        if not value_errors:
            raise
        module.fail_json(msg="Nothing was changed: %s" % error)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg=what)
    module.exit_json(changed=changed, diff=diffs, **result)
