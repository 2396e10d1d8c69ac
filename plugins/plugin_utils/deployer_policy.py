# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deployer's IAM policy: what a user needs to run site.yml, per capability, scoped to the name prefix.

Built from the facts the roles name their resources with (``<name_prefix>-<environment>`` for buckets, roles,
instance profiles, ECS, ELB and log groups; ``/lgtm/<base>/`` for SSM; the EKS cluster; the region and account).
Each capability is one function in ``CAPABILITIES`` returning its statements; add a capability (or a statement to
one) there. The run lock's statement (``run_lock_name``) comes with every capability: each run takes the lock. Every statement's Sid ends in how it is scoped:

- ``...Prefixed``: each Resource names this deployment's prefix (``<name_prefix>-<environment>``) or its exact names;
- ``...InAccount``: the resource's ARN holds an id AWS makes (security group, file system, Cloud Map service,
  hosted zone), not a name, so it is scoped to the region and account only;
- ``...AnyResource``: the action does not support resource-level permissions (AWS's Service Authorization
  Reference lists no resource type for it), so the Resource must be ``*``.

``IMPLICIT`` names the statements whose actions no API call of the run makes itself: AWS checks them inside
another call (``iam:PassRole`` inside ECS ``RegisterTaskDefinition``/``CreateService``, the network interface
calls inside EFS ``CreateMountTarget``, the Route 53 and EC2 calls inside Cloud Map's ``CreatePrivateDnsNamespace``).
``CHANGE_ONLY`` names the actions the modules call only when a setting changed (or on teardown with ``teardown``).
"""

import copy

from ansible_collections.lgtm.aws.plugins.filter.storage_spec import COMPONENT_BUCKETS

CAPABILITY_NAMES = ("storage", "identity", "ecs", "eks")
SUFFIXES = ("Prefixed", "InAccount", "AnyResource")
# The AWS managed policies the identity role attaches (lgtm.aws iam_documents).
MANAGED_POLICIES = ("service-role/AmazonECSTaskExecutionRolePolicy",)

# Statements no call of a run makes itself: AWS checks them inside another call (see the module docstring).
IMPLICIT = {
    "IdentityPassInstanceProfileRolesPrefixed": "checked by AWS inside iam:AddRoleToInstanceProfile",
    "EcsTagServicesPrefixed": "checked by AWS inside ecs:CreateService with tags; called itself only when tags change",
    "EcsPassTaskRolesPrefixed": "checked by AWS inside ecs:RegisterTaskDefinition and ecs:CreateService/UpdateService",
    "EcsMountTargetNetworkInAccount": "checked by AWS inside elasticfilesystem:CreateMountTarget",
    "EcsMountTargetNetworkAnyResource": "checked by AWS inside elasticfilesystem:CreateMountTarget",
    "EcsCloudMapNamespaceAnyResource": "checked by AWS inside servicediscovery:CreatePrivateDnsNamespace",
}
# Actions the modules call only when something differs from what the account holds (a setting changed, a tag was
# edited by hand, a resource was removed from the spec), or on teardown (state: absent with teardown=true).
CHANGE_ONLY = {
    "s3:PutBucketVersioning": "only when storage_versioning changes",
    "s3:PutBucketOwnershipControls": "only when a bucket's object ownership is not BucketOwnerEnforced",
    "iam:UpdateAssumeRolePolicy": "only when a role's trust policy changes",
    "iam:UpdateRole": "only when a role's description or session duration changes",
    "iam:DeleteRolePolicy": "only when an inline policy is dropped from a role",
    "iam:DetachRolePolicy": "only when a managed policy is dropped from a role",
    "iam:TagRole": "only when a role's tags change after it was created",
    "iam:UntagRole": "only when a role's tags change",
    "iam:RemoveRoleFromInstanceProfile": "only when an instance profile holds another role",
    "iam:TagOpenIDConnectProvider": "only when the provider's tags change",
    "iam:UntagOpenIDConnectProvider": "only when the provider's tags change",
    "iam:AddClientIDToOpenIDConnectProvider": "only when the audiences change",
    "iam:RemoveClientIDFromOpenIDConnectProvider": "only when the audiences change",
    "iam:UpdateOpenIDConnectProviderThumbprint": "only when identity_oidc_thumbprints change",
    "ec2:RevokeSecurityGroupIngress": "only when a rule is dropped from a security group",
    "ec2:UpdateSecurityGroupRuleDescriptionsIngress": "only when a rule's description changes",
    "ec2:CreateTags": "only when a security group's tags change",
    "ec2:DeleteTags": "only when a security group's tags change",
    "ecs:UntagResource": "only when the cluster's or a service's tags change",
    "ecs:UpdateService": "only when a service's task definition, count or network changes",
    "elasticfilesystem:TagResource": "only when the file system's tags change",
    "elasticfilesystem:UntagResource": "only when the file system's tags change",
    "elasticloadbalancing:RemoveTags": "only when the ALB's or target group's tags change",
    "elasticloadbalancing:ModifyLoadBalancerAttributes": "only when the ALB's attributes change",
    "elasticloadbalancing:ModifyTargetGroup": "only when the target group's health check changes",
    "elasticloadbalancing:ModifyTargetGroupAttributes": "only when the target group's attributes change",
    "elasticloadbalancing:ModifyListener": "only when a listener's certificate or action changes",
    "elasticloadbalancing:ModifyRule": "only when the Grafana host rule changes",
    "elasticloadbalancing:SetSecurityGroups": "only when the ALB's security groups change",
    "elasticloadbalancing:SetSubnets": "only when the ALB's subnets change",
    "logs:TagResource": "only when a log group's tags change",
    "logs:UntagResource": "only when a log group's tags change",
    "ssm:AddTagsToResource": "only when a parameter's tags change",
    "ssm:RemoveTagsFromResource": "only when a parameter's tags change",
    "ssm:DeleteParameters": "only when a file is dropped from the configuration",
    "servicediscovery:UpdateService": "only when a Cloud Map service's DNS settings change",
}


class DeployerPolicyError(ValueError):
    """Bad input for the deployer policy."""


def _statement(sid, actions, resources):
    if not sid.endswith(SUFFIXES):
        raise DeployerPolicyError("statement %s: its Sid must end in one of %s" % (sid, ", ".join(SUFFIXES)))
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(set(actions)),
            "Resource": sorted(set(resources)) if isinstance(resources, (list, tuple)) else resources}


def _facts(facts):
    known = {"name_prefix", "environment", "region", "account_id", "partition", "capabilities", "components",
             "bucket_names", "eks_cluster_name", "ecs_vpc_id", "kms_key_id", "teardown", "run_lock_name"}
    unknown = sorted(set(facts) - known)
    if unknown:
        raise DeployerPolicyError("unknown deployer policy facts: %s; allowed: %s" % (", ".join(unknown), ", ".join(sorted(known))))
    problems = []
    for key in ("name_prefix", "environment", "region"):
        if not isinstance(facts.get(key), str) or not facts.get(key) or "*" in facts[key]:
            problems.append("%s must be a non-empty name without wildcards (got %r)" % (key, facts.get(key)))
    capabilities = facts.get("capabilities", list(CAPABILITY_NAMES))
    if not isinstance(capabilities, list) or any(c not in CAPABILITY_NAMES for c in capabilities):
        problems.append("capabilities must be a list of %s (got %r)" % (", ".join(CAPABILITY_NAMES), capabilities))
    components = facts.get("components", ["loki", "mimir", "tempo"])
    if not isinstance(components, list) or any(c not in COMPONENT_BUCKETS for c in components):
        problems.append("components must be a list of %s (got %r)" % (", ".join(COMPONENT_BUCKETS), components))
    account = str(facts.get("account_id") or "*")
    if account != "*" and not (account.isdigit() and len(account) == 12):
        problems.append("account_id must be the 12-digit account id, or empty for any account (got %r)" % account)
    if ("identity" in (capabilities or []) or "eks" in (capabilities or [])) and not facts.get("eks_cluster_name"):
        problems.append("eks_cluster_name is needed by the identity (IRSA) and eks capabilities (lgtm_eks_cluster_name)")
    lock = facts.get("run_lock_name") or ""
    if lock and (not isinstance(lock, str) or not lock.startswith("/") or "*" in lock):
        problems.append("run_lock_name must be an SSM parameter path starting with / (lgtm_run_lock_name), or empty "
                        "without a run lock (got %r)" % lock)
    if not isinstance(facts.get("bucket_names") or {}, dict):
        problems.append("bucket_names must be a mapping of bucket key to name (storage_bucket_names)")
    if problems:
        raise DeployerPolicyError("deployer_policy: " + "; ".join(problems))
    base = "%s-%s" % (facts["name_prefix"], facts["environment"])
    partition = facts.get("partition") or "aws"
    return {
        "base": base, "region": facts["region"], "account": account, "partition": partition,
        "capabilities": capabilities, "components": components, "bucket_names": facts.get("bucket_names") or {},
        "cluster": facts.get("eks_cluster_name") or "", "vpc_id": facts.get("ecs_vpc_id") or "",
        "kms_key_id": str(facts.get("kms_key_id") or ""),
        "teardown": bool(facts.get("teardown")),
        "run_lock_name": lock,
        # arn(service, resource) in this region and account; arn(service, resource, region="") for global services.
        "arn": lambda service, resource, region=None: "arn:%s:%s:%s:%s:%s" % (
            partition, service, facts["region"] if region is None else region, account, resource),
    }


def bucket_names(ctx):
    """The storage role's bucket names: <base>-<key> per component, or the storage_bucket_names override."""
    keys = [key for component in ctx["components"] for key, _signal in COMPONENT_BUCKETS[component]]
    return [ctx["bucket_names"].get(key) or "%s-%s" % (ctx["base"], key.replace("_", "-")) for key in keys]


def storage(ctx):
    buckets = ["arn:%s:s3:::%s" % (ctx["partition"], name) for name in bucket_names(ctx)]
    actions = ["s3:CreateBucket", "s3:ListBucket", "s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:GetBucketTagging",
               "s3:PutBucketTagging", "s3:GetBucketVersioning", "s3:PutBucketVersioning", "s3:GetEncryptionConfiguration",
               "s3:PutEncryptionConfiguration", "s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration",
               "s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock", "s3:GetBucketOwnershipControls",
               "s3:PutBucketOwnershipControls"]
    statements = [_statement("StorageBucketsPrefixed", actions, buckets)]
    key = ctx["kms_key_id"]
    if key:
        # amazon.aws.kms_key_info reads the key (storage_encryption aws:kms): by ARN when given one, else any key of
        # the account (an alias or a key id names no ARN AWS could match before the call resolves it).
        exact = key.startswith("arn:") and ":key/" in key
        statements.append(_statement("StorageKmsKeyInAccount", [
            "kms:DescribeKey", "kms:GetKeyPolicy", "kms:ListKeyPolicies", "kms:GetKeyRotationStatus", "kms:ListResourceTags",
            "kms:ListGrants"], [key if exact else ctx["arn"]("kms", "key/*")]))
        if "alias/" in key:
            statements.append(_statement("StorageKmsAliasesAnyResource", ["kms:ListAliases"], "*"))
    if ctx["teardown"]:
        statements += [_statement("StorageTeardownBucketsPrefixed", ["s3:DeleteBucket", "s3:ListBucketVersions"], buckets),
                       _statement("StorageTeardownObjectsPrefixed", ["s3:DeleteObject", "s3:DeleteObjectVersion"],
                                  [bucket + "/*" for bucket in buckets])]
    return statements


def _iam(ctx, resource):
    return "arn:%s:iam::%s:%s" % (ctx["partition"], ctx["account"], resource)


def identity(ctx):
    roles = _iam(ctx, "role/%s-*" % ctx["base"])
    profiles = _iam(ctx, "instance-profile/%s-*" % ctx["base"])
    # The cluster's issuer (oidc.eks.<region>.amazonaws.com/id/<id>) is known only once the cluster exists.
    providers = _iam(ctx, "oidc-provider/oidc.eks.%s.amazonaws.com/id/*" % ctx["region"])
    managed = ["arn:%s:iam::aws:policy/%s" % (ctx["partition"], name) for name in MANAGED_POLICIES]
    statements = [
        _statement("IdentityRolesPrefixed", [
            "iam:CreateRole", "iam:GetRole", "iam:UpdateRole", "iam:UpdateAssumeRolePolicy", "iam:TagRole", "iam:UntagRole",
            "iam:ListRoleTags", "iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy", "iam:ListRolePolicies",
            "iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole"], [roles]),
        _statement("IdentityInstanceProfilesPrefixed", [
            "iam:CreateInstanceProfile", "iam:GetInstanceProfile", "iam:AddRoleToInstanceProfile",
            "iam:RemoveRoleFromInstanceProfile"], [profiles]),
        # AddRoleToInstanceProfile: AWS checks iam:PassRole on the role it adds.
        _statement("IdentityPassInstanceProfileRolesPrefixed", ["iam:PassRole"], [_iam(ctx, "role/%s-alloy-*" % ctx["base"])]),
        _statement("IdentityManagedPoliciesPrefixed", ["iam:GetPolicy"], managed),
        _statement("IdentityOidcProviderInAccount", [
            "iam:CreateOpenIDConnectProvider", "iam:GetOpenIDConnectProvider", "iam:TagOpenIDConnectProvider",
            "iam:UntagOpenIDConnectProvider", "iam:AddClientIDToOpenIDConnectProvider",
            "iam:RemoveClientIDFromOpenIDConnectProvider", "iam:UpdateOpenIDConnectProviderThumbprint"], [providers]),
        _statement("IdentityListOidcProvidersAnyResource", ["iam:ListOpenIDConnectProviders"], "*"),
        _statement("IdentityClusterIssuerPrefixed", ["eks:DescribeCluster"], [ctx["arn"]("eks", "cluster/%s" % ctx["cluster"])]),
    ]
    if ctx["teardown"]:
        statements += [
            _statement("IdentityTeardownRolesPrefixed", ["iam:DeleteRole", "iam:RemoveRoleFromInstanceProfile"], [roles]),
            _statement("IdentityTeardownInstanceProfilesPrefixed", ["iam:DeleteInstanceProfile"], [profiles]),
            _statement("IdentityTeardownOidcProviderInAccount", ["iam:DeleteOpenIDConnectProvider"], [providers]),
        ]
    return statements


def ecs(ctx):
    arn, base = ctx["arn"], ctx["base"]
    cluster = arn("ecs", "cluster/%s-monitoring" % base)
    services = arn("ecs", "service/%s-monitoring/%s-*" % (base, base))
    log_groups = [arn("logs", "log-group:/ecs/%s/*" % base)]
    parameters = arn("ssm", "parameter/lgtm/%s/ecs-monitoring/*" % base)  # ecs_aws names(): parameter_path
    elb = [arn("elasticloadbalancing", "loadbalancer/app/%s-*/*" % base[:24]),
           arn("elasticloadbalancing", "targetgroup/%s-*/*" % base[:24]),
           arn("elasticloadbalancing", "listener/app/%s-*/*/*" % base[:24])]
    rules = [arn("elasticloadbalancing", "listener-rule/app/%s-*/*/*/*" % base[:24])]
    groups = arn("ec2", "security-group/*")
    vpcs = arn("ec2", "vpc/%s" % ctx["vpc_id"] if ctx["vpc_id"] else "vpc/*")
    file_systems = [arn("elasticfilesystem", "file-system/*"), arn("elasticfilesystem", "access-point/*")]
    statements = [
        _statement("EcsClusterPrefixed", ["ecs:CreateCluster", "ecs:DescribeClusters", "ecs:UpdateCluster", "ecs:TagResource",
                                          "ecs:UntagResource"], [cluster]),
        _statement("EcsServicesPrefixed", ["ecs:CreateService", "ecs:DescribeServices", "ecs:UpdateService"], [services]),
        _statement("EcsTagServicesPrefixed", ["ecs:TagResource", "ecs:UntagResource"], [services]),
        _statement("EcsTaskDefinitionsAnyResource", ["ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition"], "*"),
        _statement("EcsPassTaskRolesPrefixed", ["iam:PassRole"], [_iam(ctx, "role/%s-ecs-*" % base)]),
        _statement("EcsLogGroupsPrefixed", ["logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:ListTagsForResource",
                                            "logs:TagResource", "logs:UntagResource"], log_groups),
        _statement("EcsDescribeLogGroupsAnyResource", ["logs:DescribeLogGroups"], "*"),
        _statement("EcsParametersPrefixed", ["ssm:PutParameter", "ssm:GetParameters", "ssm:DeleteParameters",
                                             "ssm:ListTagsForResource", "ssm:AddTagsToResource", "ssm:RemoveTagsFromResource"],
                   [parameters]),
        _statement("EcsDescribeParametersAnyResource", ["ssm:DescribeParameters"], "*"),
        _statement("EcsSecurityGroupsInAccount", ["ec2:CreateSecurityGroup", "ec2:AuthorizeSecurityGroupIngress",
                                                  "ec2:RevokeSecurityGroupIngress", "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
                                                  "ec2:CreateTags", "ec2:DeleteTags"], [groups]),
        _statement("EcsSecurityGroupVpcInAccount", ["ec2:CreateSecurityGroup"], [vpcs]),
        _statement("EcsDescribeNetworkAnyResource", ["ec2:DescribeSecurityGroups"], "*"),
        _statement("EcsFileSystemInAccount", [
            "elasticfilesystem:CreateFileSystem", "elasticfilesystem:DescribeFileSystems", "elasticfilesystem:CreateMountTarget",
            "elasticfilesystem:DescribeMountTargets", "elasticfilesystem:DescribeMountTargetSecurityGroups",
            "elasticfilesystem:CreateAccessPoint", "elasticfilesystem:DescribeAccessPoints", "elasticfilesystem:PutFileSystemPolicy",
            "elasticfilesystem:DescribeFileSystemPolicy", "elasticfilesystem:ListTagsForResource", "elasticfilesystem:TagResource",
            "elasticfilesystem:UntagResource"], file_systems),
        _statement("EcsMountTargetNetworkInAccount", ["ec2:CreateNetworkInterface"],
                   [arn("ec2", "network-interface/*"), arn("ec2", "subnet/*"), groups]),
        _statement("EcsMountTargetNetworkAnyResource", ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"], "*"),
        _statement("EcsLoadBalancerPrefixed", [
            "elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup", "elasticloadbalancing:CreateListener",
            "elasticloadbalancing:CreateRule", "elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags",
            "elasticloadbalancing:ModifyLoadBalancerAttributes", "elasticloadbalancing:ModifyTargetGroup",
            "elasticloadbalancing:ModifyTargetGroupAttributes", "elasticloadbalancing:ModifyListener",
            "elasticloadbalancing:SetSecurityGroups", "elasticloadbalancing:SetSubnets"], elb),
        _statement("EcsLoadBalancerRulesPrefixed", ["elasticloadbalancing:ModifyRule"], rules),
        _statement("EcsDescribeLoadBalancersAnyResource", [
            "elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancerAttributes",
            "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeRules", "elasticloadbalancing:DescribeTags",
            "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetGroupAttributes",
            "elasticloadbalancing:DescribeTargetHealth"], "*"),
        _statement("EcsCloudMapInAccount", ["servicediscovery:CreateService", "servicediscovery:GetService",
                                            "servicediscovery:UpdateService"],
                   [arn("servicediscovery", "namespace/*"), arn("servicediscovery", "service/*")]),
        _statement("EcsCloudMapAnyResource", ["servicediscovery:CreatePrivateDnsNamespace", "servicediscovery:ListNamespaces",
                                              "servicediscovery:ListServices", "servicediscovery:GetOperation"], "*"),
        _statement("EcsCloudMapNamespaceAnyResource", ["route53:CreateHostedZone", "route53:GetHostedZone",
                                                       "ec2:DescribeVpcs", "ec2:DescribeVpcAttribute"], "*"),
        _statement("EcsDnsRecordInAccount", ["route53:ListResourceRecordSets", "route53:ChangeResourceRecordSets"],
                   ["arn:%s:route53:::hostedzone/*" % ctx["partition"]]),
        _statement("EcsListHostedZonesAnyResource", ["route53:ListHostedZones"], "*"),
    ]
    if ctx["teardown"]:
        statements += [
            _statement("EcsTeardownPrefixed", ["ecs:DeleteCluster", "ecs:DeleteService", "ecs:ListServices", "logs:DeleteLogGroup",
                                               "ssm:DeleteParameter", "ssm:DeleteParameters",
                                               "elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:DeleteTargetGroup",
                                               "elasticloadbalancing:DeleteListener", "elasticloadbalancing:DeleteRule"],
                       [cluster, services] + log_groups + [parameters] + elb + rules),
            _statement("EcsTeardownInAccount", ["ec2:DeleteSecurityGroup", "elasticfilesystem:DeleteFileSystem",
                                                "elasticfilesystem:DeleteMountTarget", "elasticfilesystem:DeleteAccessPoint",
                                                "servicediscovery:DeleteService", "servicediscovery:DeleteNamespace"],
                       [groups] + file_systems + [arn("servicediscovery", "namespace/*"), arn("servicediscovery", "service/*")]),
        ]
    return statements


def eks(ctx):
    return [_statement("EksClusterPrefixed", ["eks:DescribeCluster"], [ctx["arn"]("eks", "cluster/%s" % ctx["cluster"])])]


CAPABILITIES = {"storage": storage, "identity": identity, "ecs": ecs, "eks": eks}


def run_lock(ctx):
    """site.yml's run lock (lgtm.aws.run_lock): one SSM parameter, taken, read and released by every run."""
    if not ctx["run_lock_name"]:
        return []
    return [_statement("RunLockPrefixed", ["ssm:PutParameter", "ssm:GetParameter", "ssm:DeleteParameter"],
                       [ctx["arn"]("ssm", "parameter" + ctx["run_lock_name"])])]


def deployer_policy(facts):
    """The deployer's IAM policy document (a dict) for ``facts`` (see ``_facts``), statements in capability order.

    Two statements with the same Sid (the identity and eks capabilities both read the cluster) are merged."""
    ctx = _facts(dict(facts))
    merged = {}
    chosen = [CAPABILITIES[capability] for capability in CAPABILITY_NAMES if capability in ctx["capabilities"]]
    for build in chosen + [run_lock]:
        for statement in build(ctx):
            key = (tuple(statement["Action"]), repr(statement["Resource"]))
            if key in merged:
                continue
            merged[key] = statement
    return {"Version": "2012-10-17", "Statement": [copy.deepcopy(s) for s in merged.values()]}
