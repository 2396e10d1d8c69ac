# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Grafana Alloy pipelines from one spec: agent mode (Linux, Windows) and collector mode (CloudWatch).

``validate(spec)`` returns the spec with defaults filled in, or raises ``SpecError`` naming the field;
``blocks(spec)`` returns the configuration as ``alloy_syntax`` block data. Every write carries the
tenant header (``X-Scope-OrgID``), optional basic auth (password from an environment variable, so
it never lands in the config file) and TLS settings, and the host's labels.
"""

import copy
import re

from ansible_collections.lgtm.aws.plugins.module_utils import alloy_syntax
from ansible_collections.lgtm.aws.plugins.module_utils.alloy_syntax import IDENT, expr
from ansible_collections.lgtm.aws.plugins.plugin_utils.spec_checks import SpecError  # noqa: F401 pylint: disable=unused-import
from ansible_collections.lgtm.aws.plugins.plugin_utils.spec_checks import Problems, check_keys as _check_keys, fail as _fail
from ansible_collections.lgtm.aws.plugins.plugin_utils.spec_checks import (
    choice as _choice, host_port as _spec_host_port, tenant as _tenant)

MODES = ("agent", "collector")
PLATFORMS = ("linux", "windows")
PIPELINES = {
    "agent": {
        "linux": ("host_metrics", "journal", "files", "otlp"),
        "windows": ("windows_metrics", "eventlog", "otlp"),
    },
    "collector": {"linux": ("cloudwatch_metrics", "cloudwatch_logs"), "windows": ("cloudwatch_metrics", "cloudwatch_logs")},
}
EVENTLOG_CHANNELS = ("Application", "System", "Security", "Setup", "ForwardedEvents")
STATISTICS = ("Average", "Maximum", "Minimum", "Sum", "SampleCount")
DURATION = re.compile(r"^([0-9]+(ms|s|m|h))+$")
SIZE = re.compile(r"^[0-9]+(B|KB|MB|GB|KiB|MiB|GiB)$")
VERSION = re.compile(r"^v?([0-9]+)\.([0-9]+)\.([0-9]+)([-+.][0-9A-Za-z.+-]*)?$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
PASSWORD_ENV = "ALLOY_BASIC_AUTH_PASSWORD"
# Where each pipeline writes.
DESTINATION = {
    "host_metrics": "mimir", "windows_metrics": "mimir", "cloudwatch_metrics": "mimir",
    "journal": "loki", "files": "loki", "eventlog": "loki", "cloudwatch_logs": "loki", "otlp": "tempo",
}

# CloudWatch metrics collector mode pulls by default, per namespace (statistics as CloudWatch names them).
DEFAULT_CLOUDWATCH_NAMESPACES = [
    {"namespace": "AWS/RDS", "metrics": [
        {"name": "CPUUtilization", "statistics": ["Average", "Maximum"]},
        {"name": "FreeableMemory", "statistics": ["Average"]},
        {"name": "FreeStorageSpace", "statistics": ["Average"]},
        {"name": "DatabaseConnections", "statistics": ["Average", "Maximum"]},
        {"name": "ReadLatency", "statistics": ["Average"]},
        {"name": "WriteLatency", "statistics": ["Average"]},
    ]},
    {"namespace": "AWS/ApplicationELB", "metrics": [
        {"name": "RequestCount", "statistics": ["Sum"]},
        {"name": "TargetResponseTime", "statistics": ["Average", "Maximum"]},
        {"name": "HTTPCode_Target_5XX_Count", "statistics": ["Sum"]},
        {"name": "HTTPCode_ELB_5XX_Count", "statistics": ["Sum"]},
        {"name": "HealthyHostCount", "statistics": ["Minimum"]},
        {"name": "UnHealthyHostCount", "statistics": ["Maximum"]},
    ]},
    {"namespace": "AWS/NetworkELB", "metrics": [
        {"name": "ActiveFlowCount", "statistics": ["Average"]},
        {"name": "ProcessedBytes", "statistics": ["Sum"]},
        {"name": "HealthyHostCount", "statistics": ["Minimum"]},
        {"name": "UnHealthyHostCount", "statistics": ["Maximum"]},
    ]},
    {"namespace": "AWS/ElastiCache", "metrics": [
        {"name": "CPUUtilization", "statistics": ["Average", "Maximum"]},
        {"name": "EngineCPUUtilization", "statistics": ["Average"]},
        {"name": "CurrConnections", "statistics": ["Average"]},
        {"name": "Evictions", "statistics": ["Sum"]},
        {"name": "DatabaseMemoryUsagePercentage", "statistics": ["Average"]},
    ]},
]

DEFAULTS = {
    "mode": "agent",
    "platform": "linux",
    # Required: the X-Scope-OrgID of every write (the role passes alloy_tenant).
    "tenant": None,
    "endpoints": {},
    "basic_auth": None,
    "tls": None,
    "labels": {},
    "log_level": "info",
    # The Alloy version the configuration is for ("1.18.1"); None: the current release (1.18 or later).
    # Settings an older Alloy does not know are left out for it, and refused when asked for.
    "alloy_version": None,
    "pipelines": {},
    "extra_blocks": [],
}
PIPELINE_DEFAULTS = {
    "host_metrics": {"enabled": True, "scrape_interval": "60s",
                     "collectors": ["cpu", "diskstats", "filesystem", "loadavg", "meminfo", "netdev", "uname", "systemd"]},
    "journal": {"enabled": True, "max_age": "12h"},
    "files": {"enabled": True, "targets": []},
    # The OTLP receiver's servers, every setting written out (Alloy's own defaults as of 1.18): see OTLP_SERVER.
    "otlp": {"enabled": True, "grpc_endpoint": "0.0.0.0:4317", "http_endpoint": "0.0.0.0:4318",
             "grpc_max_recv_msg_size": "4MiB", "http_max_request_body_size": "20MiB",
             "http_idle_timeout": "1m", "http_read_header_timeout": "1m", "http_write_timeout": "30s", "http_read_timeout": "0s"},
    "windows_metrics": {"enabled": True, "scrape_interval": "60s",
                        "collectors": ["cpu", "logical_disk", "memory", "net", "os", "service", "system"]},
    "eventlog": {"enabled": True, "channels": ["Application", "System"]},
    "cloudwatch_metrics": {"enabled": True, "tenant": None, "region": None, "scrape_interval": "5m",
                           "period": "5m", "namespaces": DEFAULT_CLOUDWATCH_NAMESPACES, "extra_namespaces": [], "search_tags": {}},
    "cloudwatch_logs": {"enabled": False, "tenant": None, "region": None, "poll_interval": "1m", "log_groups": []},
}


# otelcol.receiver.otlp: pipeline key -> (server block, Alloy argument, the first Alloy version that has it).
# Alloy 1.18 added the HTTP server timeouts; before, its OTLP HTTP server ran without any (unbounded), and
# 1.18's defaults became idle_timeout 1m, read_header_timeout 1m, write_timeout 30s, read_timeout none ("0s").
OTLP_SERVER = {
    "grpc_max_recv_msg_size": ("grpc", "max_recv_msg_size", (1, 0)),
    "http_max_request_body_size": ("http", "max_request_body_size", (1, 0)),
    "http_idle_timeout": ("http", "idle_timeout", (1, 18)),
    "http_read_header_timeout": ("http", "read_header_timeout", (1, 18)),
    "http_write_timeout": ("http", "write_timeout", (1, 18)),
    "http_read_timeout": ("http", "read_timeout", (1, 18)),
}


def alloy_version(spec):
    """(major, minor) of the spec's alloy_version; None when not given (the current release)."""
    match = VERSION.match(str(spec.get("alloy_version") or ""))
    return (int(match.group(1)), int(match.group(2))) if match else None


