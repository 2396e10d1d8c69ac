"""A fault-injecting, call-counting HTTP proxy between botocore (``AWS_ENDPOINT_URL``) and a local moto_server.

Test-only. Every request is classified by the AWS service (the SigV4 credential scope) and the API action:
``Action=`` of the query protocol (IAM, EC2, STS, ELBv2), ``X-Amz-Target`` of the JSON protocol (ECS, SSM, Logs, ...),
and for the REST protocols (S3, EFS, EKS, Route 53) the method and path matched against botocore's own service model.
Each call is counted as a read or a mutating call. On a configurable share of calls the proxy answers instead of
the local AWS, in the error format of the call's protocol, so botocore parses the same error code real AWS sends:

- ``throttle``: query/REST-XML ``Throttling`` (EC2 ``RequestLimitExceeded``), JSON ``ThrottlingException``,
  S3 ``SlowDown`` (HTTP 503);
- ``error``: HTTP 500 ``InternalError``/``InternalFailure``, or a plain HTTP 503 without a body;
- ``slow``: the call is answered ``slow_seconds`` late;
- ``invisible``: after an IAM create (CreateRole, CreateInstanceProfile, CreateOpenIDConnectProvider), the next
  ``invisible_calls`` calls naming the new entity answer ``NoSuchEntity``, as IAM's eventual consistency does.

A run can also be killed at a chosen point: with ``kill_pgid`` set, the ``kill_at``-th mutating call of phase
``kill_phase`` (counted since the last configure or reset; only calls of ``kill_action``, ``Action`` or
``service:Action``, when set) sends SIGKILL to that process group and every process
below its leader (the run's ansible-playbook, its workers and their modules, which run in sessions of their own),
either after the call reached the local AWS but before its answer returns
(``kill_when="answer"``: the change happened, the run never learnt it) or before it is forwarded
(``kill_when="request"``). ``kill_task`` instead kills ``kill_delay`` seconds after a task of that name starts
(tasks that make no AWS call, such as the Alloy fleet's). The kill is reported in the stats (``killed``) and
happens once per configure.

Faults are drawn from a seeded random generator for the first attempt of each call (botocore's ``amz-sdk-request``
header). botocore's own retries of that call (same ``amz-sdk-invocation-id``) get the same fault again when the
task that makes it runs a module named by ``sticky_modules`` (by default this collection's, ``lgtm.aws.``; the
callback plugin reports each task's module): a fault that outlasts botocore's few quick retries, so only the
module's own retry (AWSRetry) gets through. Calls of other modules (amazon.aws, community.aws) pass on botocore's
first retry, as they rely on it.

Control API under ``/__aws_proxy__/``: ``GET stats`` (the counts), ``POST config`` (JSON fault settings),
``POST reset`` (zero the counts), ``POST phase`` (``{"phase": ..., "task": ..., "module": ...}``: later calls are counted under it;
tests/callback_plugins/aws_proxy_phases.py posts the role and task Ansible runs).

Run alone: ``python tests/aws_proxy.py --upstream http://127.0.0.1:5000 --port 5001 --throttle 0.2``.
"""

import argparse
import collections
import json
import os
import random
import re
import signal
import threading
import time
import urllib.parse
import uuid
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import botocore.session

CONTROL = "/__aws_proxy__/"
READ_PREFIXES = ("Get", "List", "Describe", "Head", "Lookup", "Search", "Check", "Filter", "BatchGet", "Select")
NOT_MUTATING = {"AssumeRole", "AssumeRoleWithWebIdentity", "DecodeAuthorizationMessage", "SimulatePrincipalPolicy"}
# SigV4 signing names whose botocore model name differs.
MODEL_NAMES = {"elasticfilesystem": "efs", "elasticloadbalancing": "elbv2", "monitoring": "cloudwatch",
               "servicediscovery": "servicediscovery", "execute-api": "apigateway", "tagging": "resourcegroupstaggingapi"}
