"""The variable check every role runs first: unknown names with the closest known one, types reworded per field."""
import os

from ansible_collections.lgtm.aws.plugins.plugin_utils import role_settings as rs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
STORAGE = os.path.join(REPO, "roles", "storage")


def test_a_role_knows_its_options_defaults_vars_and_the_names_its_tasks_set():
    known = rs.known_names(STORAGE)
    assert {"storage_retention_days", "storage_outputs_file", "storage_spec", "storage_plan", "storage_outputs",
            "storage_kms_key", "storage_buckets_result"} <= known
    assert "storage_retension_days" not in known


def test_a_misspelled_variable_is_named_with_the_closest_known_one():
    problems = rs.unknown_variables(["storage_retension_days", "storage_state", "identity_x"], ["storage_"],
                                    rs.known_names(STORAGE), "lgtm.aws.storage")
    assert problems == [("storage_retension_days", "is not a variable of lgtm.aws.storage (did you mean storage_retention_days?); "
                                                   "it would be ignored")]


def test_a_name_far_from_every_known_one_gets_no_guess():
    (problem,) = rs.unknown_variables(["storage_zzz_qqq"], ["storage_"], rs.known_names(STORAGE))
    assert "did you mean" not in problem[1]


SPEC = {
    "app_size": {"type": "int"},
    "app_mode": {"type": "str", "choices": ["a", "b"]},
    "app_flags": {"type": "list", "elements": "str", "choices": ["x", "y"]},
    "app_on": {"type": "bool"},
    "app_nested": {"type": "dict", "options": {
        "inner": {"type": "dict", "options": {"level": {"type": "int"}}},
        "name": {"type": "str", "required": True},
    }},
}


def test_every_type_problem_is_one_line_naming_the_field():
    problems = dict(rs.type_problems({"app_size": "big", "app_mode": "c", "app_flags": ["x", "z"], "app_on": "maybe",
                                      "app_nested": {"nam": "n", "inner": {"levl": 1, "level": "high"}}}, SPEC))
    assert problems["app_size"] == "must be of type int (got str 'big')"
    assert problems["app_mode"] == "must be one of a, b (got c)"
    assert problems["app_flags"] == "every element must be one of x, y (got z)"
    assert problems["app_on"] == "must be of type bool (got str 'maybe')"
    # Ansible reports unknown keys of every level in one message with one level's allowed keys; each gets its own here.
    assert problems["app_nested.nam"] == "unknown key (did you mean name?); allowed: inner, name"
    assert problems["app_nested.inner.levl"] == "unknown key (did you mean level?); allowed: level"
    assert problems["app_nested.name"] == "is required"


def test_sound_values_have_no_problem():
    assert rs.type_problems({"app_size": 3, "app_nested": {"name": "n", "inner": {"level": 2}}}, SPEC) == []


def test_variables_without_an_option_are_not_type_checked():
    assert rs.type_problems({"app_outputs_file": "/tmp/x"}, SPEC) == []
