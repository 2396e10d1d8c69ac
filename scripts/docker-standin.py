# TEST STAND-IN for the container images no registry here carries (Grafana, Loki, Tempo, Mimir, Keycloak,
# cAdvisor, Alloy), copied into the local images `scripts/local-docker images` builds. It is none of them.
# Each image calls it at the real image's entrypoint path as `docker-standin.py PRODUCT ARGS...`. It:
#   - listens where the real server would (its default port, or the one the usual flag, variable or
#     configuration key names) and answers the real health path(s) and /metrics;
#   - refuses to start, like the real server, when a configuration file it is given cannot be read or
#     parsed, or holds the line "lgtm-standin: refuse-to-start" (a configuration the real one would reject);
#   - records what it was given in /standin/state.json (`docker exec C cat /standin/state.json`): argv,
#     the NAMES of its environment variables (never values), the files under its configuration paths and
#     the files its arguments name (their content), the names of files under /run/secrets (never content),
#     and the requests it received (method and path, counted);
#   - answers the checking commands the role runs: `loki -verify-config`, `alloy fmt|validate FILE`, `-version`.
import glob
import hashlib
import http.server
import importlib.util
import json
import os
import socketserver
import sys
import threading

import yaml

VERSION = os.environ.get("LGTM_STANDIN_VERSION", "0.0.0")
STATE_PATH = os.environ.get("LGTM_STANDIN_STATE", "/standin/state.json")
REFUSE_MARK = "lgtm-standin: refuse-to-start"
MAX_FILE = 256 * 1024
ALLOY_STANDIN = "/usr/local/lib/lgtm-standin/alloy-standin.py"

# product: default ports {role: port}, health paths per role, config paths recorded, how it finds ports.
PRODUCTS = {
    "grafana": {"ports": {"http": 3000}, "health": {"http": ["/api/health"]},
                "config_paths": ["/etc/grafana", "$GF_PATHS_CONFIG", "$GF_PATHS_PROVISIONING"]},
    "loki": {"ports": {"http": 3100}, "health": {"http": ["/ready"]}, "config_paths": ["/etc/loki"]},
    "tempo": {"ports": {"http": 3200}, "health": {"http": ["/ready"]}, "config_paths": ["/etc/tempo", "/etc/tempo.yaml"]},
    "mimir": {"ports": {"http": 8080}, "health": {"http": ["/ready"]}, "config_paths": ["/etc/mimir"]},
    "keycloak": {"ports": {"http": 8080, "management": 9000},
                 "health": {"management": ["/health", "/health/ready", "/health/live", "/health/started"]},
                 "config_paths": ["/opt/keycloak/conf", "/opt/keycloak/data/import"]},
    "cadvisor": {"ports": {"http": 8080}, "health": {"http": ["/healthz"]}, "config_paths": []},
    "alloy": {"ports": {"http": 12345}, "health": {"http": ["/-/ready", "/-/healthy"]}, "config_paths": ["/etc/alloy"]},
}


def flag(args, *names):
    """The value of the last `-name=value`, `--name=value`, `-name value` or `--name value` among args."""
    found = None
    for index, arg in enumerate(args):
        for name in names:
            for prefix in ("-" + name, "--" + name):
                if arg.startswith(prefix + "="):
                    found = arg.split("=", 1)[1]
                elif arg == prefix and index + 1 < len(args) and not args[index + 1].startswith("-"):
                    found = args[index + 1]
    return found


def has_flag(args, *names):
    return any(arg.split("=", 1)[0].lstrip("-") in names for arg in args if arg.startswith("-"))


def fail(message):
    sys.stderr.write("%s\n" % message)
    sys.exit(1)


