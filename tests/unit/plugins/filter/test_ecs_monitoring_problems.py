"""ecs_monitoring_problems: the spec's checks as lines in the user's names, for the variable check every role runs first."""
from ansible_collections.lgtm.aws.plugins.filter.ecs_monitoring import ecs_monitoring_problems

SHARED = {"name_prefix": "acme", "region": "eu-west-1", "environment": "prod", "tenant": "acme-platform"}


def test_every_problem_is_one_line_naming_the_spec_variable():
    lines = ecs_monitoring_problems({"retention": "15 days", "services": [{"name": "Payments", "port": 70000}]}, SHARED)
    assert len(lines) == 3, lines
    assert all(line.startswith("ecs_monitoring_spec.") for line in lines), lines
    assert any(line.startswith("ecs_monitoring_spec.retention: ") for line in lines)
    assert any(line.startswith("ecs_monitoring_spec.services[0].port: ") for line in lines)


def test_a_sound_spec_has_none():
    assert ecs_monitoring_problems({"services": [{"name": "payments", "port": 8080}]}, SHARED) == []
