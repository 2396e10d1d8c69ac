"""lgtm.aws.ssm_parameters against moto in-process: one call for many parameters, only changes written."""
import pytest
from conftest import Retrying

from ansible_collections.lgtm.aws.plugins.modules import ssm_parameters as module  # noqa: E402 pylint: disable=wrong-import-position

PATH = "/lgtm/acme-prod/ecs-monitoring"


def params(parameters, state="present", tags=None):
    full = [dict({"value": None, "type": "String", "tier": "Standard", "description": ""}, **p) for p in parameters]
    return {"parameters": full, "tags": tags, "purge_tags": True, "state": state}


@pytest.fixture
def ssm(aws):
    return aws("ssm")


def many(count, value="v"):
    return [{"name": "%s/file-%02d" % (PATH, i), "value": "%s-%d" % (value, i)} for i in range(count)]


def test_many_parameters_in_one_call_then_nothing_to_do(ssm):
    wanted = params(many(23), tags={"Project": "lgtm"})
    changed, diffs, result = module.ensure_present(Retrying(ssm), wanted, check_mode=False)
    assert changed and len(result["created"]) == 23 and len(diffs) == 23
    assert ssm.get_parameter(Name=PATH + "/file-22")["Parameter"]["Value"] == "v-22"
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=PATH + "/file-05")["TagList"]
    assert tags == [{"Key": "Project", "Value": "lgtm"}]
    changed, diffs, result = module.ensure_present(Retrying(ssm), wanted, check_mode=False)
    assert (changed, diffs, len(result["unchanged"])) == (False, [], 23)


def test_only_what_differs_is_written_and_check_mode_writes_nothing(ssm):
    module.ensure_present(Retrying(ssm), params(many(12)), check_mode=False)
    changes = many(12)
    changes[3]["value"] = "new"
    changes[11]["description"] = "the last one"
    changes.append({"name": PATH + "/extra", "value": "x"})
    changed, diffs, result = module.ensure_present(Retrying(ssm), params(changes), check_mode=True)
    assert changed and result["updated"] == [PATH + "/file-03", PATH + "/file-11"] and result["created"] == [PATH + "/extra"]
    assert {"before_header": PATH + "/file-03", "after_header": PATH + "/file-03", "before": "v-3", "after": "new"} in diffs
    assert ssm.get_parameter(Name=PATH + "/file-03")["Parameter"]["Value"] == "v-3", "check mode writes nothing"
    assert not ssm.get_parameters(Names=[PATH + "/extra"])["Parameters"]
    module.ensure_present(Retrying(ssm), params(changes), check_mode=False)
    version = ssm.get_parameter(Name=PATH + "/file-00")["Parameter"]["Version"]
    assert version == 1, "an unchanged parameter is not written again"
    assert ssm.get_parameter(Name=PATH + "/file-03")["Parameter"]["Value"] == "new"
    assert module.ensure_present(Retrying(ssm), params(changes), check_mode=False)[0] is False


def test_tier_lowered_recreates_and_tags_follow(ssm):
    name = PATH + "/big"
    module.ensure_present(Retrying(ssm), params([{"name": name, "value": "x" * 5000, "tier": "Advanced"}], tags={"A": "1", "B": "2"}), False)
    changed, _diffs, result = module.ensure_present(Retrying(ssm), params([{"name": name, "value": "small"}], tags={"A": "1"}), False)
    assert changed and result["deleted"] == [name] and result["created"] == [name]
    [meta] = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}])["Parameters"]
    assert meta["Tier"] == "Standard"
    assert ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"] == [{"Key": "A", "Value": "1"}]
    changed, diffs, result = module.ensure_present(Retrying(ssm), params([{"name": name, "value": "small"}], tags={"A": "2"}), False)
    assert changed and result["updated"] == [name] and diffs[0]["after"] == "A: 2\n"


def test_secure_string_values_never_shown(ssm):
    name = "/acme/prod/password"
    _changed, diffs, _result = module.ensure_present(Retrying(ssm), params([{"name": name, "value": "hunter2", "type": "SecureString"}]), False)
    assert "hunter2" not in repr(diffs)
    _changed, diffs, _result = module.ensure_present(Retrying(ssm), params([{"name": name, "value": "hunter3", "type": "SecureString"}]), False)
    assert diffs and "hunter" not in repr(diffs)


def test_absent_deletes_in_batches_and_is_idempotent(ssm):
    module.ensure_present(Retrying(ssm), params(many(23)), check_mode=False)
    gone = params([{"name": p["name"]} for p in many(23)] + [{"name": PATH + "/never"}], state="absent")
    changed, _diffs, result = module.ensure_absent(Retrying(ssm), gone, check_mode=True)
    assert changed and len(result["deleted"]) == 23 and len(ssm.describe_parameters()["Parameters"]) == 10  # first page only
    changed, _diffs, result = module.ensure_absent(Retrying(ssm), gone, check_mode=False)
    assert changed and ssm.describe_parameters()["Parameters"] == []
    assert module.ensure_absent(Retrying(ssm), gone, check_mode=False)[0] is False


def test_bad_arguments_are_all_reported():
    problems = module.check_params(params([{"name": "/aws/x", "value": "v"}, {"name": "/a", "value": "x" * 5000},
                                           {"name": "/a", "value": "y"}, {"name": "/b"}, {"name": "bad name", "value": "v"}]))
    assert len(problems) == 5
    assert any("reserved" in p for p in problems) and any("use tier: Advanced" in p for p in problems)
    assert any("listed twice" in p for p in problems) and any("value is required" in p for p in problems)