IAM_CREATES = {"CreateRole": "RoleName", "CreateInstanceProfile": "InstanceProfileName",
               "CreateOpenIDConnectProvider": "Url"}
DEFAULTS = {"seed": 16, "throttle": 0.0, "error": 0.0, "plain_503": 0.0, "slow": 0.0, "slow_seconds": 0.5,
            "invisible": 0.0, "invisible_calls": 1, "only_services": None, "skip_actions": [], "skip_phases": [],
            "sticky_modules": ["lgtm.aws."],
            "kill_pgid": None, "kill_phase": None, "kill_action": None, "kill_at": 0, "kill_when": "answer", "kill_task": None, "kill_delay": 0.0}


def region_of(handler):
    scope = re.search(r"Credential=[^/]*/[^/]*/([^/]+)/", handler.headers.get("Authorization", ""))
    return scope.group(1) if scope else ""


def compact(params, limit=400):
    """The call's parameters with long values (documents, templates, bodies) cut: enough to name the resource."""
    if isinstance(params, dict):
        return {key: compact(value, limit) for key, value in params.items()}
    if isinstance(params, list):
        return [compact(value, limit) for value in params[:50]]
    if isinstance(params, str) and len(params) > limit:
        return params[:limit]
    return params


def is_read(action):
    return action.startswith(READ_PREFIXES) or action in NOT_MUTATING


class RestMatcher:
    """Operation names of a REST service's requests, from botocore's model (method, URI template, query keys)."""

    def __init__(self):
        self._session = botocore.session.get_session()
        self._routes = {}

    def routes(self, service):
        if service not in self._routes:
            try:
                model = self._session.get_service_model(MODEL_NAMES.get(service, service))
            except Exception:  # pylint: disable=broad-except
                model = None
            routes = []
            for name in model.operation_names if model else []:
                operation = model.operation_model(name)
                http = operation.http
                shape = operation.input_shape
                headers = [shape.members[m].serialization["name"].lower() for m in (shape.required_members if shape else [])
                           if shape.members[m].serialization.get("location") == "header"]
                path, _sep, query = http["requestUri"].partition("?")
                literal = [part for part in path.split("/") if part and not part.startswith("{")]
                pattern = re.sub(r"\\{[^}]+\\\+\\}", ".+", re.sub(r"\\{[^}+]+\\}", "[^/]+", re.escape(path)))
                wanted = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
                routes.append((http["method"], re.compile("^%s/?$" % pattern), wanted, headers, len(literal) * 2 + len(wanted) + len(headers), name))
            self._routes[service] = routes
        return self._routes[service]

    def action(self, service, method, path, query, headers):
        best = None
        for verb, pattern, wanted, required_headers, score, name in self.routes(service):
            if verb != method or not pattern.match(path) or any(h not in headers for h in required_headers):
                continue
            if any(key not in query or (value and query[key] != value) for key, value in wanted.items()):
                continue
            if best is None or score > best[0]:
                best = (score, name)
        return best[1] if best else "%s %s" % (method, path)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.calls = collections.Counter()  # (phase, service, action) -> requests that reached the local AWS
        self.faults = collections.Counter()  # (kind, service, action) -> faults answered instead
        self.mutations = []  # (phase, task, service, action) in order, for failure messages
        self.killed = None  # where the run was killed: {"phase", "task", "service", "action", "when"}
        self.requests = []  # every call that reached the local AWS: what tests/iam_calls.py needs to name its resource
        self.phase, self.task, self.module = "-", "-", "-"

    def snapshot(self):
        with self.lock:
            calls = [{"phase": p, "service": s, "action": a, "read": is_read(a), "count": n} for (p, s, a), n in sorted(self.calls.items())]
            faults = [{"kind": k, "service": s, "action": a, "count": n} for (k, s, a), n in sorted(self.faults.items())]
            return {"calls": calls, "faults": faults,
                    "mutations": [{"phase": p, "task": t, "service": s, "action": a} for p, t, s, a in self.mutations],
                    "killed": self.killed, "requests": list(self.requests)}


