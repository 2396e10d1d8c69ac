"""Test-only: the IAM action and resource ARNs of each AWS call tests/aws_proxy.py recorded, a small evaluator of
identity policies over Action and Resource, and the view of a policy that moto 5's own evaluation can apply.

``iam_request(call)`` -> ``(action, [resource ARNs])`` for one recorded call (``None`` for calls that need no
permission, such as ``sts:GetCallerIdentity``); ``"*"`` is the resource of actions that take none. Calls this file
does not know raise ``UnknownCall``, so a new call of the collection cannot go unchecked.

``allowed(policy, action, resource)``: AWS's rules for identity policies over Action/NotAction and
Resource/NotResource: wildcards ``*`` and ``?``, actions case-insensitive, an explicit Deny wins. Conditions are NOT
evaluated (``Condition`` raises unless ``ignore_conditions``): the deployer policy has none.

``permissions(requests)`` and ``judge(policy, calls, ...)``: the checks that a policy is exact for a run's calls
(tests/integration/test_aws_faults.py runs site.yml as the deployer and judges its policy with them).

``moto_view(policy)``: what moto_server 5.2 can enforce of ``policy`` (docs/security.md, "What moto checks"):
moto names S3 actions after its own handlers (``s3:HeadBucket``, ``s3:GetBucketEncryption``, ...), so those are added;
it passes the resource ``*`` for every service but S3 (bucket and object ARNs), IAM calls that name an existing role,
and sts:AssumeRole, so a scoped Resource never matches there: those statements get ``*``. moto judges a batch
DeleteObjects as ``s3:DeleteObject`` on the bucket: a statement allowing ``s3:DeleteObject`` on ``<bucket>/*`` also
allows that.
"""

import copy
import re
import urllib.parse

from iam_eval import element_matches, listify  # tests/iam_eval.py: IAM's wildcards, one matcher for both evaluators

ACCOUNT = "123456789012"


class UnknownCall(KeyError):
    """A recorded call this file cannot name the IAM action or resource of."""


# S3 operations (as botocore, hence the proxy, names them) -> IAM action.
S3_ACTIONS = {
    "HeadBucket": "s3:ListBucket", "ListObjects": "s3:ListBucket", "ListObjectsV2": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions", "CreateBucket": "s3:CreateBucket", "DeleteBucket": "s3:DeleteBucket",
    "GetBucketPolicy": "s3:GetBucketPolicy", "PutBucketPolicy": "s3:PutBucketPolicy", "DeleteBucketPolicy": "s3:DeleteBucketPolicy",
    "GetBucketTagging": "s3:GetBucketTagging", "PutBucketTagging": "s3:PutBucketTagging", "DeleteBucketTagging": "s3:PutBucketTagging",
    "GetBucketVersioning": "s3:GetBucketVersioning", "PutBucketVersioning": "s3:PutBucketVersioning",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration", "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "GetBucketLifecycle": "s3:GetLifecycleConfiguration", "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "PutBucketLifecycle": "s3:PutLifecycleConfiguration", "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock", "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "GetBucketOwnershipControls": "s3:GetBucketOwnershipControls", "PutBucketOwnershipControls": "s3:PutBucketOwnershipControls",
    "GetBucketLocation": "s3:GetBucketLocation", "DeleteObject": "s3:DeleteObject", "DeleteObjects": "s3:DeleteObject",
    "ListBuckets": "s3:ListAllMyBuckets",
}
# moto's own names for the S3 requests it authorizes (moto/s3/responses.py), by the IAM action they stand for.
MOTO_S3_ALIASES = {
    "s3:ListBucket": ["s3:HeadBucket", "s3:ListObjects", "s3:ListObjectsV2"],
    "s3:GetEncryptionConfiguration": ["s3:GetBucketEncryption"], "s3:PutEncryptionConfiguration": ["s3:PutBucketEncryption"],
    "s3:GetLifecycleConfiguration": ["s3:GetBucketLifecycleConfiguration", "s3:GetLifecycleConfiguration"],
    "s3:PutLifecycleConfiguration": ["s3:PutBucketLifecycleConfiguration", "s3:PutBucketLifecycle"],
    "s3:GetBucketPublicAccessBlock": ["s3:GetPublicAccessBlock"], "s3:PutBucketPublicAccessBlock": ["s3:PutPublicAccessBlock"],
    "s3:ListBucketVersions": ["s3:ListObjectVersions"],
}
NO_PERMISSION = {("sts", "GetCallerIdentity")}


