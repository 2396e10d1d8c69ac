#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: service_discovery
short_description: A Cloud Map private DNS namespace and its services, in one idempotent call
version_added: 0.2.0
description:
  - Makes sure an AWS Cloud Map private DNS namespace exists in a VPC, with one service per name given (A records,
    custom health checks as ECS uses them), and returns the services' ARNs for ECS C(serviceRegistries).
  - Services not listed are left alone unless O(purge_services=true); with O(state=absent) the listed services and
    then the namespace are deleted (Cloud Map refuses while instances are still registered).
author:
  - lgtm.aws maintainers (@lgtm-aws)
options:
  namespace:
    description: DNS name of the namespace, e.g. C(monitoring.local).
    type: str
    required: true
  vpc_id:
    description: VPC the private namespace answers in. Required with O(state=present).
    type: str
  services:
    description: Services in the namespace.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Service name, the first label of its DNS name.
        type: str
        required: true
      ttl:
        description: TTL of its A records in seconds.
        type: int
        default: 10
  purge_services:
    description: Delete services of the namespace that are not listed.
    type: bool
    default: false
  tags:
    description: Tags on the namespace (set when it is created).
    type: dict
    default: {}
  state:
    description: Whether the namespace and the listed services should exist.
    type: str
    choices: [present, absent]
    default: present
  wait_timeout:
    description: Seconds to wait for Cloud Map's asynchronous namespace operations.
    type: int
    default: 300
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Supports check mode and diff mode.
"""

EXAMPLES = r"""
- name: Namespace for Prometheus, Alertmanager and Grafana
  lgtm.aws.service_discovery:
    namespace: monitoring.local
    vpc_id: vpc-0abc123
    services: [{name: prometheus}, {name: alertmanager}, {name: grafana}, {name: cloudwatch-exporter}]
  register: cloudmap

- name: Use the ARN in an ECS service
  ansible.builtin.debug:
    msg: "{{ cloudmap.services.prometheus.arn }}"
"""

RETURN = r"""
namespace:
  description: The namespace (C(id) and C(arn) are C(null) in check mode when it would be created).
  returned: always
  type: dict
  sample: {name: monitoring.local, id: ns-abc, arn: "arn:aws:servicediscovery:eu-west-1:123456789012:namespace/ns-abc"}
services:
  description: Service name to C(id) and C(arn).
  returned: always
  type: dict
  sample: {prometheus: {id: srv-abc, arn: "arn:aws:servicediscovery:eu-west-1:123456789012:service/srv-abc"}}