class Proxy:
    """The proxy server; ``start()`` serves it on a free loopback port in a thread, ``url`` is its endpoint."""

    def __init__(self, upstream, port=0, **config):
        self.upstream = urllib.parse.urlsplit(upstream)
        self.stats = Stats()
        self.matcher = RestMatcher()
        self.config = dict(DEFAULTS)
        self.random = random.Random()
        self.hidden = {}  # IAM entity name -> calls still answered NoSuchEntity
        self.sticky = {}  # amz-sdk-invocation-id -> the fault all its attempts get
        self.configure(**config)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # pylint: disable=arguments-differ
                pass

            def handle_any(self):
                proxy.handle(self)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = handle_any

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]

    def configure(self, **config):
        unknown = set(config) - set(DEFAULTS)
        if unknown:
            raise ValueError("unknown proxy settings: %s" % ", ".join(sorted(unknown)))
        with self.stats.lock:
            self.config.update(config)
            if "seed" in config:
                self.random.seed(config["seed"])
            self.hidden.clear()
            self.sticky.clear()
            self.stats.killed = None

    def start(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    # -- classification ---------------------------------------------------------------------------------------
    def classify(self, handler, body):
        scope = re.search(r"Credential=[^/]*/[^/]*/[^/]*/([^/]+)/", handler.headers.get("Authorization", ""))
        service = scope.group(1) if scope else "unsigned"
        split = urllib.parse.urlsplit(handler.path)
        query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        target = handler.headers.get("X-Amz-Target")
        content_type = handler.headers.get("Content-Type", "")
        if target:
            try:
                document = json.loads(body or b"{}")
            except ValueError:
                document = {}
            return service, target.rpartition(".")[2], "json", document if isinstance(document, dict) else {}
        cbor = re.match(r"^/service/[^/]+/operation/([^/]+)$", split.path)
        if cbor:
            return service, cbor.group(1), "cbor", {}
        if "x-www-form-urlencoded" in content_type or "Action" in query:
            form = dict(query)
            if handler.command == "POST":
                form.update(urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            if "Action" in form:
                return service, form["Action"], "ec2" if service == "ec2" else "query", form
        protocol = "rest-xml" if service in ("s3", "route53", "cloudfront") else "rest-json"
        action = self.matcher.action(service, handler.command, split.path, query, {k.lower() for k in handler.headers})
        return service, action, protocol, {"_method": handler.command, "_path": split.path, "_query": query, "_host": handler.headers.get("Host", "")}

    # -- faults -----------------------------------------------------------------------------------------------
    def choose_fault(self, handler, service, action, params):
        config = self.config
        invocation = handler.headers.get("amz-sdk-invocation-id")
        if not handler.headers.get("amz-sdk-request", "attempt=1").startswith("attempt=1"):
            return self.sticky.get(invocation)  # botocore's own retry of a judged call
        fault = self.draw(handler, service, action, params)
        if fault and invocation and self.stats.module.startswith(tuple(config["sticky_modules"])):
            self.sticky[invocation] = fault
        return fault

    def draw(self, handler, service, action, params):
        config = self.config
        if config["only_services"] and service not in config["only_services"]:
            return None
        if action in config["skip_actions"] or self.stats.phase in config["skip_phases"]:
            return None
        if service == "iam":
            for key in ("RoleName", "InstanceProfileName", "OpenIDConnectProviderArn"):
                name = params.get(key, "")
                for hidden, left in list(self.hidden.items()):
                    if left > 0 and name and (name == hidden or name.endswith("/" + hidden)) and action not in IAM_CREATES:
                        self.hidden[hidden] = left - 1
                        return "invisible"
        draw = self.random.random()
        for kind in ("throttle", "error", "plain_503", "slow"):
            if draw < config[kind]:
                return kind
            draw -= config[kind]
        return None

    def note_create(self, service, action, params):
        if service == "iam" and action in IAM_CREATES and self.random.random() < self.config["invisible"]:
            name = params.get(IAM_CREATES[action], "")
            self.hidden[re.sub(r"^https://", "", name)] = self.config["invisible_calls"]

    @staticmethod
    def fault_answer(kind, service, action, protocol):
        """(status, headers, body) of the fault in the call's protocol."""
        request_id = str(uuid.uuid4())
        if kind == "plain_503":
            return 503, {}, b""
        if kind == "invisible":
            code, message, status = "NoSuchEntity", "The role cannot be found (not yet visible).", 404
        elif kind == "throttle":
            status, message = 400, "Rate exceeded"
            code = {"json": "ThrottlingException", "rest-json": "ThrottlingException", "ec2": "RequestLimitExceeded"}.get(protocol, "Throttling")
            if service == "s3":
                status, code, message = 503, "SlowDown", "Please reduce your request rate."
            elif protocol == "rest-json":
                status = 429
        else:
            status, code, message = 500, "InternalFailure" if protocol in ("json", "rest-json") else "InternalError", "We encountered an internal error."
        if protocol in ("json", "rest-json"):
            body = json.dumps({"__type": code, "message": message}).encode()
            return status, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code, "x-amzn-RequestId": request_id}, body
        if protocol == "ec2":
            body = ("<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>"
                    % (code, message, request_id))
        elif service == "s3":
            body = "<Error><Code>%s</Code><Message>%s</Message><RequestId>%s</RequestId></Error>" % (code, message, request_id)
        else:
            body = ("<ErrorResponse><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>"
                    % ("Receiver" if status >= 500 else "Sender", code, message, request_id))
        return status, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body.encode()

    # -- serving ----------------------------------------------------------------------------------------------
    def handle(self, handler):
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        if handler.path.startswith(CONTROL):
            return self.control(handler, handler.path[len(CONTROL):], body)
        service, action, protocol, params = self.classify(handler, body)
        with self.stats.lock:
            fault = None if protocol == "cbor" else self.choose_fault(handler, service, action, params)
            if fault and fault != "slow":
                self.stats.faults[(fault, service, action)] += 1
            else:
                if fault:
                    self.stats.faults[(fault, service, action)] += 1
                self.stats.calls[(self.stats.phase, service, action)] += 1
                self.stats.requests.append({"phase": self.stats.phase, "task": self.stats.task, "service": service, "action": action,
                                            "region": region_of(handler), "params": compact(params)})
                kill = None
                if not is_read(action):
                    self.stats.mutations.append((self.stats.phase, self.stats.task, service, action))
                    kill = self.kill_due(service, action)
                self.note_create(service, action, params)
        if fault and fault != "slow":
            return self.reply(handler, *self.fault_answer(fault, service, action, protocol), head=handler.command == "HEAD")
        if fault == "slow":
            time.sleep(self.config["slow_seconds"])
        if kill == "request":
            return self.kill(handler)
        answer = self.forward(handler, body)
        if kill == "answer":
            return self.kill(handler)
        return self.reply(handler, *answer[:3], head=handler.command == "HEAD", length=answer[3])

    # -- killing the run --------------------------------------------------------------------------------------
    def kill_due(self, service, action):
        """"request" or "answer" when this mutating call (just counted, stats lock held) is where to kill the run."""
        config = self.config
        if not config["kill_pgid"] or not config["kill_at"] or self.stats.killed or config["kill_task"]:
            return None
        phase = self.stats.phase
        if config["kill_phase"] and phase != config["kill_phase"]:
            return None
        wanted = config["kill_action"]  # "Action" or "service:Action"
        if wanted and wanted not in (action, "%s:%s" % (service, action)):
            return None
        done = sum(1 for entry in self.stats.mutations if (not config["kill_phase"] or entry[0] == phase)
                   and (not wanted or wanted in (entry[3], "%s:%s" % (entry[2], entry[3]))))
        if done != config["kill_at"]:
            return None
        self.stats.killed = {"phase": phase, "task": self.stats.task, "service": service, "action": action, "when": config["kill_when"]}
        return config["kill_when"]

    def kill(self, handler=None):
        """SIGKILL the run's process group and every process descended from its leader (Ansible's workers and the
        modules they run have sessions of their own); the call's connection is closed without an answer."""
        leader = self.config["kill_pgid"]
        doomed = descendants(leader)
        for pid in [leader] + doomed:
            try:
                (os.killpg if pid == leader else os.kill)(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if handler is not None:
            handler.close_connection = True

    def kill_later(self, task):
        with self.stats.lock:
            if self.stats.killed:
                return
            self.stats.killed = {"phase": self.stats.phase, "task": task, "service": "-", "action": "-",
                                 "when": "%.1f s after the task started" % self.config["kill_delay"]}
        timer = threading.Timer(self.config["kill_delay"], self.kill)
        timer.daemon = True
        timer.start()

    def forward(self, handler, body):
        """(status, headers, body, content-length) of the local AWS's answer to the request."""
        conn = HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=300)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in ("connection", "transfer-encoding")}
            conn.request(handler.command, handler.path, body=body, headers=headers)
            answer = conn.getresponse()
            data = answer.read()
            headers = [(k, v) for k, v in answer.getheaders() if k.lower() not in ("connection", "transfer-encoding", "content-length")]
            return answer.status, headers, data, answer.getheader("Content-Length")
        finally:
            conn.close()

    @staticmethod
    def reply(handler, status, headers, body, head=False, length=None):
        handler.send_response(status)
        for key, value in (headers.items() if isinstance(headers, dict) else headers):
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(length if head and length is not None else len(body)))  # HEAD: no body
        handler.end_headers()
        if not head:
            handler.wfile.write(body)

    def control(self, handler, command, body):
        payload = json.loads(body or b"{}")
        status, answer = 200, {}
        if command == "stats":
            answer = self.stats.snapshot()
        elif command == "reset":
            with self.stats.lock:
                self.stats.reset()
        elif command == "phase":
            with self.stats.lock:
                self.stats.phase, self.stats.task = payload.get("phase") or "-", payload.get("task") or "-"
                self.stats.module = payload.get("module") or "-"
            task = payload.get("task") or ""
            if self.config["kill_pgid"] and self.config["kill_task"] and self.config["kill_task"] in (task, task.rpartition(" : ")[2]):
                self.kill_later(payload.get("task"))
        elif command == "config":
            try:
                self.configure(**payload)
                answer = self.config
            except ValueError as error:
                status, answer = 400, {"error": str(error)}
        else:
            status, answer = 404, {"error": "unknown control command %s" % command}
        self.reply(handler, status, {"Content-Type": "application/json"}, json.dumps(answer).encode())


