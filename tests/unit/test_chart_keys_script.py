"""scripts/chart-keys: what a chart's templates read, from small templates with each way of reading a value."""
import importlib.machinery
import importlib.util
import os
import subprocess
import sys
import tarfile

import pytest
import yaml

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "chart-keys")


@pytest.fixture(scope="module")
def chart_keys():
    loader = importlib.machinery.SourceFileLoader("chart_keys", SCRIPT)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("chart_keys", loader))
    loader.exec_module(module)
    return module


def read(chart_keys, *templates):
    """Reads of a chart made of these templates, helpers' arguments resolved as for a whole chart."""
    found, arguments = set(), {}
    for template in templates:
        reader = chart_keys.Reader()
        found |= reader.walk(template)
        for name, values in reader.arguments.items():
            arguments.setdefault(name, set()).update(values)
    return chart_keys.resolve(found, arguments)


@pytest.mark.parametrize("template, expected", [
    ("{{ .Values.a.b }}", {"a", "a.b"}),
    ("{{ $.Values.a.b }} {{ .ctx.Values.c }}", {"a", "a.b", "c"}),
    ('{{ index .Values "a" "b-c" }}', {"a", "a.b-c"}),
    ('{{ dig "p" "size" "1Gi" .Values.x }}', {"x", "x.p", "x.p.size"}),
    ("{{- with .Values.x.persistence }}{{ .size }}{{ end }}", {"x", "x.persistence", "x.persistence.size"}),
    ("{{- $p := .Values.x }}{{ $p.replicas }}", {"x", "x.replicas"}),
    ("{{- range $k, $v := .Values.ports }}{{ $v.enabled }}{{ end }}", {"ports", "ports.*", "ports.*.enabled"}),
    ("{{ toYaml .Values.a.config | nindent 2 }}", {"a", "a.config", "a.config.**"}),
    ("{{- with .Values.r }}{{ toYaml . }}{{ end }}", {"r", "r.**"}),
    ("{{- if .Values.on }}{{ .Release.Name }}{{ end }}", {"on"}),
])
def test_each_way_a_template_reads_a_value(chart_keys, template, expected):
    assert read(chart_keys, template) == expected


def test_helpers_read_what_their_callers_pass(chart_keys):
    helper = ('{{- define "w" }}{{- $c := .component }}{{ $c.persistence.size }}'
              '{{- with (index $.ctx.Values $.section) }}{{ .memory }}{{ end }}{{ end }}')
    caller = '{{ include "w" (dict "ctx" $ "component" .Values.compactor "section" "chunksCache") }}'
    found = read(chart_keys, helper, caller)
    assert {"compactor.persistence.size", "chunksCache.memory"} <= found
    # Without a caller, a helper's reads of its argument name no key.
    assert not any("persistence" in path for path in read(chart_keys, helper))


def test_a_key_defined_but_never_read_is_not_a_read(chart_keys):
    assert "compactor.persistence.size" not in read(chart_keys, "{{- range .Values.compactor.persistence.claims }}{{ .size }}{{ end }}")


def test_files_a_template_renders_with_tpl_count_as_read_by_it(chart_keys):
    files = ["conf/crds/a.yaml", "conf/crds/b.yaml", "conf/other.txt", "templates/x.yaml"]
    template = '{{ tpl (.Files.Get "conf/other.txt") . }}{{ range $p, $_ := .Files.Glob "conf/crds/*.yaml" }}{{ end }}'
    assert chart_keys.included_files(template, files) == {"conf/other.txt", "conf/crds/a.yaml", "conf/crds/b.yaml"}
    assert chart_keys.included_files('{{ .Files.Get "missing.yaml" }}', files) == set()


SNAPSHOT = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "chart-snapshot")
CHART = {
    "Chart.yaml": "apiVersion: v2\nname: demo\nversion: 1.2.3\nkubeVersion: ^1.32.0-0\n"
                  "dependencies:\n  - name: rollout-operator\n    alias: rollout_operator\n    condition: rollout_operator.enabled\n",
    "values.yaml": "compactor:\n  persistentVolume:\n    size: 2Gi\n",
    "templates/compactor/sts.yaml": '{{- with .Values.compactor.persistentVolume }}{{ .size }}{{ end }}\n{{ tpl (.Files.Get "conf/x.yaml") . }}\n',
    "conf/x.yaml": "{{ .Values.ruler.replicas }}\n",
    # A chart's own .gitignore must not drop its files from the snapshot.
    ".gitignore": "conf/\n",
}


def _run(*command):
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def test_a_chart_snapshot_from_a_release_archive_or_a_directory_gives_derived_facts(tmp_path):
    """scripts/chart-snapshot: the chart's files alone (grafana/mimir is too large to mirror) as a git snapshot
    with the release tag, laid out like the repository, on which scripts/chart-keys runs as on a mirror."""
    chart = tmp_path / "demo"
    for name, text in CHART.items():
        (chart / name).parent.mkdir(parents=True, exist_ok=True)
        (chart / name).write_text(text)
    archive = tmp_path / "demo-1.2.3.tgz"
    with tarfile.open(str(archive), "w:gz") as handle:
        handle.add(str(chart), arcname="demo")
    trees, facts = [], None
    for source, git_dir in ((archive, tmp_path / "a.git"), (chart, tmp_path / "d.git"), (archive, tmp_path / "again.git")):
        assert _run(SNAPSHOT, str(source), "ops/charts/demo", "demo-1.2.3", str(git_dir)).strip() == str(git_dir)
        trees.append(_run("git", "--git-dir", str(git_dir), "rev-parse", "demo-1.2.3", "demo-1.2.3^{tree}").split())
        subject = _run("git", "--git-dir", str(git_dir), "log", "-1", "--format=%s", "demo-1.2.3").strip()
        facts = facts or yaml.safe_load(_run(sys.executable, SCRIPT, str(git_dir), "demo-1.2.3", "ops/charts/demo", "demo", "1.2.3", subject))
    # The same files give the same tree whatever their form, and the same archive the same commit.
    assert trees[0][1] == trees[1][1] and trees[0] == trees[2]
    assert facts["derived"] is True and facts["tag"] == "demo-1.2.3" and facts["kube_version"] == "^1.32.0-0"
    assert facts["source"].startswith("demo-1.2.3 from archive demo-1.2.3.tgz sha256:")
    assert facts["subcharts"] == {"rollout_operator": "rollout_operator.enabled"}
    assert facts["defines"] == ["compactor", "compactor.persistentVolume", "compactor.persistentVolume.size"]
    assert facts["reads"]["compactor"] == ["compactor", "compactor.persistentVolume", "compactor.persistentVolume.size", "ruler", "ruler.replicas"]


def test_a_chart_snapshot_refuses_a_source_without_a_chart(tmp_path):
    result = subprocess.run([SNAPSHOT, str(tmp_path), "ops/charts/demo", "demo-1.2.3", str(tmp_path / "g.git")], capture_output=True, text=True, check=False)
    assert result.returncode == 1 and "no Chart.yaml" in result.stderr
    assert not (tmp_path / "g.git").exists()
