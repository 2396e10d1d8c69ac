"""Every key the generated values set is one the chosen chart version's templates READ, in both chart sets.

The facts (tests/fixtures/charts/<chart>-<version>.keys.yaml) come from scripts/chart-keys: what values.yaml
defines and, per template group, what the templates read. A key values.yaml defines but no rendered
template reads (Loki 6.27's compactor.persistence.size) is a setting the chart silently ignores.
"""
import copy
import re

import pytest

from ansible_collections.lgtm.aws.plugins.plugin_utils import eks_values as ev
from eks_chart_keys import (  # tests/eks_chart_keys.py  pylint: disable=wrong-import-order
    SPEC, facts, mode_of, unread_keys)

# Every kind of spec that changes which keys are set: the defaults, and everything switched on.
VARIANTS = {
    "defaults": {},
    "everything": {"zone_aware": True, "replication_factor": 3, "tenancy": {"enabled": True, "tenant": "acme-platform"},
                   "replicas": dict((c, dict((t, 3) for t in ev.TARGETS[c])) for c in ev.COMPONENTS),
                   "resources": dict((c, dict((t, {"requests": {"cpu": "1"}, "limits": {"memory": "1Gi"}}) for t in ev.TARGETS[c]))
                                     for c in ev.COMPONENTS)},
    "no ingress": {"ingress": {"enabled": False}},
}


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
