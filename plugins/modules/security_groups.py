#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: security_groups
short_description: Several VPC security groups that refer to each other, in one idempotent call
version_added: 0.3.0
description:
  - Makes the listed security groups of one VPC exist with exactly the given ingress rules and tags, or makes them absent.
  - Rules may name another group of the list (or any group of the VPC) by name; groups are created first, then the
    rules are set, so the order of the list does not matter for references.
  - Reads all groups with one C(DescribeSecurityGroups) call and changes only what differs. Egress rules are left as
    they are (a new group keeps AWS's default allow-all egress).
  - A group's description cannot be changed in AWS; a different description is reported as a warning.
  - With O(state=absent) the listed groups are deleted in the order given (list groups that refer to others first).
author:
  - lgtm.aws maintainers (@lgtm-aws)
options:
  vpc_id:
    description: The VPC of the groups.
    type: str
    required: true
  groups:
    description: The security groups.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Group name, unique in the VPC.
        type: str
        required: true
      description:
        description: Group description (required to create it).
        type: str
      rules:
        description: Ingress rules; each admits one source on the given ports. With O(purge_rules), rules not listed are removed.
        type: list
        elements: dict
        default: []
        suboptions:
          proto:
            description: Protocol, C(tcp), C(udp), C(icmp) or C(-1)/C(all) for every protocol.
            type: str
            default: tcp
          ports:
            description: Ports, each a number or a C(from-to) range. Not used with O(groups[].rules[].proto=-1).
            type: list
            elements: str
            default: []
          cidr_ip:
            description: IPv4 network admitted.
            type: str
          cidr_ipv6:
            description: IPv6 network admitted.
            type: str
          group_name:
            description: Name of a security group of the same VPC whose members are admitted.
            type: str
          group_id:
            description: Id of a security group whose members are admitted.
            type: str
          rule_desc:
            description: Description of the rule.
            type: str
            default: ""
  tags:
    description: Tags on every listed group, besides C(Name) (set to the group's name). Tags not given are removed.
    type: dict
    default: {}
  purge_rules:
    description: Remove ingress rules that are not listed.
    type: bool
    default: true
  state:
    description: Whether the listed groups should exist.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Supports check mode and diff mode.
seealso:
  - module: amazon.aws.ec2_security_group
"""

EXAMPLES = r"""
- name: An ALB open to the office and a service open only to the ALB
  lgtm.aws.security_groups:
    vpc_id: vpc-0abc123
    groups:
      - name: acme-prod-alb
        description: ALB from the office
        rules:
          - {proto: tcp, ports: [443], cidr_ip: 203.0.113.0/24, rule_desc: office}
      - name: acme-prod-app
        description: App from the ALB only
        rules:
          - {proto: tcp, ports: [8080], group_name: acme-prod-alb, rule_desc: from the ALB}
    tags:
      Project: lgtm
  register: groups

- name: The app group's id
  ansible.builtin.debug:
    msg: "{{ groups.group_ids['acme-prod-app'] }}"

- name: Remove them, the referring group first
  lgtm.aws.security_groups:
    vpc_id: vpc-0abc123
    groups: [{name: acme-prod-app}, {name: acme-prod-alb}]
    state: absent
"""

RETURN = r"""
group_ids:
  description: Name to id of each listed group (C(null) in check mode for a group that would be created, and after deletion).
  returned: always
  type: dict
  sample: {acme-prod-alb: sg-0123456789abcdef0, acme-prod-app: sg-0fedcba9876543210}
created:
  description: Names of the groups created (or that would be).
  returned: always
  type: list
  elements: str
  sample: [acme-prod-app]
updated:
  description: Names of the groups whose rules or tags changed (or would).
  returned: always
  type: list
  elements: str
  sample: []
deleted:
  description: Names of the groups deleted (or that would be).
  returned: always
  type: list
  elements: str
  sample: []
"""

import ipaddress
import re

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags
from ansible_collections.lgtm.aws.plugins.module_utils.aws_common import converge

PROTOCOLS = {"tcp": "tcp", "udp": "udp", "icmp": "icmp", "-1": "-1", "all": "-1", "6": "tcp", "17": "udp", "1": "icmp"}
PORTS = re.compile(r"^(-?\d+)(?:-(\d+))?$")


def port_range(text):
    match = PORTS.match(str(text).strip())
    if not match:
        return None
    low = int(match.group(1))
    return low, int(match.group(2)) if match.group(2) else low


def check_params(params):
    """Every problem with the arguments at once, each naming the group and rule."""
    problems = []
    names = [g["name"] for g in params["groups"]]
    if not re.match(r"^vpc-[0-9a-f]+$", params["vpc_id"]):
        problems.append("vpc_id: %r is not a VPC id such as vpc-0abc123" % params["vpc_id"])
    for index, group in enumerate(params["groups"]):
        where = "groups[%d] (%s)" % (index, group["name"])
        if names.count(group["name"]) > 1:
            problems.append("%s: listed twice" % where)
        if params["state"] == "absent":
            continue
        if not group.get("description"):
            problems.append("%s: description is required with state=present" % where)
        for number, rule in enumerate(group["rules"] or []):
            at = "%s.rules[%d]" % (where, number)
            sources = [key for key in ("cidr_ip", "cidr_ipv6", "group_name", "group_id") if rule.get(key)]
            if len(sources) != 1:
                problems.append("%s: give exactly one of cidr_ip, cidr_ipv6, group_name, group_id (got %s)" % (at, ", ".join(sources) or "none"))
            if str(rule["proto"]).lower() not in PROTOCOLS:
                problems.append("%s: proto %r is not one of tcp, udp, icmp, -1 (all)" % (at, rule["proto"]))
            elif PROTOCOLS[str(rule["proto"]).lower()] != "-1":
                if not rule["ports"]:
                    problems.append("%s: ports are required with proto %s" % (at, rule["proto"]))
                for port in rule["ports"] or []:
                    bounds = port_range(port)
                    if bounds is None or bounds[0] > bounds[1] or bounds[1] > 65535:
                        problems.append("%s: port %r is not a number or a from-to range within 0-65535" % (at, port))
            for key, version in (("cidr_ip", 4), ("cidr_ipv6", 6)):
                if rule.get(key):
                    try:
                        if ipaddress.ip_network(rule[key], strict=False).version != version:
                            raise ValueError(rule[key])
                    except ValueError:
                        problems.append("%s: %s %r is not an IPv%d network" % (at, key, rule[key], version))
    return problems


def permission_keys(permissions):
    """IpPermissions as a set of (proto, from, to, kind, source) -> description."""
    keys = {}
    for permission in permissions:
        proto = PROTOCOLS.get(str(permission["IpProtocol"]), str(permission["IpProtocol"]))
        low, high = permission.get("FromPort"), permission.get("ToPort")
        if proto == "-1":
            low = high = None
        for entry in permission.get("IpRanges", []):
            keys[(proto, low, high, "cidr_ip", entry["CidrIp"])] = entry.get("Description", "")
        for entry in permission.get("Ipv6Ranges", []):
            keys[(proto, low, high, "cidr_ipv6", entry["CidrIpv6"])] = entry.get("Description", "")
        for entry in permission.get("UserIdGroupPairs", []):
            keys[(proto, low, high, "group_id", entry["GroupId"])] = entry.get("Description", "")
    return keys


def wanted_keys(group, ids):
    keys = {}
    for rule in group["rules"] or []:
        proto = PROTOCOLS[str(rule["proto"]).lower()]
        if rule.get("group_name"):
            source = ("group_id", ids.get(rule["group_name"]) or "(%s)" % rule["group_name"])
        elif rule.get("group_id"):
            source = ("group_id", rule["group_id"])
        elif rule.get("cidr_ipv6"):
            source = ("cidr_ipv6", str(ipaddress.ip_network(rule["cidr_ipv6"], strict=False)))
        else:
            source = ("cidr_ip", str(ipaddress.ip_network(rule["cidr_ip"], strict=False)))
        ranges = [(None, None)] if proto == "-1" else [port_range(p) for p in rule["ports"]]
        for low, high in ranges:
            keys[(proto, low, high) + source] = rule.get("rule_desc") or ""
    return keys


def to_permissions(keys):
    """(proto, from, to, kind, source) -> description back to IpPermissions, one per rule."""
    permissions = []
    for (proto, low, high, kind, source), description in sorted(keys.items(), key=lambda item: str(item[0])):
        permission = {"IpProtocol": proto}
        if proto != "-1":
            permission.update(FromPort=low, ToPort=high)
        entry = {"cidr_ip": ("IpRanges", "CidrIp"), "cidr_ipv6": ("Ipv6Ranges", "CidrIpv6"), "group_id": ("UserIdGroupPairs", "GroupId")}[kind]
        item = {entry[1]: source}
        if description:
            item["Description"] = description
        permission[entry[0]] = [item]
        permissions.append(permission)
    return permissions


def describe_rule(key, description, names_by_id):
    proto, low, high, _kind, source = key
    ports = "all" if proto == "-1" else (str(low) if low == high else "%s-%s" % (low, high))
    return "%s %s from %s%s" % (proto, ports, names_by_id.get(source, source), " (%s)" % description if description else "")


def read_groups(client, vpc_id, names):
    if not names:
        return {}
    filters = [{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": list(names)}]
    found = {}
    for group in client.paginate("describe_security_groups", Filters=filters)["SecurityGroups"]:
        found[group["GroupName"]] = group
    return found


def referenced_names(params):
    return sorted(set(rule["group_name"] for group in params["groups"] for rule in group["rules"] or [] if rule.get("group_name")))


def ensure_present(client, params, check_mode, warn):
    listed = [g["name"] for g in params["groups"]]
    existing = read_groups(client, params["vpc_id"], sorted(set(listed) | set(referenced_names(params))))
    result = {"created": [], "updated": [], "deleted": [], "group_ids": {}}
    missing = [name for name in referenced_names(params) if name not in existing and name not in listed]
    if missing:
        raise ValueError("rules refer to security groups that are neither listed nor in %s: %s" % (params["vpc_id"], ", ".join(missing)))
    ids = dict((name, group["GroupId"]) for name, group in existing.items())
    diffs = []
    for group in params["groups"]:
        name = group["name"]
        if name in existing:
            continue
        result["created"].append(name)
        if check_mode:
            ids[name] = None
            continue
        tags = dict(params["tags"], Name=name)
        created = client.create_security_group(GroupName=name, Description=group["description"], VpcId=params["vpc_id"], aws_retry=True,
                                               TagSpecifications=[{"ResourceType": "security-group",
                                                                   "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}])
        ids[name] = created["GroupId"]
        existing[name] = {"GroupId": created["GroupId"], "GroupName": name, "Description": group["description"],
                          "IpPermissions": [], "Tags": [{"Key": k, "Value": v} for k, v in tags.items()], "new": True}
    names_by_id = dict((group_id, name) for name, group_id in ids.items() if group_id)
    for group in params["groups"]:
        name = group["name"]
        current = existing.get(name)
        group_id = ids[name]
        result["group_ids"][name] = group_id
        have = permission_keys(current["IpPermissions"]) if current else {}
        want = wanted_keys(group, ids)
        add = dict((key, d) for key, d in want.items() if key not in have)
        drop = dict((key, d) for key, d in have.items() if key not in want) if params["purge_rules"] else {}
        relabel = dict((key, d) for key, d in want.items() if key in have and have[key] != d)
        current_tags = dict((t["Key"], t["Value"]) for t in (current or {}).get("Tags", []))
        set_tags, remove_tags = compare_aws_tags(current_tags, dict(params["tags"], Name=name), purge_tags=True) if current else ({}, [])
        if current and current.get("Description") != group["description"]:
            warn("security group %s: its description differs (%r, asked %r); AWS cannot change it" % (name, current.get("Description"), group["description"]))
        new = current is None or current.get("new")
        if not (add or drop or relabel or set_tags or remove_tags) and not new:
            continue
        if not new:
            result["updated"].append(name)
        before = sorted(describe_rule(key, d, names_by_id) for key, d in have.items())
        kept = dict((k, v) for k, v in have.items() if k not in drop)
        kept.update(want)
        after = sorted(describe_rule(key, d, names_by_id) for key, d in kept.items())
        after_tags = dict((k, v) for k, v in current_tags.items() if k not in remove_tags) if not new else dict(params["tags"], Name=name)
        after_tags.update(set_tags)
        diffs.append({"before_header": name if not new else "%s (absent)" % name, "after_header": name,
                      "before": "" if new else "".join(line + "\n" for line in before)
                      + "".join("tag %s: %s\n" % item for item in sorted(current_tags.items())),
                      "after": "".join(line + "\n" for line in after) + "".join("tag %s: %s\n" % item for item in sorted(after_tags.items()))})
        if check_mode:
            continue
        if drop:
            client.revoke_security_group_ingress(GroupId=group_id, IpPermissions=to_permissions(drop), aws_retry=True)
        if add:
            client.authorize_security_group_ingress(GroupId=group_id, IpPermissions=to_permissions(add), aws_retry=True)
        if relabel:
            client.update_security_group_rule_descriptions_ingress(GroupId=group_id, IpPermissions=to_permissions(relabel), aws_retry=True)
        if remove_tags:
            client.delete_tags(Resources=[group_id], Tags=[{"Key": k} for k in remove_tags], aws_retry=True)
        if set_tags:
            client.create_tags(Resources=[group_id], Tags=[{"Key": k, "Value": v} for k, v in sorted(set_tags.items())], aws_retry=True)
    return bool(diffs), diffs, result


def ensure_absent(client, params, check_mode):
    listed = [g["name"] for g in params["groups"]]
    existing = read_groups(client, params["vpc_id"], listed)
    doomed = [name for name in listed if name in existing]
    diffs = [{"before_header": name, "after_header": "%s (absent)" % name, "before": "%s\n" % existing[name]["GroupId"], "after": ""} for name in doomed]
    if not check_mode:
        for name in doomed:
            client.delete_security_group(GroupId=existing[name]["GroupId"], aws_retry=True)
    return bool(doomed), diffs, {"created": [], "updated": [], "deleted": doomed, "group_ids": dict((name, None) for name in listed)}


def main():
    rule = dict(proto=dict(type="str", default="tcp"), ports=dict(type="list", elements="str", default=[]), cidr_ip=dict(type="str"),
                cidr_ipv6=dict(type="str"), group_name=dict(type="str"), group_id=dict(type="str"), rule_desc=dict(type="str", default=""))
    module = AnsibleAWSModule(
        argument_spec=dict(
            vpc_id=dict(type="str", required=True),
            groups=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True), description=dict(type="str"),
                rules=dict(type="list", elements="dict", default=[], options=rule))),
            tags=dict(type="dict", default={}),
            purge_rules=dict(type="bool", default=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    params = module.params

    def action(client):
        if params["state"] == "present":
            return ensure_present(client, params, module.check_mode, module.warn)
        return ensure_absent(client, params, module.check_mode)

    converge(module, "ec2", check_params(params), action, "Security groups in %s" % params["vpc_id"], value_errors=True)


if __name__ == "__main__":
    main()
