#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: log_groups
short_description: Many CloudWatch Logs log groups with retention and tags in one idempotent call
version_added: 0.3.0
description:
  - Makes the listed CloudWatch Logs log groups exist with the given retention and tags, or makes them absent.
  - Reads them with one paginated C(DescribeLogGroups) under their common prefix and changes only what differs.
  - Log groups not listed are left alone.
author:
  - lgtm.aws maintainers (@lgtm-aws)
options:
  names:
    description: Names of the log groups, such as C(/ecs/acme-prod/grafana).
    type: list
    elements: str
    required: true
  retention:
    description:
      - Days the events are kept; one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150,
        180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653).
      - When not given, existing groups keep theirs and new ones keep events forever.
    type: int
  tags:
    description: Tags on every listed group. When not given, the groups' tags are left as they are.
    type: dict
  purge_tags:
    description: Remove tags not in O(tags). Only with O(tags).
    type: bool
    default: true
  state:
    description: Whether the listed log groups should exist. Deleting a group deletes its events.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Supports check mode and diff mode.
"""

EXAMPLES = r"""
- name: One log group per task, kept 30 days
  lgtm.aws.log_groups:
    names: [/ecs/acme-prod/prometheus, /ecs/acme-prod/grafana]
    retention: 30
    tags:
      Project: lgtm

- name: Remove them with their events
  lgtm.aws.log_groups:
    names: [/ecs/acme-prod/prometheus, /ecs/acme-prod/grafana]
    state: absent
"""

RETURN = r"""
created:
  description: Names of the log groups created (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [/ecs/acme-prod/grafana]
updated:
  description: Names of the log groups whose retention or tags changed (or would).
  returned: always
  type: list
  elements: str
  sample: []
deleted:
  description: Names of the log groups deleted (or that would be).
  returned: always
  type: list
  elements: str
  sample: []
log_groups:
  description: Name to C(arn) (without the trailing C(:*)) and C(retention) of each listed group that exists or would.
  returned: always
  type: dict
  sample: {/ecs/acme-prod/grafana: {arn: "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/acme-prod/grafana", retention: 30}}
"""

import os.path
import re

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags
from ansible_collections.lgtm.aws.plugins.module_utils.aws_common import converge

RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
NAME = re.compile(r"^[.\-_/#A-Za-z0-9]{1,512}$")


def check_params(params):
    problems = []
    for name in params["names"]:
        if not NAME.match(name):
            problems.append("names: %r may hold only letters, digits and . - _ / # (at most 512)" % name)
        if params["names"].count(name) > 1 and "names: %r is listed twice" % name not in problems:
            problems.append("names: %r is listed twice" % name)
    if params["retention"] is not None and params["retention"] not in RETENTION_DAYS:
        problems.append("retention: %d is not one of %s" % (params["retention"], ", ".join(str(d) for d in RETENTION_DAYS)))
    return problems


def read_existing(client, names, with_tags):
    """Name -> {arn, retention, tags} of the listed groups that exist: one paginated read under their common prefix."""
    wanted = set(names)
    found = {}
    prefix = os.path.commonprefix(list(names)) if names else ""
    arguments = {"logGroupNamePrefix": prefix} if prefix else {}
    for group in client.paginate("describe_log_groups", **arguments)["logGroups"]:
        if group["logGroupName"] in wanted:
            found[group["logGroupName"]] = {"arn": re.sub(r":\*$", "", group["arn"]), "retention": group.get("retentionInDays")}
    if with_tags:
        for name, group in found.items():
            group["tags"] = client.list_tags_for_resource(resourceArn=group["arn"], aws_retry=True).get("tags", {})
    return found


def describe(group):
    text = "retention: %s\n" % (group.get("retention") or "never expires")
    if "tags" in group:
        text += "".join("tag %s: %s\n" % item for item in sorted(group["tags"].items()))
    return text


def ensure_present(client, params, check_mode):
    names = params["names"]
    existing = read_existing(client, names, params["tags"] is not None)
    result = {"created": [], "updated": [], "deleted": [], "log_groups": {}}
    diffs = []
    for name in names:
        current = existing.get(name)
        wanted_tags = params["tags"] or {}
        if current is None:
            result["created"].append(name)
            after = {"retention": params["retention"], "tags": wanted_tags}
            diffs.append({"before_header": "%s (absent)" % name, "after_header": name, "before": "", "after": describe(after)})
            if not check_mode:
                arguments = {"logGroupName": name}
                if wanted_tags:
                    arguments["tags"] = wanted_tags
                client.create_log_group(aws_retry=True, **arguments)
                if params["retention"]:
                    client.put_retention_policy(logGroupName=name, retentionInDays=params["retention"], aws_retry=True)
                current = read_existing(client, [name], False).get(name, {})
            result["log_groups"][name] = {"arn": (current or {}).get("arn"), "retention": params["retention"]}
            continue
        retention_differs = params["retention"] is not None and current["retention"] != params["retention"]
        set_tags, remove_tags = {}, []
        if params["tags"] is not None:
            set_tags, remove_tags = compare_aws_tags(current["tags"], params["tags"], purge_tags=params["purge_tags"])
        after = dict(current)
        if retention_differs:
            after["retention"] = params["retention"]
        if set_tags or remove_tags:
            after["tags"] = dict((k, v) for k, v in current["tags"].items() if k not in remove_tags)
            after["tags"].update(set_tags)
        result["log_groups"][name] = {"arn": current["arn"], "retention": after["retention"]}
        if not (retention_differs or set_tags or remove_tags):
            continue
        result["updated"].append(name)
        diffs.append({"before_header": name, "after_header": name, "before": describe(current), "after": describe(after)})
        if check_mode:
            continue
        if retention_differs:
            client.put_retention_policy(logGroupName=name, retentionInDays=params["retention"], aws_retry=True)
        if remove_tags:
            client.untag_resource(resourceArn=current["arn"], tagKeys=remove_tags, aws_retry=True)
        if set_tags:
            client.tag_resource(resourceArn=current["arn"], tags=set_tags, aws_retry=True)
    return bool(diffs), diffs, result


def ensure_absent(client, params, check_mode):
    existing = read_existing(client, params["names"], False)
    doomed = [name for name in params["names"] if name in existing]
    diffs = [{"before_header": name, "after_header": "%s (absent)" % name, "before": describe(existing[name]), "after": ""} for name in doomed]
    if not check_mode:
        for name in doomed:
            client.delete_log_group(logGroupName=name, aws_retry=True)
    return bool(doomed), diffs, {"created": [], "updated": [], "deleted": doomed, "log_groups": {}}


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            names=dict(type="list", elements="str", required=True),
            retention=dict(type="int"),
            tags=dict(type="dict"),
            purge_tags=dict(type="bool", default=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    params = module.params

    def action(client):
        if params["state"] == "present":
            return ensure_present(client, params, module.check_mode)
        return ensure_absent(client, params, module.check_mode)

    converge(module, "logs", check_params(params), action, "CloudWatch Logs log groups")


if __name__ == "__main__":
    main()
