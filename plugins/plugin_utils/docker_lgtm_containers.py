# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the role creates on the Docker host for a checked spec: files, checks, volumes and containers.

Every container carries the label ``lgtm.aws/config-hash``: a digest of its files, secrets, image and settings,
so community.docker.docker_container recreates a container exactly when one of those changed.
"""

import hashlib
import json

from ansible_collections.lgtm.aws.plugins.plugin_utils import docker_lgtm_backends as backends
from ansible_collections.lgtm.aws.plugins.plugin_utils import docker_lgtm_grafana as grafana
from ansible_collections.lgtm.aws.plugins.plugin_utils import docker_lgtm_prometheus as prometheus
from ansible_collections.lgtm.aws.plugins.plugin_utils import docker_lgtm_proxy as proxy

HASH_LABEL = "lgtm.aws/config-hash"
SECRETS_DIR = "/run/secrets"
# service -> (container config directory, data volume mount point or None)
PATHS = {
    "proxy": ("/etc/caddy", "/data"), "grafana": ("/etc/grafana", "/var/lib/grafana"),
    "prometheus": ("/etc/prometheus", "/prometheus"), "alertmanager": ("/etc/alertmanager", "/alertmanager"),
    "pushgateway": (None, None), "node_exporter": (None, None), "cadvisor": (None, None),
    "loki": ("/etc/loki", "/loki"), "tempo": ("/etc/tempo", "/var/tempo"), "mimir": ("/etc/mimir", "/data"),
    "memcached": (None, None), "keycloak": (None, "/opt/keycloak/data"), "alloy": ("/etc/alloy", "/var/lib/alloy/data"),
}


def _wget(port, path):
    # A GET (not --spider's HEAD, which some endpoints refuse), in busybox's and GNU wget's common options.
    return ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:%d%s" % (port, path)]


def _bash_http(port, path):
    # Images without wget or curl (Keycloak, Alloy): bash's /dev/tcp (bash by name: /bin/sh may be dash).
    return ["CMD", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/%d && printf 'GET %s HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 "
            "&& head -n1 <&3 | grep -q ' 200'" % (port, path)]


# The health check of each service, with what the upstream image carries (busybox/alpine wget, else bash).
HEALTHCHECKS = {
    "proxy": _wget(proxy.METRICS_PORT, "/healthz"), "grafana": _wget(3000, "/api/health"),
    "prometheus": _wget(9090, "/-/healthy"), "alertmanager": _wget(9093, "/-/healthy"),
    "pushgateway": _wget(9091, "/-/healthy"), "node_exporter": _wget(9100, "/metrics"),
    "cadvisor": _wget(8080, "/healthz"), "loki": _wget(3100, "/ready"), "tempo": _wget(3200, "/ready"),
    "mimir": _wget(8080, "/ready"), "keycloak": _bash_http(9000, "/health/ready"), "alloy": _bash_http(12345, "/-/ready"),
    "memcached": ["CMD", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/11211 && printf 'version\\r\\n' >&3 && head -c 7 <&3 | grep -q VERSION"],
}


def _yaml(data):
    import yaml  # the controller has it (Ansible needs it)
    return yaml.safe_dump(data, default_flow_style=False, sort_keys=False, width=200)


def container_name(spec, name):
    return "%s-%s" % (spec["container_prefix"], name.replace("_", "-"))


def volume_name(spec, name):
    return "%s-%s-data" % (spec["container_prefix"], name.replace("_", "-"))


def secrets_used(spec, name):
    """The secrets a service reads (each a file under /run/secrets in the container)."""
    enabled = spec["enabled"]
    used = {"grafana": ["grafana_admin_password"] + (["oauth_client_secret"] if "keycloak" in enabled else []),
            "keycloak": ["keycloak_admin_password", "oauth_client_secret"],
            "alertmanager": (["smtp_password"] if spec["smtp"]["smarthost"] and spec["smtp"]["username"] else [])
            + (["slack_webhook_url"] if spec["slack"]["channel"] else [])}
    return used.get(name, [])


def files(spec, alloy_config, secrets=None):
    """[{service, path (relative to the config directory), content, sensitive}] for the enabled services."""
    secrets = secrets or {}
    out = []

    def add(service, path, content, sensitive=False):
        if service in spec["enabled"]:
            out.append({"service": service, "path": "%s/%s" % (service, path), "content": content, "sensitive": sensitive})

    add("proxy", "Caddyfile", proxy.caddyfile(spec))
    add("grafana", "grafana.ini", grafana.grafana_ini(spec))
    add("grafana", "provisioning/datasources/lgtm.yml", _yaml(grafana.datasources(spec)))
    add("grafana", "provisioning/dashboards/lgtm.yml", _yaml(grafana.dashboard_providers()))
    add("grafana", "dashboards/lgtm-stack.json", json.dumps(grafana.overview_dashboard(spec), indent=2, sort_keys=True) + "\n")
    add("prometheus", "prometheus.yml", _yaml(prometheus.prometheus(spec)))
    add("prometheus", "rules/alerts.yml", _yaml(prometheus.alert_rules(spec)))
    add("prometheus", "tests/alerts.test.yml", _yaml(prometheus.rule_tests(spec)))
    add("alertmanager", "alertmanager.yml", _yaml(prometheus.alertmanager(spec)))
    add("loki", "loki.yml", _yaml(backends.loki(spec)))
    add("tempo", "tempo.yml", _yaml(backends.tempo(spec)))
    add("mimir", "mimir.yml", _yaml(backends.mimir(spec)))
    add("alloy", "config.alloy", alloy_config)
    add("keycloak", "realm.json", grafana.realm_json(spec, secrets.get("oauth_client_secret", grafana.PLACEHOLDER)), True)
    add("keycloak", "keycloak.conf", grafana.keycloak_conf(spec, secrets.get("keycloak_admin_password", grafana.PLACEHOLDER)), True)
    return out


def _bind(source, target, read_only=True, propagation=None):
    mount = {"type": "bind", "source": source, "target": target, "read_only": read_only}
    if propagation:
        mount["propagation"] = propagation
    return mount


def _config_mounts(spec, name, config_root):
    config_dir, _data = PATHS[name]
    mounts = []
    if name == "keycloak":
        mounts += [_bind(config_root + "/keycloak/keycloak.conf", "/opt/keycloak/conf/keycloak.conf"),
                   _bind(config_root + "/keycloak/realm.json", "/opt/keycloak/data/import/realm.json")]
    elif name == "grafana":
        mounts += [_bind(config_root + "/grafana/grafana.ini", "/etc/grafana/grafana.ini"),
                   _bind(config_root + "/grafana/provisioning", "/etc/grafana/provisioning"),
                   _bind(config_root + "/grafana/dashboards", "/var/lib/grafana/dashboards")]
    elif config_dir:
        mounts.append(_bind("%s/%s" % (config_root, name), config_dir))
    if name == "proxy" and spec["tls"]["mode"] == "files":
        mounts.append(_bind(spec["config_dir"] + "/certs", proxy.CERT_DIR))
    for secret in secrets_used(spec, name):
        mounts.append(_bind("%s/secrets/%s" % (spec["config_dir"], secret), "%s/%s" % (SECRETS_DIR, secret)))
    return mounts


def _command(spec, name, alloy_experimental):
    domain, settings = spec["domain"], spec["prometheus"]
    memcached_mb = max(64, int(_megabytes(spec["services"]["memcached"]["memory"]) * 0.8))
    commands = {
        "proxy": ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"],
        "grafana": None,
        "prometheus": ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus",
                       "--storage.tsdb.retention.time=%s" % settings["retention"], "--web.enable-admin-api",
                       "--web.enable-remote-write-receiver", "--web.external-url=https://prometheus.%s/" % domain],
        "alertmanager": ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager",
                         "--web.external-url=https://alertmanager.%s/" % domain],
        # Pushed series are not persisted: the image runs as nobody and has no writable data directory.
        "pushgateway": [],
        "node_exporter": ["--path.rootfs=/host"],
        "cadvisor": ["--docker_only=true", "--housekeeping_interval=30s", "--store_container_labels=false"],
        "loki": ["-config.file=/etc/loki/loki.yml"],
        "tempo": ["-config.file=/etc/tempo/tempo.yml"],
        "mimir": ["-config.file=/etc/mimir/mimir.yml", "-target=all"],
        "memcached": ["memcached", "-m", str(memcached_mb), "-c", "1024", "-I", "5m"],
        "keycloak": ["start", "--import-realm"],
        "alloy": ["run", "/etc/alloy/config.alloy", "--server.http.listen-addr=0.0.0.0:12345",
                  "--storage.path=/var/lib/alloy/data"] + (["--stability.level=experimental"] if alloy_experimental else []),
    }
    command = commands[name]
    extra = spec["services"][name]["extra_args"]
    return (command or []) + extra if (command or extra) else None


def _megabytes(size):
    units = {"b": 1.0 / 1048576, "k": 1.0 / 1024, "m": 1, "g": 1024}
    return int(size[:-1]) * units[size[-1].lower()]


def checks(spec, name, next_root, alloy_experimental=False):
    """``docker run`` argument lists that check a service's next configuration with the image's own binary."""
    if not spec["services"][name]["check"]:
        return []
    mounts = []
    for mount in _config_mounts(spec, name, next_root):
        mounts += ["-v", "%s:%s:ro" % (mount["source"], mount["target"])]
    image = spec["images"][name]
    base = ["docker", "run", "--rm", "--network", "none"] + mounts
    argv = {
        "prometheus": [["/bin/promtool", "check", "config", "/etc/prometheus/prometheus.yml"],
                       ["/bin/promtool", "test", "rules", "/etc/prometheus/tests/alerts.test.yml"]],
        "alertmanager": [["/bin/amtool", "check-config", "/etc/alertmanager/alertmanager.yml"]],
        "proxy": [["/usr/bin/caddy", "validate", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]],
        "loki": [["/usr/bin/loki", "-config.file=/etc/loki/loki.yml", "-verify-config"]],
        "alloy": [["/bin/alloy", "validate", "/etc/alloy/config.alloy"]
                  + (["--stability.level=experimental"] if alloy_experimental else [])],
    }.get(name, [])
    return [base + ["--entrypoint", command[0], image] + command[1:] for command in argv]


def _digest(*parts):
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode("utf-8")).hexdigest()[:32]


def containers(spec, file_list, alloy_experimental=False, secrets=None):
    secrets, out = secrets or {}, []
    for name in spec["enabled"]:
        service = spec["services"][name]
        _config_dir, data = PATHS[name]
        mounts = _config_mounts(spec, name, spec["config_dir"])
        volumes = [{"type": "volume", "source": volume_name(spec, name), "target": data}] if data else []
        container = {
            "service": name, "name": container_name(spec, name), "image": spec["images"][name],
            "command": _command(spec, name, alloy_experimental), "env": dict((str(k), str(v)) for k, v in service["env"].items()),
            "mounts": volumes + mounts, "memory": service["memory"], "cpus": service["cpus"],
            "healthcheck": dict(spec["healthcheck"], test=service["healthcheck"] or HEALTHCHECKS[name]),
            "aliases": [name.replace("_", "-")], "published_ports": [], "privileged": False, "pid_mode": None, "devices": [],
        }
        if name == "proxy":
            for bind in [spec["proxy"]["bind_address"]] + spec["proxy"]["extra_bind_addresses"]:
                bind = "[%s]" % bind if ":" in bind else bind
                container["published_ports"] += ["%s:%d:80" % (bind, spec["proxy"]["http_port"]),
                                                 "%s:%d:443" % (bind, spec["proxy"]["https_port"])]
            # Inside the network the public names lead to the proxy too (Grafana reaching Keycloak's issuer).
            container["aliases"] += sorted(proxy.hosts(spec))
        if name == "node_exporter":
            # Read-only, without rslave propagation: it also works where / is not a shared mount (mounts made
            # after the start are not seen until the container is recreated).
            container["mounts"].append(_bind("/", "/host"))
            container["pid_mode"] = "host"
        if name == "cadvisor":
            # /dev/disk and /dev/kmsg are left out: the container fails to start on hosts that lack them; add
            # them with services.cadvisor.extra_args and a device when the host does.
            # Not privileged: refused where the engine itself runs confined, and cgroup v2 hosts do not need it.
            container["mounts"] += [_bind("/", "/rootfs"), _bind("/var/run", "/var/run"), _bind("/sys", "/sys"),
                                    _bind("/var/lib/docker", "/var/lib/docker")]
        if name == "grafana":
            container["env"]["GF_PATHS_CONFIG"] = "/etc/grafana/grafana.ini"
        if name == "alloy":
            container["env"]["AWS_REGION"] = spec["region"]
        own_files = [(f["path"], f["content"]) for f in file_list if f["service"] == name]
        own_secrets = [(s, hashlib.sha256(str(secrets.get(s, "")).encode("utf-8")).hexdigest()) for s in secrets_used(spec, name)]
        container["labels"] = {HASH_LABEL: _digest(own_files, own_secrets, container), "lgtm.aws/service": name}
        out.append(container)
    return out