def _duration(value, field):
    if not isinstance(value, str) or not DURATION.match(value):
        _fail(field, "must be a duration such as 30s, 5m or 1h (got %r)" % (value,))


def _url(value, field, schemes=("http", "https")):
    if not isinstance(value, str) or not re.match(r"^(%s)://[^\s/]+" % "|".join(schemes), value):
        _fail(field, "must be an URL starting with %s (got %r)" % (" or ".join(s + "://" for s in schemes), value))


def _host_port(value, field):
    _spec_host_port(value, field, ", e.g. tempo.example.internal:4317")


def _string_list(value, field, allowed=None):
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        _fail(field, "must be a list of non-empty strings (got %r)" % (value,))
    for item in value:
        if allowed is not None:
            _choice(item, allowed, field)


def _merge(defaults, given):
    merged = copy.deepcopy(defaults)
    merged.update(given or {})
    return merged


def _validate_endpoints(spec, enabled):
    endpoints = spec["endpoints"]
    _check_keys(endpoints, ("mimir", "loki", "tempo"), "endpoints")
    for name, endpoint in endpoints.items():
        field = "endpoints.%s" % name
        if name == "tempo":
            _check_keys(endpoint, ("endpoint", "tenant", "insecure"), field)
            _host_port(endpoint.get("endpoint"), field + ".endpoint")
        else:
            _check_keys(endpoint, ("url", "tenant"), field)
            _url(endpoint.get("url"), field + ".url")
        if endpoint.get("tenant") is not None:
            _tenant(endpoint["tenant"], field + ".tenant")

    for name in ("mimir", "loki", "tempo"):
        users = [pipeline for pipeline in enabled if DESTINATION[pipeline] == name]
        if users and not endpoints.get(name):
            _fail("endpoints.%s" % name, "is required because pipeline(s) %s are enabled" % ", ".join(users))


