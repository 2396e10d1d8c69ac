#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ecs_cluster_settings
short_description: Container Insights and tags of an existing ECS cluster
version_added: 0.2.0
description:
  - Sets an ECS cluster's C(containerInsights) setting and its tags, which community.aws.ecs_cluster does not
    manage. Create the cluster with community.aws.ecs_cluster first.
  - In check mode, a cluster that does not exist yet is reported as a change (it would be created with these settings).
author:
  - lgtm.aws maintainers (@lgtm-aws)
options:
  name:
    description: Cluster name.
    type: str
    required: true
  container_insights:
    description: C(enhanced) adds task- and container-level metrics (and cost) on top of C(enabled).
    type: str
    choices: [enabled, disabled, enhanced]
    default: enabled
  tags:
    description: Tags the cluster should carry.
    type: dict
  purge_tags:
    description: Remove tags not in O(tags). Only with O(tags).
    type: bool
    default: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Supports check mode and diff mode.
"""

EXAMPLES = r"""
- name: Cluster
  community.aws.ecs_cluster:
    name: lgtm-prod-monitoring
    state: present

- name: With Container Insights
  lgtm.aws.ecs_cluster_settings:
    name: lgtm-prod-monitoring
    container_insights: enabled
    tags: {Environment: prod}
"""

RETURN = r"""
cluster_arn:
  description: The cluster's ARN (C(null) in check mode for a cluster that does not exist yet).
  returned: always
  type: str
container_insights:
  description: The setting after the call.
  returned: always
  type: str
tags:
  description: The cluster's tags after the call.
  returned: always
  type: dict
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.lgtm.aws.plugins.module_utils.aws_common import RetryingClient


def describe(client, name):
    clusters = client.describe_clusters(clusters=[name], include=["SETTINGS", "TAGS"])["clusters"]
    return clusters[0] if clusters and clusters[0].get("status") != "INACTIVE" else None


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            container_insights=dict(type="str", choices=["enabled", "disabled", "enhanced"], default="enabled"),
            tags=dict(type="dict"),
            purge_tags=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    client = RetryingClient(module, "ecs")
    try:
        cluster = describe(client, params["name"])
        if cluster is None:
            if module.check_mode:
                module.exit_json(changed=True, cluster_arn=None, container_insights=params["container_insights"], tags=params["tags"] or {})
            module.fail_json(msg="name: ECS cluster %r does not exist in %s; create it with community.aws.ecs_cluster first"
                             % (params["name"], module.region))
        settings = {s["name"]: s["value"] for s in cluster.get("settings", [])}
        tags = {t["key"]: t["value"] for t in cluster.get("tags", [])}
        before = {"container_insights": settings.get("containerInsights", "disabled"), "tags": tags}
        after = {"container_insights": params["container_insights"], "tags": dict(tags)}
        if params["tags"] is not None:
            after["tags"] = dict(params["tags"]) if params["purge_tags"] else dict(tags, **params["tags"])
        changed = before != after
        if changed and not module.check_mode:
            if before["container_insights"] != after["container_insights"]:
                client.update_cluster(cluster=params["name"], settings=[{"name": "containerInsights", "value": after["container_insights"]}])
            stale = [k for k in tags if k not in after["tags"]]
            if stale:
                client.untag_resource(resourceArn=cluster["clusterArn"], tagKeys=stale)
            if after["tags"] and after["tags"] != tags:
                client.tag_resource(resourceArn=cluster["clusterArn"], tags=[{"key": k, "value": v} for k, v in sorted(after["tags"].items())])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg="ECS cluster %s" % params["name"])
    module.exit_json(changed=changed, cluster_arn=cluster["clusterArn"], container_insights=after["container_insights"], tags=after["tags"],
                     diff={"before": before, "after": after})


if __name__ == "__main__":
    main()
