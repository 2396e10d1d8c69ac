"""Every key the generated values set is one the chosen chart version's templates READ, in both chart sets.

The facts (tests/fixtures/charts/<chart>-<version>.keys.yaml) come from scripts/chart-keys: what values.yaml
defines and, per template group, what the templates read. A key values.yaml defines but no rendered
template reads (Loki 6.27's compactor.persistence.size) is a setting the chart silently ignores.
"""
import copy
import functools
import os
import re

import pytest
import yaml

from ansible_collections.lgtm.aws.plugins.plugin_utils import eks_values as ev

CHARTS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "charts")
ACCOUNT = "123456789012"
SPEC = {
    "cluster": {"name": "acme-prod", "region": "eu-west-1"},
    "buckets": {"loki": "acme-prod-loki", "mimir_blocks": "acme-prod-mimir-blocks", "mimir_alertmanager": "acme-prod-mimir-alertmanager",
                "mimir_ruler": "acme-prod-mimir-ruler", "tempo": "acme-prod-tempo"},
    "irsa_roles": dict((c, {"arn": "arn:aws:iam::%s:role/acme-prod-%s-irsa" % (ACCOUNT, c), "service_account": c, "namespace": "monitoring"})
                       for c in ("loki", "mimir", "tempo")),
    "ingress": {"host": "grafana.internal.example.com", "security_groups": ["sg-0123456789abcdef0"],
                "certificate_arn": "arn:aws:acm:eu-west-1:%s:certificate/0f1e2d3c-aaaa-bbbb-cccc-111122223333" % ACCOUNT},
}
# Template groups a deployment mode does not render (their reads do not count): Loki in Distributed mode
# renders no simple-scalable or single-binary workload (validate.yaml still reads their replicas); the
# collector as a Deployment renders no DaemonSet or StatefulSet.
NOT_RENDERED = {
    ("loki", "Distributed"): {"backend", "read", "write", "single-binary", "monolithic"},
    ("opentelemetry-collector", "deployment"): {"daemonset", "statefulset"},
}
# Every kind of spec that changes which keys are set: the defaults, and everything switched on.
VARIANTS = {
    "defaults": {},
    "everything": {"zone_aware": True, "replication_factor": 3, "tenancy": {"enabled": True, "tenant": "acme-platform"},
                   "replicas": dict((c, dict((t, 3) for t in ev.TARGETS[c])) for c in ev.COMPONENTS),
                   "resources": dict((c, dict((t, {"requests": {"cpu": "1"}, "limits": {"memory": "1Gi"}}) for t in ev.TARGETS[c]))
                                     for c in ev.COMPONENTS)},
    "no ingress": {"ingress": {"enabled": False}},
}


@functools.lru_cache(maxsize=None)
def facts(chart, version):
    with open(os.path.join(CHARTS, "%s-%s.keys.yaml" % (chart, version))) as handle:
        return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def key_paths(node, prefix=""):
    for key, value in node.items():
        path = "%s.%s" % (prefix, key) if prefix else str(key)
        yield path
        if isinstance(value, dict):
            yield from key_paths(value, path)


def _matches(pattern, parts):
    """A read path matches a key path: * is any one key, a trailing ** any keys below (a map taken whole)."""
    if pattern[-1] == "**":
        pattern = pattern[:-1]
        return len(parts) > len(pattern) and all(p in ("*", k) for p, k in zip(pattern, parts))
    return len(pattern) == len(parts) and all(p in ("*", k) for p, k in zip(pattern, parts))


@functools.lru_cache(maxsize=None)
def reads(chart, version, mode):
    """The paths the chart's templates rendered in ``mode`` read: exact ones, and those with * (any one key)."""
    skipped = NOT_RENDERED.get((chart, mode), set())
    paths = set(path for group, found in facts(chart, version)["reads"].items() if group not in skipped for path in found)
    return paths, [path.split(".") for path in paths if "*" in path.replace("**", "")]


def is_read(path, exact, patterns):
    parts = path.split(".")
    if path in exact or any(".".join(parts[:depth] + ["**"]) in exact for depth in range(1, len(parts))):
        return True
    return any(_matches(pattern, parts) for pattern in patterns)


def unread_keys(data, values, mode=None):
    """The key paths of ``values`` no template the chart renders in ``mode`` reads. Keys below a sub-chart's
    alias (minio.*, rollout_operator.*) are the sub-chart's own values, not checked here."""
    exact, patterns = reads(data["chart"], str(data["version"]), mode)
    subcharts = set(data.get("subcharts") or ())
    return [path for path in key_paths(values)
            if not is_read(path, exact, patterns) and not (path.split(".")[0] in subcharts and "." in path)]


def mode_of(release, values):
    return {"loki": values.get("deploymentMode"), "otel-collector": values.get("mode")}.get(release)


def rendered(chart_set, **changes):
    data = copy.deepcopy(SPEC)
    data.update(changes, chart_set=chart_set)
    spec = ev.validate(data)
    return spec, ev.values(spec)