def _validate_security(spec):
    if spec["basic_auth"] is not None:
        _check_keys(spec["basic_auth"], ("username", "password_env"), "basic_auth")
        if not isinstance(spec["basic_auth"].get("username"), str) or not spec["basic_auth"]["username"]:
            _fail("basic_auth.username", "is required when basic_auth is set")
        spec["basic_auth"].setdefault("password_env", PASSWORD_ENV)
        if not re.match(r"^[A-Z_][A-Z0-9_]*$", spec["basic_auth"]["password_env"]):
            _fail("basic_auth.password_env", "must be an environment variable name such as %s" % PASSWORD_ENV)
    if spec["tls"] is not None:
        _check_keys(spec["tls"], ("ca_file", "ca_pem", "cert_file", "key_file", "insecure_skip_verify"), "tls")
        if bool(spec["tls"].get("cert_file")) != bool(spec["tls"].get("key_file")):
            _fail("tls", "cert_file and key_file go together (client certificate and its key)")


def _validate_labels(spec):
    labels = spec["labels"]
    if not isinstance(labels, dict):
        _fail("labels", "must be a mapping of label name to value")
    for name, value in labels.items():
        if not LABEL_NAME.match(str(name)) or str(name).startswith("__"):
            _fail("labels.%s" % name, "is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)")
        if not isinstance(value, (str, int)) or isinstance(value, bool) or value == "":
            _fail("labels.%s" % name, "must be a non-empty string (got %r)" % (value,))
    spec["labels"] = dict((str(k), str(v)) for k, v in labels.items())


