"""The docker_lgtm role's task logic, read from its task files: what is written when, and what every container gets."""
import os

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TASKS = os.path.join(REPO, "roles", "docker_lgtm", "tasks")


def tasks(name):
    with open(os.path.join(TASKS, name)) as f:
        return yaml.safe_load(f)


def index(task_list, word):
    return next(i for i, t in enumerate(task_list) if word in t["name"])


def test_a_configuration_is_checked_before_the_running_one_is_replaced():
    present = tasks("present.yml")
    compare, nxt, check, live, containers = (index(present, w) for w in (
        "Which files differ", "Write the next configuration", "Check the next configuration",
        "Write the checked configuration", "Containers (recreated"))
    assert compare < nxt < check < live < containers
    assert present[compare]["check_mode"] is True and present[compare]["register"] == "docker_lgtm_compare"
    assert "/.next/" in present[nxt]["ansible.builtin.copy"]["dest"]
    assert "/.next/" not in present[live]["ansible.builtin.copy"]["dest"]
    # Only the services whose files changed are checked, with the plan's argv (no shell).
    assert "docker_lgtm_compare.results" in " ".join(present[check]["when"])
    assert present[check]["ansible.builtin.command"] == {"argv": "{{ item.1 }}"}


def test_every_container_gets_health_check_limits_restart_policy_log_rotation_and_the_hash_label():
    task = tasks("present.yml")[index(tasks("present.yml"), "Containers (recreated")]
    module = task["community.docker.docker_container"]
    for key, value in (("healthcheck", "{{ item.healthcheck }}"), ("memory", "{{ item.memory }}"), ("cpus", "{{ item.cpus }}"),
                       ("labels", "{{ item.labels }}"), ("restart_policy", "{{ docker_lgtm_restart_policy }}"),
                       ("log_driver", "json-file"), ("log_options", "{{ docker_lgtm_log_options }}"), ("pull", "missing")):
        assert module[key] == value, key
    assert task["loop"] == "{{ docker_lgtm_plan.containers }}"


def test_secret_handling_tasks_never_log():
    for name in ("plan.yml", "present.yml"):
        for task in tasks(name):
            text = yaml.safe_dump(task)
            if "secret" in task["name"].lower() or "docker_lgtm_plan(" in text or "item.content" in text:
                assert task.get("no_log") in (True, "{{ item.sensitive }}"), (name, task["name"])


def test_absent_keeps_volumes_and_configuration_unless_purge():
    absent = tasks("absent.yml")
    for task in absent:
        module = task.get("community.docker.docker_volume") or task.get("ansible.builtin.file")
        if module:
            assert task["when"] == "docker_lgtm_purge | bool", task["name"]
    assert any("community.docker.docker_network" in t for t in absent)
