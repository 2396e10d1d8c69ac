# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The spec of the LGTM stack on one Docker host (role lgtm.aws.docker_lgtm): defaults and checks.

A spec key ``services`` is the role variable ``docker_lgtm_services``. ``validate(spec, storage_outputs)`` lays
the spec over ``DEFAULTS`` (spec_checks.merge) and returns it with the derived parts (``enabled``, images with
the registry prefix, S3 buckets), or raises ``SpecError`` listing every problem at once.
"""

import posixpath
import re

from ansible_collections.lgtm.aws.plugins.plugin_utils import docker_lgtm_checks as check
from ansible_collections.lgtm.aws.plugins.plugin_utils.spec_checks import Problems, SpecError, check_keys, fail, merge

SERVICES = ("proxy", "grafana", "prometheus", "alertmanager", "pushgateway", "node_exporter", "cadvisor",
            "loki", "tempo", "mimir", "memcached", "keycloak", "alloy")
# Images pinned to tested releases (Grafana, Prometheus, Pushgateway, Loki, Tempo, Alloy, Alertmanager, Mimir, Keycloak,
# and the others at a recent release of their own); each is overridable per service.
IMAGES = {
    "proxy": "caddy:2.10.2",
    "grafana": "grafana/grafana:12.3.1",
    "prometheus": "prom/prometheus:v3.8.1",
    "alertmanager": "prom/alertmanager:v0.30.0",
    "pushgateway": "prom/pushgateway:v1.11.2",
    "node_exporter": "prom/node-exporter:v1.10.2",
    "cadvisor": "gcr.io/cadvisor/cadvisor:v0.52.1",
    "loki": "grafana/loki:3.5.9",
    "tempo": "grafana/tempo:2.9.0",
    "mimir": "grafana/mimir:3.1.3",
    "memcached": "memcached:1.6.39",
    "keycloak": "quay.io/keycloak/keycloak:26.6.2",
    "alloy": "grafana/alloy:v1.12.1",
}
MEMORY = {"proxy": "256m", "grafana": "512m", "prometheus": "2g", "alertmanager": "256m", "pushgateway": "128m",
          "node_exporter": "128m", "cadvisor": "256m", "loki": "1g", "tempo": "1g", "mimir": "2g", "memcached": "1g",
          "keycloak": "1g", "alloy": "512m"}
SERVICE_KEYS = ("enabled", "image", "memory", "cpus", "env", "extra_args", "check", "healthcheck")
SECRETS = ("grafana_admin_password", "keycloak_admin_password", "oauth_client_secret", "smtp_password", "slack_webhook_url")
GRAFANA_ROLES = ("Admin", "Editor", "Viewer")
STORAGE_COMPONENTS = ("mimir", "loki", "tempo")
# The buckets of the storage role's outputs (storage.json) each component uses, by purpose.
BUCKETS = {"mimir": {"blocks": "mimir_blocks", "ruler": "mimir_ruler", "alertmanager": "mimir_alertmanager"},
           "loki": {"chunks": "loki"}, "tempo": {"traces": "tempo"}}

DEFAULTS = {
    "state": "present",
    "purge": False,
    "install_docker": True,
    "registry": "",
    "domain": "lgtm.example.com",
    "network": "lgtm",
    "container_prefix": "lgtm",
    "config_dir": "/etc/lgtm-docker",
    "backup_dir": "/var/backups/lgtm-docker",
    "region": "",
    "tenants": [],
    "services": dict((name, {"enabled": True, "image": IMAGES[name], "memory": MEMORY[name], "cpus": 1.0,
                             "env": {}, "extra_args": [], "check": True, "healthcheck": []}) for name in SERVICES),
    "proxy": {"bind_address": "0.0.0.0", "extra_bind_addresses": [], "http_port": 80, "https_port": 443, "ingest": True,
              "ingest_basic_auth": {},
              "internal_cidrs": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.1/32"]},
    "tls": {"mode": "internal", "cert_file": "", "key_file": "", "acme_email": ""},
    "storage": {"mimir": {"backend": "local", "retention": "365d", "buckets": {}, "endpoint": ""},
                "loki": {"backend": "local", "retention": "744h", "buckets": {}, "endpoint": ""},
                "tempo": {"backend": "local", "retention": "336h", "buckets": {}, "endpoint": ""}},
    "grafana": {"admin_user": "admin", "login_form": False, "oauth_name": "Keycloak", "dashboards_dir": ""},
    "keycloak": {"realm": "lgtm", "client_id": "grafana", "admin_user": "admin",
                 "role_groups": {"Admin": "grafana-admins", "Editor": "grafana-editors", "Viewer": "grafana-viewers"}},
    "prometheus": {"retention": "15d", "scrape_interval": "15s", "evaluation_interval": "15s", "target_down_for": "1m",
                   "extra_scrape_configs": []},
    "alertmanager": {"group_wait": "10s", "group_interval": "1m", "repeat_interval": "4h"},
    "smtp": {"smarthost": "", "from": "", "to": [], "username": "", "require_tls": True},
    "slack": {"channel": ""},
    "alloy": {"cloudwatch_metrics_tenant": "", "cloudwatch_logs_tenant": "", "pipelines": {}},
    "secrets": {},
    "restart_policy": "unless-stopped",
    "log_options": {"max-size": "10m", "max-file": "3"},
    "healthcheck": {"interval": "30s", "timeout": "5s", "retries": 5, "start_period": "60s"},
}
RESTART_POLICIES = ("always", "unless-stopped", "on-failure")
TLS_MODES = ("internal", "files", "acme")


def _on(spec, name):
    """Whether a service is enabled, safe on a malformed spec (reported by _services)."""
    service = spec["services"].get(name) if isinstance(spec["services"], dict) else None
    return isinstance(service, dict) and service.get("enabled") is True


def image_of(spec, name):
    """The image a service runs: the registry prefix (when set) before the image reference as given."""
    reference = spec["services"][name]["image"]
    return "%s/%s" % (spec["registry"].rstrip("/"), reference) if spec["registry"] else reference


def _services(spec, problems):
    with problems.section():
        check_keys(spec["services"], SERVICES, "services")
    if not isinstance(spec["services"], dict):
        fail("services", "must be a mapping of service to its settings")
    for name in SERVICES:
        field = "services.%s" % name
        service = spec["services"][name]
        with problems.section():
            check_keys(service, SERVICE_KEYS, field)
            for key, test in (("enabled", check.boolean), ("check", check.boolean), ("image", check.image),
                              ("memory", check.memory), ("cpus", check.cpus)):
                with problems.section():
                    test(service[key], "%s.%s" % (field, key))
            with problems.section():
                if not isinstance(service["env"], dict):
                    fail(field + ".env", "must be a mapping of environment variable to value")
                for secret_like in sorted(k for k in service["env"] if re.search(r"PASSWORD|SECRET|TOKEN", str(k))):
                    problems.add("%s.env.%s" % (field, secret_like),
                                 "looks like a secret: give it through docker_lgtm_secrets (files), not the environment")
            for key in ("extra_args", "healthcheck"):
                with problems.section():
                    if not isinstance(service[key], list) or not all(isinstance(a, str) for a in service[key]):
                        fail("%s.%s" % (field, key), "must be a list of strings")


def _dependencies(spec, problems):
    on = dict((name, _on(spec, name)) for name in SERVICES)
    needs = {"alloy": ("mimir", "loki"), "grafana": (), "proxy": ("grafana",)}
    for name, required in needs.items():
        for other in required:
            if on[name] and not on[other]:
                problems.add("services.%s.enabled" % other, "must be true while services.%s is enabled (it writes to or serves it)" % name)
    if on["grafana"] and not on["keycloak"] and not spec["grafana"]["login_form"]:
        problems.add("grafana.login_form", "must be true when services.keycloak is disabled (nobody could sign in)")


def _proxy_and_tls(spec, problems):
    proxy, tls = spec["proxy"], spec["tls"]
    check_keys(proxy, DEFAULTS["proxy"], "proxy")
    check_keys(tls, DEFAULTS["tls"], "tls")
    ports = []
    for key in ("http_port", "https_port"):
        with problems.section():
            check.port(proxy[key], "proxy.%s" % key)
            ports.append(("proxy.%s" % key, proxy[key]))
    for field, message in check.port_clashes(ports):
        problems.add(field, message)
    with problems.section():
        check.boolean(proxy["ingest"], "proxy.ingest")
    with problems.section():
        addresses = proxy["extra_bind_addresses"]
        if not isinstance(addresses, list) or not all(isinstance(a, str) and IP_ADDRESS.match(a) for a in addresses):
            fail("proxy.extra_bind_addresses", "must be a list of host IP addresses such as 10.88.0.1 (got %r)" % (addresses,))
        if proxy["bind_address"] in addresses or len(set(addresses)) != len(addresses):
            fail("proxy.extra_bind_addresses", "lists an address twice (or bind_address again)")
        if addresses and proxy["bind_address"] in ("0.0.0.0", "::"):
            fail("proxy.extra_bind_addresses", "needs a bind_address other than %s (which takes every address already)"
                 % proxy["bind_address"])
    with problems.section():
        users = proxy["ingest_basic_auth"]
        if not isinstance(users, dict) or not all(
                isinstance(u, str) and re.match(r"^[A-Za-z0-9._@-]{1,64}$", u) and isinstance(h, str) and BCRYPT.match(h)
                for u, h in users.items()):
            fail("proxy.ingest_basic_auth", "must map user names (letters, digits, ._@-) to bcrypt hashes such as the "
                 "output of `caddy hash-password` ($2a$14$...)")
    with problems.section():
        if not isinstance(proxy["internal_cidrs"], list) or not all(
                isinstance(c, str) and re.match(r"^[0-9a-fA-F:.]+/[0-9]{1,3}$", c) for c in proxy["internal_cidrs"]):
            fail("proxy.internal_cidrs", "must be a list of CIDR ranges such as 10.0.0.0/8")
    with problems.section():
        check.choice(tls["mode"], TLS_MODES, "tls.mode")
        if tls["mode"] == "files":
            for key in ("cert_file", "key_file"):
                with problems.section():
                    check.readable_file(tls[key], "tls.%s" % key)
        if tls["mode"] == "acme":
            check.email(tls["acme_email"], "tls.acme_email")


IP_ADDRESS = re.compile(r"^(?:[0-9]{1,3}\.){3}[0-9]{1,3}$|^[0-9a-fA-F:]*:[0-9a-fA-F:.]*$")
BCRYPT = re.compile(r"^\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$")


def _storage(spec, outputs, problems):
    check_keys(spec["storage"], STORAGE_COMPONENTS, "storage")
    for name in STORAGE_COMPONENTS:
        field = "storage.%s" % name
        store = spec["storage"][name]
        with problems.section():
            check_keys(store, DEFAULTS["storage"][name], field)
            check.choice(store["backend"], ("local", "s3"), field + ".backend")
            check.duration(store["retention"], field + ".retention")
            if not isinstance(store["buckets"], dict):
                fail(field + ".buckets", "must be a mapping of purpose to bucket name")
            check_keys(store["buckets"], BUCKETS[name], field + ".buckets")
            if store["backend"] != "s3" or not _on(spec, name):
                continue
            resolved = {}
            for purpose, key in BUCKETS[name].items():
                bucket = store["buckets"].get(purpose) or ((outputs or {}).get("buckets", {}).get(key) or {}).get("name")
                if not bucket:
                    problems.add("%s.buckets.%s" % (field, purpose),
                                 "no bucket: set it, or run the storage role first so <lgtm_output_dir>/storage.json names bucket %s" % key)
                resolved[purpose] = bucket
            store["buckets"] = resolved
            if not (spec["region"] or (outputs or {}).get("region")):
                problems.add("region", "is required for S3 storage (docker_lgtm_region or lgtm_region)")
            if store["endpoint"]:
                check.host_port(store["endpoint"], field + ".endpoint")
    if not spec["region"] and outputs:
        spec["region"] = outputs.get("region") or ""


def _tenants(spec, problems):
    tenants = spec["tenants"]
    if not isinstance(tenants, list) or not tenants:
        fail("tenants", "must list at least one tenant (X-Scope-OrgID), e.g. [%s]" % "team-a")
    for index, tenant in enumerate(tenants):
        with problems.section():
            check.tenant(tenant, "tenants[%d]" % index)
    if len(set(tenants)) != len(tenants):
        problems.add("tenants", "lists a tenant twice")
    alloy = spec["alloy"]
    check_keys(alloy, DEFAULTS["alloy"], "alloy")
    for key in ("cloudwatch_metrics_tenant", "cloudwatch_logs_tenant"):
        with problems.section():
            if alloy[key]:
                check.tenant(alloy[key], "alloy.%s" % key)
                if alloy[key] not in tenants:
                    fail("alloy.%s" % key, "%r is not one of tenants (%s): Grafana would have no datasource for it"
                         % (alloy[key], ", ".join(tenants)))
    if _on(spec, "alloy") and not spec["region"]:
        problems.add("region", "is required while services.alloy is enabled (the CloudWatch region; docker_lgtm_region or lgtm_region)")


def _sso(spec, problems):
    grafana, keycloak = spec["grafana"], spec["keycloak"]
    check_keys(grafana, DEFAULTS["grafana"], "grafana")
    check_keys(keycloak, DEFAULTS["keycloak"], "keycloak")
    with problems.section():
        check.boolean(grafana["login_form"], "grafana.login_form")
    for key in ("realm", "client_id", "admin_user"):
        with problems.section():
            if not isinstance(keycloak[key], str) or not re.match(r"^[A-Za-z0-9._-]{1,64}$", keycloak[key]):
                fail("keycloak.%s" % key, "must be 1-64 letters, digits, '.', '_' or '-' (got %r)" % (keycloak[key],))
    with problems.section():
        check_keys(keycloak["role_groups"], GRAFANA_ROLES, "keycloak.role_groups")
        groups = [g for g in keycloak["role_groups"].values() if g]
        if not groups:
            fail("keycloak.role_groups", "must map at least one Grafana role (Admin, Editor, Viewer) to a group")
        if len(set(groups)) != len(groups):
            fail("keycloak.role_groups", "maps two roles to the same group")
    with problems.section():
        check.string(grafana["admin_user"], "grafana.admin_user", allow_empty=False)
    with problems.section():
        check.string(grafana["dashboards_dir"], "grafana.dashboards_dir")


def _alerting(spec, problems):
    prometheus, alertmanager, smtp, slack = spec["prometheus"], spec["alertmanager"], spec["smtp"], spec["slack"]
    check_keys(prometheus, DEFAULTS["prometheus"], "prometheus")
    check_keys(alertmanager, DEFAULTS["alertmanager"], "alertmanager")
    check_keys(smtp, DEFAULTS["smtp"], "smtp")
    check_keys(slack, DEFAULTS["slack"], "slack")
    # Zero is a valid `for` and group_wait (at once); an interval of zero is refused by Prometheus and Alertmanager.
    for field, value, test in (("prometheus.retention", prometheus["retention"], check.duration),
                               ("prometheus.scrape_interval", prometheus["scrape_interval"], check.positive_duration),
                               ("prometheus.evaluation_interval", prometheus["evaluation_interval"], check.positive_duration),
                               ("prometheus.target_down_for", prometheus["target_down_for"], check.duration),
                               ("alertmanager.group_wait", alertmanager["group_wait"], check.duration),
                               ("alertmanager.group_interval", alertmanager["group_interval"], check.positive_duration),
                               ("alertmanager.repeat_interval", alertmanager["repeat_interval"], check.positive_duration)):
        with problems.section():
            test(value, field)
    with problems.section():
        if not isinstance(prometheus["extra_scrape_configs"], list) or not all(
                isinstance(s, dict) and s.get("job_name") for s in prometheus["extra_scrape_configs"]):
            fail("prometheus.extra_scrape_configs", "must be a list of Prometheus scrape configs, each with a job_name")
    if smtp["smarthost"]:
        with problems.section():
            check.host_port(smtp["smarthost"], "smtp.smarthost")
        with problems.section():
            check.email(smtp["from"], "smtp.from")
        with problems.section():
            if not isinstance(smtp["to"], list) or not smtp["to"]:
                fail("smtp.to", "must list at least one address")
            for index, address in enumerate(smtp["to"]):
                with problems.section():
                    check.email(address, "smtp.to[%d]" % index)
        with problems.section():
            check.boolean(smtp["require_tls"], "smtp.require_tls")
        if smtp["username"] and not spec["secrets"].get("smtp_password"):
            problems.add("secrets.smtp_password", "is required when smtp.username is set")
    if slack["channel"] and not spec["secrets"].get("slack_webhook_url"):
        problems.add("secrets.slack_webhook_url", "is required when slack.channel is set")


def _host(spec, problems):
    for key, test in (("state", lambda v, f: check.choice(v, ("present", "absent"), f)), ("purge", check.boolean),
                      ("install_docker", check.boolean), ("registry", check.registry), ("domain", check.domain),
                      ("restart_policy", lambda v, f: check.choice(v, RESTART_POLICIES, f))):
        with problems.section():
            test(spec[key], key)
    for key in ("network", "container_prefix"):
        with problems.section():
            if not isinstance(spec[key], str) or not re.match(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$", spec[key]):
                fail(key, "must be a Docker name: letters, digits, '_', '.', '-' (got %r)" % (spec[key],))
    for key in ("config_dir", "backup_dir"):
        with problems.section():
            if not isinstance(spec[key], str) or not spec[key].startswith("/"):
                fail(key, "must be an absolute path on the Docker host (got %r)" % (spec[key],))
    with problems.section():
        check_keys(spec["secrets"], SECRETS, "secrets")
    with problems.section():
        check_keys(spec["healthcheck"], DEFAULTS["healthcheck"], "healthcheck")
        for key in ("interval", "timeout", "start_period"):
            check.duration(spec["healthcheck"][key], "healthcheck.%s" % key)
    with problems.section():
        if not isinstance(spec["log_options"], dict) or not all(isinstance(v, str) for v in spec["log_options"].values()):
            fail("log_options", "must be a mapping of json-file log option to string value, e.g. max-size: 10m")


_BOOLEAN_WORDS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}


def _coerce_booleans(value, default):
    """Booleans given as words (``-e docker_lgtm_purge=true`` arrives as a string) become booleans, as Ansible's own
    argument checks would make them; anything else is left for the checks to report."""
    if isinstance(default, dict) and isinstance(value, dict):
        for key in value:
            if key in default:
                value[key] = _coerce_booleans(value[key], default[key])
        return value
    if isinstance(default, bool) and isinstance(value, str) and value.strip().lower() in _BOOLEAN_WORDS:
        return _BOOLEAN_WORDS[value.strip().lower()]
    return value


def validate(spec, storage_outputs=None):
    """The checked spec with defaults and derived values; ``SpecError`` lists every problem."""
    if not isinstance(spec, dict):
        raise SpecError([("", "the spec must be a mapping")])
    check_keys(spec, DEFAULTS, "")
    spec = _coerce_booleans(merge(DEFAULTS, spec), DEFAULTS)
    problems = Problems()
    for part in (_host, _services, _proxy_and_tls, _sso, _alerting):
        with problems.section():
            part(spec, problems)
    with problems.section():
        _storage(spec, storage_outputs, problems)
    with problems.section():
        _tenants(spec, problems)
    with problems.section():
        _dependencies(spec, problems)
    problems.raise_if_any()
    for key in ("config_dir", "backup_dir"):
        spec[key] = posixpath.normpath(spec[key])
    spec["enabled"] = [name for name in SERVICES if spec["services"][name]["enabled"]]
    spec["images"] = dict((name, image_of(spec, name)) for name in SERVICES)
    for key in ("cloudwatch_metrics_tenant", "cloudwatch_logs_tenant"):
        spec["alloy"][key] = spec["alloy"][key] or spec["tenants"][0]
    return spec