def _validate_pipeline(name, pipeline):
    field = "pipelines.%s" % name
    _check_keys(pipeline, PIPELINE_DEFAULTS[name], field)
    if not isinstance(pipeline["enabled"], bool):
        _fail(field + ".enabled", "must be true or false")
    for key in ("scrape_interval", "max_age", "poll_interval", "period"):
        if key in pipeline:
            _duration(pipeline[key], "%s.%s" % (field, key))
    for key in ("grpc_endpoint", "http_endpoint"):
        if key in pipeline and pipeline[key] is not None:
            _host_port(pipeline[key], "%s.%s" % (field, key))
    if name == "otlp":
        for key in OTLP_SERVER:
            if key.endswith("_size"):
                if not isinstance(pipeline[key], str) or not SIZE.match(pipeline[key]):
                    _fail("%s.%s" % (field, key), "must be a size such as 4MiB or 512KiB (got %r)" % (pipeline[key],))
            else:
                _duration(pipeline[key], "%s.%s" % (field, key))
    if "collectors" in pipeline:
        _string_list(pipeline["collectors"], field + ".collectors")
    if "channels" in pipeline:
        _string_list(pipeline["channels"], field + ".channels", EVENTLOG_CHANNELS)
    if pipeline.get("tenant") is not None:
        _tenant(pipeline["tenant"], field + ".tenant")
    if name == "files":
        _validate_file_targets(pipeline["targets"], field + ".targets")
    if name == "cloudwatch_metrics":
        _validate_namespaces(pipeline["namespaces"] + pipeline["extra_namespaces"], field)
    if name == "cloudwatch_logs" and pipeline["enabled"]:
        _string_list(pipeline["log_groups"], field + ".log_groups")
        if not pipeline["log_groups"]:
            _fail(field + ".log_groups", "must list at least one log group when the pipeline is enabled")


def _validate_file_targets(targets, field):
    if not isinstance(targets, list):
        _fail(field, "must be a list of {name, paths, labels}")
    names = set()
    for index, target in enumerate(targets):
        where = "%s[%d]" % (field, index)
        _check_keys(target, ("name", "paths", "labels"), where)
        if not isinstance(target.get("name"), str) or not IDENT.match(target["name"]):
            _fail(where + ".name", "must be an identifier (letters, digits, _), got %r" % (target.get("name"),))
        if target["name"] in names:
            _fail(where + ".name", "%r is used twice" % target["name"])
        names.add(target["name"])
        _string_list(target.get("paths"), where + ".paths")
        if not target["paths"]:
            _fail(where + ".paths", "must list at least one path or glob")
        if not isinstance(target.get("labels", {}), dict):
            _fail(where + ".labels", "must be a mapping")


def _validate_namespaces(namespaces, field):
    seen = set()
    for index, namespace in enumerate(namespaces):
        where = "%s.namespaces[%d]" % (field, index)
        _check_keys(namespace, ("namespace", "metrics", "period", "search_tags"), where)
        name = namespace.get("namespace")
        if not isinstance(name, str) or not re.match(r"^[A-Za-z0-9./#:_-]+$", name):
            _fail(where + ".namespace", "must be a CloudWatch namespace such as AWS/RDS (got %r)" % (name,))
        if name in seen:
            _fail(where + ".namespace", "%s is listed twice" % name)
        seen.add(name)
        metrics = namespace.get("metrics")
        if not isinstance(metrics, list) or not metrics:
            _fail(where + ".metrics", "must list at least one {name, statistics}")
        for number, metric in enumerate(metrics):
            mwhere = "%s.metrics[%d]" % (where, number)
            _check_keys(metric, ("name", "statistics", "period"), mwhere)
            if not isinstance(metric.get("name"), str) or not metric["name"]:
                _fail(mwhere + ".name", "is required")
            _string_list(metric.get("statistics"), mwhere + ".statistics", STATISTICS)
            if "period" in metric:
                _duration(metric["period"], mwhere + ".period")
        if "period" in namespace:
            _duration(namespace["period"], where + ".period")


