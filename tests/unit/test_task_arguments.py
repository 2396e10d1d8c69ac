"""Every task in roles/ and playbooks/ passes only arguments its module documents.

This is how the Windows tasks are checked where no Windows host can run: the argument names
(and the choices of literal values) are compared with each module's own DOCUMENTATION, read
from the installed collections (ansible.windows, community.windows, amazon.aws, ...).
"""
import glob
import os

import pytest
import yaml
from ansible.plugins.loader import fragment_loader, module_loader
from ansible.utils.plugin_docs import get_docstring

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Keys a task may carry besides its module's arguments.
TASK_KEYWORDS = {
    "name", "when", "register", "loop", "loop_control", "with_items", "vars", "tags", "notify", "listen", "become",
    "become_user", "changed_when", "failed_when", "check_mode", "diff", "no_log", "delegate_to", "delegate_facts",
    "run_once", "ignore_errors", "ignore_unreachable", "until", "retries", "delay", "environment", "args", "block",
    "rescue", "always", "module_defaults", "any_errors_fatal", "throttle", "timeout", "collections", "connection",
    "async", "poll", "debugger", "local_action",
}
# Modules whose arguments are free-form or not worth checking here.
SKIP = {"ansible.builtin.set_fact", "ansible.builtin.meta", "ansible.builtin.include_tasks", "ansible.builtin.import_tasks",
        "ansible.builtin.include_role", "ansible.builtin.import_role", "ansible.builtin.import_playbook", "ansible.builtin.debug"}


def task_files():
    files = glob.glob(os.path.join(REPO, "roles", "*", "tasks", "**", "*.yml"), recursive=True)
    files += glob.glob(os.path.join(REPO, "roles", "*", "handlers", "*.yml"))
    files += glob.glob(os.path.join(REPO, "playbooks", "**", "*.yml"), recursive=True)
    return sorted(files)


def tasks_in(data):
    for item in data or []:
        if not isinstance(item, dict):
            continue
        for section in ("tasks", "pre_tasks", "post_tasks", "handlers", "block", "rescue", "always"):
            if isinstance(item.get(section), list):
                yield from tasks_in(item[section])
        if "hosts" not in item and "block" not in item:
            yield item


def module_of(task):
    names = [key for key in task if key not in TASK_KEYWORDS]
    return names[0] if len(names) == 1 else None


_DOCS = {}


def documented_options(fqcn):
    if fqcn not in _DOCS:
        found = module_loader.find_plugin_with_context(fqcn)
        assert found.resolved, "unknown module %s" % fqcn
        path = found.plugin_resolved_path
        if not path.endswith(".py"):  # PowerShell modules keep their documentation in a .py beside them
            path = os.path.splitext(path)[0] + ".py"
        doc = get_docstring(path, fragment_loader, collection_name=".".join(fqcn.split(".")[:2]))[0]
        options = {}
        for name, spec in (doc.get("options") or {}).items():
            for alias in [name] + list(spec.get("aliases") or []):
                options[alias] = spec
        _DOCS[fqcn] = options
    return _DOCS[fqcn]


def collected():
    out = []
    for path in task_files():
        with open(path) as handle:
            data = yaml.safe_load(handle)
        for task in tasks_in(data if isinstance(data, list) else []):
            module = module_of(task)
            if module and "." in module and module not in SKIP:
                out.append(pytest.param(path, task, module, id="%s:%s" % (os.path.relpath(path, REPO), task.get("name", module))))
    return out


TASKS = collected()


def test_the_alloy_role_reaches_a_host_through_one_task():
    """Linux and Windows hosts alike converge in one module call: the role's only task that runs on the host
    is lgtm.aws.alloy_host (the others are set_fact, which the controller answers)."""
    role = [param.values for param in TASKS if param.values[0] == os.path.join(REPO, "roles", "alloy", "tasks", "main.yml")]
    remote = [module for _path, _task, module in role if module != "ansible.builtin.set_fact"]
    assert remote == ["lgtm.aws.alloy_host"], remote


@pytest.mark.parametrize("path, task, module", TASKS)
def test_task_arguments_are_documented(path, task, module):
    options = documented_options(module)
    args = task[module]
    if isinstance(args, str):  # free-form (command and friends)
        return
    args = dict(args or {}, **(task.get("args") or {}))
    unknown = sorted(set(args) - set(options))
    assert not unknown, "%s: %s does not take %s" % (os.path.relpath(path, REPO), module, ", ".join(unknown))
    for name, value in args.items():
        choices = options[name].get("choices")
        literal = isinstance(value, (str, int, bool)) and "{{" not in str(value)
        if choices and literal:
            assert value in choices, "%s: %s %s=%r is not one of %s" % (os.path.relpath(path, REPO), module, name, value, choices)