"""

import re
import time

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.lgtm.aws.plugins.module_utils.aws_common import RetryingClient, tag_list

DNS_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def find_namespace(client, name):
    for namespace in client.paginate("list_namespaces")["Namespaces"]:
        if namespace["Name"] == name and namespace.get("Type") == "DNS_PRIVATE":
            return namespace
    return None


def namespace_services(client, namespace_id):
    found = {}
    for service in client.paginate("list_services", Filters=[{"Name": "NAMESPACE_ID", "Values": [namespace_id]}])["Services"]:
        found[service["Name"]] = service
    return found


def wait_operation(module, client, operation_id):
    deadline = time.time() + module.params["wait_timeout"]
    while time.time() < deadline:
        operation = client.get_operation(OperationId=operation_id)["Operation"]
        if operation["Status"] == "SUCCESS":
            return operation
        if operation["Status"] == "FAIL":
            module.fail_json(msg="Cloud Map operation %s failed: %s" % (operation_id, operation.get("ErrorMessage")))
        time.sleep(2)
    module.fail_json(msg="Cloud Map operation %s did not finish within wait_timeout=%d s" % (operation_id, module.params["wait_timeout"]))


def validate(module):
    params = module.params
    if not DNS_NAME.match(params["namespace"]):
        module.fail_json(msg="namespace: %r is not a DNS name such as monitoring.local" % params["namespace"])
    if params["state"] == "present" and not re.match(r"^vpc-[0-9a-f]+$", params["vpc_id"] or ""):
        module.fail_json(msg="vpc_id: required with state=present, a VPC id such as vpc-0abc123 (got %r)" % params["vpc_id"])
    names = [s["name"] for s in params["services"]]
    for name in names:
        if not LABEL.match(name):
            module.fail_json(msg="services: %r is not a DNS label (lower-case letters, digits, hyphens)" % name)
        if names.count(name) > 1:
            module.fail_json(msg="services: %r is listed twice" % name)
        if not 0 <= [s["ttl"] for s in params["services"] if s["name"] == name][0] <= 2147483647:
            module.fail_json(msg="services: ttl of %r must be 0 or more seconds" % name)


def ensure_present(module, client):
    params = module.params
    changed, before, after = False, {}, {"namespace": params["namespace"], "services": sorted(s["name"] for s in params["services"])}
    namespace = find_namespace(client, params["namespace"])
    if namespace:
        before = {"namespace": params["namespace"], "services": []}
    elif module.check_mode:
        return True, {}, after, {"name": params["namespace"], "id": None, "arn": None}, {s["name"]: {"id": None, "arn": None} for s in params["services"]}
    else:
        operation = client.create_private_dns_namespace(Name=params["namespace"], Vpc=params["vpc_id"], Tags=tag_list(params["tags"]))
        wait_operation(module, client, operation["OperationId"])
        namespace = find_namespace(client, params["namespace"])
        changed = True
    existing = namespace_services(client, namespace["Id"])
    before_services = sorted(existing) if before else []
    services = {}
    for wanted in params["services"]:
        current = existing.get(wanted["name"])
        if current:
            detail = client.get_service(Id=current["Id"])["Service"]
            records = detail.get("DnsConfig", {}).get("DnsRecords", [])
            if [r.get("TTL") for r in records if r["Type"] == "A"] != [wanted["ttl"]]:
                changed = True
                if not module.check_mode:
                    client.update_service(Id=current["Id"], Service={"DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": wanted["ttl"]}]}})
            services[wanted["name"]] = {"id": current["Id"], "arn": current["Arn"]}
            continue
        changed = True
        if module.check_mode:
            services[wanted["name"]] = {"id": None, "arn": None}
            continue
        created = client.create_service(
            Name=wanted["name"], NamespaceId=namespace["Id"],
            DnsConfig={"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": wanted["ttl"]}]},
            HealthCheckCustomConfig={"FailureThreshold": 1})["Service"]
        services[wanted["name"]] = {"id": created["Id"], "arn": created["Arn"]}
    if params["purge_services"]:
        for name, current in existing.items():
            if name not in services:
                changed = True
                if not module.check_mode:
                    client.delete_service(Id=current["Id"])
    if before:
        before["services"] = before_services
        if not params["purge_services"]:
            after["services"] = sorted(set(after["services"]) | set(before_services))
    return changed, before, after, {"name": params["namespace"], "id": namespace["Id"], "arn": namespace["Arn"]}, services


def ensure_absent(module, client):
    params = module.params
    namespace = find_namespace(client, params["namespace"])
    if not namespace:
        return False, {}, {}, {"name": params["namespace"], "id": None, "arn": None}, {}
    existing = namespace_services(client, namespace["Id"])
    before = {"namespace": params["namespace"], "services": sorted(existing)}
    if not module.check_mode:
        for current in existing.values():
            client.delete_service(Id=current["Id"])
        operation = client.delete_namespace(Id=namespace["Id"])
        wait_operation(module, client, operation["OperationId"])
    return True, before, {}, {"name": params["namespace"], "id": None, "arn": None}, {}


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            namespace=dict(type="str", required=True),
            vpc_id=dict(type="str"),
            services=dict(type="list", elements="dict", default=[], options=dict(
                name=dict(type="str", required=True), ttl=dict(type="int", default=10))),
            purge_services=dict(type="bool", default=False),
            tags=dict(type="dict", default={}),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            wait_timeout=dict(type="int", default=300),
        ),
        required_if=[("state", "present", ["vpc_id"])],
        supports_check_mode=True,
    )
    validate(module)
    client = RetryingClient(module, "servicediscovery")
    try:
        if module.params["state"] == "present":
            changed, before, after, namespace, services = ensure_present(module, client)
        else:
            changed, before, after, namespace, services = ensure_absent(module, client)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg="Cloud Map namespace %s" % module.params["namespace"])
    module.exit_json(changed=changed, namespace=namespace, services=services, diff={"before": before, "after": after})


if __name__ == "__main__":
    main()