def descendants(pid):
    """Process ids below ``pid`` (children, their children, ...), from /proc."""
    children = collections.defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as handle:
                    children[int(handle.read().rsplit(")", 1)[1].split()[1])].append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def summarize(snapshot):
    """{"reads": n, "writes": n, "by_phase": {phase: {"reads": n, "writes": n}}, "faults": n} of a stats snapshot."""
    totals = {"reads": 0, "writes": 0, "by_phase": {}, "faults": sum(f["count"] for f in snapshot["faults"])}
    for call in snapshot["calls"]:
        key = "reads" if call["read"] else "writes"
        totals[key] += call["count"]
        phase = totals["by_phase"].setdefault(call["phase"], {"reads": 0, "writes": 0})
        phase[key] += call["count"]
    return totals


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--upstream", required=True, help="the local AWS, e.g. http://127.0.0.1:5000")
    parser.add_argument("--port", type=int, default=0)
    for kind in ("throttle", "error", "plain_503", "slow", "invisible"):
        parser.add_argument("--" + kind.replace("_", "-"), type=float, default=0.0, help="share of calls (0..1)")
    args = parser.parse_args()
    proxy = Proxy(args.upstream, args.port, throttle=args.throttle, error=args.error, plain_503=args.plain_503,
                  slow=args.slow, invisible=args.invisible)
    print("AWS_ENDPOINT_URL=%s" % proxy.url, flush=True)
    try:
        proxy.server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
