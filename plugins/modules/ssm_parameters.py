#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ssm_parameters
short_description: Many SSM parameters in one idempotent call
version_added: 0.3.0
description:
  - Makes a set of AWS Systems Manager Parameter Store parameters exist with the given values, types, tiers,
    descriptions and tags, or makes them absent.
  - Reads what exists in batches (C(GetParameters) takes 10 names, C(DescribeParameters) 50) and writes only the
    parameters that differ, so a run that changes nothing costs a few API calls however many parameters there are.
  - A parameter whose tier goes from C(Advanced) back to C(Standard) is deleted and created again (AWS cannot
    lower a tier in place); its version history starts anew.
  - Parameters not listed are left alone.
author:
  - lgtm.aws maintainers (@lgtm-aws)
options:
  parameters:
    description: The parameters.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Full name, such as C(/team/app/config.yml). Names beginning with C(aws) or C(ssm) are reserved by AWS.
        type: str
        required: true
      value:
        description:
          - The value (at most 4 KB for C(Standard), 8 KB for C(Advanced)). Required with O(state=present).
          - Values of C(SecureString) parameters never appear in the diff or in the result; set C(no_log) on the task
            to keep them out of the task's arguments in verbose output too.
        type: str
      type:
        description: Parameter type.
        type: str
        choices: [String, StringList, SecureString]
        default: String
      tier:
        description: Parameter tier; C(Advanced) holds up to 8 KB.
        type: str
        choices: [Standard, Advanced, Intelligent-Tiering]
        default: Standard
      description:
        description: Description of the parameter.
        type: str
        default: ""
  tags:
    description:
      - Tags on every listed parameter. Tags not given are removed (see O(purge_tags)).
      - When not given, the parameters' tags are left as they are (and not read, which saves one call per parameter).
    type: dict
  purge_tags:
    description: Remove tags not in O(tags). Only with O(tags).
    type: bool
    default: true
  state:
    description: Whether the listed parameters should exist.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Supports check mode and diff mode (one diff per parameter that changes).
  - Tier C(Intelligent-Tiering) lets AWS pick the tier by size; it is compared as given, so a parameter AWS stored as
    C(Standard) under C(Intelligent-Tiering) is left as it is.
"""

EXAMPLES = r"""
- name: Configuration files as parameters, one call
  lgtm.aws.ssm_parameters:
    parameters:
      - name: /lgtm/acme-prod/ecs-monitoring/prometheus/prometheus.yml
        value: "{{ lookup('ansible.builtin.file', 'out/ecs/prometheus.yml') }}"
      - name: /lgtm/acme-prod/ecs-monitoring/grafana/dashboards/overview.json
        value: "{{ lookup('ansible.builtin.file', 'out/ecs/dashboards/overview.json') }}"
        tier: Advanced
        description: Grafana's overview dashboard
    tags:
      Project: lgtm
  register: parameters

- name: A secret value
  lgtm.aws.ssm_parameters:
    parameters:
      - name: /acme/prod/db-password
        value: "{{ db_password }}"
        type: SecureString
  no_log: true

- name: Remove them
  lgtm.aws.ssm_parameters:
    parameters:
      - name: /lgtm/acme-prod/ecs-monitoring/prometheus/prometheus.yml
      - name: /lgtm/acme-prod/ecs-monitoring/grafana/dashboards/overview.json
    state: absent