def validate(spec):
    """The spec with defaults applied; ``SpecError`` lists every problem, each naming its field."""
    if not isinstance(spec, dict):
        raise SpecError("spec: must be a mapping")
    _check_keys(spec, DEFAULTS, "spec")
    spec = _merge(DEFAULTS, spec)
    problems = Problems()
    for key, allowed in (("mode", MODES), ("platform", PLATFORMS), ("log_level", ("debug", "info", "warn", "error"))):
        with problems.section():
            _choice(spec[key], allowed, key)
    if spec["alloy_version"] is not None and not VERSION.match(str(spec["alloy_version"])):
        problems.add("alloy_version", "must be a version such as 1.18.1 (got %r)" % (spec["alloy_version"],))
    with problems.section():
        _tenant(spec["tenant"], "tenant")
    problems.raise_if_any()  # the pipelines allowed depend on mode and platform
    allowed = PIPELINES[spec["mode"]][spec["platform"]]
    with problems.section():
        try:
            _check_keys(spec["pipelines"], allowed, "pipelines")
        except SpecError as error:
            raise SpecError([(f, "%s (%s mode on %s)" % (m, spec["mode"], spec["platform"])) for f, m in error.problems])
    pipelines = {}
    for name in allowed:
        given = spec["pipelines"].get(name) or {}
        with problems.section():
            if not isinstance(given, dict):
                _fail("pipelines.%s" % name, "must be a mapping (use enabled: false to turn it off)")
            pipelines[name] = _merge(PIPELINE_DEFAULTS[name], given)
            _validate_pipeline(name, pipelines[name])
    version = alloy_version(spec)
    given_otlp = spec["pipelines"].get("otlp") if isinstance(spec["pipelines"].get("otlp"), dict) else {}
    for key, (_server, argument, since) in sorted(OTLP_SERVER.items()):
        if version is not None and version < since and key in given_otlp:
            problems.add("pipelines.otlp.%s" % key, "needs Alloy %d.%d or later (otelcol.receiver.otlp has no %s; alloy_version is %s)"
                         % (since[0], since[1], argument, spec["alloy_version"]))
    problems.raise_if_any()
    spec["pipelines"] = pipelines
    # A file pipeline with no targets has nothing to read.
    enabled = [name for name in allowed if pipelines[name]["enabled"] and (name != "files" or pipelines[name]["targets"])]
    if spec["mode"] == "collector":
        for name in enabled:
            if not pipelines[name]["region"]:
                problems.add("pipelines.%s.region" % name, "is required (the AWS region to read from)")
    for check in (lambda: _validate_endpoints(spec, enabled), lambda: _validate_security(spec), lambda: _validate_labels(spec)):
        with problems.section():
            check()
    if not isinstance(spec["extra_blocks"], list):
        problems.add("extra_blocks", "must be a list of blocks {name, label, body, blocks}")
    problems.raise_if_any()
    spec["enabled"] = enabled
    return spec


# The role's variable behind each spec field, most specific first: errors name what the user wrote.
# (spec field prefix, variable, whether the rest of the field's path follows the variable)
ROLE_VARIABLES = (
    ("pipelines.cloudwatch_metrics.region", "alloy_collector_region", False),
    ("pipelines.cloudwatch_logs.region", "alloy_collector_region", False),
    ("pipelines.cloudwatch_metrics.tenant", "alloy_cloudwatch_metrics_tenant", False),
    ("pipelines.cloudwatch_logs.tenant", "alloy_cloudwatch_logs_tenant", False),
    ("pipelines", "alloy_pipelines", True),
    ("endpoints.mimir", "alloy_mimir_url", False),
    ("endpoints.loki", "alloy_loki_url", False),
    ("endpoints.tempo", "alloy_tempo_endpoint", False),
    ("basic_auth", "alloy_basic_auth_username", False),
    ("tls", "alloy_tls", True),
    ("labels", "alloy_labels", True),
    ("extra_blocks", "alloy_extra_blocks", True),
    ("tenant", "alloy_tenant", False),
    ("mode", "alloy_mode", False),
    ("alloy_version", "alloy_version", False),
)