def _arn(service, resource, region):
    return "arn:aws:%s:%s:%s:%s" % (service, region, ACCOUNT, resource)


def _members(params, key):
    """Values of a query-protocol list: Key.member.1, Key.member.2, ... (or Key.1, ...)."""
    found = [(k, v) for k, v in params.items() if re.match(r"^%s\.(member\.)?\d+$" % re.escape(key), k)]
    return [v for _k, v in sorted(found, key=lambda kv: int(kv[0].rpartition(".")[2]))]


def _s3(action, params, _region):
    path = urllib.parse.unquote(params["_path"]).lstrip("/")
    if not path:
        return S3_ACTIONS[action], ["*"]
    if action == "DeleteObjects":  # AWS judges s3:DeleteObject on each key the batch names (not recorded): any key
        return S3_ACTIONS[action], ["arn:aws:s3:::%s/*" % path.rstrip("/")]
    return S3_ACTIONS[action], ["arn:aws:s3:::%s" % path]


def _iam(action, params, _region):
    iam = "arn:aws:iam::%s:" % ACCOUNT
    if action in ("ListOpenIDConnectProviders", "ListRoles", "ListInstanceProfiles", "ListPolicies"):
        return "iam:" + action, ["*"]
    if "InstanceProfileName" in params:
        return "iam:" + action, [iam + "instance-profile/" + params["InstanceProfileName"]]
    if "RoleName" in params:
        return "iam:" + action, [iam + "role/" + params["RoleName"]]
    if "PolicyArn" in params:
        return "iam:" + action, [params["PolicyArn"]]
    if "OpenIDConnectProviderArn" in params:
        return "iam:" + action, [params["OpenIDConnectProviderArn"]]
    if action == "CreateOpenIDConnectProvider":
        return "iam:" + action, [iam + "oidc-provider/" + re.sub(r"^https://", "", params["Url"])]
    raise UnknownCall("iam " + action)


def _ec2(action, params, region):
    if action.startswith("Describe"):
        return "ec2:" + action, ["*"]
    if action == "CreateSecurityGroup":
        return "ec2:" + action, [_arn("ec2", "security-group/*", region), _arn("ec2", "vpc/" + params["VpcId"], region)]
    if "GroupId" in params:
        return "ec2:" + action, [_arn("ec2", "security-group/" + params["GroupId"], region)]
    if action in ("CreateTags", "DeleteTags"):
        return "ec2:" + action, [_arn("ec2", "security-group/" + rid, region) for rid in _members(params, "ResourceId")]
    raise UnknownCall("ec2 " + action)


def _ecs(action, params, region):
    if action in ("RegisterTaskDefinition", "DescribeTaskDefinition", "DeregisterTaskDefinition", "ListClusters"):
        return "ecs:" + action, ["*"]
    if "resourceArn" in params:
        return "ecs:" + action, [params["resourceArn"]]
    if action in ("CreateCluster", "DeleteCluster", "UpdateCluster", "UpdateClusterSettings", "PutClusterCapacityProviders"):
        return "ecs:" + action, [_arn("ecs", "cluster/" + (params.get("clusterName") or params.get("cluster")), region)]
    if action == "DescribeClusters":
        return "ecs:" + action, [_arn("ecs", "cluster/" + name, region) for name in params.get("clusters", [])] or ["*"]
    if action == "ListServices":
        return "ecs:" + action, ["*"]
    cluster = params.get("cluster", "default").rpartition("/")[2]
    names = params.get("services") or [params.get("serviceName") or params.get("service")]
    return "ecs:" + action, [_arn("ecs", "service/%s/%s" % (cluster, name.rpartition("/")[2]), region) for name in names]


