"""The execution environment: execution-environment.yml gives ansible-builder a build context that installs the
built artifact, and the installed collection tells ansible-builder its Python and system requirements.

No image is built (that needs a registry); ``ansible-builder create`` writes the context, and the two steps the
image build would run on it are run here: the Galaxy install of the context's requirements.yml (without
downloading the dependencies: the ``ansible`` package's copies stand in for them) and ``introspect``.
"""

import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml
from bindep.depends import Depends
from packaging.requirements import Requirement

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN_DIR = os.path.dirname(sys.executable)


def _run(args, **kwargs):
    proc = subprocess.run(args, capture_output=True, text=True, check=False, timeout=300, **kwargs)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _load(path):
    with open(os.path.join(REPO_ROOT, path)) as f:
        return yaml.safe_load(f)


def _requirement_lines(text):
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    """``ansible-builder create`` on a copy of execution-environment.yml beside a freshly built artifact in out/."""
    work = tmp_path_factory.mktemp("ee")
    _run([os.path.join(BIN_DIR, "ansible-galaxy"), "collection", "build", "--output-path", str(work / "out"), REPO_ROOT],
         cwd=REPO_ROOT)
    shutil.copy(os.path.join(REPO_ROOT, "execution-environment.yml"), work)
    _run([os.path.join(BIN_DIR, "ansible-builder"), "create", "-f", "execution-environment.yml", "-c", "context"], cwd=work)
    return work / "context"


@pytest.fixture(scope="module")
def introspected(context, tmp_path_factory):
    """What the image build's introspect step finds once the context's requirements.yml is installed."""
    collections = tmp_path_factory.mktemp("ee-collections")
    build = context / "_build"
    # --force: a copy of lgtm.aws in ~/.ansible/collections (Molecule installs one there) must not stand in for it.
    _run([os.path.join(BIN_DIR, "ansible-galaxy"), "collection", "install", "--no-deps", "--force", "-r", "requirements.yml",
          "-p", str(collections)], cwd=build, env={k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")})
    assert (collections / "ansible_collections" / "lgtm" / "aws" / "MANIFEST.json").exists()
    # The declared dependencies, as Galaxy would install them: the ansible package's copies.
    for name in _load("galaxy.yml")["dependencies"]:
        ns, coll = name.split(".")
        bundled = next(os.path.join(p, "ansible_collections", ns, coll) for p in sys.path
                       if os.path.exists(os.path.join(p, "ansible_collections", ns, coll, "MANIFEST.json")))
        os.makedirs(collections / "ansible_collections" / ns, exist_ok=True)
        os.symlink(bundled, collections / "ansible_collections" / ns / coll)
    pip, bindep = collections / "pip.txt", collections / "bindep.txt"
    _run([os.path.join(BIN_DIR, "ansible-builder"), "introspect", str(collections),
          f"--write-pip={pip}", f"--write-bindep={bindep}"])
    return pip.read_text(), bindep.read_text()


def test_the_context_installs_the_built_artifact_of_this_version(context):
    version = _load("galaxy.yml")["version"]
    with open(context / "_build" / "requirements.yml") as f:
        (entry,) = yaml.safe_load(f)["collections"]
    assert entry["type"] == "file"
    assert entry["name"] == f"collections/lgtm-aws-{version}.tar.gz", "execution-environment.yml names another version"
    assert (context / "_build" / entry["name"]).is_file(), "the artifact is not in the build context"
    containerfile = (context / "Containerfile").read_text()
    assert "COPY _build /build" in containerfile
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" in containerfile
    assert "introspect.py introspect" in containerfile


def test_the_image_gets_the_collections_python_requirements_and_system_packages(introspected):
    pip, bindep = introspected
    for line in _requirement_lines(open(os.path.join(REPO_ROOT, "requirements.txt")).read()):
        assert f"{line}  # from collection lgtm.aws" in pip
    for line in _requirement_lines(open(os.path.join(REPO_ROOT, "bindep.txt")).read()):
        assert f"{line}  # from collection lgtm.aws" in bindep
    # and the dependencies' own: the Kubernetes client for kubernetes.core's modules, boto3 for amazon.aws
    assert re.search(r"^kubernetes\b.*# from collection kubernetes\.core$", pip, re.M)
    assert re.search(r"^boto3\b.*# from collection amazon\.aws$", pip, re.M)


def test_the_image_runs_the_ansible_core_the_suite_runs():
    ee = _load("execution-environment.yml")
    spec = Requirement(ee["dependencies"]["ansible_core"]["package_pip"]).specifier
    with open(os.path.join(REPO_ROOT, "requirements-dev.txt")) as f:
        (pin,) = [Requirement(line.strip()) for line in f if line.startswith("ansible-core==")]
    assert spec.contains(next(iter(pin.specifier)).version), f"{spec} leaves out the tested {pin}"


def test_bindep_parses_and_the_development_machine_installs_its_debian_packages():
    with open(os.path.join(REPO_ROOT, "bindep.txt")) as f:
        depends = Depends(f.read())
    debian = {rule[0] for rule in depends.active_rules(["platform:dpkg", "platform:debian"])}
    rpm = {rule[0] for rule in depends.active_rules(["platform:rpm", "platform:redhat"])}
    assert {"prometheus", "prometheus-alertmanager"} <= debian  # promtool, amtool
    assert "which" in rpm
    with open(os.path.join(REPO_ROOT, "scripts", "install-system-deps")) as f:
        packages = set(re.search(r"^PACKAGES=\(([^)]*)\)", f.read(), re.M).group(1).split())
    assert debian <= packages, f"scripts/install-system-deps misses {sorted(debian - packages)}"
