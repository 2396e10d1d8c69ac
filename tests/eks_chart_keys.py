"""Shared by the EKS tests: an example spec (acme-prod in eu-west-1) and the check of Helm values against the
keys each chart version's templates read (tests/fixtures/charts/<chart>-<version>.keys.yaml, from
scripts/chart-keys: what values.yaml defines and, per template group, what the templates read)."""
import functools
import os

import yaml

CHARTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "charts")
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