def load_config(path, parse_yaml=True):
    """The text of a configuration file, or exit 1 as the real server does at start-up."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as error:
        fail("error loading config from %s: %s" % (path, error))
    if REFUSE_MARK in text:
        fail("error loading config from %s: rejected (%s)" % (path, REFUSE_MARK))
    if parse_yaml:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            fail("error parsing config file %s: %s" % (path, error))
        if data is not None and not isinstance(data, dict):
            fail("error parsing config file %s: not a mapping" % path)
    return text


def alloy_balance_error(text):
    """The Alloy syntax check of scripts/alloy-standin.py (the fleet's stand-in), copied into the image."""
    spec = importlib.util.spec_from_file_location("alloy_standin", ALLOY_STANDIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.balance_error(text)


def ports_and_config(product, args, env):
    """({role: port}, [config files]) the way the real product reads them, exiting on a bad configuration."""
    ports = dict(PRODUCTS[product]["ports"])
    configs = []
    if product == "grafana":
        ports["http"] = int(env.get("GF_SERVER_HTTP_PORT") or ports["http"])
        ini = env.get("GF_PATHS_CONFIG", "/etc/grafana/grafana.ini")
        if os.path.exists(ini):
            text = load_config(ini, parse_yaml=False)
            configs.append(ini)
            section = ""
            for line in text.splitlines():
                line = line.strip()
                if line.startswith("[") and line.endswith("]"):
                    section = line[1:-1].strip()
                elif section == "server" and line.split("=", 1)[0].strip() == "http_port" and "=" in line \
                        and not env.get("GF_SERVER_HTTP_PORT"):
                    ports["http"] = int(line.split("=", 1)[1].strip())
    elif product in ("loki", "tempo", "mimir"):
        path = flag(args, "config.file")
        if path:
            data = yaml.safe_load(load_config(path)) or {}
            configs.append(path)
            port = (data.get("server") or {}).get("http_listen_port")
            if port:
                ports["http"] = int(port)
            # Tempo's OTLP HTTP receiver, where its configuration turns one on (pushes answer 204 and are counted).
            receivers = ((data.get("distributor") or {}).get("receivers") or {}) if product == "tempo" else {}
            otlp_http = (((receivers.get("otlp") or {}).get("protocols") or {}).get("http") or {}).get("endpoint")
            if otlp_http:
                ports["otlp_http"] = otlp_http
        elif product != "mimir":
            fail("no config file given (-config.file)")
        port = flag(args, "server.http-listen-port")
        if port:
            ports["http"] = int(port)
    elif product == "keycloak":
        ports["http"] = int(flag(args, "http-port") or env.get("KC_HTTP_PORT") or ports["http"])
        ports["management"] = int(flag(args, "http-management-port") or env.get("KC_HTTP_MANAGEMENT_PORT")
                                  or ports["management"])
        if not args or args[0] not in ("start", "start-dev"):
            fail("Usage: kc.sh start|start-dev [OPTIONS] (lgtm.aws stand-in)")
        if has_flag(args, "import-realm"):
            for path in sorted(glob.glob("/opt/keycloak/data/import/*.json")):
                try:
                    realm = json.loads(load_config(path, parse_yaml=False))
                except ValueError as error:
                    fail("ERROR: Failed to import realm from %s: %s" % (path, error))
                if not isinstance(realm, dict) or not realm.get("realm"):
                    fail("ERROR: Failed to import realm from %s: no realm name" % path)
                configs.append(path)
    elif product == "cadvisor":
        ports["http"] = int(flag(args, "port") or ports["http"])
    elif product == "alloy":
        if not args or args[0] != "run":
            fail('Error: unknown command for "alloy" (lgtm.aws stand-in)')
        listen = flag(args, "server.http.listen-addr") or "127.0.0.1:12345"
        ports["http"] = listen
        files = [arg for arg in args[1:] if not arg.startswith("-")]
        if not files:
            fail("Error: a configuration file is required")
        text = load_config(files[0], parse_yaml=False)
        problem = alloy_balance_error(text)
        if problem:
            fail("Error: could not perform the initial load successfully: %s: %s" % (files[0], problem))
        configs.append(files[0])
    return ports, configs


def read_files(product, args, env, configs):
    """{path: content} of the files under the product's configuration paths and the files args name."""
    paths = []
    for entry in PRODUCTS[product]["config_paths"]:
        entry = env.get(entry[1:], "") if entry.startswith("$") else entry
        if os.path.isdir(entry):
            for root, _dirs, names in os.walk(entry):
                paths.extend(os.path.join(root, name) for name in names)
        elif os.path.isfile(entry):
            paths.append(entry)
    for arg in args:
        value = arg.split("=", 1)[1] if arg.startswith("-") and "=" in arg else arg
        if value.startswith("/") and os.path.isfile(value):
            paths.append(value)
    files = {}
    for path in sorted(set(paths) | set(configs)):
        if path.startswith("/run/secrets/"):
            continue
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_FILE + 1)
        except OSError as error:
            files[path] = {"error": str(error)}
            continue
        try:
            files[path] = data[:MAX_FILE].decode("utf-8")
        except UnicodeDecodeError:
            files[path] = {"sha256": hashlib.sha256(data).hexdigest(), "binary": True}
    return files


class State:
    def __init__(self, data):
        self.data = data
        self.lock = threading.Lock()
        self.write()

    def write(self):
        tmp = STATE_PATH + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f, indent=1, sort_keys=True)
        os.replace(tmp, STATE_PATH)

    def count(self, method, path):
        with self.lock:
            key = "%s %s" % (method, path.split("?", 1)[0])
            self.data["requests"][key] = self.data["requests"].get(key, 0) + 1
            self.write()


def realms():
    found = {}
    for path in sorted(glob.glob("/opt/keycloak/data/import/*.json")):
        with open(path, encoding="utf-8") as f:
            realm = json.load(f)
        found[realm["realm"]] = realm
    return found


