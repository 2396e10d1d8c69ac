"""moto_server with one fix to its IAM enforcement (test-only; tests/integration/conftest.py and scripts/local-aws run it).

moto 5.2 checks a request's SigV4 signature by signing it again; for a request without a body it signs the
parsed parameters instead (right for the query protocol's form, whose raw body it has consumed), so every signed
GET/HEAD/DELETE of the REST-JSON services (EKS DescribeCluster, EFS Describe*, ...) fails with SignatureDoesNotMatch
once IAM is enforced. Here such a request is signed with the empty body it was sent with. Nothing else changes:
without enforcement (INITIAL_NO_AUTH_ACTION_COUNT unset) no signature is checked at all.
"""

import sys

from botocore.awsrequest import AWSRequest
from moto.iam import access_control
from moto.server import main


def _create_aws_request(self):
    signed_headers = self._get_string_between("SignedHeaders=", ",", self._headers["Authorization"]).split(";")
    headers = self._create_headers_for_aws_request(signed_headers, self._headers)
    empty = self._method in ("GET", "HEAD", "DELETE") and not self._body
    request = AWSRequest(method=self._method, url=self._path, data=b"" if empty else (self._body or self._data), headers=headers)
    request.context["timestamp"] = headers["X-Amz-Date"]
    return request


access_control.IAMRequestBase._create_aws_request = _create_aws_request  # pylint: disable=protected-access

if __name__ == "__main__":
    sys.exit(main())
