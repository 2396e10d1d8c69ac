"""galaxy.yml declares every collection the shipped collection uses, and only those.

What ships and runs for a user (roles/, playbooks/, site.yml, plugins/, inventories/, meta/) is scanned for
other collections' names: modules and roles by FQCN, filters/tests/lookups inside Jinja
(``map('community.general.dict_kv', ...)``), connection and inventory plugins (``ansible_connection:
containers.podman.podman``), action groups (``amazon.aws.aws``), ``ansible_collections.X.Y`` imports and
documentation fragments. Prose (comments, descriptions, task names, module EXAMPLES) is not a use.
molecule/, tests/, scripts/ and bench/ are development only: the ``ansible`` package in
requirements-dev.txt brings what they use.
"""

import json
import os
import sys

import pytest
import yaml
from ansible.galaxy.dependency_resolution.versioning import meets_requirements
from packaging.requirements import Requirement

from collection_scanner import SHIPPED, collections_used, names_in_python, names_in_yaml  # tests/collection_scanner.py

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEV_ONLY = ("molecule", "tests", "scripts", "bench", "docs", "changelogs")


def _collection_dirs():
    """Every installed collection (the ``ansible`` package's and .collections): namespace.name."""
    roots = [os.path.join(REPO_ROOT, ".collections")] + [p for p in sys.path if p]
    found = set()
    for root in roots:
        base = os.path.join(root, "ansible_collections")
        if not os.path.isdir(base):
            continue
        for ns in os.listdir(base):
            if os.path.isdir(os.path.join(base, ns)) and not ns.startswith(("_", ".")):
                found.update(f"{ns}.{name}" for name in os.listdir(os.path.join(base, ns))
                             if os.path.isdir(os.path.join(base, ns, name)) and not name.startswith(("_", ".")))
    return found


def _declared():
    with open(os.path.join(REPO_ROOT, "galaxy.yml")) as f:
        return (yaml.safe_load(f).get("dependencies") or {})


@pytest.fixture(scope="module")
def known():
    return _collection_dirs() | set(_declared())


def test_every_top_level_directory_is_classified_as_shipped_or_development_only():
    with open(os.path.join(REPO_ROOT, "galaxy.yml")) as f:
        ignored = set(yaml.safe_load(f).get("build_ignore") or [])
    tops = {e for e in os.listdir(REPO_ROOT) if os.path.isdir(os.path.join(REPO_ROOT, e)) and not e.startswith(".")}
    unclassified = tops - set(SHIPPED) - set(DEV_ONLY) - ignored
    assert not unclassified, f"decide whether these ship (and need declared dependencies): {sorted(unclassified)}"
    assert not set(SHIPPED) & ignored, "a directory scanned as shipped is left out of the artifact"


def test_every_collection_the_shipped_collection_uses_is_declared_and_every_declared_one_is_used(known):
    used = collections_used(REPO_ROOT, SHIPPED, known)
    declared = set(_declared())
    undeclared = {name: files for name, files in used.items() if name not in declared}
    unused = declared - set(used)
    assert not undeclared, f"used but not in galaxy.yml dependencies: {undeclared}"
    assert not unused, f"in galaxy.yml dependencies but used by nothing that ships: {sorted(unused)}"


def test_declared_versions_admit_the_versions_the_suite_runs_with():
    for name, requirement in _declared().items():
        ns, coll = name.split(".")
        manifest = None
        for root in [p for p in sys.path if p]:
            candidate = os.path.join(root, "ansible_collections", ns, coll, "MANIFEST.json")
            if os.path.exists(candidate):
                manifest = candidate
                break
        assert manifest, f"{name} is declared but not installed by requirements-dev.txt (the ansible package)"
        with open(manifest) as f:
            version = json.load(f)["collection_info"]["version"]
        assert meets_requirements(version, requirement), f"{name} {version} (the suite's) does not meet {requirement}"


def _requirements(path):
    reqs = {}
    with open(os.path.join(REPO_ROOT, path)) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                req = Requirement(line)
                reqs[req.name.lower()] = req
    return reqs


def test_run_time_requirements_have_lower_bounds_and_the_development_pins_meet_them():
    runtime = _requirements("requirements.txt")
    dev = _requirements("requirements-dev.txt")
    assert {"boto3", "botocore"} <= set(runtime)
    for name, req in runtime.items():
        assert req.specifier and all(s.operator in (">=", ">", "<", "!=", "<=") for s in req.specifier), \
            f"requirements.txt is for users: {req} needs a range, not a pin"
        if name in dev:
            (pin,) = list(dev[name].specifier)
            assert pin.operator == "==" and req.specifier.contains(pin.version), f"dev pin {dev[name]} outside {req}"
    with open(os.path.join(REPO_ROOT, "requirements-dev.txt")) as f:
        assert "-r requirements.txt" in f.read().splitlines(), "the development environment installs the collection's own"


# The scanner itself: it finds what bug 5 was about, and it does not count prose.

def test_scanner_finds_a_filter_used_in_jinja_and_a_connection_plugin_but_not_prose():
    known = {"community.general", "containers.podman", "amazon.aws", "kubernetes.core", "community.crypto"}
    tasks = """
- name: Mount targets with amazon.aws.ec2_vpc_subnet in mind
  # uses kubernetes.core.helm one day
  ansible.builtin.set_fact:
    services: "{{ names | map('community.general.dict_kv', 'name') | list }}"
- name: A role of another collection
  ansible.builtin.include_role:
    name: community.crypto.some_role
"""
    assert names_in_yaml(tasks, known) == {"community.general", "community.crypto"}
    inventory = "all:\n  hosts:\n    a:\n      ansible_connection: containers.podman.podman\n"
    assert names_in_yaml(inventory, known) == {"containers.podman"}
    specs = "argument_specs:\n  main:\n    options:\n      x:\n        description: installs it with kubernetes.core.helm\n"
    assert names_in_yaml(specs, known) == set()


def test_scanner_finds_community_docker_modules_in_a_loop_but_not_in_a_task_name():
    known = {"community.docker", "community.general"}
    tasks = """
- name: Containers, as community.docker.docker_compose_v2 would not
  community.docker.docker_container:
    name: "{{ item.name }}"
  loop: "{{ plan.containers }}"
"""
    assert names_in_yaml(tasks, known) == {"community.docker"}
    assert "community.docker" in _declared()


def test_scanner_reads_python_imports_and_doc_fragments_but_not_messages():
    known = {"amazon.aws", "community.aws", "community.general"}
    source = '''
DOCUMENTATION = """
module: x
description: Create the cluster with community.aws.ecs_cluster first.
extends_documentation_fragment:
  - amazon.aws.common.modules
"""
EXAMPLES = """
- community.general.thing:
"""
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
MSG = "create it with community.aws.ecs_cluster first"
'''
    assert names_in_python(source, known) == {"amazon.aws"}
    assert names_in_python('MODULE = "community.aws.ecs_service"\n', known) == {"community.aws"}