def role_variable(field):
    """The lgtm.aws.alloy variable a spec field comes from (``pipelines.journal.max_age`` -> ``alloy_pipelines.journal.max_age``)."""
    for prefix, variable, keep_rest in ROLE_VARIABLES:
        if field == prefix or field.startswith((prefix + ".", prefix + "[")):
            return variable + field[len(prefix):] if keep_rest else variable
    return field


# ---------------------------------------------------------------------------
# Blocks


def _block(name, label=None, body=None, blocks=None):
    block = {"name": name, "body": body or {}}
    if label is not None:
        block["label"] = label
    if blocks:
        block["blocks"] = blocks
    return block


def _password(spec):
    return expr('sys.env("%s")' % spec["basic_auth"]["password_env"])


def _http_client_blocks(spec):
    """basic_auth and tls_config blocks for prometheus.remote_write and loki.write endpoints."""
    blocks = []
    if spec["basic_auth"]:
        blocks.append(_block("basic_auth", body={"username": spec["basic_auth"]["username"], "password": _password(spec)}))
    if spec["tls"]:
        blocks.append(_block("tls_config", body=dict((k, v) for k, v in sorted(spec["tls"].items()) if v not in (None, ""))))
    return blocks


def _tenant_of(spec, endpoint_name, override=None):
    return override or spec["endpoints"][endpoint_name].get("tenant") or spec["tenant"]


def remote_write(spec, label, tenant):
    endpoint = _block("endpoint", body={"url": spec["endpoints"]["mimir"]["url"], "headers": {"X-Scope-OrgID": tenant}},
                      blocks=_http_client_blocks(spec))
    body = {"external_labels": spec["labels"]} if spec["labels"] else {}
    return _block("prometheus.remote_write", label, body, [endpoint])


def loki_write(spec, label, tenant):
    endpoint = _block("endpoint", body={"url": spec["endpoints"]["loki"]["url"], "tenant_id": tenant},
                      blocks=_http_client_blocks(spec))
    body = {"external_labels": spec["labels"]} if spec["labels"] else {}
    return _block("loki.write", label, body, [endpoint])


def _scrape(label, targets, interval, forward):
    return _block("prometheus.scrape", label, {
        "targets": expr(targets), "forward_to": [expr(forward)], "scrape_interval": interval, "job_name": "integrations/%s" % label,
    })


def host_metrics(spec):
    pipeline = spec["pipelines"]["host_metrics"]
    return [
        _block("prometheus.exporter.unix", "host", {"set_collectors": pipeline["collectors"]}),
        _scrape("unix", "prometheus.exporter.unix.host.targets", pipeline["scrape_interval"], "prometheus.remote_write.mimir.receiver"),
    ]


def windows_metrics(spec):
    pipeline = spec["pipelines"]["windows_metrics"]
    return [
        _block("prometheus.exporter.windows", "host", {"enabled_collectors": pipeline["collectors"]}),
        _scrape("windows", "prometheus.exporter.windows.host.targets", pipeline["scrape_interval"], "prometheus.remote_write.mimir.receiver"),
    ]


def journal(spec):
    rules = [
        ("__journal__systemd_unit", "unit"), ("__journal__hostname", "hostname"),
        ("__journal_priority_keyword", "level"), ("__journal_syslog_identifier", "syslog_identifier"),
    ]
    relabel = _block("loki.relabel", "journal", {"forward_to": []}, [
        _block("rule", body={"source_labels": [source], "target_label": target}) for source, target in rules])
    source = _block("loki.source.journal", "system", {
        "forward_to": [expr("loki.write.loki.receiver")], "relabel_rules": expr("loki.relabel.journal.rules"),
        "max_age": spec["pipelines"]["journal"]["max_age"], "labels": {"job": "systemd-journal"},
    })
    return [relabel, source]


