"""The collection as users get it: a Galaxy artifact installed somewhere else, used by FQCN."""

import json
import os
import subprocess
import sys
import tarfile
import textwrap

import pytest

from artifact import artifact, clean_env  # noqa: F401 pylint: disable=unused-import
from conftest import BIN_DIR

pytestmark = pytest.mark.integration


def _run(cmd, **kwargs):
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=600, **kwargs)


def test_artifact_carries_the_collection_and_nothing_local(artifact):
    with tarfile.open(artifact) as tar:
        names = tar.getnames()
    assert "MANIFEST.json" in names
    assert "meta/runtime.yml" in names
    assert any(n.startswith("plugins/modules/") for n in names)
    assert any(n.startswith("roles/storage/") for n in names)
    assert "CHANGELOG.rst" in names
    for local_only in (".venv/", ".collections/", ".cache/", "out/", ".ci/", ".ansible/", "bench/results/", "tests/output/"):
        assert not any(n.startswith(local_only) for n in names), local_only
    # What an execution environment build reads from the collection, and not the development pins.
    for ee_file in ("meta/execution-environment.yml", "requirements.txt", "bindep.txt"):
        assert ee_file in names, ee_file
    for dev_only in ("requirements-dev.txt", "execution-environment.yml"):
        assert dev_only not in names, dev_only
    assert "roles/settings/defaults/main.yml" in names and "plugins/action/check_settings.py" in names


def test_installed_artifact_runs_modules_by_fqcn_outside_the_repo(artifact, aws_env, aws_client, tmp_path, as_deployer):
    # As the deployer of storage for prefix artifact, environment test (its one bucket: artifact-test-loki), no run lock.
    as_deployer(name_prefix="artifact", environment="test", components=["loki"], capabilities=["storage"], run_lock_name="")
    collections = tmp_path / "collections"
    # Install as a user would, away from this repository's ansible.cfg (which links the working tree in).
    proc = _run([os.path.join(BIN_DIR, "ansible-galaxy"), "collection", "install", "--force", "--no-deps", "-p", str(collections), str(artifact)],
                cwd=tmp_path, env=clean_env())
    assert proc.returncode == 0, proc.stderr
    assert (collections / "ansible_collections" / "lgtm" / "aws" / "MANIFEST.json").exists()

    project = tmp_path / "other-automation-repo"
    project.mkdir()
    (project / "play.yml").write_text(textwrap.dedent("""\
        - hosts: localhost
          connection: local
          gather_facts: false
          module_defaults:
            group/lgtm.aws.aws:
              region: ap-northeast-2
          tasks:
            - name: Buckets through the installed module
              lgtm.aws.storage_buckets:
                buckets:
                  - name: artifact-test-loki
                    lifecycle:
                      expiration_days: 30
              register: result
            - name: A filter from the installed collection
              ansible.builtin.copy:
                dest: "{{ playbook_dir }}/out.json"
                content: "{{ result | combine({'issuer_host': 'https://oidc.example.com/id/A' | lgtm.aws.oidc_issuer_host}) | to_json }}"
                mode: "0644"
        """))
    (project / "hosts.ini").write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    env = {k: v for k, v in aws_env.items() if k != "ANSIBLE_CONFIG"}
    env.update(ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="true")
    proc = _run([os.path.join(BIN_DIR, "ansible-playbook"), "-i", "hosts.ini", "play.yml"], cwd=project, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads((project / "out.json").read_text())
    assert result["changed"] is True
    assert result["buckets"][0]["action"] == "created"
    assert result["issuer_host"] == "oidc.example.com/id/A"
    names = [b["Name"] for b in aws_client("s3").list_buckets()["Buckets"]]
    assert "artifact-test-loki" in names
