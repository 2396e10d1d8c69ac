# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""IAM documents and the identity plan for the LGTM workloads."""

import re

from ansible.errors import AnsibleFilterError

from ansible_collections.lgtm.aws.plugins.module_utils import iam_documents as docs
from ansible_collections.lgtm.aws.plugins.plugin_utils.spec_checks import Problems, SpecError, check_keys, closest, fail, format_problem

ECS_TASK_ROLES = ("prometheus", "grafana", "cloudwatch_exporter", "alertmanager")


def _wrap(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except ValueError as error:
        raise AnsibleFilterError(str(error))


def oidc_issuer_host(issuer):
    """``https://oidc.eks.<region>.amazonaws.com/id/X`` -> ``oidc.eks.<region>.amazonaws.com/id/X``."""
    return _wrap(docs.issuer_host, issuer)


def irsa_trust_policy(provider_arn, issuer, namespace, service_account, audience="sts.amazonaws.com"):
    """Trust policy letting exactly ``system:serviceaccount:<namespace>:<service_account>`` assume the role."""
    checks = (
        ("provider_arn", provider_arn, docs.arn_error(provider_arn, "iam", "oidc-provider/")),
        ("namespace", namespace, docs.k8s_name_error(namespace)),
        ("service_account", service_account, docs.k8s_name_error(service_account)),
    )
    problems = ["%s %r %s" % (field, value, error) for field, value, error in checks if error]
    if problems:
        raise AnsibleFilterError("irsa_trust_policy: " + "; ".join(problems))
    return _wrap(docs.irsa_trust_policy, provider_arn, issuer, namespace, service_account, audience)


def component_s3_policy(storage_outputs, component, kms_key_arn=None):
    """Least-privilege S3 (and KMS) policy for one component, from the storage role's outputs."""
    buckets = (storage_outputs or {}).get("buckets") or {}
    arns = [b["arn"] for b in buckets.values() if b.get("component") == component]
    key = kms_key_arn if kms_key_arn is not None else (storage_outputs or {}).get("kms_key_arn")
    return _wrap(docs.component_s3_policy, arns, component, key or None)


def service_trust_policy(services, source_account=None):
    """Trust policy for AWS services: ``['ecs-tasks']``, ``['ec2']`` or both."""
    unknown = [s for s in services if s not in docs.SERVICE_PRINCIPALS]
    if unknown:
        raise AnsibleFilterError("service_trust_policy: unknown service %s; allowed: %s" % (", ".join(unknown), ", ".join(docs.SERVICE_PRINCIPALS)))
    return docs.service_trust_policy(list(services), source_account)


# The identity spec's keys and the role variables they come from (roles/identity/vars/main.yml).
SPEC_VARIABLES = {
    "name_prefix": "identity_name_prefix",
    "environment": "identity_environment",
    "components": "identity_components",
    "irsa_enabled": "identity_irsa_enabled",
    "eks_cluster_name": "identity_eks_cluster_name",
    "irsa_namespace": "identity_irsa_namespace",
    "irsa_service_accounts": "identity_irsa_service_accounts",
    "ecs_enabled": "identity_ecs_enabled",
    "efs_file_system_arn": "identity_efs_file_system_arn",
    "secret_arns": "identity_secret_arns",
    "ecs_config_parameter_path": "identity_ecs_config_parameter_path",
    "ec2_enabled": "identity_ec2_enabled",
    "alloy_collector_enabled": "identity_alloy_collector_enabled",
    "tags": "identity_tags",
    "storage_outputs": "identity_storage_outputs",
    # Set by callers that know them (not role variables).
    "account_id": "account_id",
    "partition": "partition",
}
_SSM_PATH = re.compile(r"^(/[a-zA-Z0-9_.-]+)+/?$")


def _user_field(field):
    """A spec field as the user wrote it: ``irsa_service_accounts.loki`` -> ``identity_irsa_service_accounts.loki``."""
    head, sep, rest = field.partition(".")
    bracket = head.find("[")
    if bracket > 0:
        head, rest, sep = head[:bracket], head[bracket:] + sep + rest, ""
    return SPEC_VARIABLES.get(head, head) + sep + rest


def _check_components(spec):
    components = spec.get("components")
    if not isinstance(components, list):
        fail("components", "must be a list of components (%s), got %r" % (", ".join(docs.COMPONENTS), components))
    problems = [("components", "unknown component %r%s; allowed: %s" % (c, closest(c, docs.COMPONENTS), ", ".join(docs.COMPONENTS)))
                for c in components if c not in docs.COMPONENTS]
    if problems:
        raise SpecError(problems)


def _components(spec):
    components = spec.get("components")
    return [c for c in components if c in docs.COMPONENTS] if isinstance(components, list) else []


def _check_irsa(spec, problems):
    with problems.section():
        if not spec.get("eks_cluster_name"):
            fail("eks_cluster_name", "is required when identity_irsa_enabled is true (IRSA roles trust that cluster's OIDC issuer); "
                                     "set lgtm_eks_cluster_name, or identity_irsa_enabled: false")
    with problems.section():
        error = docs.k8s_name_error(spec.get("irsa_namespace"))
        if error:
            fail("irsa_namespace", "%r %s" % (spec.get("irsa_namespace"), error))
    accounts = spec.get("irsa_service_accounts") or {}
    with problems.section():
        check_keys(accounts, docs.COMPONENTS, "irsa_service_accounts")
    if isinstance(accounts, dict):
        for component in _components(spec):
            with problems.section():
                account = accounts.get(component, component)
                error = docs.k8s_name_error(account)
                if error:
                    fail("irsa_service_accounts." + component, "%r %s" % (account, error))


def _check_storage_outputs(spec, storage_outputs, problems):
    if not isinstance(storage_outputs, dict):
        problems.add("storage_outputs", "must be the storage role's storage_outputs (a mapping), got %r" % (storage_outputs,))
        return
    buckets = storage_outputs.get("buckets") or {}
    if spec.get("irsa_enabled"):
        for component in _components(spec):
            if not any(isinstance(b, dict) and b.get("component") == component for b in buckets.values()):
                problems.add("storage_outputs", "has no bucket for component %r; run the storage role with it first" % component)
    kms = storage_outputs.get("kms_key_arn")
    if kms and docs.arn_error(kms, "kms", "key/"):
        problems.add("storage_outputs.kms_key_arn", "%r %s" % (kms, docs.arn_error(kms, "kms", "key/")))


def _check_ecs(spec, problems):
    efs = spec.get("efs_file_system_arn")
    if efs and docs.arn_error(efs, "elasticfilesystem", "file-system/"):
        problems.add("efs_file_system_arn", "%r %s" % (efs, docs.arn_error(efs, "elasticfilesystem", "file-system/")))
    secret_arns = spec.get("secret_arns") or []
    if not isinstance(secret_arns, list):
        problems.add("secret_arns", "must be a list of ARNs, got %r" % (secret_arns,))
        secret_arns = []
    for index, arn in enumerate(secret_arns):
        if docs.arn_error(arn, "secretsmanager", "secret:") and docs.arn_error(arn, "ssm", "parameter/"):
            problems.add("secret_arns[%d]" % index, "%r must be a Secrets Manager secret ARN (…:secret:…) or an SSM parameter ARN "
                                                    "(…:parameter/…)" % (arn,))
    path = spec.get("ecs_config_parameter_path")
    if path and not (isinstance(path, str) and _SSM_PATH.match(path)):
        problems.add("ecs_config_parameter_path", "%r must be an SSM parameter path: /<part>[/<part>...] of letters, digits and _.-, "
                                                  "or empty for none" % (path,))


def _check_tags(spec):
    tags = spec.get("tags")
    if tags is not None and not isinstance(tags, dict):
        fail("tags", "must be a mapping of tag keys to values, got %r" % (tags,))


def _spec_problems(spec, storage_outputs, problems):
    """Every problem of the spec (and of storage_outputs, unless it is None: not known yet)."""
    with problems.section():
        _check_components(spec)
    with problems.section():
        _check_tags(spec)
    if spec.get("irsa_enabled"):
        _check_irsa(spec, problems)
    if storage_outputs is not None:
        _check_storage_outputs(spec, storage_outputs, problems)
    if spec.get("ecs_enabled"):
        _check_ecs(spec, problems)


def _role_name(spec, suffix):
    return "%s-%s-%s" % (spec["name_prefix"], spec["environment"], suffix)


def _tags(spec, purpose):
    tags = dict(spec.get("tags") or {})
    tags.update(Environment=spec["environment"], ManagedBy="lgtm.aws", Purpose=purpose)
    return {str(k): str(v) for k, v in tags.items()}


def identity_resource_tags(spec, purpose):
    """The tags of one identity resource: the spec's tags plus Environment, ManagedBy and Purpose."""
    if not isinstance(spec, dict) or not spec.get("environment"):
        raise AnsibleFilterError("identity_resource_tags expects the identity spec (with environment) as a mapping")
    if not isinstance(spec.get("tags") or {}, dict):
        raise AnsibleFilterError("identity_tags must be a mapping of tag keys to values, got %r" % (spec.get("tags"),))
    return _tags(spec, str(purpose))


def _irsa_roles(spec, storage_outputs, oidc):
    roles = []
    for component in spec["components"]:
        account = (spec.get("irsa_service_accounts") or {}).get(component, component)
        roles.append({
            "key": "irsa_" + component,
            "component": component,
            "namespace": spec["irsa_namespace"],
            "service_account": account,
            "role": {
                "name": _role_name(spec, component + "-irsa"),
                "description": "IRSA role for %s (%s/%s)" % (component, spec["irsa_namespace"], account),
                "trust_policy": docs.irsa_trust_policy(oidc["arn"], oidc["url"], spec["irsa_namespace"], account),
                "inline_policies": {"s3-access": component_s3_policy(storage_outputs, component)},
                "tags": _tags(spec, "irsa-" + component),
            },
        })
    return roles


def _ecs_roles(spec):
    partition = spec.get("partition") or "aws"
    trust = docs.service_trust_policy(["ecs-tasks"], spec.get("account_id"))
    execution = {
        "name": _role_name(spec, "ecs-task-execution"),
        "description": "ECS task execution: pull images, write awslogs, inject secrets",
        "trust_policy": trust,
        "managed_policy_arns": [docs.ECS_TASK_EXECUTION_MANAGED_POLICY.format(partition=partition)],
        "inline_policies": {},
        "tags": _tags(spec, "ecs-task-execution"),
    }
    secret_arns = list(spec.get("secret_arns") or [])
    if spec.get("ecs_config_parameter_path"):
        # The rendered configuration the ecs_monitoring role delivers as SSM parameters under this path.
        secret_arns.append("arn:%s:ssm:*:%s:parameter%s/*" % (partition, spec.get("account_id") or "*", spec["ecs_config_parameter_path"].rstrip("/")))
    secrets = docs.secret_read_policy(secret_arns)
    if secrets:
        execution["inline_policies"]["read-secrets"] = secrets
    policies = {
        "prometheus": docs.prometheus_task_policy(spec.get("efs_file_system_arn")),
        "grafana": docs.read_only_policy("CloudWatchRead", docs.CLOUDWATCH_READ_ACTIONS),
        "cloudwatch_exporter": docs.read_only_policy("CloudWatchRead", docs.CLOUDWATCH_READ_ACTIONS),
        "alertmanager": None,
    }
    # What the execution role may read, for the ECS role to check its references against before any change.
    roles = [{"key": "ecs_task_execution", "role": execution, "secret_arns": list(spec.get("secret_arns") or []),
              "config_parameter_path": spec.get("ecs_config_parameter_path") or ""}]
    for name in ECS_TASK_ROLES:
        role = {
            "name": _role_name(spec, "ecs-" + name.replace("_", "-")),
            "description": "ECS task role for %s" % name,
            "trust_policy": trust,
            "inline_policies": {"task": policies[name]} if policies[name] else {},
            "tags": _tags(spec, "ecs-" + name),
        }
        roles.append({"key": "ecs_task_" + name, "role": role})
    return roles


def _ec2_roles(spec):
    roles = []
    if spec.get("ec2_enabled"):
        roles.append({"key": "alloy_agent", "role": {
            "name": _role_name(spec, "alloy-agent"),
            "description": "EC2 instance profile for Grafana Alloy agents",
            "trust_policy": docs.service_trust_policy(["ec2"]),
            "inline_policies": {"instance-labels": docs.read_only_policy("InstanceLabels", docs.EC2_AGENT_ACTIONS)},
            "instance_profile": True,
            "tags": _tags(spec, "alloy-agent"),
        }})
    if spec.get("alloy_collector_enabled"):
        roles.append({"key": "alloy_collector", "role": {
            "name": _role_name(spec, "alloy-collector"),
            "description": "Grafana Alloy in collector mode: CloudWatch metrics and logs, read only",
            "trust_policy": docs.service_trust_policy(["ec2", "ecs-tasks"]),
            "inline_policies": {"cloudwatch-read": docs.read_only_policy("CloudWatchRead", docs.CLOUDWATCH_READ_ACTIONS)},
            "instance_profile": True,
            "tags": _tags(spec, "alloy-collector"),
        }})
    return roles


def _name_problems(spec, plan, problems):
    names = [entry["role"]["name"] for entry in plan]
    if spec.get("irsa_enabled"):
        names += [_role_name(spec, component + "-irsa") for component in _components(spec)]
    longest = max(names, key=len) if names else ""
    if len(longest) > 64:
        problems.add("name_prefix", "with identity_environment %r, role name %r is %d characters; IAM allows 64"
                     % (spec.get("environment"), longest, len(longest)))


def identity_role_specs(spec, storage_outputs=None, oidc=None):
    """Validate the identity spec and return the roles to manage: ``[{key, role: <iam_roles entry>, ...}]``.

    Without ``oidc`` (``{arn, url}`` of the cluster's provider) it only validates and returns the
    roles that do not need it, so a role can fail on bad input before any AWS call. With ``storage_outputs``
    None (the storage role has not run yet: a preflight) the checks that need them are left out.
    Every problem is reported at once, named by the role variable the user sets (``identity_*``).
    """
    if not isinstance(spec, dict):
        raise AnsibleFilterError("identity_role_specs expects the identity spec as a mapping")
    problems = Problems()
    _spec_problems(spec, storage_outputs, problems)
    plan = []
    if not problems.problems:
        if spec.get("irsa_enabled") and oidc:
            plan += _irsa_roles(spec, storage_outputs, oidc)
        if spec.get("ecs_enabled"):
            plan += _ecs_roles(spec)
        plan += _ec2_roles(spec)
        _name_problems(spec, plan, problems)
    try:
        problems.raise_if_any()
    except SpecError as error:
        found = error.renamed(_user_field).problems
        raise AnsibleFilterError("lgtm.aws.identity: %d problem%s in the variables; nothing was changed.\n%s" % (
            len(found), "" if len(found) == 1 else "s", "\n".join("- " + format_problem(f, m) for f, m in found)))
    return plan


def identity_outputs(plan, results, oidc=None):
    """The ``identity_outputs`` fact: role ARNs by purpose, from the plan and the iam_roles result."""
    arns = {r["name"]: r for r in results}
    by_key = {entry["key"]: dict(entry, result=arns.get(entry["role"]["name"], {})) for entry in plan}

    def arn(key):
        return by_key[key]["result"].get("arn") if key in by_key else None

    outputs = {
        "oidc_provider_arn": (oidc or {}).get("arn"),
        "oidc_issuer": (oidc or {}).get("url"),
        "irsa_roles": {
            entry["component"]: {
                "name": entry["role"]["name"],
                "arn": entry["result"].get("arn"),
                "namespace": entry["namespace"],
                "service_account": entry["service_account"],
            }
            for entry in by_key.values() if entry["key"].startswith("irsa_")
        },
        "ecs": None,
        "alloy_collector_role_arn": arn("alloy_collector"),
        "alloy_collector_instance_profile_arn": by_key.get("alloy_collector", {}).get("result", {}).get("instance_profile_arn"),
        "ec2_instance_profile": None,
    }
    if "ecs_task_execution" in by_key:
        execution = by_key["ecs_task_execution"]
        outputs["ecs"] = {
            "execution_role_arn": arn("ecs_task_execution"),
            "task_roles": {n: arn("ecs_task_" + n) for n in ECS_TASK_ROLES},
            "secret_arns": list(execution.get("secret_arns") or []),
            "config_parameter_path": execution.get("config_parameter_path") or "",
        }
    if "alloy_agent" in by_key:
        agent = by_key["alloy_agent"]
        outputs["ec2_instance_profile"] = {
            "name": agent["role"]["name"],
            "arn": agent["result"].get("instance_profile_arn"),
            "role_arn": agent["result"].get("arn"),
        }
    return outputs


class FilterModule(object):
    def filters(self):
        return {
            "oidc_issuer_host": oidc_issuer_host,
            "irsa_trust_policy": irsa_trust_policy,
            "component_s3_policy": component_s3_policy,
            "service_trust_policy": service_trust_policy,
            "identity_role_specs": identity_role_specs,
            "identity_outputs": identity_outputs,
            "identity_resource_tags": identity_resource_tags,
        }
