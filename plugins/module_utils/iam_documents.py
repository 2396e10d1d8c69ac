# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""IAM documents for the LGTM workloads: the actions each needs, why, and the documents built from them.

Every action list here is a documented fact (docs/identity.md prints the same table):
each entry is (action, reason). Tests assert the lists, so widening one is a visible change.
"""

import re
from urllib.parse import urlparse

# Object-store clients of Loki, Mimir and Tempo (Grafana's S3 permission docs for each project).
S3_BUCKET_ACTIONS = (("s3:ListBucket", "list chunks, blocks and the bucket index; compactors and queriers walk prefixes"),)
S3_OBJECT_ACTIONS = (
    ("s3:GetObject", "read chunks, blocks, index files, rule groups and alertmanager state"),
    ("s3:PutObject", "write chunks and blocks (multipart uploads included), rule groups and state"),
    ("s3:DeleteObject", "compactor retention and block deletion; ruler and alertmanager config deletes"),
)
# Tempo's documented minimal policy adds object tagging.
TEMPO_EXTRA_OBJECT_ACTIONS = (
    ("s3:GetObjectTagging", "Tempo reads object tags (listed in Tempo's minimal S3 policy)"),
    ("s3:PutObjectTagging", "Tempo writes object tags (listed in Tempo's minimal S3 policy)"),
)
# With SSE-KMS, S3 calls KMS on the caller's behalf.
KMS_ACTIONS = (
    ("kms:GenerateDataKey", "PutObject on an SSE-KMS bucket asks KMS for a data key"),
    ("kms:Decrypt", "GetObject, and completing multipart uploads, decrypt the data key"),
)
# Prometheus task on ECS: TSDB on EFS through an access point with IAM authorization.
EFS_CLIENT_ACTIONS = (
    ("elasticfilesystem:ClientMount", "mount the file system through the access point"),
    ("elasticfilesystem:ClientWrite", "write the TSDB (without it the mount is read-only)"),
)
# Prometheus service discovery: ec2_sd_configs and ECS task discovery.
DISCOVERY_ACTIONS = (
    ("ec2:DescribeInstances", "ec2_sd_configs lists instances and their tags"),
    ("ec2:DescribeAvailabilityZones", "ec2_sd_configs resolves the zone id label"),
    ("ecs:ListClusters", "ECS task discovery finds clusters"),
    ("ecs:ListServices", "ECS task discovery lists services"),
    ("ecs:ListTasks", "ECS task discovery lists running tasks"),
    ("ecs:DescribeClusters", "ECS task discovery reads cluster attributes"),
    ("ecs:DescribeServices", "ECS task discovery reads service attributes"),
    ("ecs:DescribeTasks", "ECS task discovery reads task IPs and labels"),
    ("ecs:DescribeContainerInstances", "ECS task discovery maps tasks to hosts on EC2 capacity"),
)
# CloudWatch exporter, Alloy collector mode and Grafana's CloudWatch datasource: read only.
CLOUDWATCH_READ_ACTIONS = (
    ("cloudwatch:GetMetricData", "fetch metric values in batches"),
    ("cloudwatch:GetMetricStatistics", "fetch metric statistics (older API some exporters use)"),
    ("cloudwatch:ListMetrics", "discover which metrics and dimensions exist"),
    ("tag:GetResources", "discover resources by tag and label series with their tags"),
    ("logs:DescribeLogGroups", "find log groups to read (e.g. RDS logs)"),
    ("logs:DescribeLogStreams", "find streams in a log group"),
    ("logs:GetLogEvents", "read events from a stream"),
    ("logs:FilterLogEvents", "read events across streams of a group"),
)
# Alloy agents on EC2: labels from the instance itself.
EC2_AGENT_ACTIONS = (
    ("ec2:DescribeTags", "read the instance's Name and Environment tags for labels"),
    ("ec2:DescribeInstances", "read the instance's zone and type for labels"),
)
# ECS task execution role: read the secrets the task definition injects.
SECRET_READ_ACTIONS = {
    "secretsmanager": (("secretsmanager:GetSecretValue", "inject a Secrets Manager secret into the container"),),
    "ssm": (("ssm:GetParameters", "inject an SSM SecureString parameter into the container"),),
}
ECS_TASK_EXECUTION_MANAGED_POLICY = "arn:{partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"

SERVICE_PRINCIPALS = {"ecs-tasks": "ecs-tasks.amazonaws.com", "ec2": "ec2.amazonaws.com"}
COMPONENTS = ("loki", "mimir", "tempo")

_ARN = re.compile(r"^arn:(aws|aws-cn|aws-us-gov):([a-z0-9-]+):([a-z0-9-]*):(\d{12}|aws)?:(.+)$")
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def actions(entries):
    return sorted({action for action, _reason in entries})


def arn_error(arn, service=None, resource_prefix=None):
    """Why ``arn`` is not an ARN (of ``service``, with a resource starting with ``resource_prefix``), or None."""
    match = _ARN.match(arn) if isinstance(arn, str) else None
    if not match:
        return "is not an ARN (arn:<partition>:<service>:<region>:<account>:<resource>)"
    if service and match.group(2) != service:
        return "is an ARN of service %r, expected %r" % (match.group(2), service)
    if resource_prefix and not match.group(5).startswith(resource_prefix):
        return "must name a %s resource (…:%s…)" % (service, resource_prefix)
    return None


def partition_of_arn(arn):
    match = _ARN.match(arn or "")
    return match.group(1) if match else "aws"


def k8s_name_error(name):
    if not isinstance(name, str) or len(name) > 63 or not _K8S_NAME.match(name):
        return "must be a Kubernetes name: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
    return None


def issuer_host(issuer):
    """The OIDC issuer as IAM names it: host and path without ``https://`` (e.g. oidc.eks.<region>.amazonaws.com/id/ABC)."""
    if not isinstance(issuer, str) or not issuer:
        raise ValueError("the OIDC issuer must be a non-empty https URL")
    parsed = urlparse(issuer if "://" in issuer else "https://" + issuer)
    if parsed.scheme != "https":
        raise ValueError("the OIDC issuer %r must use https" % issuer)
    if not parsed.hostname or parsed.query or parsed.fragment or parsed.port not in (None, 443):
        raise ValueError("the OIDC issuer %r must be https://<host>[/<path>] without port, query or fragment" % issuer)
    return (parsed.hostname + parsed.path).rstrip("/")


