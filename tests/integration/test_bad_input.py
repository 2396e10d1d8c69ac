"""Bad input is rejected before any AWS call, every error of an input at once, in the user's own variable names.

Each case is one inventory host carrying one input (often with several errors); one ansible-playbook run per
role applies the role to all of them at once. AWS is a recording HTTP server: the test fails if any request
reaches it, so "before any AWS call" is observed, not assumed. Alloy hosts are unreachable on purpose: a case
that passed validation would fail as unreachable instead of with its message. The run is the deployer's (its keys
and only the deployer policy for the default names, ``as_deployer``): the messages are the same as an
administrator's, not a credential or AccessDenied error.
"""

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from conftest import BIN_DIR

pytestmark = pytest.mark.integration

SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:acme/grafana-AbCdEf"
ECS_OK = {
    "services": [{"name": "payments", "port": 8080, "metrics_path": "/actuator/prometheus"}],
    "allowed_cidrs": ["198.51.100.0/24"],
    "certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100",
    "network": {"vpc_id": "vpc-0123456789abcdef0", "private_subnets": ["subnet-0123456789abcdef0"],
                "public_subnets": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]},
    "dns": {"zone": "acme.example"},
    "grafana": {"admin_secret_arn": SECRET},
    "slack": {"webhook_secret_arn": SECRET.replace("grafana", "slack")},
}


def ecs(**changes):
    spec = json.loads(json.dumps(ECS_OK))
    for path, value in changes.items():
        node, keys = spec, path.split("__")
        for key in keys[:-1]:
            node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
        node[keys[-1]] = value
    return {"ecs_monitoring_spec": spec}