def _logs(action, params, region):
    if action == "DescribeLogGroups":
        return "logs:" + action, ["*"]
    if "resourceArn" in params:
        return "logs:" + action, [params["resourceArn"]]
    return "logs:" + action, [_arn("logs", "log-group:" + params["logGroupName"], region)]


def _ssm(action, params, region):
    if action == "DescribeParameters":
        return "ssm:" + action, ["*"]
    names = params.get("Names") or [params.get("Name") or params.get("ResourceId")]
    return "ssm:" + action, [_arn("ssm", "parameter" + (name if name.startswith("/") else "/" + name), region) for name in names]


def _servicediscovery(action, params, region):
    if action in ("CreatePrivateDnsNamespace", "ListNamespaces", "ListServices", "GetOperation", "ListOperations"):
        return "servicediscovery:" + action, ["*"]
    if action == "CreateService":
        return "servicediscovery:" + action, [_arn("servicediscovery", "namespace/" + params["NamespaceId"], region)]
    if action in ("GetService", "UpdateService", "DeleteService"):
        return "servicediscovery:" + action, [_arn("servicediscovery", "service/" + params["Id"], region)]
    if action in ("DeleteNamespace", "GetNamespace"):
        return "servicediscovery:" + action, [_arn("servicediscovery", "namespace/" + params["Id"], region)]
    raise UnknownCall("servicediscovery " + action)


def _efs(action, params, region):
    path, query = params["_path"], params["_query"]
    ident = query.get("FileSystemId")
    match = re.match(r"^/2015-02-01/(?:file-systems|resource-tags)/(fs-[0-9a-f]+)", path)
    if match:
        ident = match.group(1)
    match = re.match(r"^/2015-02-01/(?:access-points|resource-tags)/(fsap-[0-9a-f]+)", path)
    if match:
        return "elasticfilesystem:" + action, [_arn("elasticfilesystem", "access-point/" + match.group(1), region)]
    if action == "CreateAccessPoint":
        return "elasticfilesystem:" + action, [_arn("elasticfilesystem", "access-point/*", region)]
    # Calls that name no file system (a new one, a list, a mount target's) act on file-system/* of the account.
    return "elasticfilesystem:" + action, [_arn("elasticfilesystem", "file-system/" + (ident or "*"), region)]


def _elb(action, params, region):
    if action.startswith("Describe"):
        return "elasticloadbalancing:" + action, ["*"]
    if action == "CreateLoadBalancer":
        return "elasticloadbalancing:" + action, [_arn("elasticloadbalancing", "loadbalancer/app/%s/new" % params["Name"], region)]
    if action == "CreateTargetGroup":
        return "elasticloadbalancing:" + action, [_arn("elasticloadbalancing", "targetgroup/%s/new" % params["Name"], region)]
    arns = _members(params, "ResourceArns")
    for key in ("RuleArn", "ListenerArn", "TargetGroupArn", "LoadBalancerArn"):
        if not arns and key in params:
            arns = [params[key]]
    if not arns:
        raise UnknownCall("elasticloadbalancing " + action)
    return "elasticloadbalancing:" + action, arns


def _route53(action, params, _region):
    match = re.match(r"^/2013-04-01/hostedzone/([^/]+)", params["_path"])
    if match and action != "CreateHostedZone":
        return "route53:" + action, ["arn:aws:route53:::hostedzone/" + match.group(1)]
    return "route53:" + action, ["*"]


def _eks(action, params, region):
    match = re.match(r"^/clusters/([^/]+)", params["_path"])
    if not match:
        return "eks:" + action, ["*"]
    return "eks:" + action, [_arn("eks", "cluster/" + match.group(1), region)]


