# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small helpers shared by this collection's AWS modules."""


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