"""

RETURN = r"""
created:
  description: Names of the parameters created (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [/lgtm/acme-prod/ecs-monitoring/prometheus/prometheus.yml]
updated:
  description: Names of the parameters whose value, type, tier, description or tags changed (or would).
  returned: always
  type: list
  elements: str
  sample: []
deleted:
  description: Names of the parameters deleted (or that would be), including those recreated to lower their tier.
  returned: always
  type: list
  elements: str
  sample: []
unchanged:
  description: Names of the parameters already as asked.
  returned: always
  type: list
  elements: str
  sample: [/lgtm/acme-prod/ecs-monitoring/grafana/dashboards/overview.json]
"""

import re

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags
from ansible_collections.lgtm.aws.plugins.module_utils.aws_common import converge

GET_BATCH = 10  # GetParameters and DeleteParameters take at most 10 names
DESCRIBE_BATCH = 50  # a DescribeParameters filter takes at most 50 values
LIMITS = {"Standard": 4096, "Advanced": 8192, "Intelligent-Tiering": 8192}
NAME = re.compile(r"^/?[a-zA-Z0-9_.\-/]{1,2048}$")
HIDDEN = "(SecureString value not shown)"


def batches(items, size):
    return [items[start:start + size] for start in range(0, len(items), size)]


def check_params(params):
    """Every problem with the arguments at once, each naming the parameter and its field."""
    problems = []
    seen = set()
    for index, parameter in enumerate(params["parameters"]):
        where = "parameters[%d] (%s)" % (index, parameter["name"])
        name = parameter["name"]
        if not NAME.match(name):
            problems.append("%s: name may hold only letters, digits and _.-/" % where)
        if name.lstrip("/").lower().startswith(("aws", "ssm")):
            problems.append("%s: names beginning with aws or ssm are reserved by AWS" % where)
        if name in seen:
            problems.append("%s: listed twice" % where)
        seen.add(name)
        if params["state"] == "present":
            if parameter["value"] is None:
                problems.append("%s: value is required with state=present" % where)
            elif parameter["value"] == "":
                problems.append("%s: value must not be empty (SSM refuses empty values)" % where)
            else:
                size = len(parameter["value"].encode("utf-8"))
                if size > LIMITS[parameter["tier"]]:
                    problems.append("%s: value is %d bytes; tier %s holds at most %d%s" % (
                        where, size, parameter["tier"], LIMITS[parameter["tier"]],
                        " (use tier: Advanced)" if parameter["tier"] == "Standard" and size <= LIMITS["Advanced"] else ""))
    return problems


def read_existing(client, names, with_tags):
    """Name -> {value, type, tier, description, tags} of the listed parameters that exist."""
    found = {}
    for batch in batches(names, GET_BATCH):
        for parameter in client.get_parameters(Names=batch, WithDecryption=True, aws_retry=True)["Parameters"]:
            found[parameter["Name"]] = {"value": parameter["Value"], "type": parameter["Type"]}
    present = [name for name in names if name in found]
    for batch in batches(present, DESCRIBE_BATCH):
        filters = [{"Key": "Name", "Option": "Equals", "Values": batch}]
        for meta in client.paginate("describe_parameters", ParameterFilters=filters, PaginationConfig={"PageSize": 50})["Parameters"]:
            if meta["Name"] in found:
                found[meta["Name"]].update(tier=meta.get("Tier", "Standard"), description=meta.get("Description", ""))
    if with_tags:
        for name in present:
            tags = client.list_tags_for_resource(ResourceType="Parameter", ResourceId=name, aws_retry=True)["TagList"]
            found[name]["tags"] = {tag["Key"]: tag["Value"] for tag in tags}
    return found


def shown(value, kind):
    return HIDDEN if kind == "SecureString" else value


def attributes(parameter):
    return "type: %s\ntier: %s\ndescription: %s\n" % (parameter["type"], parameter.get("tier", "Standard"), parameter.get("description", ""))


def plan_present(params, existing):
    """What to do per parameter: [(action, wanted, current, tags_to_set, tags_to_remove)] and the diffs."""
    actions, diffs = [], []
    for wanted in params["parameters"]:
        name = wanted["name"]
        current = existing.get(name)
        if current is None:
            actions.append(("create", wanted, None, params["tags"] or {}, []))
            diffs.append({"before_header": "%s (absent)" % name, "after_header": name, "before": "",
                          "after": shown(wanted["value"], wanted["type"])})
            continue
        value_differs = current["value"] != wanted["value"] or current["type"] != wanted["type"]
        attributes_differ = (current.get("tier", "Standard") != wanted["tier"] and wanted["tier"] != "Intelligent-Tiering") \
            or current.get("description", "") != wanted["description"]
        set_tags, remove_tags = {}, []
        if params["tags"] is not None:
            set_tags, remove_tags = compare_aws_tags(current.get("tags", {}), params["tags"], purge_tags=params["purge_tags"])
        if not (value_differs or attributes_differ or set_tags or remove_tags):
            actions.append(("keep", wanted, current, {}, []))
            continue
        lowered = current.get("tier") == "Advanced" and wanted["tier"] == "Standard"
        action = "recreate" if lowered else ("update" if value_differs or attributes_differ else "tag")
        actions.append((action, wanted, current, (params["tags"] or {}) if lowered else set_tags, remove_tags))
        if value_differs:
            diffs.append({"before_header": name, "after_header": name, "before": shown(current["value"], current["type"]),
                          "after": shown(wanted["value"], wanted["type"])})
        if attributes_differ:
            diffs.append({"before_header": "%s (attributes)" % name, "after_header": "%s (attributes)" % name,
                          "before": attributes(current), "after": attributes(wanted)})
        if set_tags or remove_tags:
            before_tags = current.get("tags", {})
            after_tags = dict((k, v) for k, v in before_tags.items() if k not in remove_tags)
            after_tags.update(set_tags)
            diffs.append({"before_header": "%s (tags)" % name, "after_header": "%s (tags)" % name,
                          "before": "".join("%s: %s\n" % item for item in sorted(before_tags.items())),
                          "after": "".join("%s: %s\n" % item for item in sorted(after_tags.items()))})
    return actions, diffs


def put(client, wanted, overwrite, tags):
    arguments = dict(Name=wanted["name"], Value=wanted["value"], Type=wanted["type"], Tier=wanted["tier"],
                     Description=wanted["description"], Overwrite=overwrite, aws_retry=True)
    if not overwrite and tags:
        arguments["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
    client.put_parameter(**arguments)


def apply_present(client, actions, check_mode):
    result = {"created": [], "updated": [], "deleted": [], "unchanged": []}
    for action, wanted, _current, set_tags, remove_tags in actions:
        name = wanted["name"]
        if action == "keep":
            result["unchanged"].append(name)
            continue
        if action == "create":
            result["created"].append(name)
        elif action == "recreate":
            result["deleted"].append(name)
            result["created"].append(name)
        else:
            result["updated"].append(name)
        if check_mode:
            continue
        if action == "recreate":
            client.delete_parameter(Name=name, aws_retry=True)
            put(client, wanted, False, set_tags)
            continue
        if action == "create":
            put(client, wanted, False, set_tags)
            continue
        if action == "update":
            put(client, wanted, True, None)
        if remove_tags:
            client.remove_tags_from_resource(ResourceType="Parameter", ResourceId=name, TagKeys=remove_tags, aws_retry=True)
        if set_tags:
            client.add_tags_to_resource(ResourceType="Parameter", ResourceId=name, aws_retry=True,
                                        Tags=[{"Key": k, "Value": v} for k, v in sorted(set_tags.items())])
    return result


def ensure_present(client, params, check_mode):
    names = [p["name"] for p in params["parameters"]]
    existing = read_existing(client, names, params["tags"] is not None)
    actions, diffs = plan_present(params, existing)
    result = apply_present(client, actions, check_mode)
    return bool(diffs), diffs, result


def ensure_absent(client, params, check_mode):
    names = [p["name"] for p in params["parameters"]]
    existing = read_existing(client, names, False)
    doomed = [name for name in names if name in existing]
    diffs = [{"before_header": name, "after_header": "%s (absent)" % name,
              "before": shown(existing[name]["value"], existing[name]["type"]), "after": ""} for name in doomed]
    if not check_mode:
        for batch in batches(doomed, GET_BATCH):
            client.delete_parameters(Names=batch, aws_retry=True)
    result = {"created": [], "updated": [], "deleted": doomed, "unchanged": [name for name in names if name not in existing]}
    return bool(doomed), diffs, result


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            parameters=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                value=dict(type="str"),
                type=dict(type="str", choices=["String", "StringList", "SecureString"], default="String"),
                tier=dict(type="str", choices=["Standard", "Advanced", "Intelligent-Tiering"], default="Standard"),
                description=dict(type="str", default=""),
            )),
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

    converge(module, "ssm", check_params(params), action, "SSM parameters")


if __name__ == "__main__":
    main()
