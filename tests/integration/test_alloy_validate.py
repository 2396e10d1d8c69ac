"""lgtm.aws.alloy_validate as a playbook runs it, with and without an alloy binary on the host."""

import json
import os
import subprocess
import textwrap

import pytest

from conftest import BIN_DIR, REPO_ROOT

pytestmark = pytest.mark.integration

GOOD = 'prometheus.exporter.unix "host" { }\nprometheus.scrape "s" {\n\ttargets    = prometheus.exporter.unix.host.targets\n\tforward_to = []\n}\n'
BAD = 'prometheus.scrape "s" {\n\ttargets = prometheus.exporter.unix.missing.targets\n}\n'


def run_module(args, env=None):
    cmd = [os.path.join(BIN_DIR, "ansible"), "localhost", "-i", os.path.join(REPO_ROOT, "tests", "integration", "inventory.yml"),
           "-m", "lgtm.aws.alloy_validate", "-a", json.dumps(args)]
    run_env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"), ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
                   ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_CALLBACK_RESULT_FORMAT="json", **(env or {}))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=run_env, cwd=REPO_ROOT, check=False, timeout=120)
    result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    return proc.returncode, result


def test_valid_content_from_a_file(tmp_path):
    path = tmp_path / "config.alloy"
    path.write_text(GOOD)
    rc, result = run_module({"path": str(path), "alloy_binary": str(tmp_path / "no-alloy-here")})
    assert rc == 0, result
    assert result["valid"] is True and result["errors"] == [] and result["changed"] is False
    assert result["components"] == ["prometheus.exporter.unix.host", "prometheus.scrape.s"]
    assert result["alloy_checked"] is False


def test_invalid_content_fails_with_position():
    rc, result = run_module({"content": BAD, "alloy_binary": "/nonexistent/alloy"})
    assert rc != 0
    assert result["failed"] is True
    assert result["msg"] == ("Invalid Alloy configuration: 1 problem(s); first at line 2, column 12: "
                             "reference to undefined component: prometheus.exporter.unix.missing.targets")


def test_report_only_does_not_fail():
    rc, result = run_module({"content": BAD, "fail_on_error": False, "alloy_binary": "/nonexistent/alloy"})
    assert rc == 0
    assert result["valid"] is False and result["errors"][0]["line"] == 2


def test_alloy_binary_errors_are_included(tmp_path):
    # A stand-in for the alloy binary (the real one cannot be downloaded here): `fmt` rejects files
    # containing REJECT with an error in alloy's file:line:col format; it has a `validate` command.
    stand_in = tmp_path / "alloy"
    stand_in.write_text(textwrap.dedent("""\
        #!/bin/sh
        if [ "$2" = "--help" ]; then exit 0; fi
        if grep -q REJECT "$2"; then echo "$2:1:5: stand-in rejected this file" >&2; exit 1; fi
        exit 0
        """))
    stand_in.chmod(0o755)
    rc, result = run_module({"content": GOOD, "alloy_binary": str(stand_in)})
    assert rc == 0 and result["alloy_checked"] is True and result["valid"] is True
    rc, result = run_module({"content": GOOD + "// REJECT\n", "alloy_binary": str(stand_in), "fail_on_error": False})
    assert result["valid"] is False
    assert {"line": 1, "column": 5, "message": "alloy fmt: stand-in rejected this file"} in result["errors"]
    assert {"line": 1, "column": 5, "message": "alloy validate: stand-in rejected this file"} in result["errors"]


def test_content_and_path_are_exclusive(tmp_path):
    rc, result = run_module({"content": GOOD, "path": str(tmp_path / "x")})
    assert rc != 0 and "mutually exclusive" in result["msg"]
