# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""LGTM on EKS from one spec: validation, the five Helm releases' values, the install plan.

``validate(spec)`` fills in defaults and raises one ``SpecError`` listing every problem of the spec, each
naming its field; ``validate(spec, references=False)`` checks the settings only, not the bucket names and
IRSA roles the storage and identity roles provide, so that the settings can be checked before those are
read. ``role_variable`` names a spec field by the lgtm.aws.eks_lgtm variable it comes from.
``values(spec)`` returns ``{release: values}`` for loki, mimir, tempo, otel-collector and grafana (the
enabled ones); ``plan(spec)`` returns the releases with chart, repository, version, namespace and install
order. The keys used are those the pinned chart versions read (tests/fixtures/charts/*.keys.yaml).
"""

import re

# SpecError is part of this module's API: callers catch it from here.
from ansible_collections.lgtm.aws.plugins.plugin_utils.spec_checks import TENANT, Problems, SpecError, closest, merge
from ansible_collections.lgtm.aws.plugins.plugin_utils.spec_checks import check_keys as _keys, fail as _fail
from ansible_collections.lgtm.aws.plugins.plugin_utils import eks_lab_spec

COMPONENTS = ("loki", "mimir", "tempo", "otel_collector", "grafana")
GRAFANA_REPO = "https://grafana.github.io/helm-charts"
COMMUNITY_REPO = "https://grafana-community.github.io/helm-charts"
OTEL_REPO = "https://open-telemetry.github.io/opentelemetry-helm-charts"
RELEASES = {
    # component: (release, chart, install order: backends, then the collector, then Grafana)
    "loki": ("loki", "loki", 1),
    "mimir": ("mimir", "mimir-distributed", 1),
    "tempo": ("tempo", "tempo-distributed", 1),
    "otel_collector": ("otel-collector", "opentelemetry-collector", 2),
    "grafana": ("grafana", "grafana", 3),
}
# Two chart sets: `seed`, the pins the stack was written against, and `current`, the newest releases that
# fit it (the Grafana and Loki charts moved to the grafana-community repository; tempo-distributed 3.x needs
# a Kafka-compatible broker, so `current` keeps the newest 2.x). The values follow the keys of the set's
# versions (tests/fixtures/charts/<chart>-<version>.keys.yaml); "kubernetes" is the oldest Kubernetes
# version every chart of the set supports.
CHART_SETS = {
    "seed": {"kubernetes": "1.29", "needs": "mimir-distributed 6.0.5", "charts": {
        "loki": (GRAFANA_REPO, "6.27.0"), "mimir": (GRAFANA_REPO, "6.0.5"), "tempo": (GRAFANA_REPO, "1.60.0"),
        "otel_collector": (OTEL_REPO, "0.143.0"), "grafana": (GRAFANA_REPO, "10.5.5")}},
    "current": {"kubernetes": "1.32", "needs": "mimir-distributed 6.2", "charts": {
        "loki": (COMMUNITY_REPO, "18.11.0"), "mimir": (GRAFANA_REPO, "6.2.0"), "tempo": (COMMUNITY_REPO, "2.26.2"),
        "otel_collector": (OTEL_REPO, "0.170.0"), "grafana": (COMMUNITY_REPO, "12.11.1")}},
}
# Scalable targets per component, as each chart names them, with their default replicas.
TARGETS = {
    "loki": {"distributor": 1, "ingester": 1, "querier": 1, "queryFrontend": 1, "queryScheduler": 1, "indexGateway": 1, "compactor": 1,
             "ruler": 1},
    "mimir": {"distributor": 1, "ingester": 1, "querier": 1, "query_frontend": 1, "query_scheduler": 1, "store_gateway": 1,
              "compactor": 1, "alertmanager": 1, "ruler": 1},
    "tempo": {"distributor": 1, "ingester": 1, "querier": 1, "queryFrontend": 1, "compactor": 1, "metricsGenerator": 1},
    "otel_collector": {"collector": 1},
    "grafana": {"grafana": 1},
}
# Targets that keep data on a volume, per component: (values key of the volume block, style).
# Loki 6.x builds the ingester's and the compactor's volumes from persistence.claims[] (their
# persistence.size/storageClass are read by no template); Loki 18 reads persistence.size/storageClass for all.
VOLUMES = {
    "loki": {"ingester": "claims", "indexGateway": "persistence", "compactor": "claims", "ruler": "persistence"},
    "mimir": {"ingester": "persistentVolume", "store_gateway": "persistentVolume", "compactor": "persistentVolume",
              "alertmanager": "persistentVolume"},
    "tempo": {"ingester": "persistence", "metricsGenerator": "persistence"},
}
BUCKETS = {"loki": ("loki",), "mimir": ("mimir_blocks", "mimir_alertmanager", "mimir_ruler"), "tempo": ("tempo",)}
IRSA = ("loki", "mimir", "tempo")
# Smallest retention each backend accepts: Loki's index period (24h) and retention must be a multiple of
# it; Mimir's largest default compaction range is 24h; Tempo compacts in 1h windows.
MIN_RETENTION_HOURS = {"logs": 24, "metrics": 24, "traces": 2}
DURATION = re.compile(r"^([0-9]+)([hdw])$")
K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
K8S_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")
QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
HOST = re.compile(r"^(?=.{1,253}$)(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$")
CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
KUBERNETES = re.compile(r"^1\.([0-9]+)$")
REPOSITORY = re.compile(r"^(https?|oci)://[^\s]+$")
VERSION = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+$")
CERT_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]+$")
SG_ID = re.compile(r"^sg-[0-9a-f]{8,17}$")

# The one place these defaults live on the Python side; roles/eks_lgtm/defaults/main.yml and its argument
# specs carry the same values (a unit test compares them). The role always passes a cluster, a region and
# a tenant; "" here means "no tenant".
DEFAULTS = {
    "cluster": {"name": None, "region": None},
    "namespace": "monitoring",
    "components": list(COMPONENTS),
    "chart_set": "seed",
    "eks_version": "",
    "versions": {},
    "repositories": {},
    "buckets": {},
    "irsa_roles": {},
    "retention": {"logs": "365d", "metrics": "365d", "traces": "7d"},
    "replicas": {},
    "resources": {},
    "storage_class": "gp3",
    "volume_size": "10Gi",
    "replication_factor": 1,
    "zone_aware": False,
    "tenancy": {"enabled": False, "tenant": ""},
    "loki_chunks_cache_mb": 1024,
    "ingress": {"enabled": True, "host": "", "scheme": "internal", "security_groups": [], "certificate_arn": ""},
    "grafana_admin_secret": {"name": "grafana-admin", "user_key": "admin-user", "password_key": "admin-password"},
    "sampling": {"errors": True, "latency_threshold_ms": 2000, "percentage": 10},
}
# --- The lab (eks_lab_spec): instrumentation, scrape, dashboards, argocd; checked by eks_lab_spec.check. ---
DEFAULTS.update(eks_lab_spec.DEFAULTS)
# --- end of the lab's fields ---
# Fields the storage and identity roles provide; the others are the user's settings.
REFERENCES = ("buckets", "irsa_roles")

# lgtm.aws.eks_lgtm builds the spec from its variables: errors name the variable the user sets.
ROLE_VARIABLES = {
    "cluster.name": "eks_lgtm_cluster_name (or lgtm_eks_cluster_name)",
    "cluster.region": "eks_lgtm_region (or lgtm_region)",
    "cluster": "eks_lgtm_cluster_name",
    "buckets": "storage_outputs.buckets",
    "irsa_roles": "identity_outputs.irsa_roles",
}


def role_variable(field):
    """The lgtm.aws.eks_lgtm variable a spec field comes from: ``retention.logs`` -> ``eks_lgtm_retention.logs``."""
    for prefix in sorted(ROLE_VARIABLES, key=len, reverse=True):
        if field == prefix or field.startswith(prefix + "."):
            return ROLE_VARIABLES[prefix] + field[len(prefix):]
    if field.split(".")[0] in DEFAULTS:
        return "eks_lgtm_" + field
    return field


def hours(value, field):
    match = DURATION.match(str(value))
    if not match:
        _fail(field, "must be a duration in hours, days or weeks such as 168h, 7d or 52w (got %r)" % (value,))
    return int(match.group(1)) * {"h": 1, "d": 24, "w": 168}[match.group(2)]


def _whole(value, minimum):
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _known(problems, value, allowed, field):
    """The entries of ``value`` whose keys are allowed; a non-mapping and every unknown key are reported."""
    with problems.section():
        _keys(value, allowed, field)
    return dict((k, v) for k, v in value.items() if k in allowed) if isinstance(value, dict) else {}


def _boolean(problems, value, field):
    if not isinstance(value, bool):
        problems.add(field, "must be true or false (got %r)" % (value,))


def _matches(problems, pattern, value, field, what):
    if not isinstance(value, str) or not pattern.match(value):
        problems.add(field, "must be %s (got %r)" % (what, value))


def _check_cluster(spec, problems):
    cluster = _known(problems, spec["cluster"], ("name", "region"), "cluster")
    if not isinstance(spec["cluster"], dict):
        return
    for key, pattern, what in (("name", CLUSTER_NAME, "an EKS cluster name: letters, digits, - and _ (at most 100)"),
                               ("region", REGION, "an AWS region such as eu-west-1")):
        if not cluster.get(key):
            problems.add("cluster.%s" % key, "is required")
        else:
            _matches(problems, pattern, cluster[key], "cluster.%s" % key, what)


def _components(spec, problems):
    """The known components of the spec; the rest are reported."""
    components = spec["components"]
    if not isinstance(components, list) or not components:
        problems.add("components", "must list at least one of %s" % ", ".join(COMPONENTS))
        return []
    for name in components:
        if name not in COMPONENTS:
            problems.add("components", "unknown component %r%s; allowed: %s" % (name, closest(name, COMPONENTS), ", ".join(COMPONENTS)))
    return [name for name in components if name in COMPONENTS]


def _check_versions(spec, problems, names):
    for name, version in _known(problems, spec["versions"], COMPONENTS, "versions").items():
        if not VERSION.match(str(version)):
            problems.add("versions.%s" % name, "must be a chart version such as 6.27.0 (got %r)" % (version,))
    for name, url in _known(problems, spec["repositories"], COMPONENTS, "repositories").items():
        if not isinstance(url, str) or not REPOSITORY.match(url):
            problems.add("repositories.%s" % name, "must be a chart repository URL (https://... or oci://...), got %r" % (url,))
    chart_set = spec["chart_set"]
    if chart_set not in CHART_SETS:
        problems.add("chart_set", "unknown chart set %r%s; allowed: %s" % (chart_set, closest(str(chart_set), CHART_SETS), ", ".join(CHART_SETS)))
        return
    version = spec["eks_version"]
    if version in ("", None):
        return
    match = KUBERNETES.match(str(version))
    if isinstance(version, float) or match and len(match.group(1)) == 1:
        problems.add("eks_version", "must be a Kubernetes minor version written as a string such as '1.30' (got %r: YAML reads an unquoted "
                     "1.30 as the number 1.3)" % (version,))
        return
    if not match:
        problems.add("eks_version", "must be a Kubernetes minor version such as 1.32 (got %r)" % (version,))
        return
    needed = CHART_SETS[chart_set]["kubernetes"]
    if int(match.group(1)) < int(needed.split(".")[1]):
        fitting = [name for name, each in CHART_SETS.items() if int(each["kubernetes"].split(".")[1]) <= int(match.group(1))]
        problems.add("eks_version", "Kubernetes %s is older than chart set %r needs: %s or newer (%s); upgrade the cluster%s"
                     % (version, chart_set, needed, CHART_SETS[chart_set]["needs"],
                        ", or set %s to one for Kubernetes %s: %s" % (names("chart_set"), version, ", ".join(fitting)) if fitting else ""))


def _check_scale(spec, components, problems, names):
    for kind in ("replicas", "resources"):
        for component, targets in _known(problems, spec[kind], COMPONENTS, kind).items():
            for target, value in _known(problems, targets, TARGETS[component], "%s.%s" % (kind, component)).items():
                field = "%s.%s.%s" % (kind, component, target)
                if kind == "resources":
                    _known(problems, value, ("requests", "limits"), field)
                elif not _whole(value, 1):
                    problems.add(field, "must be a whole number of 1 or more (got %r)" % (value,))
    factor = spec["replication_factor"]
    if not _whole(factor, 1):
        problems.add("replication_factor", "must be a whole number of 1 or more (got %r)" % (factor,))
    elif isinstance(spec["replicas"], dict):
        for component in ("loki", "mimir", "tempo"):
            targets = spec["replicas"].get(component)
            count = targets.get("ingester", 1) if isinstance(targets, dict) else 1
            if component in components and _whole(count, 1) and count < factor:
                problems.add("replicas.%s.ingester" % component, "must be at least %s (%d), got %d"
                             % (names("replication_factor"), factor, count))
    if not _whole(spec["loki_chunks_cache_mb"], 64):
        problems.add("loki_chunks_cache_mb", "must be a whole number of MB, 64 or more (the chart's default is 8192), got %r"
                     % (spec["loki_chunks_cache_mb"],))
    _matches(problems, K8S_SUBDOMAIN, spec["storage_class"], "storage_class", "a storage class name such as gp3")
    _matches(problems, QUANTITY, spec["volume_size"], "volume_size", "a Kubernetes quantity such as 10Gi")
    _boolean(problems, spec["zone_aware"], "zone_aware")


def _check_retention(spec, problems):
    for signal, value in _known(problems, spec["retention"], MIN_RETENTION_HOURS, "retention").items():
        field = "retention.%s" % signal
        with problems.section():
            value = hours(value, field)
            if value < MIN_RETENTION_HOURS[signal]:
                _fail(field, "%dh is shorter than the compaction window (%dh)" % (value, MIN_RETENTION_HOURS[signal]))
            if signal == "logs" and value % 24:
                _fail(field, "must be a multiple of Loki's 24h index period (got %dh)" % value)


def _check_tenancy(spec, problems):
    tenancy = _known(problems, spec["tenancy"], DEFAULTS["tenancy"], "tenancy")
    _boolean(problems, tenancy.get("enabled", False), "tenancy.enabled")
    if tenancy.get("enabled") is True:
        if not tenancy.get("tenant"):
            problems.add("tenancy.tenant", "is required when tenancy is enabled (the X-Scope-OrgID Grafana and the collector send)")
        else:
            _matches(problems, TENANT, tenancy["tenant"], "tenancy.tenant", "1-150 letters, digits and !._*'()-")


def _check_ingress(spec, components, problems):
    ingress = _known(problems, spec["ingress"], DEFAULTS["ingress"], "ingress")
    _boolean(problems, ingress.get("enabled", True), "ingress.enabled")
    if ingress.get("scheme", "internal") not in ("internal", "internet-facing"):
        problems.add("ingress.scheme", "must be internal or internet-facing (got %r)" % (ingress["scheme"],))
    if ingress.get("host"):
        _matches(problems, HOST, ingress["host"], "ingress.host", "a host name such as grafana.example.com")
    elif ingress.get("enabled") is True and "grafana" in components:
        problems.add("ingress.host", "is required when the Grafana ingress is enabled")
    groups = ingress.get("security_groups", [])
    if not isinstance(groups, list):
        problems.add("ingress.security_groups", "must be a list of security group IDs (got %r)" % (groups,))
        groups = []
    for group in groups:
        if not SG_ID.match(str(group)):
            problems.add("ingress.security_groups", "%r is not a security group ID (sg-...)" % (group,))
    if ingress.get("certificate_arn"):
        _matches(problems, CERT_ARN, ingress["certificate_arn"], "ingress.certificate_arn", "an ACM certificate ARN")


def _check_sampling(spec, problems):
    sampling = _known(problems, spec["sampling"], DEFAULTS["sampling"], "sampling")
    _boolean(problems, sampling.get("errors", True), "sampling.errors")
    percentage = sampling.get("percentage", 0)
    if isinstance(percentage, bool) or not isinstance(percentage, (int, float)) or not 0 <= percentage <= 100:
        problems.add("sampling.percentage", "must be a number between 0 and 100 (got %r)" % (percentage,))
    if not _whole(sampling.get("latency_threshold_ms", 1), 1):
        problems.add("sampling.latency_threshold_ms", "must be a whole number of 1 or more (got %r)" % (sampling["latency_threshold_ms"],))


def _check_admin_secret(spec, problems):
    secret = _known(problems, spec["grafana_admin_secret"], DEFAULTS["grafana_admin_secret"], "grafana_admin_secret")
    for key, value in secret.items():
        pattern, what = (K8S_SUBDOMAIN, "a Secret name") if key == "name" else (SECRET_KEY, "a Secret key: letters, digits, - . _")
        _matches(problems, pattern, value, "grafana_admin_secret.%s" % key, what)


def _check_references(spec, components, problems, names):
    """Every enabled backend has its buckets (storage role) and its IRSA role (identity role)."""
    leave_out = "or leave %%s out of %s" % names("components")
    buckets = spec["buckets"] if isinstance(spec["buckets"], dict) else {}
    if not isinstance(spec["buckets"], dict):
        problems.add("buckets", "must be a mapping of bucket key to bucket name (got %r)" % (spec["buckets"],))
    for component in components:
        for key in BUCKETS.get(component, ()):
            if not buckets.get(key):
                problems.add("buckets.%s" % key, "missing, and %s is enabled: lgtm.aws.storage creates this bucket when %s is in "
                             "storage_components (default: lgtm_components); %s" % (component, component, leave_out % component))
            elif not isinstance(buckets[key], str):
                problems.add("buckets.%s" % key, "must be a bucket name (got %r)" % (buckets[key],))
    roles = spec["irsa_roles"] if isinstance(spec["irsa_roles"], dict) else {}
    if not isinstance(spec["irsa_roles"], dict):
        problems.add("irsa_roles", "must be a mapping of component to IRSA role (got %r)" % (spec["irsa_roles"],))
    for component in (name for name in IRSA if name in components):
        role, field = roles.get(component), "irsa_roles.%s" % component
        if not role:
            problems.add(field, "missing, and %s is enabled: lgtm.aws.identity creates this IRSA role when %s is in identity_components "
                         "(default: lgtm_components) and identity_irsa_enabled is true; %s"
                         % (component, component, leave_out % component))
            continue
        if not isinstance(role, dict):
            problems.add(field, "must be a mapping with arn, service_account and namespace (got %r)" % (role,))
            continue
        _matches(problems, ROLE_ARN, role.get("arn"), field + ".arn", "an IAM role ARN")
        _matches(problems, K8S_NAME, role.get("service_account", component), field + ".service_account", "a Kubernetes name")
        if role.get("namespace", spec["namespace"]) != spec["namespace"]:
            problems.add(field + ".namespace", "the role trusts service accounts in namespace %r, but %s is %r (identity_irsa_namespace "
                         "sets the namespace the role trusts)" % (role["namespace"], names("namespace"), spec["namespace"]))


def validate(spec, references=True, names=None):
    """The spec with defaults applied, or one ``SpecError`` listing every problem, each field passed through
    ``names`` (e.g. ``role_variable``). ``references=False`` leaves out the buckets and IRSA roles."""
    names = names or str
    if not isinstance(spec, dict):
        raise SpecError([(names("spec"), "must be a mapping, got %s" % type(spec).__name__)])
    problems = Problems()
    spec = merge(DEFAULTS, _known(problems, spec, DEFAULTS, "spec"))
    _check_cluster(spec, problems)
    if not isinstance(spec["namespace"], str) or not K8S_NAME.match(spec["namespace"]):
        problems.add("namespace", "must be a Kubernetes name (lower case letters, digits, -), got %r" % (spec["namespace"],))
    components = _components(spec, problems)
    _check_versions(spec, problems, names)
    _check_scale(spec, components, problems, names)
    _check_retention(spec, problems)
    _check_tenancy(spec, problems)
    _check_ingress(spec, components, problems)
    _check_sampling(spec, problems)
    _check_admin_secret(spec, problems)
    eks_lab_spec.check(spec, components, problems)
    if references:
        _check_references(spec, components, problems, names)
    try:
        problems.raise_if_any()
    except SpecError as error:
        raise error.renamed(names)
    return spec


# ---------------------------------------------------------------------------
# Shared pieces


def replicas(spec, component, target):
    return spec["replicas"].get(component, {}).get(target, TARGETS[component][target])


def _scaled(spec, component, target, extra=None):
    """replicas and resources of one target, plus its volume's storage class and size."""
    block = {"replicas": replicas(spec, component, target)}
    resources = spec["resources"].get(component, {}).get(target)
    if resources:
        block["resources"] = resources
    style = VOLUMES.get(component, {}).get(target)
    if style == "claims" and spec["chart_set"] != "seed":
        style = "persistence"
    if style == "claims":
        block["persistence"] = {"enabled": True, "claims": [{"name": "data", "size": spec["volume_size"], "storageClass": spec["storage_class"]}]}
    elif style == "persistence":
        block["persistence"] = {"enabled": True, "size": spec["volume_size"], "storageClass": spec["storage_class"]}
    elif style == "persistentVolume":
        block["persistentVolume"] = {"size": spec["volume_size"], "storageClass": spec["storage_class"]}
    block.update(extra or {})
    return block


def _service_account(spec, component):
    role = spec["irsa_roles"][component]
    return {"create": True, "name": role.get("service_account", component), "annotations": {"eks.amazonaws.com/role-arn": role["arn"]}}


def _s3_endpoint(spec):
    return "s3.%s.amazonaws.com" % spec["cluster"]["region"]


def service_urls(spec):
    """In-cluster addresses of each backend, as the charts name their services for these releases."""
    namespace = spec["namespace"]
    return {
        "mimir_push": "http://mimir-distributor.%s.svc:8080/api/v1/push" % namespace,
        "mimir_otlp": "http://mimir-distributor.%s.svc:8080/otlp" % namespace,
        "mimir_query": "http://mimir-query-frontend.%s.svc:8080/prometheus" % namespace,
        "loki_otlp": "http://loki-distributor.%s.svc:3100/otlp" % namespace,
        "loki_query": "http://loki-query-frontend.%s.svc:3100" % namespace,
        "tempo_otlp_grpc": "tempo-distributor.%s.svc:4317" % namespace,
        "tempo_query": "http://tempo-query-frontend.%s.svc:3200" % namespace,
    }


def _tenant_headers(spec):
    return {"X-Scope-OrgID": spec["tenancy"]["tenant"]} if spec["tenancy"]["enabled"] else {}


# ---------------------------------------------------------------------------
# Per chart


def loki_values(spec):
    bucket = spec["buckets"]["loki"]
    retention = hours(spec["retention"]["logs"], "retention.logs")
    values = {
        "deploymentMode": "Distributed",
        "loki": {
            "auth_enabled": bool(spec["tenancy"]["enabled"]),
            "commonConfig": {"replication_factor": spec["replication_factor"]},
            "schemaConfig": {"configs": [{
                "from": "2024-04-01", "store": "tsdb", "object_store": "s3", "schema": "v13",
                "index": {"prefix": "loki_index_", "period": "24h"}}]},
            # Loki 6 also names the (enterprise) admin bucket; Loki 18 reads chunks and ruler only.
            "storage": {"type": "s3", "bucketNames": dict({"chunks": bucket, "ruler": bucket}, **({"admin": bucket} if _seed(spec) else {})),
                        "s3": {"region": spec["cluster"]["region"], "endpoint": _s3_endpoint(spec)}},
            "limits_config": {"retention_period": "%dh" % retention, "allow_structured_metadata": True, "volume_enabled": True},
            "compactor": {"retention_enabled": True, "delete_request_store": "s3"},
        },
        "serviceAccount": _service_account(spec, "loki"),
        # Distributed mode: the simple-scalable targets and the single binary run no pods.
        "backend": {"replicas": 0}, "read": {"replicas": 0}, "write": {"replicas": 0}, "singleBinary": {"replicas": 0},
        "chunksCache": {"enabled": True, "allocatedMemory": spec["loki_chunks_cache_mb"]},
        "minio": {"enabled": False},
        "lokiCanary": {"enabled": False},
        "test": {"enabled": False},
    }
    for target in TARGETS["loki"]:
        values[target] = _scaled(spec, "loki", target)
    values["ingester"]["zoneAwareReplication"] = {"enabled": bool(spec["zone_aware"])}
    values["ruler"]["enabled"] = True
    return values


def _seed(spec):
    return spec["chart_set"] == "seed"


def _s3(spec, bucket):
    return {"backend": "s3", "s3": {"bucket_name": bucket}}


def mimir_values(spec):
    zone_aware = bool(spec["zone_aware"])
    retention = hours(spec["retention"]["metrics"], "retention.metrics")
    structured = {
        "multitenancy_enabled": bool(spec["tenancy"]["enabled"]),
        "common": {"storage": {"backend": "s3", "s3": {"endpoint": _s3_endpoint(spec), "region": spec["cluster"]["region"]}}},
        "blocks_storage": _s3(spec, spec["buckets"]["mimir_blocks"]),
        "alertmanager_storage": _s3(spec, spec["buckets"]["mimir_alertmanager"]),
        "ruler_storage": _s3(spec, spec["buckets"]["mimir_ruler"]),
        # Chart 6 turns Kafka-based ingest storage on; this stack uses the classic write path, as the chart's
        # classic-architecture.yaml preset does: ingest storage off, and the Kafka-sized settings removed (null
        # deletes the chart's value) so Mimir's own defaults apply (distributor.remote_timeout, the ingesters'
        # gRPC push).
        "ingest_storage": {"enabled": False, "kafka": {"address": None, "topic": None, "auto_create_topic_default_partitions": None}},
        "distributor": {"remote_timeout": None},
        "ingester": {"push_grpc_method_enabled": None,
                     "ring": {"replication_factor": spec["replication_factor"], "zone_awareness_enabled": zone_aware}},
        "store_gateway": {"sharding_ring": {"zone_awareness_enabled": zone_aware}},
        "limits": {"compactor_blocks_retention_period": "%dh" % retention, "max_global_exemplars_per_user": 100000},
    }
    values = {
        "mimir": {"structuredConfig": structured},
        "serviceAccount": _service_account(spec, "mimir"),
        # With MinIO on, Mimir is configured with its access keys and the IRSA role is not used.
        "minio": {"enabled": False},
        "kafka": {"enabled": False},
        # The rollout-operator (and its webhooks) coordinates zone-aware rollouts; without zones it is not needed.
        "rollout_operator": {"enabled": zone_aware},
    }
    for target in TARGETS["mimir"]:
        values[target] = _scaled(spec, "mimir", target)
    for target in ("ingester", "store_gateway"):
        values[target]["zoneAwareReplication"] = {"enabled": zone_aware}
    return values


def tempo_values(spec):
    urls = service_urls(spec)
    retention = hours(spec["retention"]["traces"], "retention.traces")
    remote_write = {"url": urls["mimir_push"], "send_exemplars": True}
    if spec["tenancy"]["enabled"]:
        remote_write["headers"] = _tenant_headers(spec)
    values = {
        "reportingEnabled": False,
        "multitenancyEnabled": bool(spec["tenancy"]["enabled"]),
        "storage": {"trace": {"backend": "s3", "s3": {
            "bucket": spec["buckets"]["tempo"], "endpoint": _s3_endpoint(spec), "region": spec["cluster"]["region"]}}},
        "traces": {"otlp": {"grpc": {"enabled": True}, "http": {"enabled": True}}},
        "serviceAccount": _service_account(spec, "tempo"),
        "metricsGenerator": {"enabled": True, "config": {
            "storage": {"remote_write": [remote_write]},
            "processor": {
                "service_graphs": {"dimensions": ["service.namespace"]},
                "span_metrics": {"dimensions": ["service.namespace", "http.method", "http.status_code"]},
            }}},
        "overrides": {"defaults": {"metrics_generator": {"processors": ["service-graphs", "span-metrics"]}}},
        "minio": {"enabled": False},
    }
    for target in TARGETS["tempo"]:
        values.setdefault(target, {}).update(_scaled(spec, "tempo", target))
    values["ingester"]["config"] = {"replication_factor": spec["replication_factor"]}
    values["ingester"]["zoneAwareReplication"] = {"enabled": bool(spec["zone_aware"])}
    values["compactor"]["config"] = {"compaction": {"block_retention": "%dh" % retention}}
    return values


def collector_config(spec):
    """The OpenTelemetry Collector pipelines: OTLP in; traces tail-sampled to Tempo, metrics to Mimir, logs to Loki."""
    urls, headers, enabled = service_urls(spec), _tenant_headers(spec), spec["components"]
    sampling = spec["sampling"]
    policies = []
    if sampling["errors"]:
        policies.append({"name": "errors", "type": "status_code", "status_code": {"status_codes": ["ERROR"]}})
    policies.append({"name": "slow", "type": "latency", "latency": {"threshold_ms": sampling["latency_threshold_ms"]}})
    policies.append({"name": "sample-rest", "type": "probabilistic", "probabilistic": {"sampling_percentage": sampling["percentage"]}})
    exporters, pipelines = {}, {}
    # Exporter names as the set's collector knows them: contrib 0.143 (seed) has otlp/otlphttp; 0.144 renamed
    # them otlp_grpc/otlp_http (the old names stay as deprecated aliases), which the current set uses.
    grpc, http = ("otlp", "otlphttp") if _seed(spec) else ("otlp_grpc", "otlp_http")
    if "tempo" in enabled:
        exporters[grpc + "/tempo"] = dict({"endpoint": urls["tempo_otlp_grpc"], "tls": {"insecure": True}}, **({"headers": headers} if headers else {}))
        pipelines["traces"] = {"receivers": ["otlp"], "processors": ["memory_limiter", "tail_sampling", "batch"], "exporters": [grpc + "/tempo"]}
    if "mimir" in enabled:
        exporters[http + "/mimir"] = dict({"endpoint": urls["mimir_otlp"]}, **({"headers": headers} if headers else {}))
        pipelines["metrics"] = {"receivers": ["otlp"], "processors": ["memory_limiter", "batch"], "exporters": [http + "/mimir"]}
    if "loki" in enabled:
        # The contrib `loki` exporter is gone from recent releases: Loki takes OTLP on /otlp.
        exporters[http + "/loki"] = dict({"endpoint": urls["loki_otlp"]}, **({"headers": headers} if headers else {}))
        pipelines["logs"] = {"receivers": ["otlp"], "processors": ["memory_limiter", "batch"], "exporters": [http + "/loki"]}
    return {
        "receivers": {
            "otlp": {"protocols": {"grpc": {"endpoint": "${env:MY_POD_IP}:4317"}, "http": {"endpoint": "${env:MY_POD_IP}:4318"}}},
            # The chart's default receivers this pipeline does not use are removed (null deletes a default key).
            "jaeger": None, "zipkin": None,
        },
        "processors": {"batch": {}, "tail_sampling": {"decision_wait": "10s", "policies": policies}},
        "exporters": exporters,
        "service": {"pipelines": pipelines},
    }


def collector_values(spec):
    values = {
        "mode": "deployment",
        "image": {"repository": "otel/opentelemetry-collector-contrib"},
        "command": {"name": "otelcol-contrib"},
        "replicaCount": replicas(spec, "otel_collector", "collector"),
        "config": collector_config(spec),
        "ports": {name: {"enabled": False} for name in ("jaeger-compact", "jaeger-thrift", "jaeger-grpc", "zipkin")},
    }
    resources = spec["resources"].get("otel_collector", {}).get("collector")
    if resources:
        values["resources"] = resources
    return values


def datasources(spec):
    """Grafana datasource provisioning (apiVersion 1) with logs <-> traces <-> metrics correlation."""
    urls, enabled = service_urls(spec), spec["components"]
    tenant = spec["tenancy"]["tenant"] if spec["tenancy"]["enabled"] else None

    def source(name, kind, uid, url, json_data, default=False):
        entry = {"name": name, "type": kind, "uid": uid, "url": url, "access": "proxy", "isDefault": default, "editable": False,
                 "jsonData": json_data}
        if tenant:
            entry["jsonData"] = dict(json_data, httpHeaderName1="X-Scope-OrgID")
            entry["secureJsonData"] = {"httpHeaderValue1": tenant}
        return entry

    out = []
    if "mimir" in enabled:
        mimir = {"httpMethod": "POST", "prometheusType": "Mimir"}
        if "tempo" in enabled:
            # Exemplars carry the trace ID as traceID (Tempo's metrics generator) or trace_id (OTLP from applications).
            mimir["exemplarTraceIdDestinations"] = [{"name": "traceID", "datasourceUid": "tempo"}, {"name": "trace_id", "datasourceUid": "tempo"}]
        out.append(source("Mimir", "prometheus", "mimir", urls["mimir_query"], mimir, default=True))
    if "loki" in enabled:
        loki = {"maxLines": 1000}
        if "tempo" in enabled:
            # "$$" keeps Grafana's provisioning from expanding ${__value.raw} as an environment variable.
            loki["derivedFields"] = [{"name": "TraceID", "matcherRegex": "(?:trace_id|traceID|traceId)[\"=: ]+(\\w+)",
                                      "url": "$${__value.raw}", "datasourceUid": "tempo", "urlDisplayLabel": "View trace"}]
        out.append(source("Loki", "loki", "loki", urls["loki_query"], loki))
    if "tempo" in enabled:
        tempo = {"nodeGraph": {"enabled": True}}
        if "loki" in enabled:
            tempo["tracesToLogsV2"] = {"datasourceUid": "loki", "spanStartTimeShift": "-5m", "spanEndTimeShift": "5m",
                                       "filterByTraceID": True, "filterBySpanID": False,
                                       "tags": [{"key": "service.name", "value": "service_name"}]}
            tempo["lokiSearch"] = {"datasourceUid": "loki"}
        if "mimir" in enabled:
            tempo["tracesToMetrics"] = {"datasourceUid": "mimir", "spanStartTimeShift": "-5m", "spanEndTimeShift": "5m",
                                        "tags": [{"key": "service.name", "value": "service"}],
                                        "queries": [{"name": "Request rate", "query": "sum(rate(traces_spanmetrics_calls_total{$$__tags}[5m]))"},
                                                    {"name": "Error rate", "query":
                                                     "sum(rate(traces_spanmetrics_calls_total{$$__tags,status_code=\"STATUS_CODE_ERROR\"}[5m]))"}]}
            tempo["serviceMap"] = {"datasourceUid": "mimir"}
        out.append(source("Tempo", "tempo", "tempo", urls["tempo_query"], tempo))
    return {"apiVersion": 1, "datasources": out}


def grafana_values(spec):
    secret, ingress = spec["grafana_admin_secret"], spec["ingress"]
    values = {
        "replicas": replicas(spec, "grafana", "grafana"),
        # The admin password comes from an existing Secret; it never appears in values or logs.
        "admin": {"existingSecret": secret["name"], "userKey": secret["user_key"], "passwordKey": secret["password_key"]},
        "persistence": {"enabled": False},
        "datasources": {"datasources.yaml": datasources(spec)},
    }
    resources = spec["resources"].get("grafana", {}).get("grafana")
    if resources:
        values["resources"] = resources
    if ingress["enabled"]:
        annotations = {
            "alb.ingress.kubernetes.io/scheme": ingress["scheme"],
            "alb.ingress.kubernetes.io/target-type": "ip",
            "alb.ingress.kubernetes.io/listen-ports": '[{"HTTPS": 443}]' if ingress["certificate_arn"] else '[{"HTTP": 80}]',
        }
        if ingress["security_groups"]:
            annotations["alb.ingress.kubernetes.io/security-groups"] = ",".join(ingress["security_groups"])
        if ingress["certificate_arn"]:
            annotations["alb.ingress.kubernetes.io/certificate-arn"] = ingress["certificate_arn"]
            annotations["alb.ingress.kubernetes.io/ssl-redirect"] = "443"
        values["ingress"] = {"enabled": True, "ingressClassName": "alb", "annotations": annotations, "hosts": [ingress["host"]],
                             "path": "/", "pathType": "Prefix"}
    else:
        values["ingress"] = {"enabled": False}
    return values


BUILDERS = {"loki": loki_values, "mimir": mimir_values, "tempo": tempo_values, "otel_collector": collector_values, "grafana": grafana_values}


def values(spec):
    """``{release: values}`` for the enabled components of a validated spec."""
    return dict((RELEASES[name][0], BUILDERS[name](spec)) for name in COMPONENTS if name in spec["components"])


def plan(spec):
    """The releases to install, in order, with what GitOps tools need to install them."""
    releases = []
    for name in COMPONENTS:
        if name not in spec["components"]:
            continue
        release, chart, order = RELEASES[name]
        repository, version = chart_of(spec, name)
        releases.append({"order": order, "component": name, "release": release, "chart": chart, "repository": repository,
                         "version": version, "namespace": spec["namespace"], "values_file": "%s.values.yaml" % release})
    releases.sort(key=lambda entry: entry["order"])
    return {"cluster": spec["cluster"], "namespace": spec["namespace"], "chart_set": spec["chart_set"],
            "kubernetes_minimum": CHART_SETS[spec["chart_set"]]["kubernetes"], "releases": releases}


def chart_of(spec, component):
    """(repository, version) of a component's chart: the chart set's, or the spec's override of either."""
    repository, version = CHART_SETS[spec["chart_set"]]["charts"][component]
    return spec["repositories"].get(component, repository), str(spec["versions"].get(component, version))