def files(spec):
    out = []
    for target in spec["pipelines"]["files"]["targets"]:
        labels = dict((str(k), str(v)) for k, v in (target.get("labels") or {}).items())
        labels.setdefault("job", target["name"])
        path_targets = [dict({"__path__": path}, **labels) for path in target["paths"]]
        out.append(_block("local.file_match", target["name"], {"path_targets": path_targets}))
        out.append(_block("loki.source.file", target["name"], {
            "targets": expr("local.file_match.%s.targets" % target["name"]), "forward_to": [expr("loki.write.loki.receiver")],
        }))
    return out


def eventlog(spec):
    return [
        _block("loki.source.windowsevent", channel.lower(), {
            "eventlog_name": channel, "use_incoming_timestamp": True,
            "labels": {"job": "windows-eventlog", "channel": channel}, "forward_to": [expr("loki.write.loki.receiver")],
        })
        for channel in spec["pipelines"]["eventlog"]["channels"]
    ]


def otlp_servers(spec):
    """The grpc and http blocks of otelcol.receiver.otlp: each server's endpoint and every setting, written out so
    that the configuration does not change meaning with Alloy's defaults (which 1.18 changed for HTTP). Settings
    the spec's alloy_version does not have are left out."""
    pipeline, version = spec["pipelines"]["otlp"], alloy_version(spec)
    servers = []
    for kind in ("grpc", "http"):
        if not pipeline[kind + "_endpoint"]:
            continue
        body = {"endpoint": pipeline[kind + "_endpoint"]}
        for key, (server, argument, since) in sorted(OTLP_SERVER.items()):
            if server == kind and (version is None or version >= since):
                body[argument] = pipeline[key]
        servers.append(_block(kind, body=body))
    return servers


def otlp(spec):
    tempo = spec["endpoints"]["tempo"]
    receivers = otlp_servers(spec)
    receivers.append(_block("output", body={"traces": [expr("otelcol.processor.batch.default.input")]}))
    out = [
        _block("otelcol.receiver.otlp", "apps", blocks=receivers),
        _block("otelcol.processor.batch", "default", blocks=[
            _block("output", body={"traces": [expr("otelcol.exporter.otlp.tempo.input")]})]),
    ]
    client = {"endpoint": tempo["endpoint"], "headers": {"X-Scope-OrgID": _tenant_of(spec, "tempo")}}
    if spec["basic_auth"]:
        out.append(_block("otelcol.auth.basic", "tempo", {"username": spec["basic_auth"]["username"], "password": _password(spec)}))
        client["auth"] = expr("otelcol.auth.basic.tempo.handler")
    tls = {"insecure": bool(tempo.get("insecure", False))}
    for key in ("ca_file", "ca_pem", "cert_file", "key_file", "insecure_skip_verify"):
        if spec["tls"] and spec["tls"].get(key) not in (None, ""):
            tls[key] = spec["tls"][key]
    out.append(_block("otelcol.exporter.otlp", "tempo", blocks=[_block("client", body=client, blocks=[_block("tls", body=tls)])]))
    return out


def cloudwatch_metrics(spec):
    pipeline = spec["pipelines"]["cloudwatch_metrics"]
    discoveries = []
    for namespace in pipeline["namespaces"] + pipeline["extra_namespaces"]:
        period = namespace.get("period", pipeline["period"])
        metrics = [_block("metric", body={"name": m["name"], "statistics": m["statistics"], "period": m.get("period", period)})
                   for m in namespace["metrics"]]
        body = {"type": namespace["namespace"], "regions": [pipeline["region"]]}
        tags = namespace.get("search_tags") or pipeline["search_tags"]
        if tags:
            body["search_tags"] = dict((str(k), str(v)) for k, v in tags.items())
        discoveries.append(_block("discovery", body=body, blocks=metrics))
    return [
        _block("prometheus.exporter.cloudwatch", "aws", {"sts_region": pipeline["region"]}, discoveries),
        _scrape("cloudwatch", "prometheus.exporter.cloudwatch.aws.targets", pipeline["scrape_interval"],
                "prometheus.remote_write.cloudwatch.receiver"),
        remote_write(spec, "cloudwatch", _tenant_of(spec, "mimir", pipeline["tenant"])),
    ]


