# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Caddyfile of the TLS reverse proxy, the one container that publishes ports.

Caddy: TLS from the user's files, its own internal CA, or ACME with one line each; HTTP/2 and HTTP/3,
redirects to HTTPS and sane TLS defaults without tuning; a config checked by ``caddy validate``; and Debian
carries it, so the local stand-in runs the real binary.
"""

CERT_DIR = "/etc/caddy/certs"
METRICS_PORT = 9180
# host name -> (service, upstream, reachable only from proxy.internal_cidrs)
ROUTES = (
    ("grafana", "grafana", "grafana:3000", False),
    ("keycloak", "keycloak", "keycloak:8080", False),
    ("prometheus", "prometheus", "prometheus:9090", True),
    ("alertmanager", "alertmanager", "alertmanager:9093", True),
    ("alloy", "alloy", "alloy:12345", True),
)
# The write paths of the ingest host (agents and collectors of other hosts), to the backend that takes them:
# Prometheus remote write and OTLP HTTP metrics to Mimir, the Loki push API, OTLP traces to Tempo over HTTP and
# gRPC (h2c to Tempo's gRPC receiver). Nothing else of the backends (queries, admin, rulers) is reachable.
INGEST = (("/api/v1/push", "mimir", "mimir:8080"), ("/otlp/v1/metrics", "mimir", "mimir:8080"),
          ("/loki/api/v1/push", "loki", "loki:3100"), ("/v1/traces", "tempo", "tempo:4318"),
          ("/opentelemetry.proto.collector.trace.v1.TraceService/*", "tempo", "h2c://tempo:4317"))
TENANT_HEADER = "X-Scope-OrgID"
# Where Caddy keeps its internal CA's root certificate (XDG_DATA_HOME=/data in the image): what agents trust.
INTERNAL_CA = "/data/caddy/pki/authorities/local/root.crt"


def hosts(spec):
    """Every host name the proxy serves, by service: what DNS must point at the Docker host."""
    out = dict(("%s.%s" % (name, spec["domain"]), service) for name, service, _up, _int in ROUTES if service in spec["enabled"])
    if spec["proxy"]["ingest"] and any(service in spec["enabled"] for _p, service, _u in INGEST):
        out["ingest.%s" % spec["domain"]] = "ingest"
    return out


def _tls_line(spec):
    tls = spec["tls"]
    if tls["mode"] == "files":
        return "tls %s/cert.pem %s/key.pem" % (CERT_DIR, CERT_DIR)
    if tls["mode"] == "internal":
        return "tls internal"
    return None  # ACME: Caddy's automatic HTTPS


def _internal_only(spec, lines, indent="\t"):
    lines.append("\t@outside not remote_ip %s" % " ".join(spec["proxy"]["internal_cidrs"]))
    if indent == "\t":
        lines.append("\trespond @outside 403")


def caddyfile(spec):
    tls, lines = _tls_line(spec), ["{"]
    lines.append("\tadmin localhost:2019")
    if spec["tls"]["mode"] == "acme":
        lines.append("\temail %s" % spec["tls"]["acme_email"])
    lines += ["}", ""]
    for name, service, upstream, internal in ROUTES:
        if service not in spec["enabled"]:
            continue
        lines.append("%s.%s {" % (name, spec["domain"]))
        if tls:
            lines.append("\t" + tls)
        if internal and spec["proxy"]["internal_cidrs"]:
            _internal_only(spec, lines)
        lines += ["\tencode zstd gzip", "\treverse_proxy %s" % upstream, "}", ""]
    routes = [(path, upstream) for path, service, upstream in INGEST if service in spec["enabled"]]
    if spec["proxy"]["ingest"] and routes:
        lines += _ingest(spec, tls, routes)
    # Metrics and the health check, on the stack network only (never published).
    lines += [":%d {" % METRICS_PORT, "\tmetrics /metrics", "\trespond /healthz 200", "}", ""]
    return "\n".join(lines)


def _ingest(spec, tls, routes):
    """The ingest host: the source range check, then basic auth (when users are given), then a tenant of the stack
    in X-Scope-OrgID, then only the push paths; everything else is 404."""
    proxy = spec["proxy"]
    lines = ["ingest.%s {" % spec["domain"]]
    if tls:
        lines.append("\t" + tls)
    if proxy["internal_cidrs"]:
        _internal_only(spec, lines, "\t\t")
    # Every "not" line must hold: the header names none of the stack's tenants (or is missing).
    lines.append("\t@untenanted {")
    lines += ['\t\tnot header %s "%s"' % (TENANT_HEADER, tenant) for tenant in spec["tenants"]]
    lines.append("\t}")
    # route: in the written order (403, 401, 403, the backends, 404 last), not Caddy's directive order.
    lines.append("\troute {")
    if proxy["internal_cidrs"]:
        lines.append("\t\trespond @outside 403")
    if proxy["ingest_basic_auth"]:
        # basicauth (not 2.8's basic_auth) so that older Caddy releases validate it too.
        lines.append("\t\tbasicauth {")
        lines += ["\t\t\t%s %s" % (user, proxy["ingest_basic_auth"][user]) for user in sorted(proxy["ingest_basic_auth"])]
        lines.append("\t\t}")
    lines.append('\t\trespond @untenanted "%s must name a tenant of this stack" 403' % TENANT_HEADER)
    for path, upstream in routes:
        lines.append("\t\treverse_proxy %s %s" % (path, upstream))
    lines += ["\t\trespond 404", "\t}", "}", ""]
    return lines


def ingest_endpoints(spec):
    """What agents and collectors on other hosts write to (the role writes it to <lgtm_output_dir>), or None when the
    stack has no ingest host: URLs per backend, the tenants the proxy lets through, the basic auth user names."""
    enabled = set(service for _path, service, _up in INGEST if service in spec["enabled"])
    if not spec["proxy"]["ingest"] or not enabled:
        return None
    host = "ingest.%s" % spec["domain"]
    port = spec["proxy"]["https_port"]
    base = "https://%s%s" % (host, "" if port == 443 else ":%d" % port)
    out = {"host": host, "port": port, "base_url": base, "tenant_header": TENANT_HEADER, "tenants": list(spec["tenants"]),
           "basic_auth_users": sorted(spec["proxy"]["ingest_basic_auth"]), "tls_mode": spec["tls"]["mode"]}
    if "mimir" in enabled:
        out["mimir_remote_write_url"] = base + "/api/v1/push"
        out["mimir_otlp_http_url"] = base + "/otlp"
    if "loki" in enabled:
        out["loki_push_url"] = base + "/loki/api/v1/push"
    if "tempo" in enabled:
        out["tempo_otlp_http_url"] = base
        out["tempo_otlp_grpc_endpoint"] = "%s:%d" % (host, port)
    return out
