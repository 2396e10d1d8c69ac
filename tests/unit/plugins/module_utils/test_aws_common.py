from ansible_collections.lgtm.aws.plugins.module_utils.aws_common import error_code, sync_tags, tag_list


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