def cloudwatch_logs(spec):
    pipeline = spec["pipelines"]["cloudwatch_logs"]
    groups = [_block("named", body={"group_name": group}) for group in pipeline["log_groups"]]
    return [
        _block("otelcol.receiver.awscloudwatch", "logs", {"region": pipeline["region"]}, [
            _block("logs", body={"poll_interval": pipeline["poll_interval"]}, blocks=[_block("groups", blocks=groups)]),
            _block("output", body={"logs": [expr("otelcol.exporter.loki.cloudwatch.input")]}),
        ]),
        _block("otelcol.exporter.loki", "cloudwatch", {"forward_to": [expr("loki.write.cloudwatch.receiver")]}),
        loki_write(spec, "cloudwatch", _tenant_of(spec, "loki", pipeline["tenant"])),
    ]


BUILDERS = {
    "host_metrics": host_metrics, "windows_metrics": windows_metrics, "journal": journal, "files": files,
    "eventlog": eventlog, "otlp": otlp, "cloudwatch_metrics": cloudwatch_metrics, "cloudwatch_logs": cloudwatch_logs,
}


def blocks(spec):
    """The whole configuration for a validated spec, as block data."""
    out = [_block("logging", body={"level": spec["log_level"], "format": "logfmt"})]
    for name in spec["enabled"]:
        out.extend(BUILDERS[name](spec))
    if spec["mode"] == "agent":
        if set(spec["enabled"]) & {"host_metrics", "windows_metrics"}:
            out.append(remote_write(spec, "mimir", _tenant_of(spec, "mimir")))
        if set(spec["enabled"]) & {"journal", "files", "eventlog"}:
            out.append(loki_write(spec, "loki", _tenant_of(spec, "loki")))
    return out + list(spec["extra_blocks"])


def tenants(spec):
    """Tenant of each write in the configuration, by destination."""
    out = {}
    if spec["mode"] == "agent":
        if set(spec["enabled"]) & {"host_metrics", "windows_metrics"}:
            out["mimir"] = _tenant_of(spec, "mimir")
        if set(spec["enabled"]) & {"journal", "files", "eventlog"}:
            out["loki"] = _tenant_of(spec, "loki")
        if "otlp" in spec["enabled"]:
            out["tempo"] = _tenant_of(spec, "tempo")
    else:
        if "cloudwatch_metrics" in spec["enabled"]:
            out["mimir"] = _tenant_of(spec, "mimir", spec["pipelines"]["cloudwatch_metrics"]["tenant"])
        if "cloudwatch_logs" in spec["enabled"]:
            out["loki"] = _tenant_of(spec, "loki", spec["pipelines"]["cloudwatch_logs"]["tenant"])
    return out


def needs_experimental(spec):
    """Whether the configuration uses experimental components (Alloy then needs --stability.level=experimental)."""
    return "cloudwatch_logs" in spec["enabled"]


def render(spec, role=False):
    """The configuration text of a spec and what a report needs to know about it.

    Raises SpecError (with the lgtm.aws.alloy variable names when ``role``) or ValueError when the written text
    does not pass the Alloy checker."""
    try:
        checked = validate(spec)
    except SpecError as error:
        raise error.renamed(role_variable) if role else error
    text = alloy_syntax.write(blocks(checked))
    problems = alloy_syntax.check(text)
    if problems:
        raise ValueError("the configuration is not valid Alloy: " + "; ".join(
            "line %(line)d, column %(column)d: %(message)s" % p for p in problems))
    return {"config": text, "pipelines": checked["enabled"], "tenants": tenants(checked),
            "experimental": needs_experimental(checked)}
