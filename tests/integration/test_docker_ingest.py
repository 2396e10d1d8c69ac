"""The local fleet's Alloy agents write to the Docker stack (inventories/local): the rendered config.alloy of a fleet
host names the stack's ingest URLs, tenants and CA, and from a container on podman's network (where the fleet
lives) the ingest host answers through the proxy - only the push paths, only with a tenant of the stack - and the
stand-in backends receive the writes.

The stack is the example deployment's own settings (inventories/local: domain, tenants, TLS from Caddy's CA) with
this test's container prefix, network, ports and directories, and only the services the route needs."""

import json
import os
import shutil
import subprocess
import textwrap

import pytest

from conftest import BIN_DIR, REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PREFIX = f"lgtm-ingest-{os.getpid()}"
INVENTORY = os.path.join(REPO_ROOT, "inventories", "local")
# podman's default network: its gateway is this machine's address for the fleet (inventories/local).
PODMAN_GATEWAY = "10.88.0.1"
FLEET_IMAGE = "localhost/lgtm-debian-systemd:bookworm-v2"
AGENT, COLLECTOR = "lgtm-alloy-1", "lgtm-alloy-collector-1"


def playbook(*args, extra_vars=None, tmp=None):
    cmd = [os.path.join(BIN_DIR, "ansible-playbook"), *args]
    if extra_vars is not None:
        path = tmp / f"vars-{len(list(tmp.glob('vars-*')))}.json"
        path.write_text(json.dumps(extra_vars))
        cmd += ["-e", f"@{path}"]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return proc


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def stack(local_docker, tmp_path_factory):  # noqa: F811
    if not shutil.which("podman") or subprocess.run(["ip", "-4", "addr", "show", "to", PODMAN_GATEWAY], capture_output=True,
                                                    text=True, check=False).stdout.strip() == "":
        pytest.skip("needs podman's default network (%s on this machine)" % PODMAN_GATEWAY)
    tmp = tmp_path_factory.mktemp("docker-ingest")
    out = tmp / "out"
    https_port = free_port()
    services = dict((name, {"enabled": False}) for name in (
        "prometheus", "alertmanager", "pushgateway", "node_exporter", "cadvisor", "memcached", "keycloak", "alloy"))
    overrides = {
        "lgtm_output_dir": str(out),
        "docker_lgtm_container_prefix": PREFIX, "docker_lgtm_network": PREFIX,
        "docker_lgtm_config_dir": str(tmp / "config"), "docker_lgtm_backup_dir": str(tmp / "backup"),
        "docker_lgtm_proxy": {"bind_address": "127.0.0.1", "extra_bind_addresses": [PODMAN_GATEWAY],
                              "http_port": free_port(), "https_port": https_port},
        "docker_lgtm_services": services, "docker_lgtm_grafana": {"login_form": True},
    }
    try:
        playbook("-i", INVENTORY, "--limit", "localhost", "playbooks/docker.yml", extra_vars=overrides, tmp=tmp)
        with open(out / "docker" / "localhost" / "ingest.json") as f:
            ingest = json.load(f)
        yield {"tmp": tmp, "out": out, "port": https_port, "ingest": ingest, "overrides": overrides}
    finally:
        names = local_docker.docker("ps", "-aq", "--filter", f"name=^{PREFIX}-", check=False).stdout.split()
        if names:
            local_docker.docker("rm", "-f", *names, check=False)
        local_docker.docker("network", "rm", PREFIX, check=False)
        volumes = local_docker.docker("volume", "ls", "-q", "--filter", f"name=^{PREFIX}-", check=False).stdout.split()
        if volumes:
            local_docker.docker("volume", "rm", *volumes, check=False)


@pytest.fixture(scope="module")
def rendered(stack):
    """config.alloy of an agent and of the collector of inventories/local, rendered on the controller (no host is
    contacted), with the CA this test's stack wrote."""
    tmp = stack["tmp"]
    play = tmp / "render.yml"
    play.write_text(textwrap.dedent(f"""\
        - hosts: {AGENT}:{COLLECTOR}
          gather_facts: false
          tasks:
            - ansible.builtin.include_role:
                name: lgtm.aws.alloy
                tasks_from: render
            - ansible.builtin.copy:
                content: "{{{{ alloy_rendered.config }}}}"
                dest: "{tmp}/{{{{ inventory_hostname }}}}.alloy"
                mode: "0644"
              delegate_to: localhost
        """))
    playbook("-i", INVENTORY, str(play), extra_vars={"lgtm_output_dir": str(stack["out"]), "ansible_connection": "local"}, tmp=tmp)
    return {host: (tmp / f"{host}.alloy").read_text() for host in (AGENT, COLLECTOR)}


