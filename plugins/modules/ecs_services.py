#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ecs_services
short_description: Several ECS services of one cluster in one idempotent call
version_added: 0.3.0
description:
  - Makes the listed services of an ECS cluster exist with the given task definition, count, network, deployment
    settings, load balancers, service registries and tags, reading them all with one C(DescribeServices) call per ten
    services and updating only those that differ. Does not wait for deployments to finish.
  - Services not listed are left alone.
author:
  - lgtm.aws maintainers (@lgtm-aws)
options:
  cluster:
    description: Name or ARN of the cluster.
    type: str
    required: true
  services:
    description: The services.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Service name.
        type: str
        required: true
      task_definition:
        description: Task definition as C(family:revision) or its ARN.
        type: str
        required: true
      desired_count:
        description: Number of tasks to keep running.
        type: int
        default: 1
      launch_type:
        description: Launch type (set when the service is created).
        type: str
        choices: [FARGATE, EC2, EXTERNAL]
        default: FARGATE
      platform_version:
        description: Fargate platform version.
        type: str
        default: LATEST
      subnets:
        description: Subnets of the tasks (awsvpc network mode).
        type: list
        elements: str
        default: []
      security_groups:
        description: Security group ids of the tasks (awsvpc network mode).
        type: list
        elements: str
        default: []
      assign_public_ip:
        description: Give the tasks a public IP address.
        type: bool
        default: false
      minimum_healthy_percent:
        description: Lower limit of running tasks during a deployment, in percent of the desired count.
        type: int
        default: 100
      maximum_percent:
        description: Upper limit of running tasks during a deployment, in percent of the desired count.
        type: int
        default: 200
      load_balancers:
        description: Load balancers as the ECS API takes them (C(targetGroupArn), C(containerName), C(containerPort)).
        type: list
        elements: dict
        default: []
      service_registries:
        description: Service registries as the ECS API takes them (C(registryArn)).
        type: list
        elements: dict
        default: []
      propagate_tags:
        description: Where the tasks' tags come from.
        type: str
        choices: [SERVICE, TASK_DEFINITION, NONE]
        default: SERVICE
  tags:
    description: Tags on every listed service (set when it is created; added or changed later, never removed).
    type: dict
    default: {}
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Supports check mode and diff mode.
  - Teardown is left to M(community.aws.ecs_service) with O(community.aws.ecs_service#module:state=absent).
seealso:
  - module: community.aws.ecs_service
"""

EXAMPLES = r"""
- name: Two services on Fargate
  lgtm.aws.ecs_services:
    cluster: acme-prod
    services:
      - name: acme-prod-web
        task_definition: acme-prod-web:3
        subnets: [subnet-0a1, subnet-0c1]
        security_groups: [sg-0123]
        load_balancers:
          - {targetGroupArn: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/abc", containerName: web, containerPort: 80}
      - name: acme-prod-worker
        task_definition: acme-prod-worker:7
        subnets: [subnet-0a1, subnet-0c1]
        security_groups: [sg-0456]
        minimum_healthy_percent: 0
        maximum_percent: 100
    tags:
      Project: lgtm
"""

RETURN = r"""
services:
  description: Service name to C(arn) and C(task_definition) (the ARN in use; in check mode the current one).
  returned: always
  type: dict
  sample:
    acme-prod-web:
      arn: "arn:aws:ecs:eu-west-1:123456789012:service/acme-prod/acme-prod-web"
      task_definition: "arn:aws:ecs:eu-west-1:123456789012:task-definition/acme-prod-web:3"
created:
  description: Services created (or that would be).
  returned: always
  type: list
  elements: str
  sample: []
updated:
  description: Services updated (or that would be).
  returned: always
  type: list
  elements: str
  sample: [acme-prod-web]
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.lgtm.aws.plugins.module_utils.aws_common import converge

BATCH = 10  # DescribeServices takes at most 10 services


def network(wanted):
    return {"awsvpcConfiguration": {"subnets": list(wanted["subnets"]), "securityGroups": list(wanted["security_groups"]),
                                    "assignPublicIp": "ENABLED" if wanted["assign_public_ip"] else "DISABLED"}}


def deployment(wanted):
    return {"minimumHealthyPercent": wanted["minimum_healthy_percent"], "maximumPercent": wanted["maximum_percent"]}


def same_task_definition(wanted, arn):
    return arn == wanted or str(arn).endswith("/" + wanted)


def _balancers(items):
    return sorted((str(i.get("targetGroupArn")), str(i.get("containerName")), int(i.get("containerPort") or 0)) for i in items or [])


def differences(wanted, current, tags):
    """Field -> (before, after) of what update_service would change, and tags to add. A setting the answer leaves
    out (as some stand-ins for AWS do with deploymentConfiguration) is not compared."""
    found = {}
    if not same_task_definition(wanted["task_definition"], current.get("taskDefinition")):
        found["taskDefinition"] = (current.get("taskDefinition"), wanted["task_definition"])
    if current.get("desiredCount") != wanted["desired_count"]:
        found["desiredCount"] = (current.get("desiredCount"), wanted["desired_count"])
    have = (current.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
    want = network(wanted)["awsvpcConfiguration"]
    if (sorted(have.get("subnets") or []), sorted(have.get("securityGroups") or []), have.get("assignPublicIp", "DISABLED")) != \
            (sorted(want["subnets"]), sorted(want["securityGroups"]), want["assignPublicIp"]):
        found["networkConfiguration"] = ({"awsvpcConfiguration": have}, network(wanted))
    have_deployment = current.get("deploymentConfiguration")
    if have_deployment is not None and (have_deployment.get("minimumHealthyPercent"), have_deployment.get("maximumPercent")) != \
            (wanted["minimum_healthy_percent"], wanted["maximum_percent"]):
        found["deploymentConfiguration"] = (have_deployment, deployment(wanted))
    if current.get("platformVersion") not in (None, wanted["platform_version"]):
        found["platformVersion"] = (current.get("platformVersion"), wanted["platform_version"])
    if _balancers(current.get("loadBalancers")) != _balancers(wanted["load_balancers"]):
        found["loadBalancers"] = (current.get("loadBalancers") or [], wanted["load_balancers"])
    if sorted(r.get("registryArn") for r in current.get("serviceRegistries") or []) != sorted(r.get("registryArn") for r in wanted["service_registries"]):
        found["serviceRegistries"] = (current.get("serviceRegistries") or [], wanted["service_registries"])
    if (current.get("propagateTags") or "NONE") != wanted["propagate_tags"]:
        found["propagateTags"] = (current.get("propagateTags"), wanted["propagate_tags"])
    have_tags = dict((t["key"], t["value"]) for t in current.get("tags") or [])
    add_tags = dict((k, v) for k, v in tags.items() if have_tags.get(k) != v)
    return found, add_tags, have_tags


def describe(client, cluster, names):
    found = {}
    for start in range(0, len(names), BATCH):
        answer = client.describe_services(cluster=cluster, services=names[start:start + BATCH], include=["TAGS"], aws_retry=True)
        for service in answer["services"]:
            if service.get("status") != "INACTIVE":
                found[service["serviceName"]] = service
    return found


def lines(mapping):
    return "".join("%s: %s\n" % (key, mapping[key]) for key in sorted(mapping))


def ensure(client, params, check_mode):
    cluster, tags = params["cluster"], params["tags"]
    existing = describe(client, cluster, [s["name"] for s in params["services"]])
    result = {"services": {}, "created": [], "updated": []}
    diffs = []
    for wanted in params["services"]:
        name = wanted["name"]
        current = existing.get(name)
        if current is None:
            result["created"].append(name)
            after = {"taskDefinition": wanted["task_definition"], "desiredCount": wanted["desired_count"], "networkConfiguration": network(wanted),
                     "deploymentConfiguration": deployment(wanted), "loadBalancers": wanted["load_balancers"],
                     "serviceRegistries": wanted["service_registries"], "propagateTags": wanted["propagate_tags"], "tags": tags}
            diffs.append({"before_header": "%s (absent)" % name, "after_header": name, "before": "", "after": lines(after)})
            if check_mode:
                result["services"][name] = {"arn": None, "task_definition": None}
                continue
            arguments = dict(cluster=cluster, serviceName=name, taskDefinition=wanted["task_definition"], desiredCount=wanted["desired_count"],
                             launchType=wanted["launch_type"], networkConfiguration=network(wanted), deploymentConfiguration=deployment(wanted),
                             propagateTags=wanted["propagate_tags"], aws_retry=True)
            if wanted["launch_type"] == "FARGATE":
                arguments["platformVersion"] = wanted["platform_version"]
            if wanted["load_balancers"]:
                arguments["loadBalancers"] = wanted["load_balancers"]
            if wanted["service_registries"]:
                arguments["serviceRegistries"] = wanted["service_registries"]
            if tags:
                arguments["tags"] = [{"key": k, "value": v} for k, v in sorted(tags.items())]
            created = client.create_service(**arguments)["service"]
            result["services"][name] = {"arn": created["serviceArn"], "task_definition": created.get("taskDefinition")}
            continue
        found, add_tags, have_tags = differences(wanted, current, tags)
        result["services"][name] = {"arn": current["serviceArn"], "task_definition": current.get("taskDefinition")}
        if not found and not add_tags:
            continue
        result["updated"].append(name)
        before = dict((key, pair[0]) for key, pair in found.items())
        after = dict((key, pair[1]) for key, pair in found.items())
        if add_tags:
            before["tags"], after["tags"] = have_tags, dict(have_tags, **add_tags)
        diffs.append({"before_header": name, "after_header": name, "before": lines(before), "after": lines(after)})
        if check_mode:
            continue
        if found:
            arguments = dict((key, pair[1]) for key, pair in found.items())
            updated = client.update_service(cluster=cluster, service=name, forceNewDeployment=False, aws_retry=True, **arguments)["service"]
            result["services"][name]["task_definition"] = updated.get("taskDefinition")
        if add_tags:
            client.tag_resource(resourceArn=current["serviceArn"], tags=[{"key": k, "value": v} for k, v in sorted(add_tags.items())], aws_retry=True)
    return bool(diffs), diffs, result


def main():
    service = dict(
        name=dict(type="str", required=True),
        task_definition=dict(type="str", required=True),  # may be null in check mode
        desired_count=dict(type="int", default=1),
        launch_type=dict(type="str", choices=["FARGATE", "EC2", "EXTERNAL"], default="FARGATE"),
        platform_version=dict(type="str", default="LATEST"),
        subnets=dict(type="list", elements="str", default=[]),
        security_groups=dict(type="list", elements="str", default=[]),
        assign_public_ip=dict(type="bool", default=False),
        minimum_healthy_percent=dict(type="int", default=100),
        maximum_percent=dict(type="int", default=200),
        load_balancers=dict(type="list", elements="dict", default=[]),
        service_registries=dict(type="list", elements="dict", default=[]),
        propagate_tags=dict(type="str", choices=["SERVICE", "TASK_DEFINITION", "NONE"], default="SERVICE"),
    )
    module = AnsibleAWSModule(
        argument_spec=dict(
            cluster=dict(type="str", required=True),
            services=dict(type="list", elements="dict", required=True, options=service),
            tags=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    names = [s["name"] for s in module.params["services"]]
    problems = ["services: %r is listed twice" % n for n in sorted(set(names)) if names.count(n) > 1]
    for index, wanted in enumerate(module.params["services"]):
        if not wanted["task_definition"] and not module.check_mode:  # in check mode a new family has no revision yet
            problems.append("services[%d] (%s): task_definition is empty" % (index, wanted["name"]))
        if wanted["desired_count"] < 0:
            problems.append("services[%d] (%s): desired_count must be 0 or more" % (index, wanted["name"]))
    converge(module, "ecs", problems, lambda client: ensure(client, module.params, module.check_mode), "ECS services in %s" % module.params["cluster"])


if __name__ == "__main__":
    main()
