#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: iam_roles
short_description: Keep a set of workload IAM roles, their policies and instance profiles in shape in one call
version_added: 0.1.0
description:
  - Manages IAM roles for workloads (IRSA service accounts, ECS tasks, EC2 instances) as whole units
    - trust policy, inline least-privilege policies, attached managed policies, tags and an optional
    instance profile of the same name - in one idempotent call.
  - Policy documents are compared by meaning (statement and list order, one-element lists), so a second
    run reports no change.
  - Supports check mode, and diff mode shows trust and permission documents before and after.
  - Every role is read and every check made before the first change, so a run that fails (bad input, a
    managed policy that does not exist, a role whose path would have to change) changes nothing. In check
    mode the same checks run, so C(check_mode=true) is a complete read-only preflight.
author:
  - lgtm.aws maintainers (@lgtm-aws)
options:
  roles:
    description: The roles to manage.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Role name (at most 64 characters of letters, digits and C(+=,.@_-)).
        type: str
        required: true
      path:
        description:
          - Role path, for a new role.
          - IAM cannot move an existing role to another path. When a role exists with another path, the module
            fails before changing anything, naming the role and both paths; delete the role (O(state=absent))
            and run again to recreate it under the new path, or give its current path.
        type: str
        default: /
      description:
        description: Role description.
        type: str
        default: ""
      trust_policy:
        description: The assume-role policy document. Required with O(state=present).
        type: json
      inline_policies:
        description:
          - Inline policies by name. With O(purge_inline_policies=true), inline policies not named here are removed.
        type: dict
        default: {}
      managed_policy_arns:
        description:
          - ARNs of managed policies to attach.
          - Every one must exist. With O(state=present), the module reads each of them first and, when any is
            missing, fails before changing anything, listing every missing policy with the role that wants it.
        type: list
        elements: str
        default: []
      instance_profile:
        description: Keep an instance profile of the same name that holds this role (for EC2 hosts).
        type: bool
        default: false
      max_session_duration:
        description: Maximum session duration in seconds (3600 to 43200).
        type: int
        default: 3600
      tags:
        description: Tags on the role.
        type: dict
        default: {}
  purge_inline_policies:
    description: Remove inline policies that are not in O(roles[].inline_policies).
    type: bool
    default: true
  purge_managed_policies:
    description: Detach managed policies that are not in O(roles[].managed_policy_arns).
    type: bool
    default: true
  state:
    description: Whether the roles should exist. With V(absent), inline policies are deleted, managed policies
      detached and the role's own instance profile deleted before the role.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - IAM is global; O(region) only selects the endpoint used to reach it.
  - AWS managed policies (C(arn:aws:iam::aws:policy/...)) exist in every AWS account. A local stand-in such as
    moto knows them only when asked to (C(MOTO_IAM_LOAD_MANAGED_POLICIES=true) in the environment of
    C(moto_server)); without it the check above reports them missing.
"""

EXAMPLES = r"""
- name: Role for Loki's service account, limited to Loki's bucket
  lgtm.aws.iam_roles:
    roles:
      - name: acme-prod-loki-irsa
        trust_policy: "{{ provider_arn | lgtm.aws.irsa_trust_policy(issuer, 'monitoring', 'loki') }}"
        inline_policies:
          s3-access: "{{ storage_outputs | lgtm.aws.component_s3_policy('loki') }}"

- name: Instance profile for Alloy agents
  lgtm.aws.iam_roles:
    roles:
      - name: acme-prod-alloy-agent
        trust_policy: "{{ ['ec2'] | lgtm.aws.service_trust_policy }}"
        instance_profile: true
"""

RETURN = r"""
roles:
  description: One entry per role, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Role name.
      type: str
    arn:
      description: Role ARN (predicted in check mode for a new role).
      type: str
      sample: arn:aws:iam::123456789012:role/acme-prod-loki-irsa
    instance_profile_arn:
      description: ARN of the role's instance profile, when O(roles[].instance_profile=true).
      type: str
    action:
      description: What happened to the role.
      type: str
      choices: [created, updated, unchanged, deleted, absent]
    changed:
      description: Whether the role was (or in check mode would be) changed.
      type: bool
    changes:
      description: The parts that were (or would be) changed.
      type: list
      elements: str
      sample: [trust_policy, inline_policies]
