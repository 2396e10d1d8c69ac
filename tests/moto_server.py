"""moto_server with three fixes to its IAM enforcement (test-only; tests/integration/conftest.py `running_moto` and
scripts/local-aws run it). Without enforcement (INITIAL_NO_AUTH_ACTION_COUNT unset) none of them matters.

1. Signatures. moto 5.2 checks a request's SigV4 signature by signing it again; for a request without a body it signs
   the parsed parameters instead (right for the query protocol's form, whose raw body it has consumed), so every
   signed GET/HEAD/DELETE of the REST-JSON services (EKS DescribeCluster, EFS Describe*, ...) fails with
   SignatureDoesNotMatch. Here such a request is signed with the empty body it was sent with.
2. Resources. moto passes the resource a request acts on to its policy evaluation only for S3, IAM, STS and SQS;
   every other call is judged as if on ``*``, so a statement scoped to ARNs never matches it and a role that may read
   exactly its own parameters is refused them. Here the calls below are judged once per resource they name, as AWS
   does, by moto's own evaluation (moto.iam.access_control): nothing is allowed that moto would not allow for that ARN.
   - ``ssm:GetParameters`` (each name), ``ssm:GetParameter``, ``ssm:PutParameter``, ``ssm:DeleteParameter``:
     ``arn:aws:ssm:<region>:<account>:parameter/<name without its leading slash>``
   - ``secretsmanager:GetSecretValue``, ``DescribeSecret``, ``PutSecretValue``: the secret's ARN (a name or partial
     ARN is looked up; an unknown secret is judged as ``*``, as moto does)
3. Action names. moto names an action by the service's signing name: CloudWatch's ``ListMetrics`` is judged as
   ``monitoring:ListMetrics`` and the tagging API's ``GetResources`` as ``tagging:GetResources``, which no policy
   grants (IAM's names are ``cloudwatch:`` and ``tag:``). Here they are judged by IAM's names.
"""

import sys

from botocore.awsrequest import AWSRequest
from moto.core.responses import BaseResponse
from moto.iam import access_control
from moto.secretsmanager.responses import SecretsManagerResponse
from moto.server import main
from moto.ssm.responses import SimpleSystemManagerResponse
from moto.utilities.utils import get_partition


def _create_aws_request(self):
    signed_headers = self._get_string_between("SignedHeaders=", ",", self._headers["Authorization"]).split(";")
    headers = self._create_headers_for_aws_request(signed_headers, self._headers)
    empty = self._method in ("GET", "HEAD", "DELETE") and not self._body
    request = AWSRequest(method=self._method, url=self._path, data=b"" if empty else (self._body or self._data), headers=headers)
    request.context["timestamp"] = headers["X-Amz-Date"]
    return request


SSM_NAME_PARAMETERS = {"GetParameters": "Names", "GetParameter": "Name", "PutParameter": "Name", "DeleteParameter": "Name"}
SECRET_CALLS = ("GetSecretValue", "DescribeSecret", "PutSecretValue")
# Signing name -> IAM's service prefix, where they differ (for the services the workloads call).
IAM_PREFIXES = {"monitoring": "cloudwatch", "tagging": "tag"}


def _ssm_resources(response):
    parameter = SSM_NAME_PARAMETERS.get(response._get_action())
    names = response._get_param(parameter) if parameter else None
    if not names:
        return ["*"]
    prefix = "arn:%s:ssm:%s:%s:parameter/" % (get_partition(response.region), response.region, response.current_account)
    return [prefix + name.lstrip("/") for name in ([names] if isinstance(names, str) else names)]


def _secret_resources(response):
    if response._get_action() not in SECRET_CALLS:
        return ["*"]
    secret_id = response._get_param("SecretId")
    secret = response.backend.secrets.get(secret_id) if secret_id else None
    return [secret.arn if secret is not None else "*"]


def _judged_per_resource(resources_of):
    base = BaseResponse._authenticate_and_authorize_normal_action

    def authorize(self, resource="*"):
        for arn in resources_of(self) if resource == "*" else [resource]:
            base(self, arn)

    return authorize


def _with_iam_prefix(init):
    def initialize(self, *args, **kwargs):
        init(self, *args, **kwargs)
        service, action = self._action.split(":", 1)
        if service in IAM_PREFIXES:
            self._action = "%s:%s" % (IAM_PREFIXES[service], action)

    return initialize


access_control.IAMRequestBase.__init__ = _with_iam_prefix(access_control.IAMRequestBase.__init__)
SimpleSystemManagerResponse._authenticate_and_authorize_normal_action = _judged_per_resource(_ssm_resources)
SecretsManagerResponse._authenticate_and_authorize_normal_action = _judged_per_resource(_secret_resources)
access_control.IAMRequestBase._create_aws_request = _create_aws_request  # pylint: disable=protected-access

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
