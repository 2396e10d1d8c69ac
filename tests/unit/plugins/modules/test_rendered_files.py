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
    assert result["skipped"] == ["no-such-tool-lgtm check prometheus.yml"] and result["validated"] == ["test -f prometheus.yml"]
