# TEST STAND-IN for the Grafana Alloy binary, built into local test packages by scripts/local-fleet.
# It is not Alloy: it answers the CLI calls the lgtm.aws.alloy role and its tests make, so that
# package, user, file and service handling are exercised for real on the local fleet.
#   alloy --version            the packaged version
#   alloy fmt FILE             fails on unbalanced braces/brackets or an unterminated string
#   alloy run [flags] FILE     reads FILE and serves /-/ready and /metrics (with the config's sha256)
#                              on --server.http.listen-addr; refuses to start when FILE is unreadable
#                              or holds the line "// lgtm-standin: refuse-to-start" (a config the
#                              real Alloy would reject at start, for the role's rollback test).
import hashlib
import http.server
import sys

VERSION = "@VERSION@"


def balance_error(text):
    stack, in_string, line = [], False, 1
    pairs = {"}": "{", "]": "[", ")": "("}
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\n":
            line += 1
        if in_string:
            if char == "\\":
                index += 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif text.startswith("//", index):
            index = text.find("\n", index) - 1 if "\n" in text[index:] else len(text)
        elif char in "{[(":
            stack.append((char, line))
        elif char in pairs:
            if not stack or stack.pop()[0] != pairs[char]:
                return "line %d: unexpected %s" % (line, char)
        index += 1
    if in_string:
        return "unterminated string"
    if stack:
        return "line %d: %s is never closed" % (stack[-1][1], stack[-1][0])
    return None


def fmt(path):
    text = open(path, encoding="utf-8").read()
    problem = balance_error(text)
    if problem:
        sys.stderr.write("Error: %s: %s\n" % (path, problem))
        return 1
    sys.stdout.write(text)
    return 0


def run(args):
    listen, config_path = "127.0.0.1:12345", None
    for arg in args:
        if arg.startswith("--server.http.listen-addr="):
            listen = arg.split("=", 1)[1]
        elif not arg.startswith("-"):
            config_path = arg
    if not config_path:
        sys.stderr.write("Error: a configuration file is required\n")
        return 1
    try:
        data = open(config_path, "rb").read()
    except OSError as error:
        sys.stderr.write("Error: %s\n" % error)
        return 1
    if b"// lgtm-standin: refuse-to-start" in data or balance_error(data.decode("utf-8", "replace")):
        sys.stderr.write("Error: could not perform the initial load successfully\n")
        return 1
    digest = hashlib.sha256(data).hexdigest()
    metrics = ('alloy_build_info{version="v%s",standin="true"} 1\n'
               'lgtm_standin_config_info{sha256="%s",path="%s"} 1\n' % (VERSION, digest, config_path)).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"Alloy is ready.\n" if self.path == "/-/ready" else metrics if self.path == "/metrics" else None
            self.send_response(200 if body else 404)
            self.end_headers()
            self.wfile.write(body or b"not found\n")

        def log_message(self, *args):
            pass

    host, port = listen.rsplit(":", 1)
    sys.stderr.write("alloy stand-in v%s running %s (sha256 %s) on %s\n" % (VERSION, config_path, digest, listen))
    http.server.HTTPServer((host, int(port)), Handler).serve_forever()
    return 0


def main(argv):
    if not argv or argv[0] in ("--version", "-v", "version"):
        print("alloy, version v%s (lgtm.aws test stand-in, not Grafana Alloy)" % VERSION)
        return 0
    if argv[0] == "fmt" and len(argv) >= 2:
        return fmt(argv[-1])
    if argv[0] == "run":
        return run(argv[1:])
    sys.stderr.write('Error: unknown command "%s" for "alloy"\n' % argv[0])
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