"""

import json
import re

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.lgtm.aws.plugins.module_utils.aws_common import RetryingClient, error_code, sync_tags, tag_list
from ansible_collections.lgtm.aws.plugins.module_utils.iam_documents import arn_error
from ansible_collections.lgtm.aws.plugins.module_utils.policy_documents import canonical, parse, policies_equal

ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
POLICY_NAME = re.compile(r"^[\w+=,.@-]{1,128}$")

ARGUMENT_SPEC = dict(
    roles=dict(
        type="list",
        elements="dict",
        required=True,
        options=dict(
            name=dict(type="str", required=True),
            path=dict(type="str", default="/"),
            description=dict(type="str", default=""),
            trust_policy=dict(type="json"),
            inline_policies=dict(type="dict", default={}),
            managed_policy_arns=dict(type="list", elements="str", default=[]),
            instance_profile=dict(type="bool", default=False),
            max_session_duration=dict(type="int", default=3600),
            tags=dict(type="dict", default={}),
        ),
    ),
    purge_inline_policies=dict(type="bool", default=True),
    purge_managed_policies=dict(type="bool", default=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
)


def validation_errors(roles, state):
    errors, seen = [], set()
    for index, role in enumerate(roles):
        where = "roles[%d]" % index
        if not ROLE_NAME.match(role["name"]):
            errors.append("%s.name %r must be 1 to 64 letters, digits or +=,.@_- (got %d characters)" % (where, role["name"], len(role["name"])))
        if role["name"] in seen:
            errors.append("%s.name %r is listed twice" % (where, role["name"]))
        seen.add(role["name"])
        if state == "absent":
            continue
        if not role.get("trust_policy"):
            errors.append("%s.trust_policy is required with state=present" % where)
        if not role["path"].startswith("/") or not role["path"].endswith("/"):
            errors.append("%s.path %r must start and end with '/'" % (where, role["path"]))
        if not 3600 <= role["max_session_duration"] <= 43200:
            errors.append("%s.max_session_duration must be 3600 to 43200 seconds" % where)
        for name, document in role["inline_policies"].items():
            if not POLICY_NAME.match(name):
                errors.append("%s.inline_policies: policy name %r must be 1 to 128 letters, digits or +=,.@_-" % (where, name))
            if not isinstance(parse_document(document), dict):
                errors.append("%s.inline_policies.%s must be a policy document (a mapping or JSON text)" % (where, name))
        for arn in role["managed_policy_arns"]:
            problem = arn_error(arn, "iam", "policy/")
            if problem:
                errors.append("%s.managed_policy_arns: %r %s" % (where, arn, problem))
    return errors


def parse_document(document):
    try:
        return parse(document)
    except ValueError:
        return None


def read_role(client, name):
    """The role's current parts, or None when it does not exist."""
    try:
        role = client.get_role(RoleName=name)["Role"]
    except botocore.exceptions.ClientError as error:
        if error_code(error) == "NoSuchEntity":
            return None
        raise
    inline = {}
    for policy_name in client.list_role_policies(RoleName=name)["PolicyNames"]:
        inline[policy_name] = parse(client.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"])
    attached = sorted(p["PolicyArn"] for p in client.list_attached_role_policies(RoleName=name)["AttachedPolicies"])
    profiles = client.list_instance_profiles_for_role(RoleName=name)["InstanceProfiles"]
    return {
        "arn": role["Arn"],
        "path": role.get("Path", "/"),
        "description": role.get("Description", "") or "",
        "trust_policy": parse(role["AssumeRolePolicyDocument"]),
        "max_session_duration": role.get("MaxSessionDuration", 3600),
        "inline_policies": inline,
        "managed_policy_arns": attached,
        "tags": {t["Key"]: t["Value"] for t in client.list_role_tags(RoleName=name).get("Tags", [])},
        "instance_profile": any(p["InstanceProfileName"] == name for p in profiles),
        "instance_profile_arn": next((p["Arn"] for p in profiles if p["InstanceProfileName"] == name), None),
    }


def desired_role(spec, current, params):
    inline = {k: parse_document(v) for k, v in spec["inline_policies"].items()}
    managed = sorted(set(spec["managed_policy_arns"]))
    if current and not params["purge_inline_policies"]:
        inline = dict(current["inline_policies"], **inline)
    if current and not params["purge_managed_policies"]:
        managed = sorted(set(managed) | set(current["managed_policy_arns"]))
    return {
        "path": spec["path"],
        "description": spec["description"],
        "trust_policy": parse_document(spec["trust_policy"]),
        "max_session_duration": spec["max_session_duration"],
        "inline_policies": inline,
        "managed_policy_arns": managed,
        "tags": {str(k): str(v) for k, v in spec["tags"].items()},
        "instance_profile": spec["instance_profile"],
    }


def role_changes(current, desired):
    changes = []
    if not policies_equal(current["trust_policy"], desired["trust_policy"]):
        changes.append("trust_policy")
    if (current["description"], current["max_session_duration"]) != (desired["description"], desired["max_session_duration"]):
        changes.append("settings")
    cur_inline = {k: canonical(v) for k, v in current["inline_policies"].items()}
    if cur_inline != {k: canonical(v) for k, v in desired["inline_policies"].items()}:
        changes.append("inline_policies")
    for part in ("managed_policy_arns", "tags", "instance_profile"):
        if current[part] != desired[part]:
            changes.append(part)
    # A path difference is never a change: IAM cannot move a role (path_problems refuses it before any change).
    return changes


def path_problems(plans):
    """Roles that exist under another path than the one given: IAM cannot change a role's path in place."""
    problems = []
    for index, spec, current in plans:
        if current and current["path"] != spec["path"]:
            problems.append(
                "roles[%d].path: role %r exists with path %r, not %r; IAM cannot move a role to another path. "
                "Give path %r, or delete the role (state=absent) and run again to recreate it under %r"
                % (index, spec["name"], current["path"], spec["path"], current["path"], spec["path"]))
    return problems


def missing_policy_problems(module, client, plans):
    """Every managed policy a role should have attached that does not exist, naming the roles that want it."""
    wanted = {}
    for index, spec, _current in plans:
        for arn in spec["managed_policy_arns"]:
            wanted.setdefault(arn, []).append("roles[%d] (%s)" % (index, spec["name"]))
    problems, aws_managed = [], False
    for arn in sorted(wanted):
        try:
            client.get_policy(PolicyArn=arn)
        except botocore.exceptions.ClientError as error:
            if error_code(error) in ("AccessDenied", "AccessDeniedException"):
                module.warn("Could not check that managed policy %s exists (iam:GetPolicy was denied)" % arn)
                continue
            if error_code(error) != "NoSuchEntity":
                raise
            problems.append("%s.managed_policy_arns: policy %s does not exist" % (" and ".join(wanted[arn]), arn))
            aws_managed = aws_managed or arn.split(":")[4:5] == ["aws"]
    if aws_managed:
        problems.append("AWS managed policies exist in every AWS account; a local moto_server knows them only when it is "
                        "started with MOTO_IAM_LOAD_MANAGED_POLICIES=true in its environment")
    return problems


def apply_role(client, fresh, name, current, desired, changes):
    """Make the role ``desired``. ``fresh`` retries NoSuchEntity too: it makes the calls that name a role or an
    instance profile this run created, which IAM may not show to the next call for a moment."""
    role_client = client if current else fresh
    if current is None:
        kwargs = dict(
            RoleName=name,
            Path=desired["path"],
            AssumeRolePolicyDocument=json.dumps(desired["trust_policy"]),
            Description=desired["description"],
            MaxSessionDuration=desired["max_session_duration"],
        )
        if desired["tags"]:
            kwargs["Tags"] = tag_list(desired["tags"])
        client.create_role(**kwargs)
        current = {"inline_policies": {}, "managed_policy_arns": [], "tags": desired["tags"], "instance_profile": False}
    else:
        if "trust_policy" in changes:
            client.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(desired["trust_policy"]))
        if "settings" in changes:
            client.update_role(RoleName=name, Description=desired["description"], MaxSessionDuration=desired["max_session_duration"])
    for policy_name, document in desired["inline_policies"].items():
        if policy_name not in current["inline_policies"] or canonical(current["inline_policies"][policy_name]) != canonical(document):
            role_client.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(document))
    for policy_name in set(current["inline_policies"]) - set(desired["inline_policies"]):
        role_client.delete_role_policy(RoleName=name, PolicyName=policy_name)
    for arn in set(desired["managed_policy_arns"]) - set(current["managed_policy_arns"]):
        role_client.attach_role_policy(RoleName=name, PolicyArn=arn)
    for arn in set(current["managed_policy_arns"]) - set(desired["managed_policy_arns"]):
        role_client.detach_role_policy(RoleName=name, PolicyArn=arn)
    sync_tags(current["tags"], desired["tags"],
              lambda keys: role_client.untag_role(RoleName=name, TagKeys=keys), lambda tags: role_client.tag_role(RoleName=name, Tags=tags))
    if desired["instance_profile"] and not current["instance_profile"]:
        ensure_instance_profile(client, fresh, name, desired["path"])
    elif current["instance_profile"] and not desired["instance_profile"]:
        delete_instance_profile(client, name)


