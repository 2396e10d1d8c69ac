#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: eks_cluster_info
short_description: Read an EKS cluster (endpoint, version, status, OIDC issuer, network)
version_added: 0.2.0
description:
  - Reads one EKS cluster with the EKS API and returns what Helm installs and IRSA need. amazon.aws and
    community.aws manage clusters (community.aws.eks_cluster) but have no module that only reads one.
  - Fails with a clear message when the cluster does not exist, unless O(must_exist=false).
author:
  - lgtm.aws maintainers (@lgtm-aws)
options:
  name:
    description: Cluster name.
    type: str
    required: true
  must_exist:
    description: Fail when the cluster does not exist. With C(false), return RV(exists=false) instead.
    type: bool
    default: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Read-only; supports check mode.
"""

EXAMPLES = r"""
- name: Read the target cluster
  lgtm.aws.eks_cluster_info:
    name: acme-prod
    region: eu-west-1
  register: cluster

- name: Use its issuer
  ansible.builtin.debug:
    msg: "{{ cluster.cluster.oidc_issuer }}"
"""

RETURN = r"""
exists:
  description: Whether the cluster exists.
  returned: always
  type: bool
cluster:
  description: The cluster, when it exists.
  returned: when the cluster exists
  type: dict
  contains:
    name:
      description: Cluster name.
      type: str
    arn:
      description: Cluster ARN.
      type: str
    status:
      description: Cluster status, e.g. ACTIVE.
      type: str
    version:
      description: Kubernetes version.
      type: str
    endpoint:
      description: API server endpoint.
      type: str
    certificate_authority:
      description: Base64 CA certificate of the API server.
      type: str
    oidc_issuer:
      description: OIDC issuer URL of the cluster's service account tokens (for IRSA).
      type: str
    vpc_id:
      description: VPC of the cluster.
      type: str
    subnet_ids:
      description: Subnets of the cluster.
      type: list
      elements: str
    security_group_ids:
      description: Additional security groups of the cluster.
      type: list
      elements: str
    cluster_security_group_id:
      description: The cluster security group EKS created.
      type: str
    tags:
      description: Tags.
      type: dict
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.lgtm.aws.plugins.module_utils.aws_common import RetryingClient, error_code


def summary(cluster):
    network = cluster.get("resourcesVpcConfig") or {}
    return {
        "name": cluster["name"],
        "arn": cluster.get("arn"),
        "status": cluster.get("status"),
        "version": cluster.get("version"),
        "endpoint": cluster.get("endpoint"),
        "certificate_authority": (cluster.get("certificateAuthority") or {}).get("data"),
        "oidc_issuer": ((cluster.get("identity") or {}).get("oidc") or {}).get("issuer"),
        "vpc_id": network.get("vpcId"),
        "subnet_ids": network.get("subnetIds") or [],
        "security_group_ids": network.get("securityGroupIds") or [],
        "cluster_security_group_id": network.get("clusterSecurityGroupId"),
        "tags": cluster.get("tags") or {},
    }


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(name=dict(type="str", required=True), must_exist=dict(type="bool", default=True)),
        supports_check_mode=True,
    )
    name = module.params["name"]
    try:
        cluster = RetryingClient(module, "eks").describe_cluster(name=name)["cluster"]
    except botocore.exceptions.ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            if module.params["must_exist"]:
                module.fail_json(msg="name: EKS cluster %r does not exist in %s." % (name, module.region))
            module.exit_json(changed=False, exists=False)
        module.fail_json_aws(error, msg="Could not read EKS cluster %r" % name)
    except botocore.exceptions.BotoCoreError as error:
        module.fail_json_aws(error, msg="Could not read EKS cluster %r" % name)
    module.exit_json(changed=False, exists=True, cluster=summary(cluster))


if __name__ == "__main__":
    main()
