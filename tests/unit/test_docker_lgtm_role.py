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
    secrets, files, containers = (index(present, w) for w in ("Secrets (given", "then write every file", "Containers (recreated"))
    assert secrets < files < containers
    # One call writes every file: the plan's checks (each service's, only when its files changed) run first on a
    # scratch copy under the configuration directory, and nothing is written when one fails.
    module = present[files]["lgtm.aws.rendered_files"]
    assert module["files"] == "{{ docker_lgtm_plan.rendered.files }}"
    assert module["sensitive_files"] == "{{ docker_lgtm_plan.rendered.sensitive_files }}"
    assert module["scratch_parent"] == "{{ docker_lgtm_config_dir }}"
    assert "docker_lgtm_plan.validate" in module["validate"]
    # No task writes a file of the plan one by one any more.
    assert not any("ansible.builtin.copy" in t and "docker_lgtm_plan.files" in str(t.get("loop")) for t in present)


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
    # The files call is logged (its diff and a check's error are the user's), so what carries a secret goes in
    # sensitive_files, which the module hides (no_log option; no content in the diff).
    present = tasks("present.yml")
    module = present[index(present, "then write every file")]["lgtm.aws.rendered_files"]
    assert "sensitive" not in module["files"]


def test_absent_keeps_volumes_and_configuration_unless_purge():
    absent = tasks("absent.yml")
    for task in absent:
        module = task.get("community.docker.docker_volume") or task.get("ansible.builtin.file")
        if module:
            assert task["when"] == "docker_lgtm_purge | bool", task["name"]
    assert any("community.docker.docker_network" in t for t in absent)


def _options(options, prefix=""):
    for name, option in (options or {}).items():
        path = prefix + name
        yield path
        yield from _options(option.get("options"), path + ".")


def test_docs_cover_every_variable_of_the_argument_spec():
    with open(os.path.join(REPO, "roles", "docker_lgtm", "meta", "argument_specs.yml")) as f:
        spec = yaml.safe_load(f)["argument_specs"]["main"]["options"]
    with open(os.path.join(REPO, "docs", "docker.md")) as f:
        docs = f.read()
    missing = []
    for path in _options(spec):
        parts = path.split(".")
        # Every service has the keys of docker_lgtm_services.proxy, documented once there.
        if parts[0] == "docker_lgtm_services" and len(parts) == 3:
            path = "docker_lgtm_services.proxy." + parts[2]
        if "`%s`" % path not in docs:
            missing.append(path)
    assert missing == [], "not in docs/docker.md"
    for section in ("## The ingest route", "## Moving to EKS", "## TLS", "## Tenants", "## Backup and restore"):
        assert section in docs