def make_handler(product, role, state, health_enabled, metrics_enabled, imported_realms):
    health_paths = PRODUCTS[product]["health"].get(role, [])
    realm_data = imported_realms if role == "http" else {}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def reply(self, status, body, content_type="text/plain; charset=utf-8"):
            if isinstance(body, (dict, list)):
                body, content_type = json.dumps(body), "application/json"
            data = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def answer(self):
            state.count(self.command, self.path)
            path = self.path.split("?", 1)[0]
            if path in health_paths and health_enabled:
                if product == "grafana":
                    return self.reply(200, {"database": "ok", "version": VERSION, "commit": "lgtm-standin"})
                if product == "keycloak":
                    return self.reply(200, {"status": "UP", "checks": []})
                return self.reply(200, "ready\n" if path.endswith("ready") else "ok\n")
            if path == "/metrics" and metrics_enabled and (product != "keycloak" or role == "management"):
                return self.reply(200, '# HELP lgtm_standin_info lgtm.aws test stand-in, not the product.\n'
                                       '# TYPE lgtm_standin_info gauge\n'
                                       'lgtm_standin_info{product="%s",version="%s"} 1\n' % (product, VERSION),
                                  "text/plain; version=0.0.4")
            if realm_data and path.startswith("/realms/"):
                parts = path.split("/")
                realm = realm_data.get(parts[2]) if len(parts) > 2 else None
                if realm is None:
                    return self.reply(404, {"error": "Realm does not exist"})
                base = "%s/realms/%s" % (os.environ.get("KC_HOSTNAME") or "http://" + (self.headers["Host"] or ""),
                                         realm["realm"])
                if path.endswith("/.well-known/openid-configuration"):
                    oidc = base + "/protocol/openid-connect"
                    return self.reply(200, {"issuer": base, "authorization_endpoint": oidc + "/auth",
                                            "token_endpoint": oidc + "/token", "userinfo_endpoint": oidc + "/userinfo",
                                            "jwks_uri": oidc + "/certs"})
                return self.reply(200, {"realm": realm["realm"], "token-service": base + "/protocol/openid-connect"})
            if self.command in ("POST", "PUT"):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                return self.reply(204, b"")
            return self.reply(404, "404 page not found (lgtm.aws stand-in for %s)\n" % product)

        do_GET = do_HEAD = do_POST = do_PUT = answer

        def log_message(self, *args):
            pass

    return Handler


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


KEYCLOAK_CONF = "/opt/keycloak/conf/keycloak.conf"


def keycloak_option(args, env, name):
    """An option as Keycloak resolves it: the command line, then KC_<NAME>, then conf/keycloak.conf; else false."""
    value = flag(args, name) or env.get("KC_" + name.upper().replace("-", "_"))
    if value:
        return value
    try:
        with open(KEYCLOAK_CONF) as handle:
            for line in handle:
                key, sep, conf_value = line.strip().partition("=")
                if sep and key.strip() == name:
                    return conf_value.strip()
    except OSError:
        pass
    return "false"


def serve(product, args):
    env = dict(os.environ)
    ports, configs = ports_and_config(product, args, env)
    health_enabled = metrics_enabled = True
    imported_realms = {}
    if product == "keycloak":
        imported_realms = realms() if has_flag(args, "import-realm") else {}
        health_enabled = keycloak_option(args, env, "health-enabled") == "true"
        metrics_enabled = keycloak_option(args, env, "metrics-enabled") == "true"
    secret_dir = "/run/secrets"
    state = State({
        "product": product, "version": VERSION, "standin": True, "argv": [product] + args,
        "env_names": sorted(env), "files": read_files(product, args, env, configs),
        "secret_files": sorted(os.listdir(secret_dir)) if os.path.isdir(secret_dir) else [],
        "ports": {role: str(port) for role, port in ports.items()}, "uid": os.getuid(), "requests": {},
        "realms": sorted(imported_realms),
    })
    servers = []
    for role, port in ports.items():
        host, _colon, number = str(port).rpartition(":")
        server = Server((host or "0.0.0.0", int(number)),
                        make_handler(product, role, state, health_enabled, metrics_enabled, imported_realms))
        servers.append(server)
    sys.stderr.write("lgtm.aws stand-in for %s %s (not %s) listening on %s\n"
                     % (product, VERSION, product, ", ".join("%s=%s" % item for item in ports.items())))
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    servers[0].serve_forever()


def main(argv):
    if not argv or argv[0] not in PRODUCTS:
        fail("usage: docker-standin.py {%s} ARGS..." % "|".join(sorted(PRODUCTS)))
    product, args = argv[0], argv[1:]
    if args and args[0] in ("-version", "--version", "version", "-v"):
        print("%s, version %s (lgtm.aws test stand-in, not %s)" % (product, VERSION, product))
        return 0
    if product == "loki" and has_flag(args, "verify-config"):
        path = flag(args, "config.file") or fail("no config file given (-config.file)")
        load_config(path)
        sys.stderr.write("config is valid\n")
        return 0
    if product == "alloy" and args and args[0] in ("fmt", "validate"):
        files = [arg for arg in args[1:] if not arg.startswith("-")] or fail("Error: a file is required")
        text = load_config(files[0], parse_yaml=False)
        problem = alloy_balance_error(text)
        if problem:
            fail("Error: %s: %s" % (files[0], problem))
        if args[0] == "fmt":
            sys.stdout.write(text)
        return 0
    serve(product, args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
