"""lgtm.aws.rendered_files: many files in one call, checked first, written only when they differ."""
import json
import os
import stat

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.lgtm.aws.plugins.modules import rendered_files

FILES = {"prometheus.yml": "global: {}\n", "rules/alerts.yml": "groups: []\n", "dashboards/a.json": "{}\n"}


def run(capsys, check_mode=False, **args):
    if check_mode:
        args["_ansible_check_mode"] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            rendered_files.main()
    return json.loads(capsys.readouterr().out)


def test_writes_every_file_then_nothing_and_reports_per_file_diffs(tmp_path, capsys):
    out = tmp_path / "ecs"
    first = run(capsys, path=str(out), files=FILES)
    assert first["changed"] and sorted(first["written"]) == sorted(FILES)
    assert (out / "rules" / "alerts.yml").read_text() == "groups: []\n"
    assert stat.S_IMODE(os.stat(out / "prometheus.yml").st_mode) == 0o644
    second = run(capsys, path=str(out), files=FILES)
    assert not second["changed"] and second["written"] == [] and second["diff"] == []

    changed = dict(FILES, **{"rules/alerts.yml": "groups: [x]\n"})
    check = run(capsys, check_mode=True, path=str(out), files=changed)
    assert check["changed"] and check["written"] == ["rules/alerts.yml"]
    assert check["diff"] == [{"before_header": str(out / "rules" / "alerts.yml"), "after_header": str(out / "rules" / "alerts.yml"),
                              "before": "groups: []\n", "after": "groups: [x]\n"}]
    assert (out / "rules" / "alerts.yml").read_text() == "groups: []\n", "check mode writes nothing"
    os.chmod(out / "prometheus.yml", 0o600)
    third = run(capsys, path=str(out), files=changed)
    assert sorted(third["written"]) == ["prometheus.yml", "rules/alerts.yml"]
    assert stat.S_IMODE(os.stat(out / "prometheus.yml").st_mode) == 0o644


def test_a_failing_check_writes_nothing_and_names_the_command(tmp_path, capsys):
    out = tmp_path / "ecs"
    result = run(capsys, path=str(out), files=FILES, validate=[
        {"argv": ["test", "-f", "alerts.yml"], "chdir": "rules"}, {"argv": ["grep", "-q", "scrape_configs", "prometheus.yml"]}])
    assert result["failed"] and "grep -q scrape_configs prometheus.yml failed (rc 1)" in result["msg"]
    assert result["validated"] == ["test -f alerts.yml"]
    assert not out.exists()
    ok = run(capsys, check_mode=True, path=str(out), files=FILES, validate=[{"argv": ["test", "-f", "alerts.yml"], "chdir": "rules"}])
    assert ok["validated"] == ["test -f alerts.yml"] and ok["changed"] and not out.exists()


def test_paths_outside_the_directory_are_refused(tmp_path, capsys):
    result = run(capsys, path=str(tmp_path), files={"../x": "a", "/etc/y": "b", "ok.yml": "c"})
    assert result["failed"] and "'../x'" in result["msg"] and "'/etc/y'" in result["msg"]
    assert not (tmp_path / "ok.yml").exists()


def test_a_missing_program_fails_unless_skipping_is_asked(tmp_path, capsys):
    check = [{"argv": ["no-such-tool-lgtm", "check", "prometheus.yml"]}, {"argv": ["test", "-f", "prometheus.yml"]}]
    result = run(capsys, path=str(tmp_path / "a"), files=FILES, validate=check)
    assert result["failed"] and "no-such-tool-lgtm is not installed" in result["msg"] and not (tmp_path / "a").exists()
    result = run(capsys, path=str(tmp_path / "a"), files=FILES, validate=check, skip_missing_commands=True)
    assert result["skipped_checks"] == ["no-such-tool-lgtm check prometheus.yml"] and result["validated"] == ["test -f prometheus.yml"]


def test_sensitive_files_never_show_in_the_output_and_kept_files_are_written_once(tmp_path, capsys):
    out = tmp_path / "stack"
    secret = "s3cret-value-lgtm"
    args = dict(path=str(out), files={"a/conf.yml": {"content": "x: 1\n", "mode": "0600"}},
                sensitive_files={"secrets/admin": {"content": secret, "mode": "0400"}, "keycloak/realm.json": "{%s}" % secret},
                keep_existing=["secrets/admin"], directories={"secrets": "0700", ".": "0750"})
    first = run(capsys, **args)
    assert first["changed"] and sorted(first["written"]) == ["a/conf.yml", "keycloak/realm.json", "secrets/admin"]
    assert secret not in json.dumps(first)
    assert (out / "secrets" / "admin").read_text() == secret
    assert stat.S_IMODE(os.stat(out / "secrets" / "admin").st_mode) == 0o400
    assert stat.S_IMODE(os.stat(out / "a" / "conf.yml").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(out / "secrets").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o750
    # A kept file is not replaced by another generated value; a changed sensitive file is, without showing it.
    again = {**args, "sensitive_files": {"secrets/admin": {"content": "other", "mode": "0400"}, "keycloak/realm.json": "{new}"}}
    second = run(capsys, **again)
    assert second["written"] == ["keycloak/realm.json"] and (out / "secrets" / "admin").read_text() == secret
    assert second["diff"][0]["after"] == rendered_files.HIDDEN and secret not in json.dumps(second)
    assert not run(capsys, **again)["changed"]
    os.chmod(out / "secrets", 0o755)
    assert run(capsys, **again)["changed"] and stat.S_IMODE(os.stat(out / "secrets").st_mode) == 0o700


def test_a_check_runs_only_when_its_files_changed_with_the_scratch_path_in_its_arguments(tmp_path, capsys):
    out, parent = tmp_path / "stack", tmp_path / "scratch-here"
    files = {"prometheus/prometheus.yml": "global: {}\n", "loki/loki.yml": "a: 1\n"}
    checks = [{"argv": ["test", "-f", "{scratch}/prometheus/prometheus.yml"], "when_changed": ["prometheus"]},
              {"argv": ["grep", "-q", "b: 2", "{scratch}/loki/loki.yml"], "when_changed": ["loki/loki.yml"]}]
    first = run(capsys, path=str(out), files=dict(files, **{"loki/loki.yml": "b: 2\n"}), validate=checks, scratch_parent=str(parent))
    assert first["validated"] == ["test -f {scratch}/prometheus/prometheus.yml", "grep -q b: 2 {scratch}/loki/loki.yml"]
    assert list(parent.iterdir()) == [], "the scratch directory is removed"
    # Only Loki's file changes (to one its check refuses): Prometheus's check is skipped, Loki's fails, nothing is written.
    second = run(capsys, path=str(out), files=files, validate=checks, scratch_parent=str(parent))
    assert second["failed"] and "grep -q b: 2" in second["msg"] and second["validated"] == []
    assert (out / "loki" / "loki.yml").read_text() == "b: 2\n"
    third = run(capsys, path=str(out), files=dict(files, **{"loki/loki.yml": "b: 2\n"}), validate=checks)
    assert not third["changed"] and third["validated"] == [] and len(third["skipped_checks"]) == 2