def _kms(action, params, region):
    if action in ("ListAliases", "ListKeys"):
        return "kms:" + action, ["*"]
    key = params["KeyId"]
    if key.startswith("arn:") and ":key/" in key:
        return "kms:" + action, [key]
    # A key id or an alias: AWS judges the key it names, whose ARN the call does not carry.
    return "kms:" + action, [_arn("kms", "key/" + (key if not key.startswith(("alias/", "arn:")) else "*"), region)]


SERVICES = {"kms": _kms, "s3": _s3, "iam": _iam, "ec2": _ec2, "ecs": _ecs, "logs": _logs, "ssm": _ssm, "servicediscovery": _servicediscovery,
            "elasticfilesystem": _efs, "elasticloadbalancing": _elb, "route53": _route53, "eks": _eks}


def iam_request(call):
    """(IAM action, [resource ARNs]) of one call the proxy recorded, or None when it needs no permission."""
    service, action = call["service"], call["action"]
    if (service, action) in NO_PERMISSION:
        return None
    if service not in SERVICES:
        raise UnknownCall("%s %s" % (service, action))
    try:
        return SERVICES[service](action, call.get("params") or {}, call.get("region") or "us-east-1")
    except KeyError as error:
        raise UnknownCall("%s %s: %s" % (service, action, error)) from error


# -- evaluation ---------------------------------------------------------------------------------------------------
def _applies(statement, action, resource, ignore_conditions):
    if "Condition" in statement and not ignore_conditions:
        raise ValueError("statement %s has a Condition, which this evaluator does not judge" % statement.get("Sid"))
    return bool(element_matches(statement, "Action", "NotAction", action, case_sensitive=False)
                and element_matches(statement, "Resource", "NotResource", resource, case_sensitive=True))


def allowed(policy, action, resource, ignore_conditions=False):
    """Whether ``policy`` (an identity policy document) allows ``action`` on ``resource``: an Allow applies and no Deny."""
    statements = listify(policy["Statement"])
    if any(s["Effect"] == "Deny" and _applies(s, action, resource, ignore_conditions) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and _applies(s, action, resource, ignore_conditions) for s in statements)


def matching_statements(policy, action, resource):
    """The Sids of the Allow statements that allow ``action`` on ``resource``."""
    return [s.get("Sid") for s in listify(policy["Statement"]) if s["Effect"] == "Allow" and _applies(s, action, resource, True)]


def foreign(resource, prefix, environment):
    """``resource`` as other deployments would name it: another prefix and environment, the same prefix with another
    environment, and a longer prefix with the same environment (so ``<prefix>-*`` or ``<prefix>*`` is caught too)."""
    base = "%s-%s" % (prefix, environment)
    others = ("zzother-elsewhere", "%s-zzother" % prefix, "%szz-%s" % (prefix, environment))
    return [resource.replace(base, other) for other in others]


def permissions(requests, skip_phases=()):
    """(IAM action, resource) of every call in ``requests`` (tests/aws_proxy.py's) that needs a permission."""
    pairs = []
    for call in requests:
        named = None if call["phase"] in skip_phases else iam_request(call)
        if named:
            pairs += [(named[0], resource) for resource in named[1]]
    return pairs


