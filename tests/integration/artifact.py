"""The Galaxy artifact, built once per test module from the working tree (``ansible-galaxy collection build``).

Test modules import the fixture: ``from artifact import artifact  # noqa: F401``.
"""

import os
import subprocess

import pytest

from conftest import BIN_DIR, REPO_ROOT


def clean_env(**extra):
    """The process environment without ANSIBLE_* settings (this repository's ansible.cfg links the working tree in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(extra)
    return env


def build(output_dir):
    """Build the collection into output_dir; return the artifact's path."""
    proc = subprocess.run([os.path.join(BIN_DIR, "ansible-galaxy"), "collection", "build", "--output-path", str(output_dir), REPO_ROOT],
                          cwd=REPO_ROOT, env=clean_env(), capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0, proc.stderr
    (path,) = output_dir.glob("lgtm-aws-*.tar.gz")
    return path


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    return build(tmp_path_factory.mktemp("artifact"))
