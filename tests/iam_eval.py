"""A small IAM policy evaluator for what moto's evaluation cannot judge (test-only).

moto 5 ignores every condition operator but ``StringEquals``, reads no request context (no ``aws:SecureTransport``,
no OIDC ``sub``/``aud``, no ``aws:SourceAccount``), checks trust policies only for ``sts:AssumeRole`` by a user or
role (and fails with a server error on a ``Service`` principal), and evaluates no EFS file system policy. The tests
judge those documents here instead, for the condition keys and operators this collection's documents use. Anything
else raises ``ValueError``: an operator this module does not know never counts as a match or as a miss.

``evaluate(policies, request)`` follows AWS's same-account evaluation: an explicit ``Deny`` in any policy wins,
otherwise an ``Allow`` in any policy (identity or resource policy) allows, otherwise the request is implicitly denied.

- ``policies``: ``[(document, kind)]``, kind ``"identity"`` (no ``Principal``) or ``"resource"`` (a bucket, file
  system or trust policy: its statements apply only to the principals they name).
- ``request``: ``{"action": "s3:GetObject", "resource": "arn:..." (optional: trust policies name none),
  "principal": {"AWS": arn} | {"Service": name} | {"Federated": provider_arn}, "context": {key: value}}``.
"""

import functools
import re

ALLOW, EXPLICIT_DENY, IMPLICIT_DENY = "Allow", "ExplicitDeny", "ImplicitDeny"
_ASSUMED_ROLE = re.compile(r"^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([^/]+)/[^/]+$")
_IAM_ARN = re.compile(r"^arn:(aws[a-z-]*):iam::(\d{12}):.+$")


def listify(value):
    return value if isinstance(value, list) else [value]


@functools.lru_cache(maxsize=None)
def _wildcards(pattern, case_sensitive):
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern),
                      0 if case_sensitive else re.IGNORECASE)


def _glob(pattern, value, case_sensitive=True):
    """IAM wildcards: ``*`` any run of characters, ``?`` one character, nothing else special."""
    return _wildcards(pattern, case_sensitive).fullmatch(value) is not None


def _string_equals(expected, actual):
    return expected == actual


def _string_like(expected, actual):
    return _glob(expected, actual)


def _bool(expected, actual):
    return str(expected).lower() == str(actual).lower()


def _arn_like(expected, actual):
    # ARN matching compares the six colon-separated fields, each with wildcards.
    expected_parts, actual_parts = expected.split(":", 5), actual.split(":", 5)
    return len(expected_parts) == len(actual_parts) == 6 and all(_glob(e, a) for e, a in zip(expected_parts, actual_parts))


# operator -> (value test, negated)
OPERATORS = {
    "StringEquals": (_string_equals, False),
    "StringNotEquals": (_string_equals, True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "Bool": (_bool, False),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
}


def condition_holds(operator, key, expected, context):
    """One key of one operator block. Keys are case-insensitive; a value list matches when any value does.

    A key missing from the request context: false, except for negated operators (true) and ``...IfExists`` (true).
    """
    if_exists = operator.endswith("IfExists")
    name = operator[:-len("IfExists")] if if_exists else operator
    if name not in OPERATORS:
        raise ValueError("condition operator %r is not known to tests/iam_eval.py" % operator)
    test, negated = OPERATORS[name]
    found = [v for k, v in context.items() if k.lower() == key.lower()]
    if not found:
        return if_exists or negated
    actual = found[0]
    if isinstance(actual, list):
        raise ValueError("context key %r has several values; the documents here use single-valued keys only" % key)
    matched = any(test(str(e), str(actual)) for e in listify(expected))
    return not matched if negated else matched


def conditions_hold(conditions, context):
    return all(condition_holds(operator, key, expected, context)
               for operator, block in (conditions or {}).items() for key, expected in block.items())


def _principal_matches(statement_principal, principal):
    if statement_principal == "*":
        return True
    if not isinstance(statement_principal, dict):
        raise ValueError("Principal must be '*' or a mapping, got %r" % (statement_principal,))
    for kind, values in statement_principal.items():
        for value in listify(values):
            if kind == "AWS" and value == "*":
                return True
            actual = principal.get(kind)
            if actual is None:
                continue
            if actual == value:
                return True
            if kind == "AWS" and _aws_principal_matches(value, actual):
                return True
    return False


def _aws_principal_matches(named, actual):
    """A role ARN names its sessions too; an account (id or root ARN) names every principal of that account."""
    session = _ASSUMED_ROLE.match(actual)
    if session and named == "arn:%s:iam::%s:role/%s" % session.groups():
        return True
    account = (session or _IAM_ARN.match(actual))
    if account and named in (account.group(2), "arn:%s:iam::%s:root" % (account.group(1), account.group(2))):
        return True
    return False


def element_matches(statement, positive, negative, value, case_sensitive):
    """Whether ``value`` matches the statement's ``positive`` element (e.g. Action) or escapes its ``negative`` one
    (NotAction); None when the statement has neither."""
    if positive in statement:
        return any(_glob(p, value, case_sensitive) for p in listify(statement[positive]))
    if negative in statement:
        return not any(_glob(p, value, case_sensitive) for p in listify(statement[negative]))
    return None


def statement_applies(statement, kind, request):
    """Whether the statement speaks to this request (its effect is then the statement's ``Effect``)."""
    if kind == "resource":
        if "Principal" not in statement or not _principal_matches(statement["Principal"], request.get("principal") or {}):
            return False
    elif "Principal" in statement or "NotPrincipal" in statement:
        raise ValueError("an identity policy statement names a Principal: %r" % (statement,))
    if not element_matches(statement, "Action", "NotAction", request["action"], case_sensitive=False):
        return False
    resource = element_matches(statement, "Resource", "NotResource", request.get("resource", ""), case_sensitive=True)
    if resource is False or (resource is None and kind == "identity"):
        return False
    return conditions_hold(statement.get("Condition"), request.get("context") or {})


def evaluate(policies, request):
    """``Allow``, ``ExplicitDeny`` or ``ImplicitDeny`` for ``request`` under ``policies`` (see the module doc)."""
    effects = set()
    for document, kind in policies:
        if kind not in ("identity", "resource"):
            raise ValueError("policy kind must be 'identity' or 'resource', got %r" % (kind,))
        for statement in listify(document["Statement"]):
            if statement_applies(statement, kind, request):
                effects.add(statement["Effect"])
    if "Deny" in effects:
        return EXPLICIT_DENY
    return ALLOW if "Allow" in effects else IMPLICIT_DENY


def web_identity_request(provider_arn, claims):
    """The request ``sts:AssumeRoleWithWebIdentity`` makes with a token of these claims: the provider (the issuer's
    IAM OIDC provider) as the federated principal, ``<issuer host>:sub`` and ``<issuer host>:aud`` in the context."""
    host = claims["iss"].split("://", 1)[-1].rstrip("/")
    audiences = listify(claims["aud"])
    if len(audiences) != 1:
        raise ValueError("a service account token here carries one audience, got %r" % (audiences,))
    return {"action": "sts:AssumeRoleWithWebIdentity", "principal": {"Federated": provider_arn},
            "context": {host + ":sub": claims["sub"], host + ":aud": audiences[0]}}


def assume_role(trust_policy, request):
    """Whether the trust policy lets ``request``'s principal assume the role (a trust policy is a resource policy)."""
    return evaluate([(trust_policy, "resource")], request)
