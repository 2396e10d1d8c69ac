#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ecs_task_definitions
short_description: Several ECS task definitions in one call, a new revision only for what changed
version_added: 0.3.0
description:
  - For each task definition family given, compares the wanted definition with the family's latest C(ACTIVE) revision
    and registers a new revision only when they differ, so a changed container rolls only its own service.
  - A revision matches when every setting given equals what ECS reports; settings ECS fills in with its defaults
    (and that are not given) do not count, and a setting given as an empty list or mapping matches one ECS leaves out.
  - Earlier revisions are kept (ECS keeps them as history).
author:
  - lgtm.aws maintainers (@lgtm-aws)
options:
  task_definitions:
    description: The task definitions, one per family.
    type: list
    elements: dict
    required: true
    suboptions:
      family:
        description: Family name.
        type: str
        required: true
      containers:
        description: Container definitions as the ECS API takes them (C(name), C(image), C(portMappings), C(environment), ...).
        type: list
        elements: dict
        required: true
      volumes:
        description: Volumes as the ECS API takes them.
        type: list
        elements: dict
        default: []
      cpu:
        description: Task CPU units, such as C(256) or C(1024).
        type: str
      memory:
        description: Task memory in MiB, such as C(512).
        type: str
      network_mode:
        description: Network mode.
        type: str
        choices: [awsvpc, bridge, host, none]
        default: awsvpc
      launch_type:
        description: Compatibility required of the task definition.
        type: str
        choices: [FARGATE, EC2, EXTERNAL]
        default: FARGATE
      execution_role_arn:
        description: Role ECS uses to pull images, write logs and inject secrets.
        type: str
      task_role_arn:
        description: Role the containers run as.
        type: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Supports check mode and diff mode.
seealso:
  - module: community.aws.ecs_taskdefinition
"""

EXAMPLES = r"""
- name: Two task definitions
  lgtm.aws.ecs_task_definitions:
    task_definitions:
      - family: acme-prod-web
        cpu: "256"
        memory: "512"
        execution_role_arn: arn:aws:iam::123456789012:role/acme-prod-ecs-task-execution
        containers:
          - {name: web, image: "nginx:1.27", essential: true, portMappings: [{containerPort: 80, protocol: tcp}]}
      - family: acme-prod-worker
        cpu: "256"
        memory: "512"
        containers:
          - {name: worker, image: "busybox:1.36", essential: true, command: [sleep, "3600"]}
  register: definitions

- name: The revision of the web task
  ansible.builtin.debug:
    msg: "{{ definitions.task_definitions['acme-prod-web'].revision }}"
"""

RETURN = r"""
task_definitions:
  description:
    - Family to C(arn), C(revision) (C(family:number), what a service takes) and C(changed) of the revision in use.
    - In check mode a family that would get a new revision reports the current one (or C(null) when there is none).
  returned: always
  type: dict
  sample: {acme-prod-web: {arn: "arn:aws:ecs:eu-west-1:123456789012:task-definition/acme-prod-web:3", revision: "acme-prod-web:3", changed: false}}
registered:
  description: Families that got a new revision (or would, in check mode).
  returned: always
  type: list
  elements: str
  sample: [acme-prod-web]
"""

import json

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.lgtm.aws.plugins.module_utils.aws_common import converge


def empty(value):
    return value is None or value == [] or value == {} or value == ""


def matches(wanted, actual):
    """``wanted`` is met by ``actual``: mappings key by key (keys only ECS sets are ignored), lists item by item,
    numbers and strings by their text (ECS answers "1024" for 1024 in some places and 1024 in others)."""
    if isinstance(wanted, dict):
        if not isinstance(actual, dict):
            return empty(wanted) and empty(actual)
        return all(matches(value, actual.get(key)) for key, value in wanted.items())
    if isinstance(wanted, list):
        if empty(wanted):
            return empty(actual)
        return isinstance(actual, list) and len(wanted) == len(actual) and all(matches(w, a) for w, a in zip(wanted, actual))
    if empty(wanted):
        return empty(actual)
    if isinstance(wanted, bool) or isinstance(actual, bool):
        return wanted == actual
    return str(wanted) == str(actual)


def api_shape(wanted):
    """The module's options as RegisterTaskDefinition takes them."""
    shape = {"family": wanted["family"], "containerDefinitions": wanted["containers"], "networkMode": wanted["network_mode"],
             "requiresCompatibilities": [wanted["launch_type"]]}
    if wanted["volumes"]:
        shape["volumes"] = wanted["volumes"]
    for option, key in (("cpu", "cpu"), ("memory", "memory"), ("execution_role_arn", "executionRoleArn"), ("task_role_arn", "taskRoleArn")):
        if wanted[option] is not None:
            shape[key] = str(wanted[option])
    return shape


