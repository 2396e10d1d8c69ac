"""In-process moto for this collection's AWS modules: their functions take a client and run against it."""
import boto3
import pytest

moto = pytest.importorskip("moto")


class Retrying(object):
    """A boto3 client as AnsibleAWSModule hands it out with a retry decorator: calls take aws_retry=True."""

    def __init__(self, client):
        self.client = client

    def __getattr__(self, name):
        attribute = getattr(self.client, name)
        if name == "get_paginator" or not callable(attribute):
            return attribute

        def call(*args, **kwargs):
            kwargs.pop("aws_retry", None)
            return attribute(*args, **kwargs)
        return call

    def paginate(self, operation, **params):
        """As aws_common.RetryingClient.paginate: the full result of a paginated call."""
        return self.client.get_paginator(operation).paginate(**params).build_full_result()


@pytest.fixture
def aws(monkeypatch):
    """aws(service) -> a boto3 client of a fresh moto account (eu-west-1)."""
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with moto.mock_aws():
        yield lambda service: boto3.client(service, region_name="eu-west-1")