def _statement(sid, entries, resources):
    return {"Sid": sid, "Effect": "Allow", "Action": actions(entries), "Resource": sorted(resources)}


def component_s3_policy(bucket_arns, component, kms_key_arn=None):
    """Least-privilege policy for one backend: its buckets only, and the KMS key when SSE-KMS is used."""
    if component not in COMPONENTS:
        raise ValueError("unknown component %r; allowed: %s" % (component, ", ".join(COMPONENTS)))
    if not bucket_arns:
        raise ValueError("component %r has no buckets" % component)
    object_entries = S3_OBJECT_ACTIONS + (TEMPO_EXTRA_OBJECT_ACTIONS if component == "tempo" else ())
    statements = [
        _statement("ListBuckets", S3_BUCKET_ACTIONS, bucket_arns),
        _statement("ReadWriteObjects", object_entries, [arn + "/*" for arn in bucket_arns]),
    ]
    if kms_key_arn:
        statements.append(_statement("UseBucketKey", KMS_ACTIONS, [kms_key_arn]))
    return {"Version": "2012-10-17", "Statement": statements}


def irsa_trust_policy(provider_arn, issuer, namespace, service_account, audience="sts.amazonaws.com"):
    """Trust exactly one Kubernetes service account of the cluster behind ``issuer``."""
    host = issuer_host(issuer)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        host + ":sub": "system:serviceaccount:%s:%s" % (namespace, service_account),
                        host + ":aud": audience,
                    }
                },
            }
        ],
    }


def service_trust_policy(services, source_account=None):
    """Trust AWS services (``ecs-tasks``, ``ec2``); for ECS, only tasks of ``source_account``."""
    principals = sorted(SERVICE_PRINCIPALS[s] for s in services)
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": principals[0] if len(principals) == 1 else principals},
        "Action": "sts:AssumeRole",
    }
    if source_account and services == ["ecs-tasks"]:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    return {"Version": "2012-10-17", "Statement": [statement]}


def read_only_policy(sid, entries, resources=("*",)):
    return {"Version": "2012-10-17", "Statement": [_statement(sid, entries, list(resources))]}


def prometheus_task_policy(efs_file_system_arn=None):
    """Service discovery everywhere it is read-only; EFS client rights on one file system when known, only through an
    access point (of its region and account), as the file system policy the ECS role writes allows: never the root."""
    statements = [_statement("ServiceDiscovery", DISCOVERY_ACTIONS, ["*"])]
    if efs_file_system_arn:
        mount = _statement("MountPrometheusData", EFS_CLIENT_ACTIONS, [efs_file_system_arn])
        access_points = efs_file_system_arn.split(":file-system/")[0] + ":access-point/*"
        mount["Condition"] = {"StringLike": {"elasticfilesystem:AccessPointArn": access_points}}
        statements.append(mount)
    return {"Version": "2012-10-17", "Statement": statements}


def secret_read_policy(secret_arns):
    """Let the ECS agent read the given secrets (Secrets Manager secrets or SSM parameters)."""
    statements = []
    for service in ("secretsmanager", "ssm"):
        arns = [arn for arn in secret_arns if arn.split(":")[2] == service]
        if arns:
            statements.append(_statement("Read" + service.capitalize(), SECRET_READ_ACTIONS[service], arns))
    return {"Version": "2012-10-17", "Statement": statements} if statements else None
