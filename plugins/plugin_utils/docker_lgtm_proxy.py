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
# The write paths of the ingest host (agents and collectors of other hosts), to the backend that takes them.
INGEST = (("/api/v1/push", "mimir", "mimir:8080"), ("/loki/api/v1/push", "loki", "loki:3100"),
          ("/v1/traces", "tempo", "tempo:4318"))


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
        lines.append("ingest.%s {" % spec["domain"])
        if tls:
            lines.append("\t" + tls)
        # route: in the written order (the 403 first, 404 last), not Caddy's directive order.
        if spec["proxy"]["internal_cidrs"]:
            _internal_only(spec, lines, "\t\t")
        lines.append("\troute {")
        if spec["proxy"]["internal_cidrs"]:
            lines.append("\t\trespond @outside 403")
        for path, upstream in routes:
            lines.append("\t\treverse_proxy %s %s" % (path, upstream))
        lines += ["\t\trespond 404", "\t}", "}", ""]
    # Metrics and the health check, on the stack network only (never published).
    lines += [":%d {" % METRICS_PORT, "\tmetrics /metrics", "\trespond /healthz 200", "}", ""]
    return "\n".join(lines)
