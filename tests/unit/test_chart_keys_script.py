"""scripts/chart-keys: what a chart's templates read, from small templates with each way of reading a value."""
import importlib.machinery
import importlib.util
import os

import pytest

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