def ensure_instance_profile(client, fresh, name, path):
    try:
        profile = client.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    except botocore.exceptions.ClientError as error:
        if error_code(error) != "NoSuchEntity":
            raise
        profile = client.create_instance_profile(InstanceProfileName=name, Path=path)["InstanceProfile"]
    if name not in [r["RoleName"] for r in profile.get("Roles", [])]:
        fresh.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)


def delete_instance_profile(client, name):
    client.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=name)
    client.delete_instance_profile(InstanceProfileName=name)


def delete_role(client, name, current):
    for profile in client.list_instance_profiles_for_role(RoleName=name)["InstanceProfiles"]:
        client.remove_role_from_instance_profile(InstanceProfileName=profile["InstanceProfileName"], RoleName=name)
        if profile["InstanceProfileName"] == name:
            client.delete_instance_profile(InstanceProfileName=name)
    for policy_name in current["inline_policies"]:
        client.delete_role_policy(RoleName=name, PolicyName=policy_name)
    for arn in current["managed_policy_arns"]:
        client.detach_role_policy(RoleName=name, PolicyArn=arn)
    client.delete_role(RoleName=name)


def account_partition(module):
    """Account and partition for predicting ARNs in check mode."""
    try:
        parts = RetryingClient(module, "sts").get_caller_identity()["Arn"].split(":")
        return parts[4], parts[1]
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
        return "000000000000", "aws"


