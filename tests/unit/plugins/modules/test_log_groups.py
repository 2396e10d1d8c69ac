"""lgtm.aws.log_groups against moto in-process: many groups in one call, retention and tags, idempotent."""
from conftest import Retrying

from ansible_collections.lgtm.aws.plugins.modules import log_groups as module

NAMES = ["/ecs/acme-prod/%s" % t for t in ("prometheus", "grafana", "cloudwatch-exporter", "alertmanager")]


def params(names=None, retention=30, tags=None, state="present"):
    return {"names": list(names or NAMES), "retention": retention, "tags": tags, "purge_tags": True, "state": state}


def groups(logs):
    return {g["logGroupName"]: g for g in logs.describe_log_groups(logGroupNamePrefix="/ecs/")["logGroups"]}


def test_groups_created_with_retention_and_tags_then_nothing_to_do(aws):
    logs = aws("logs")
    logs.create_log_group(logGroupName="/ecs/other")
    changed, diffs, result = module.ensure_present(Retrying(logs), params(tags={"Project": "lgtm"}), False)
    assert changed and result["created"] == NAMES and len(diffs) == 4
    assert {g["retentionInDays"] for n, g in groups(logs).items() if n in NAMES} == {30}
    assert logs.list_tags_for_resource(resourceArn=result["log_groups"][NAMES[0]]["arn"])["tags"] == {"Project": "lgtm"}
    assert module.ensure_present(Retrying(logs), params(tags={"Project": "lgtm"}), False)[0] is False
    assert "retentionInDays" not in groups(logs)["/ecs/other"], "groups not listed are left alone"


def test_retention_and_tags_follow_and_check_mode_changes_nothing(aws):
    logs = aws("logs")
    module.ensure_present(Retrying(logs), params(tags={"A": "1", "B": "2"}), False)
    changed, diffs, result = module.ensure_present(Retrying(logs), params(retention=90, tags={"A": "1"}), True)
    assert changed and result["updated"] == NAMES
    assert diffs[0]["before"] == "retention: 30\ntag A: 1\ntag B: 2\n" and diffs[0]["after"] == "retention: 90\ntag A: 1\n"
    assert {g["retentionInDays"] for g in groups(logs).values()} == {30}
    module.ensure_present(Retrying(logs), params(retention=90, tags={"A": "1"}), False)
    assert {g["retentionInDays"] for g in groups(logs).values()} == {90}
    arn = groups(logs)[NAMES[1]]["arn"].rstrip("*").rstrip(":")
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"A": "1"}
    assert module.ensure_present(Retrying(logs), params(retention=None), False)[0] is False, "no retention given: kept as it is"


def test_absent_and_bad_arguments(aws):
    logs = aws("logs")
    module.ensure_present(Retrying(logs), params(), False)
    assert module.ensure_absent(Retrying(logs), params(state="absent"), True)[2]["deleted"] == NAMES
    assert len(groups(logs)) == 4
    assert module.ensure_absent(Retrying(logs), params(state="absent"), False)[0] is True and groups(logs) == {}
    assert module.ensure_absent(Retrying(logs), params(state="absent"), False)[0] is False
    problems = module.check_params(params(names=["/a", "/a", "bad name"], retention=10))
    assert len(problems) == 3 and "retention: 10 is not one of 1, 3, 5" in problems[-1]
