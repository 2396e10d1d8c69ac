import botocore.exceptions
import pytest

from ansible_collections.amazon.aws.plugins.module_utils import cloud
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.lgtm.aws.plugins.module_utils.aws_common import RetryingClient, error_code, sync_tags, tag_list


class FakeError(Exception):
    response = {"Error": {"Code": "NoSuchEntity"}}


def test_error_code():
    assert error_code(FakeError()) == "NoSuchEntity"
    assert error_code(ValueError()) == ""


def test_sync_tags_untags_stale_and_sets_wanted():
    calls = []
    sync_tags({"a": "1", "old": "x"}, {"a": "2"}, lambda keys: calls.append(("untag", keys)), lambda tags: calls.append(("tag", tags)))
    assert calls == [("untag", ["old"]), ("tag", [{"Key": "a", "Value": "2"}])]


def test_sync_tags_does_nothing_when_equal():
    calls = []
    sync_tags({"a": "1"}, {"a": "1"}, calls.append, calls.append)
    assert calls == []


def test_tag_list_is_sorted():
    assert tag_list({"b": "2", "a": "1"}) == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]


class FakeClient:
    """Answers each call with the next of ``answers`` (an error code to raise, or a result)."""

    def __init__(self, answers):
        self.answers, self.calls = list(answers), 0

    def list_things(self, **kwargs):
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, str):
            raise botocore.exceptions.ClientError({"Error": {"Code": answer, "Message": "m"}}, "ListThings")
        return dict(answer, kwargs=kwargs)


class FakeModule:
    def __init__(self, client):
        self.fake = client

    def client(self, service, retry_decorator=None, **extra):
        assert extra["config"].user_agent_extra == "lgtm.aws"
        return RetryingBotoClientWrapper(self.fake, retry_decorator)


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    monkeypatch.setattr(cloud.time, "sleep", lambda seconds: None)


@pytest.mark.parametrize("code", ["Throttling", "ThrottlingException", "SlowDown", "RequestLimitExceeded", "InternalError", "503"])
def test_every_call_retries_throttling_and_transient_errors(code):
    fake = FakeClient([code, code, {"ok": True}])
    assert RetryingClient(FakeModule(fake), "things").list_things(Name="x") == {"ok": True, "kwargs": {"Name": "x"}}
    assert fake.calls == 3


def test_other_errors_fail_at_once_and_no_such_entity_retries_only_when_asked():
    fake = FakeClient(["NoSuchEntity"])
    with pytest.raises(botocore.exceptions.ClientError):
        RetryingClient(FakeModule(fake), "iam").list_things()
    assert fake.calls == 1
    fake = FakeClient(["NoSuchEntity", {"ok": True}])
    assert RetryingClient(FakeModule(fake), "iam", "NoSuchEntity").list_things()["ok"] is True


def test_a_call_gives_up_after_ten_attempts():
    fake = FakeClient(["Throttling"] * 10)
    with pytest.raises(botocore.exceptions.ClientError):
        RetryingClient(FakeModule(fake), "things").list_things()
    assert fake.calls == 10


def test_no_module_makes_a_client_without_the_retries():
    """Every module gets its AWS clients from aws_common.RetryingClient (or converge), never module.client() itself."""
    import glob  # pylint: disable=import-outside-toplevel
    import os  # pylint: disable=import-outside-toplevel
    import re  # pylint: disable=import-outside-toplevel

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
    offenders = []
    for path in glob.glob(os.path.join(root, "plugins", "modules", "*.py")) + glob.glob(os.path.join(root, "plugins", "module_utils", "*.py")):
        with open(path) as handle:
            for number, line in enumerate(handle, 1):
                if re.search(r"\.(client|resource)\(", line) and "module.client(service, retry_decorator=self.decorator" not in line:
                    offenders.append("%s:%d: %s" % (os.path.relpath(path, root), number, line.strip()))
    assert offenders == []
