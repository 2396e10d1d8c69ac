# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Grafana (grafana.ini, datasources per tenant with their correlations, dashboards) and the Keycloak realm
it signs in with. Secrets stay in files: grafana.ini reads them with $__file{...}; the realm file carries the
client secret and is written on the host without logging (``secrets`` given, else a placeholder)."""

import json
import re

SECRETS_DIR = "/run/secrets"
PLACEHOLDER = "<set on the host>"


def urls(spec):
    return dict((name, "https://%s.%s" % (name, spec["domain"])) for name in ("grafana", "keycloak"))


def uid(kind, tenant):
    """A datasource uid (letters, digits, '-', '_', at most 40) for a tenant."""
    return ("%s-%s" % (kind, re.sub(r"[^A-Za-z0-9_-]", "_", tenant)))[:40]


def role_attribute_path(spec):
    """The JMESPath that turns Keycloak groups into a Grafana role (most powerful first)."""
    groups = spec["keycloak"]["role_groups"]
    return " || ".join("contains(groups[*], '%s') && '%s'" % (groups[role], role)
                       for role in ("Admin", "Editor", "Viewer") if groups.get(role))


def oauth_settings(spec):
    keycloak, grafana = spec["keycloak"], spec["grafana"]
    public = "%s/realms/%s/protocol/openid-connect" % (urls(spec)["keycloak"], keycloak["realm"])
    internal = "http://keycloak:8080/realms/%s/protocol/openid-connect" % keycloak["realm"]
    return {
        "enabled": "true", "name": grafana["oauth_name"], "allow_sign_up": "true", "auto_login": "false",
        "client_id": keycloak["client_id"], "client_secret": "$__file{%s/oauth_client_secret}" % SECRETS_DIR,
        "scopes": "openid email profile offline_access", "use_pkce": "true", "use_refresh_token": "true",
        "auth_url": public + "/auth", "token_url": internal + "/token", "api_url": internal + "/userinfo",
        "signout_redirect_url": "%s/logout?post_logout_redirect_uri=%s/login&client_id=%s"
                                % (public, urls(spec)["grafana"], keycloak["client_id"]),
        "email_attribute_path": "email", "login_attribute_path": "preferred_username", "name_attribute_path": "name",
        "groups_attribute_path": "groups", "role_attribute_path": role_attribute_path(spec), "role_attribute_strict": "true",
    }


def grafana_ini(spec):
    sections = [
        ("server", {"domain": "grafana.%s" % spec["domain"], "root_url": urls(spec)["grafana"] + "/", "enforce_domain": "false"}),
        ("security", {"admin_user": spec["grafana"]["admin_user"],
                      "admin_password": "$__file{%s/grafana_admin_password}" % SECRETS_DIR,
                      "cookie_secure": "true", "disable_gravatar": "true"}),
        ("users", {"allow_sign_up": "false"}),
        ("auth", {"disable_login_form": "false" if spec["grafana"]["login_form"] else "true"}),
        ("analytics", {"reporting_enabled": "false", "check_for_updates": "false"}),
        ("paths", {"provisioning": "/etc/grafana/provisioning"}),
        ("metrics", {"enabled": "true"}),
    ]
    if "keycloak" in spec["enabled"]:
        sections.insert(4, ("auth.generic_oauth", oauth_settings(spec)))
    lines = []
    for name, values in sections:
        lines.append("[%s]" % name)
        lines.extend("%s = %s" % (key, value) for key, value in values.items())
        lines.append("")
    return "\n".join(lines)


def _tenant_header(tenant):
    return {"jsonData": {"httpHeaderName1": "X-Scope-OrgID"}, "secureJsonData": {"httpHeaderValue1": tenant}}


def _datasource(name, kind, source_uid, url, tenant=None, json_data=None):
    source = {"name": name, "type": kind, "uid": source_uid, "access": "proxy", "url": url, "editable": False,
              "jsonData": dict(json_data or {})}
    if tenant:
        header = _tenant_header(tenant)
        source["jsonData"].update(header["jsonData"])
        source["secureJsonData"] = header["secureJsonData"]
    return source


def datasources(spec):
    enabled, out = spec["enabled"], []
    if "prometheus" in enabled:
        out.append(_datasource("Prometheus", "prometheus", "prometheus", "http://prometheus:9090",
                               json_data={"httpMethod": "POST"}))
    if "alertmanager" in enabled:
        out.append(_datasource("Alertmanager", "alertmanager", "alertmanager", "http://alertmanager:9093",
                               json_data={"implementation": "prometheus", "handleGrafanaManagedAlerts": False}))
    for tenant in spec["tenants"]:
        mimir, loki, tempo = uid("mimir", tenant), uid("loki", tenant), uid("tempo", tenant)
        if "mimir" in enabled:
            data = {"httpMethod": "POST"}
            if "tempo" in enabled:  # exemplars: from a metric's trace ID to the trace
                data["exemplarTraceIdDestinations"] = [{"name": "trace_id", "datasourceUid": tempo}]
            out.append(_datasource("Mimir (%s)" % tenant, "prometheus", mimir, "http://mimir:8080/prometheus", tenant, data))
        if "loki" in enabled:
            data = {"maxLines": 1000}
            if "tempo" in enabled:  # derived fields: a trace ID in a log line links to the trace
                data["derivedFields"] = [{"name": "TraceID", "matcherRegex": r"(?:trace_?id|traceID)[=:\"\s]+(\w+)",
                                          "url": "${__value.raw}", "datasourceUid": tempo, "urlDisplayLabel": "Trace"}]
            out.append(_datasource("Loki (%s)" % tenant, "loki", loki, "http://loki:3100", tenant, data))
        if "tempo" in enabled:
            data = {"nodeGraph": {"enabled": True}, "search": {"hide": False}}
            if "loki" in enabled:  # traces to logs
                data["tracesToLogsV2"] = {"datasourceUid": loki, "spanStartTimeShift": "-5m", "spanEndTimeShift": "5m",
                                          "filterByTraceID": True, "filterBySpanID": False}
                data["lokiSearch"] = {"datasourceUid": loki}
            if "mimir" in enabled:  # service map and traces to metrics from the metrics generator's series
                data["serviceMap"] = {"datasourceUid": mimir}
                data["tracesToMetrics"] = {"datasourceUid": mimir}
            out.append(_datasource("Tempo (%s)" % tenant, "tempo", tempo, "http://tempo:3200", tenant, data))
    default = next((s for s in out if s["type"] == "prometheus"), None)
    if default:
        default["isDefault"] = True
    return {"apiVersion": 1, "datasources": out}


def dashboard_providers():
    options = {"path": "/var/lib/grafana/dashboards", "foldersFromFilesStructure": True}
    return {"apiVersion": 1, "providers": [{
        "name": "lgtm", "orgId": 1, "folder": "LGTM", "type": "file", "disableDeletion": True,
        "allowUiUpdates": False, "updateIntervalSeconds": 60, "options": options}]}


def overview_dashboard(spec):
    """The stack's own dashboard: which targets are up, container CPU and memory."""
    def panel(number, title, expr, kind="timeseries", unit="short"):
        return {"id": number, "type": kind, "title": title, "datasource": {"type": "prometheus", "uid": "prometheus"},
                "gridPos": {"h": 8, "w": 12, "x": 12 * ((number - 1) % 2), "y": 8 * ((number - 1) // 2)},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "targets": [{"refId": "A", "expr": expr, "datasource": {"type": "prometheus", "uid": "prometheus"}}]}
    stack = '{name=~"%s-.+"}' % spec["container_prefix"]
    return {"uid": "lgtm-stack", "title": "LGTM stack overview", "schemaVersion": 39, "version": 1, "editable": False,
            "time": {"from": "now-6h", "to": "now"}, "tags": ["lgtm"], "panels": [
                panel(1, "Targets up", "up", "stat"),
                panel(2, "Container CPU", "sum by (name) (rate(container_cpu_usage_seconds_total%s[5m]))" % stack),
                panel(3, "Container memory", "sum by (name) (container_memory_working_set_bytes%s)" % stack, unit="bytes"),
                panel(4, "Host filesystem free", 'node_filesystem_avail_bytes{fstype!~"tmpfs|overlay"}', unit="bytes")]}


def keycloak_realm(spec, client_secret=PLACEHOLDER):
    keycloak, grafana_url = spec["keycloak"], urls(spec)["grafana"]
    groups = [keycloak["role_groups"][role] for role in ("Admin", "Editor", "Viewer") if keycloak["role_groups"].get(role)]
    return {
        "realm": keycloak["realm"], "enabled": True, "sslRequired": "external", "registrationAllowed": False,
        "loginWithEmailAllowed": True, "bruteForceProtected": True,
        "groups": [{"name": group, "path": "/" + group} for group in groups],
        "clients": [{
            "clientId": keycloak["client_id"], "name": "Grafana", "enabled": True, "protocol": "openid-connect",
            "publicClient": False, "clientAuthenticatorType": "client-secret", "secret": client_secret,
            "standardFlowEnabled": True, "directAccessGrantsEnabled": False, "implicitFlowEnabled": False,
            "rootUrl": grafana_url, "baseUrl": grafana_url + "/",
            "redirectUris": [grafana_url + "/login/generic_oauth"], "webOrigins": [grafana_url],
            "attributes": {"post.logout.redirect.uris": grafana_url + "/login", "pkce.code.challenge.method": "S256"},
            "defaultClientScopes": ["profile", "email", "roles", "web-origins"],
            "optionalClientScopes": ["offline_access"],
            "protocolMappers": [{
                "name": "groups", "protocol": "openid-connect", "protocolMapper": "oidc-group-membership-mapper",
                "consentRequired": False,
                "config": {"claim.name": "groups", "full.path": "false", "id.token.claim": "true",
                           "access.token.claim": "true", "userinfo.token.claim": "true"}}],
        }],
    }


def keycloak_conf(spec, admin_password=PLACEHOLDER):
    """keycloak.conf: behind the proxy (X-Forwarded-*), public hostname, health and metrics on the management port."""
    values = [("health-enabled", "true"), ("metrics-enabled", "true"), ("http-enabled", "true"),
              ("proxy-headers", "xforwarded"), ("hostname", urls(spec)["keycloak"]),
              ("hostname-backchannel-dynamic", "true"), ("db", "dev-file"),
              ("bootstrap-admin-username", spec["keycloak"]["admin_user"]), ("bootstrap-admin-password", admin_password)]
    return "".join("%s=%s\n" % pair for pair in values)


def realm_json(spec, client_secret=PLACEHOLDER):
    return json.dumps(keycloak_realm(spec, client_secret), indent=2, sort_keys=True) + "\n"