# (role, host variables, the problems the one failure must name: each a substring of one line)
CASES = [
    ("storage", {"storage_retension_days": {"traces": 14}, "lgtm_enviroment": "prod"},
     ["storage_retension_days: is not a variable of lgtm.aws.storage (did you mean storage_retention_days?)",
      "lgtm_enviroment: is not a variable of the shared settings (did you mean lgtm_environment?)"]),
    ("storage", {"storage_retention_days": {"trace": 3, "logs": "a year"}},
     ["storage_retention_days.trace: unknown key (did you mean traces?)", "storage_retention_days.logs: must be of type int"]),
    ("storage", {"storage_encryption": "kms", "storage_components": ["loki", "mimirr"], "storage_state": "gone"},
     ["storage_encryption: must be one of AES256, aws:kms", "storage_components: every element must be one of loki, mimir, tempo",
      "storage_state: must be one of present, absent"]),
    ("storage", {"lgtm_region": ""}, ["lgtm_region: is required"]),
    ("storage", {"lgtm_name_prefix": "Acme_Co", "storage_kms_key_id": "alias/acme", "storage_bucket_names": {"lokki": "x-logs"}},
     ["storage_name_prefix 'Acme_Co' must be lowercase", "storage_kms_key_id is set but encryption is 'AES256'",
      "storage_bucket_names: unknown bucket key 'lokki'"]),
    ("storage", {"storage_versioning": "sometimes", "storage_noncurrent_version_days": 0},
     ["storage_versioning: must be of type bool (got str 'sometimes')", "storage_noncurrent_version_days must be a whole number"]),
    ("identity", {"identity_ecs_enable": True, "identity_irsa_namespaces": "monitoring"},
     ["identity_ecs_enable: is not a variable of lgtm.aws.identity (did you mean identity_ecs_enabled?)",
      "identity_irsa_namespaces: is not a variable of lgtm.aws.identity (did you mean identity_irsa_namespace?)"]),
    ("identity", {"identity_components": ["loki", "prometheus"], "identity_state": "deleted"},
     ["identity_components: every element must be one of", "identity_state: must be one of present, absent"]),
    ("eks_lgtm", {"eks_lgtm_volume_sise": "20Gi", "eks_lgtm_tenancy": {"enabled": True, "tenantt": "x"}},
     ["eks_lgtm_volume_sise: is not a variable of lgtm.aws.eks_lgtm (did you mean eks_lgtm_volume_size?)",
      "eks_lgtm_tenancy.tenantt: unknown key (did you mean tenant?)"]),
    ("eks_lgtm", {"eks_lgtm_components": ["loki", "prometheus"], "eks_lgtm_install": "perhaps"},
     ["eks_lgtm_components: every element must be one of", "eks_lgtm_install: must be of type bool"]),
    ("eks_lgtm", {"eks_lgtm_ingress": {"scheme": "public", "host": "grafana.acme.example"}, "eks_lgtm_replication_factor": "two",
                  "eks_lgtm_volume_size": "lots", "eks_lgtm_retention": {"traces": "1h"}},
     ["eks_lgtm_ingress.scheme: must be one of internal, internet-facing", "eks_lgtm_replication_factor: must be of type int",
      "eks_lgtm_volume_size", "eks_lgtm_retention.traces"]),
    ("eks_lgtm", {"lgtm_eks_cluster_name": "acme-prod", "eks_lgtm_retention": {"logs": "1y"}, "eks_lgtm_namespace": "Monitoring_NS",
                  "eks_lgtm_sampling": {"percentage": 150}},
     ["eks_lgtm_retention.logs", "eks_lgtm_namespace", "eks_lgtm_sampling.percentage"]),
    ("ecs_monitoring", dict(ecs(), ecs_monitoring_manage_aw=True, ecs_monitoring_require_tools="maybe"),
     ["ecs_monitoring_manage_aw: is not a variable of lgtm.aws.ecs_monitoring (did you mean ecs_monitoring_manage_aws?)",
      "ecs_monitoring_require_tools: must be of type bool"]),
    ("ecs_monitoring", ecs(servics=[{"name": "x"}], grafana={"admin_secret_arn": SECRET, "oauth": {"providr": "cognito"}}),
     ["ecs_monitoring_spec.servics: unknown key (did you mean services?)", "ecs_monitoring_spec.grafana.oauth.providr: unknown key"]),
    ("ecs_monitoring", ecs(retention="15 days", scrape_interval="often", thresholds={"cpu_percent": "high"}),
     ["ecs_monitoring_spec.retention", "ecs_monitoring_spec.scrape_interval", "ecs_monitoring_spec.thresholds.cpu_percent"]),
    ("ecs_monitoring", ecs(services__0__port=70000, tasks={"grafana": {"cpu": 300, "memory": 1024}}, log_retention_days=8),
     ["ecs_monitoring_spec.services[0].port", "ecs_monitoring_spec.tasks.grafana.cpu", "ecs_monitoring_spec.log_retention_days"]),
    ("ecs_monitoring", ecs(allowed_cidrs=["198.51.100.0/33"], certificate_arn="arn:aws:acm:eu-west-1:1:cert/x", dns={"zone": "not a zone"},
                           slack={"routes": {"info": "#info"}, "webhook_secret_arn": "slack"}),
     ["ecs_monitoring_spec.allowed_cidrs", "ecs_monitoring_spec.certificate_arn", "ecs_monitoring_spec.dns.zone",
      "ecs_monitoring_spec.slack.routes", "ecs_monitoring_spec.slack.webhook_secret_arn"]),
    ("alloy", {"alloy_tennant": "acme", "alloy_mode": "sidecar", "alloy_install_method": "curl"},
     ["alloy_tennant: is not a variable of lgtm.aws.alloy (did you mean alloy_tenant?)", "alloy_mode: must be one of agent, collector",
      "alloy_install_method: must be one of"]),
    ("alloy", {"alloy_pipelines": {"journall": {"enabled": False}, "host_metrics": {"scrape_interval": "often"}}},
     ["alloy_pipelines: unknown key journall (did you mean journal?)", "alloy_pipelines.host_metrics.scrape_interval: must be a duration"]),
    ("alloy", {"alloy_mimir_url": "ftp://mimir.acme.example/push", "alloy_labels": {"__team": "payments"}},
     ["alloy_mimir_url: must be an URL", "alloy_labels.__team: is not a valid label name"]),
    ("alloy", {"alloy_mode": "collector", "alloy_collector_region": "", "alloy_mimir_url": "https://mimir.acme.example/api/v1/push"},
     ["alloy_collector_region: is required"]),
    ("docker_lgtm", {"docker_lgtm_services": {"grafna": {"enabled": True}, "loki": {"image": "Grafana/Loki latest"}},
                     "docker_lgtm_proxy": {"http_port": 8443, "https_port": 8443}, "docker_lgtm_domain": "not a domain",
                     "docker_lgtm_tls": {"mode": "files", "cert_file": "/nonexistent/cert.pem", "key_file": "/nonexistent/key.pem"}},
     ["docker_lgtm_services.grafna: unknown key (did you mean grafana?)", "docker_lgtm_services.loki.image: must be an image reference",
      "docker_lgtm_proxy.https_port: port 8443 is already used by http_port", "docker_lgtm_domain: must be a DNS domain",
      "docker_lgtm_tls.cert_file: file /nonexistent/cert.pem does not exist", "docker_lgtm_tls.key_file: file /nonexistent/key.pem does not exist"]),
    ("docker_lgtm", {"docker_lgtm_domian": "x", "docker_lgtm_tenants": [], "docker_lgtm_storage": {"mimir": {"backend": "s3"}},
                     "docker_lgtm_services": {"keycloak": {"enabled": False}}},
     ["docker_lgtm_domian: is not a variable of lgtm.aws.docker_lgtm (did you mean docker_lgtm_domain?)",
      "docker_lgtm_tenants: must list at least one tenant", "docker_lgtm_storage.mimir.buckets.blocks: no bucket",
      "docker_lgtm_grafana.login_form: must be true when services.keycloak is disabled"]),
]


