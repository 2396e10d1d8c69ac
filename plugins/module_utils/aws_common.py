# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small helpers shared by this collection's AWS modules."""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing botocore

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


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
    client = module.client(service, retry_decorator=AWSRetry.jittered_backoff())
    try:
        changed, diffs, result = action(client)
    except ValueError as error:
        if not value_errors:
            raise
        module.fail_json(msg="Nothing was changed: %s" % error)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg=what)
    module.exit_json(changed=changed, diff=diffs, **result)