@pytest.mark.parametrize("chart_set", sorted(ev.CHART_SETS))
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_key_the_values_set_is_read_by_a_template_of_the_chosen_chart(chart_set, variant):
    spec, values = rendered(chart_set, **VARIANTS[variant])
    plan = dict((entry["release"], entry) for entry in ev.plan(spec)["releases"])
    unread = {}
    for release, release_values in values.items():
        data = facts(plan[release]["chart"], plan[release]["version"])
        missing = unread_keys(data, release_values, mode_of(release, release_values))
        if missing:
            unread["%s %s" % (data["chart"], data["version"])] = missing
    assert unread == {}


def test_today_s_loki_compactor_volume_is_a_key_loki_6_27_ignores():
    """The issue's finding: compactor.persistence.size/storageClass are defined in values.yaml, read by no template."""
    loki = facts("loki", "6.27.0")
    old = {"deploymentMode": "Distributed", "compactor": {"persistence": {"enabled": True, "size": "10Gi", "storageClass": "gp3"}}}
    assert unread_keys(loki, old, "Distributed") == ["compactor.persistence.size", "compactor.persistence.storageClass"]
    assert {"compactor.persistence.size", "compactor.persistence.storageClass"} <= set(loki["defines"])
    compactor = rendered("seed")[1]["loki"]["compactor"]["persistence"]
    assert compactor == {"enabled": True, "claims": [{"name": "data", "size": "10Gi", "storageClass": "gp3"}]}
    # Loki 18 builds every volume from persistence.size/storageClass.
    assert rendered("current")[1]["loki"]["compactor"]["persistence"] == {"enabled": True, "size": "10Gi", "storageClass": "gp3"}


def test_a_deployment_mode_drops_the_groups_it_does_not_render():
    loki = facts("loki", "6.27.0")
    # The simple-scalable backend's volume is read only by templates Distributed mode does not render.
    assert unread_keys(loki, {"backend": {"persistence": {"size": "1Gi"}}}, "Distributed") == ["backend.persistence", "backend.persistence.size"]
    assert unread_keys(loki, {"backend": {"persistence": {"size": "1Gi"}}}, "SimpleScalable") == []
    # validate.yaml reads every target's replicas in every mode: setting the unused ones to 0 is read.
    assert unread_keys(loki, {"backend": {"replicas": 0}}, "Distributed") == []


def test_reads_through_helpers_scopes_and_whole_maps():
    # Loki 6.27's memcached helper takes its section by name: (index .ctx.Values .valuesSection).allocatedMemory.
    assert unread_keys(facts("loki", "6.27.0"), {"chunksCache": {"allocatedMemory": 512}, "resultsCache": {"allocatedMemory": 64}}) == []
    # loki.commonConfig is handed whole to toYaml: any key below it is read.
    assert unread_keys(facts("loki", "6.27.0"), {"loki": {"commonConfig": {"replication_factor": 3}}}) == []
    # Loki 18's generic workload helper reads $component.persistence.size for the component its caller passes.
    assert unread_keys(facts("loki", "18.11.0"), {"compactor": {"persistence": {"size": "1Gi"}}}) == []
    # The collector ranges over ports and reads each one's enabled.
    assert unread_keys(facts("opentelemetry-collector", "0.170.0"), {"ports": {"zipkin": {"enabled": False}}}) == []
    # Nothing reads a made-up key, in any chart.
    for chart, version in (("grafana", "12.11.1"), ("tempo-distributed", "2.26.2"), ("loki", "18.11.0")):
        assert unread_keys(facts(chart, version), {"global": {"storageClasss": "gp3"}}) == ["global.storageClasss"], chart


@pytest.mark.parametrize("chart_set", sorted(ev.CHART_SETS))
def test_every_chart_of_a_set_has_its_facts_and_they_are_for_that_version(chart_set):
    for component, (repository, version) in ev.CHART_SETS[chart_set]["charts"].items():
        chart = ev.RELEASES[component][1]
        data = facts(chart, version)
        assert (data["chart"], str(data["version"])) == (chart, version), component
        assert data["reads"] and (data["derived"] or chart == "mimir-distributed"), component
        assert repository.startswith("https://")


@pytest.mark.parametrize("chart_set", sorted(ev.CHART_SETS))
def test_a_set_s_kubernetes_minimum_is_the_highest_its_charts_declare(chart_set):
    """CHART_SETS[...]["kubernetes"] (what eks_version is checked against) is the highest lower bound of the set's
    charts' kubeVersion (mimir-distributed 6.0.5: ^1.29.0-0; 6.2.0: ^1.32.0-0), and "needs" names that chart."""
    lowest = {}
    for component, (_repository, version) in ev.CHART_SETS[chart_set]["charts"].items():
        chart = ev.RELEASES[component][1]
        bound = re.match(r"^\s*(?:\^|>=|~)?\s*(\d+)\.(\d+)", facts(chart, version)["kube_version"])
        if bound:
            lowest["%s %s" % (chart, version)] = (int(bound.group(1)), int(bound.group(2)))
    highest = max(lowest.values())
    assert ev.CHART_SETS[chart_set]["kubernetes"] == "%d.%d" % highest
    assert any(name.startswith(ev.CHART_SETS[chart_set]["needs"]) for name, bound in lowest.items() if bound == highest)