def for_diff(state):
    if state is None:
        return None
    return {k: v for k, v in state.items() if k not in ("arn", "instance_profile_arn")}


def run(module, client):
    params = module.params
    fresh = RetryingClient(module, "iam", "NoSuchEntity")
    # Read every role and make every check first: a run that fails changes nothing.
    plans = [(index, spec, read_role(client, spec["name"])) for index, spec in enumerate(params["roles"])]
    if params["state"] == "present":
        problems = path_problems(plans) + missing_policy_problems(module, client, plans)
        if problems:
            module.fail_json(msg="Nothing was changed: " + "; ".join(problems), errors=problems)
    results, before, after, account = [], {}, {}, []
    for _index, spec, current in plans:
        name = spec["name"]
        before[name] = for_diff(current)
        result = {"name": name}
        if params["state"] == "absent":
            if current:
                if not module.check_mode:
                    delete_role(client, name, current)
                result.update(arn=current["arn"], action="deleted", changed=True, changes=["role"])
            else:
                result.update(arn=None, action="absent", changed=False, changes=[])
            after[name] = None
            results.append(result)
            continue
        desired = desired_role(spec, current, params)
        if current is None:
            changes = ["role"] + [part for part in ("inline_policies", "managed_policy_arns", "instance_profile") if desired[part]]
        else:
            changes = role_changes(current, desired)
        if changes and not module.check_mode:
            apply_role(client, fresh, name, current, desired, changes)
        # Read back what changed (a role created now through ``fresh``); an unchanged role is as it was read.
        final = None if module.check_mode else (read_role(fresh if current is None else client, name) if changes else current)
        if final:
            arn, profile_arn = final["arn"], final["instance_profile_arn"]
        else:
            account = account or list(account_partition(module))  # asked once per run
            arn = current["arn"] if current else "arn:%s:iam::%s:role%s%s" % (account[1], account[0], spec["path"], name)
            profile_arn = "arn:%s:iam::%s:instance-profile%s%s" % (account[1], account[0], spec["path"], name) if spec["instance_profile"] else None
        after[name] = for_diff(final) if final else desired
        action = "created" if current is None else ("updated" if changes else "unchanged")
        result.update(arn=arn, instance_profile_arn=profile_arn, action=action, changed=bool(changes), changes=changes)
        results.append(result)
    return results, before, after


def main():
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    errors = validation_errors(module.params["roles"], module.params["state"])
    if errors:
        module.fail_json(msg="Invalid roles, nothing was changed: " + "; ".join(errors), errors=errors)
    client = RetryingClient(module, "iam")
    try:
        results, before, after = run(module, client)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        module.fail_json_aws(error, msg="IAM request failed")
    module.exit_json(changed=any(r["changed"] for r in results), roles=results, diff={"before": before, "after": after})


if __name__ == "__main__":
    main()