def test_the_role_writes_the_ingest_endpoints_and_the_ca_for_agents(stack):
    ingest = stack["ingest"]
    base = f"https://ingest.aws-rag.local:{stack['port']}"
    assert ingest["mimir_remote_write_url"] == base + "/api/v1/push"
    assert ingest["loki_push_url"] == base + "/loki/api/v1/push"
    assert ingest["tempo_otlp_grpc_endpoint"] == f"ingest.aws-rag.local:{stack['port']}"
    assert ingest["tenants"] == ["aws-rag-ec2", "aws-rag-cloudwatch", "aws-rag-rds"] and ingest["tenant_header"] == "X-Scope-OrgID"
    with open(ingest["ca_file"]) as f:
        assert f.read().startswith("-----BEGIN CERTIFICATE-----")
    # Published on loopback and podman's bridge only: never a public address.
    ports = json.loads(subprocess.run(["docker", "inspect", "-f", "{{json .HostConfig.PortBindings}}", f"{PREFIX}-proxy"],
                                      capture_output=True, text=True, check=True).stdout)
    assert {b["HostIp"] for bindings in ports.values() for b in bindings} == {"127.0.0.1", PODMAN_GATEWAY}


def test_fleet_config_names_the_ingest_urls_tenants_and_the_stacks_ca(stack, rendered):
    with open(stack["ingest"]["ca_file"]) as f:
        ca = f.read().strip()
    url = "https://ingest.aws-rag.local:18443"  # inventories/local's ports (this test's stack has its own)
    agent, collector = rendered[AGENT], rendered[COLLECTOR]
    assert f'url     = "{url}/api/v1/push"' in agent and f'url       = "{url}/loki/api/v1/push"' in agent
    assert 'endpoint = "ingest.aws-rag.local:18443"' in agent
    assert '"X-Scope-OrgID" = "aws-rag-ec2"' in agent and 'tenant_id = "aws-rag-ec2"' in agent
    assert ca.splitlines()[1] in agent, "the CA the stack wrote is in the agent's configuration"
    assert f'url     = "{url}/api/v1/push"' in collector
    assert '"X-Scope-OrgID" = "aws-rag-cloudwatch"' in collector and 'tenant_id = "aws-rag-rds"' in collector
    assert "mimir-gateway.monitoring.local" not in agent + collector


PROBE = r"""
import json, ssl, sys, urllib.request
base, tenants = sys.argv[1], sys.argv[2:]
context = ssl.create_default_context(cafile="/ca.pem")
out = {}
def call(path, tenant):
    headers = {"Content-Type": "application/x-protobuf"}
    if tenant:
        headers["X-Scope-OrgID"] = tenant
    request = urllib.request.Request(base + path, data=b"x", headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
for path in ("/api/v1/push", "/otlp/v1/metrics", "/loki/api/v1/push", "/v1/traces", "/prometheus/api/v1/query",
             "/loki/api/v1/query_range", "/api/v1/status/config"):
    out[path] = call(path, tenants[0])
out["no tenant"] = call("/api/v1/push", None)
out["other tenant"] = call("/loki/api/v1/push", "someone-else")
print(json.dumps(out))
"""


def test_from_a_fleet_container_only_the_push_paths_answer_and_only_with_a_tenant(local_docker, stack):  # noqa: F811
    if subprocess.run(["podman", "image", "exists", FLEET_IMAGE], check=False).returncode != 0:
        pytest.skip("needs the local fleet's image (scripts/local-fleet image)")
    tmp = stack["tmp"]
    (tmp / "probe.py").write_text(PROBE)
    os.chmod(tmp, 0o755)
    base = f"https://ingest.aws-rag.local:{stack['port']}"
    proc = subprocess.run(
        ["podman", "run", "--rm", "--name", f"{PREFIX}-probe", "--add-host", f"ingest.aws-rag.local:{PODMAN_GATEWAY}",
         "-v", f"{stack['ingest']['ca_file']}:/ca.pem:ro", "-v", f"{tmp}/probe.py:/probe.py:ro", FLEET_IMAGE,
         "python3", "/probe.py", base, "aws-rag-ec2"], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    # The stand-ins answer a push with 204; everything but the push paths is 404; no tenant of the stack, 403.
    assert status == {"/api/v1/push": 204, "/otlp/v1/metrics": 204, "/loki/api/v1/push": 204, "/v1/traces": 204,
                      "/prometheus/api/v1/query": 404, "/loki/api/v1/query_range": 404, "/api/v1/status/config": 404,
                      "no tenant": 403, "other tenant": 403}
    requests = {name: local_docker.standin_state(f"{PREFIX}-{name}")["requests"] for name in ("mimir", "loki", "tempo")}
    assert requests["mimir"].get("POST /api/v1/push") == 1 and requests["mimir"].get("POST /otlp/v1/metrics") == 1
    assert requests["loki"].get("POST /loki/api/v1/push") == 1 and requests["tempo"].get("POST /v1/traces") == 1