def comparable(shape):
    """What decides a match: everything given but the family, with role ARNs and volumes as ECS reports them."""
    result = dict((k, v) for k, v in shape.items() if k != "family")
    result.setdefault("volumes", [])
    return result


def by_name(definition):
    """Container environment and secrets sorted by name on both sides: their order means nothing to ECS."""
    result = dict(definition)
    containers = []
    for container in result.get("containerDefinitions") or []:
        container = dict(container)
        for key in ("environment", "secrets"):
            if isinstance(container.get(key), list):
                container[key] = sorted(container[key], key=lambda item: str(item.get("name")) if isinstance(item, dict) else str(item))
        containers.append(container)
    result["containerDefinitions"] = containers
    return result


def latest(client, family):
    try:
        found = client.describe_task_definition(taskDefinition=family, aws_retry=True)["taskDefinition"]
    except botocore.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("ClientException", "InvalidParameterException"):
            return None
        raise
    return found if found.get("status", "ACTIVE") == "ACTIVE" else None


def shown(definition):
    return json.dumps(definition, indent=2, sort_keys=True, default=str) + "\n" if definition else ""


def ensure(client, params, check_mode):
    result = {"task_definitions": {}, "registered": []}
    diffs = []
    for wanted in params["task_definitions"]:
        family = wanted["family"]
        shape = api_shape(wanted)
        current = latest(client, family)
        if current and matches(by_name(comparable(shape)), by_name(current)):
            result["task_definitions"][family] = {"arn": current["taskDefinitionArn"],
                                                  "revision": "%s:%s" % (family, current["revision"]), "changed": False}
            continue
        result["registered"].append(family)
        before = dict((k, current.get(k)) for k in comparable(shape)) if current else {}
        diffs.append({"before_header": "%s:%s" % (family, current["revision"]) if current else "%s (absent)" % family,
                      "after_header": "%s (new revision)" % family, "before": shown(before), "after": shown(comparable(shape))})
        if check_mode:
            result["task_definitions"][family] = {"arn": current["taskDefinitionArn"] if current else None,
                                                  "revision": "%s:%s" % (family, current["revision"]) if current else None, "changed": True}
            continue
        registered = client.register_task_definition(aws_retry=True, **shape)["taskDefinition"]
        result["task_definitions"][family] = {"arn": registered["taskDefinitionArn"],
                                              "revision": "%s:%s" % (family, registered["revision"]), "changed": True}
    return bool(diffs), diffs, result


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            task_definitions=dict(type="list", elements="dict", required=True, options=dict(
                family=dict(type="str", required=True),
                containers=dict(type="list", elements="dict", required=True),
                volumes=dict(type="list", elements="dict", default=[]),
                cpu=dict(type="str"),
                memory=dict(type="str"),
                network_mode=dict(type="str", choices=["awsvpc", "bridge", "host", "none"], default="awsvpc"),
                launch_type=dict(type="str", choices=["FARGATE", "EC2", "EXTERNAL"], default="FARGATE"),
                execution_role_arn=dict(type="str"),
                task_role_arn=dict(type="str"),
            )),
        ),
        supports_check_mode=True,
    )
    families = [t["family"] for t in module.params["task_definitions"]]
    problems = ["task_definitions: family %r is listed twice" % f for f in sorted(set(families)) if families.count(f) > 1]
    problems += ["task_definitions[%d] (%s): containers must not be empty" % (i, t["family"])
                 for i, t in enumerate(module.params["task_definitions"]) if not t["containers"]]
    converge(module, "ecs", problems, lambda client: ensure(client, module.params, module.check_mode), "ECS task definitions")


if __name__ == "__main__":
    main()