def judge(policy, calls, implicit, change_only, prefix, environment):
    """Assert that ``policy`` is exact for ``calls`` (the (action, resource) pairs of ``permissions``): every call allowed;
    every action made by a call unless its statement is in ``implicit`` (Sid -> reason) or the action in ``change_only``
    (action -> reason); every resource used; removing any one action or resource denies a call; other deployments'
    names (``foreign``) denied; ``*`` only in ``...AnyResource`` statements and only for calls that name no resource."""
    base = "%s-%s" % (prefix, environment)

    # (a) every call is allowed by the published policy, Action and Resource.
    denied = sorted({(a, r) for a, r in calls if not allowed(policy, a, r)})
    assert denied == [], "calls the deployer policy does not allow: %s" % denied

    # (b) every action of the policy is made by a call, or is implicit or change-only with a reason.
    implicit_actions = {a for s in policy["Statement"] if s["Sid"] in implicit for a in s["Action"]}
    made = {a for a, _r in calls}
    unused = sorted({a for s in policy["Statement"] for a in s["Action"]} - made - implicit_actions - set(change_only))
    assert unused == [], "actions no call of the run makes (widened?): %s" % unused
    assert not made & set(change_only), "made by the run, so not change-only: %s" % sorted(made & set(change_only))

    # (c) every resource of every statement is used by a call of one of its actions (implicit and change-only aside).
    for statement in policy["Statement"]:
        if statement["Sid"] in implicit or set(statement["Action"]) <= set(change_only):
            continue
        for resource in listify(statement["Resource"]):
            one = {"Version": "2012-10-17", "Statement": [dict(statement, Resource=resource)]}
            assert any(allowed(one, a, r) for a, r in calls), "%s: no call uses %s" % (statement["Sid"], resource)

    # Narrowed by one action or one resource: some call is denied.
    for index, statement in enumerate(policy["Statement"]):
        if statement["Sid"] in implicit or set(statement["Action"]) <= set(change_only):
            continue
        for action in statement["Action"]:
            if action in change_only:
                continue
            narrowed = copy.deepcopy(policy)
            narrowed["Statement"][index]["Action"].remove(action)
            assert any(not allowed(narrowed, a, r) for a, r in calls if a == action), "%s: %s is not needed" % (statement["Sid"], action)
        resources = listify(statement["Resource"])
        for resource in resources:
            narrowed = copy.deepcopy(policy)
            narrowed["Statement"][index]["Resource"] = [r for r in resources if r != resource] or ["arn:aws:s3:::nothing"]
            assert any(not allowed(narrowed, a, r) for a, r in calls), "%s: %s is not needed" % (statement["Sid"], resource)

    # Widened: the same calls against another deployment's names are denied; "*" only where no resource is named.
    for action, resource in calls:
        if base in resource:
            for other in foreign(resource, prefix, environment):
                assert not allowed(policy, action, other), (action, resource, other)
    for statement in policy["Statement"]:
        if statement["Resource"] == "*":
            assert statement["Sid"].endswith("AnyResource"), statement["Sid"]
            named = sorted({(a, r) for a, r in calls if a in statement["Action"] and r != "*"})
            assert named == [], "%s: these calls name a resource, so the action can be scoped: %s" % (statement["Sid"], named)
        else:
            assert not statement["Sid"].endswith("AnyResource"), statement["Sid"]


# -- moto ---------------------------------------------------------------------------------------------------------
def moto_view(policy):
    """The policy as moto 5.2 can enforce it: S3 statements as they are plus moto's S3 action names; every other
    statement with Resource "*" (moto gives those services' calls the resource "*", which no scoped ARN matches)."""
    statements = []
    for statement in listify(policy["Statement"]):
        actions = list(listify(statement["Action"]))
        if all(a.startswith("s3:") for a in actions):
            actions += [alias for a in actions for alias in MOTO_S3_ALIASES.get(a, [])]
            statements.append(dict(statement, Action=sorted(set(actions))))
            if "s3:DeleteObject" in actions:
                # moto judges DeleteObjects (a batch) as s3:DeleteObject on the bucket, AWS as s3:DeleteObject on each key.
                buckets = sorted({r[:-2] for r in listify(statement["Resource"]) if r.endswith("/*")})
                statements.append({"Sid": statement.get("Sid", "") + "MotoBatch", "Effect": "Allow", "Action": ["s3:DeleteObject"],
                                   "Resource": buckets})
        else:
            statements.append(dict(statement, Resource="*"))
    return {"Version": policy.get("Version", "2012-10-17"), "Statement": statements}