class _Recorder(BaseHTTPRequestHandler):
    calls = []

    def _record(self):
        _Recorder.calls.append("%s %s" % (self.command, self.path))
        self.send_response(500)
        self.end_headers()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _record

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def aws_recorder():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()


def _inventory(tmp_path, endpoint):
    hosts = {}
    for index, (role, variables, _problems) in enumerate(CASES):
        host = dict(variables, case_role=role, lgtm_aws_endpoint_url=endpoint)
        host.setdefault("lgtm_region", "eu-west-1")
        if role in ("alloy", "docker_lgtm"):  # never reached: a case that passed would fail as unreachable
            host.update(ansible_connection="ssh", ansible_host="127.0.0.1", ansible_port=1)
        else:
            host.update(ansible_connection="local", ansible_python_interpreter=sys.executable)
        hosts["case-%02d-%s" % (index, role)] = host
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    return path


PLAYBOOK = """
- hosts: all
  gather_facts: false
  module_defaults:
    group/lgtm.aws.aws:
      endpoint_url: "{{ lgtm_aws_endpoint_url }}"
      region: eu-west-1
  tasks:
    - name: The role under test
      ansible.builtin.include_role:
        name: "lgtm.aws.{{ case_role }}"
"""


def test_every_bad_input_fails_before_any_aws_call_naming_all_its_problems(tmp_path, aws_recorder, aws_env, as_deployer):
    # The deployer of the default settings (lgtm_name_prefix lgtm, lgtm_environment dev) in the cases' region.
    as_deployer(name_prefix="lgtm", environment="dev", region="eu-west-1", eks_cluster_name="lgtm-dev")
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    env = dict(aws_env, AWS_ENDPOINT_URL=aws_recorder, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
               ANSIBLE_OUTPUT_DIR=str(tmp_path))
    proc = subprocess.run([os.path.join(BIN_DIR, "ansible-playbook"), "-i", str(_inventory(tmp_path, aws_recorder)), "play.yml"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False)
    report = json.loads(proc.stdout[proc.stdout.index("{"):])
    failures = {}
    for play in report["plays"]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                if result.get("failed") or result.get("unreachable"):
                    failures.setdefault(host, result.get("msg", ""))
    assert _Recorder.calls == [], "AWS was called before the input was rejected: %s" % _Recorder.calls
    kinds = 0
    for index, (role, _variables, problems) in enumerate(CASES):
        host = "case-%02d-%s" % (index, role)
        message = failures.get(host)
        assert message, "%s was not rejected\n%s" % (host, proc.stderr[-2000:])
        missing = [p for p in problems if p not in message]
        assert not missing, "%s: the one failure does not name %s:\n%s" % (host, missing, message)
        kinds += len(problems)
    assert kinds >= 40, kinds
    assert not (tmp_path / "out").exists(), "a rejected input wrote outputs"


CHECK_EVERY_ROLE = """
- hosts: aws_control
  gather_facts: false
  tasks:
    - name: Each role's variable check, as the role would run it first
      ansible.builtin.include_role:
        name: lgtm.aws.settings
      vars:
        settings_role: "{{ item }}"
      loop: [storage, identity, eks_lgtm, ecs_monitoring, alloy, docker_lgtm]
"""


def test_the_example_inventory_passes_every_roles_check(tmp_path, aws_env):
    """The real-account template holds only variables the roles know, of the documented types (and the same run
    with one misspelled variable fails, so the check is really applied)."""
    (tmp_path / "play.yml").write_text(CHECK_EVERY_ROLE)
    (tmp_path / "vault-password").write_text("example-only-do-not-use\n")
    example = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "inventories", "example")

    def run(*extra):
        return subprocess.run([os.path.join(BIN_DIR, "ansible-playbook"), "-i", os.path.join(example, "hosts.yml"),
                               "--vault-password-file", str(tmp_path / "vault-password"), "play.yml"] + list(extra),
                              cwd=tmp_path, env=aws_env, capture_output=True, text=True, timeout=300, check=False)

    proc = run()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert proc.stdout.count("ok: [localhost] => (item=") + proc.stdout.count("ok: [localhost]") >= 6, proc.stdout[-2000:]
    proc = run("-e", "ecs_monitoring_manage_aw=false")
    assert proc.returncode != 0
    assert "ecs_monitoring_manage_aw: is not a variable of lgtm.aws.ecs_monitoring" in proc.stdout + proc.stderr
