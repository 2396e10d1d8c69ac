"""`make run` in miniature: site.yml with inventories/local against a private local AWS, as the deployer (an IAM user
holding only the deployer policy for inventories/local, moto enforcing IAM: ``as_deployer``), as `make run` runs it;
the assertions read as the administrator."""

import json
import os
import subprocess

import pytest

from conftest import REPO_ROOT

pytestmark = pytest.mark.integration

# inventories/local's settings, as lgtm.aws.deployer_policy takes them (every capability; the VPC as any: the local
# fixtures make it).
DEPLOYER = {"name_prefix": "aws-rag", "environment": "local", "eks_cluster_name": "aws-rag-local"}


def podman_view(host):
    """What podman and the container itself say about a fleet host that Ansible could not reach."""
    def run(*argv):
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
        return "rc=%d %s" % (proc.returncode, (proc.stdout + proc.stderr).strip()[-300:])
    state = run("podman", "inspect", "-f", "{{.State.Status}} pid={{.State.Pid}} conmon={{.State.ConmonPid}}", host)
    return "%s: inspect %s; exec %s" % (host, state, run("podman", "exec", host, "true"))


def explain(result, out_dir):
    """What a failed run says: podman's view of unreachable hosts, the fleet summary, then the output's tail."""
    summary = out_dir / "alloy" / "fleet-summary.json"
    if not summary.exists():
        return "(no fleet summary)\n%s" % result.stdout[-2000:]
    fleet = json.loads(summary.read_text())
    unreachable = [podman_view(host) for host, report in sorted(fleet.items()) if report["status"] == "unreachable"]
    if unreachable:
        info = subprocess.run(["podman", "info", "--format", "podman {{.Version.Version}}, cgroups {{.Host.CgroupsVersion}} "
                               "{{.Host.CgroupManager}}, {{.Store.GraphDriverName}}, {{.Host.OCIRuntime.Name}}"],
                              capture_output=True, text=True, check=False, timeout=60)
        unreachable.insert(0, info.stdout.strip() + info.stderr.strip()[-200:])
    brief = {host: {"status": report["status"], "error": report.get("error", "")[:300]} for host, report in fleet.items()}
    return "%s\nfleet summary: %s\n%s" % ("\n".join(unreachable), json.dumps(brief, indent=1), result.stdout[-1500:])


def test_site_converges_then_changes_nothing(run_playbook, aws_client, tmp_path, as_deployer):
    as_deployer(**DEPLOYER)
    inventory = os.path.join(REPO_ROOT, "inventories", "local")
    # The Docker stack (tag docker) has its own scenario, molecule/docker_lgtm (converge, idempotence, one-service
    # restart, rejected configuration), on the same engine and images: running it here too would cost minutes of CI.
    args = ("-e", "lgtm_output_dir=%s" % tmp_path, "--skip-tags", "docker")
    first = run_playbook(os.path.join(REPO_ROOT, "site.yml"), *args, inventory=inventory)
    assert first.rc == 0, explain(first, tmp_path)
    assert first.total("changed") > 0
    second = run_playbook(os.path.join(REPO_ROOT, "site.yml"), *args, inventory=inventory)
    assert second.rc == 0, explain(second, tmp_path)
    assert second.total("changed") == 0

    outputs = {"storage": json.loads((tmp_path / "storage.json").read_text()), "identity": json.loads((tmp_path / "identity.json").read_text())}
    buckets = {b["Name"] for b in aws_client("s3").list_buckets()["Buckets"]}
    assert {b["name"] for b in outputs["storage"]["buckets"].values()} == buckets
    assert outputs["identity"]["irsa_roles"]["mimir"]["arn"].endswith(":role/aws-rag-local-mimir-irsa")
    cluster = aws_client("eks").describe_cluster(name="aws-rag-local")["cluster"]
    assert outputs["identity"]["oidc_issuer"] == cluster["identity"]["oidc"]["issuer"]

    # EKS: rendered only (no Kubernetes API here), for the cluster registered in the local AWS.
    plan = (tmp_path / "eks" / "plan.yaml").read_text()
    assert "cluster:\n  name: aws-rag-local" in plan
    assert sorted(p.name for p in (tmp_path / "eks").iterdir()) == [
        "argocd", "dashboards", "grafana.values.yaml", "instrumentation.yaml", "loki.values.yaml", "mimir.values.yaml",
        "otel-collector.values.yaml", "otel-operator.values.yaml", "plan.yaml", "tempo.values.yaml"]

    # The local fleet (podman systemd containers) runs Alloy: three agents and a collector.
    fleet = json.loads((tmp_path / "alloy" / "fleet-summary.json").read_text())
    assert sorted(fleet) == ["lgtm-alloy-1", "lgtm-alloy-2", "lgtm-alloy-3", "lgtm-alloy-collector-1"]
    assert {host["status"] for host in fleet.values()} == {"ok"}
    assert {host["service"] for host in fleet.values()} == {"active/enabled"}
    assert fleet["lgtm-alloy-collector-1"]["tenants"] == {"mimir": "aws-rag-cloudwatch", "loki": "aws-rag-rds"}


def test_site_check_mode_on_empty_account(run_playbook, aws_client, tmp_path, as_deployer):
    as_deployer(**DEPLOYER)
    inventory = os.path.join(REPO_ROOT, "inventories", "local")
    result = run_playbook(os.path.join(REPO_ROOT, "site.yml"), "--check", "-e", "lgtm_output_dir=%s" % tmp_path,
                          "--skip-tags", "docker", inventory=inventory)
    assert result.rc == 0, explain(result, tmp_path)
    assert result.total("changed") > 0, "check mode reports what it would do"
    assert not (tmp_path / "ecs").exists(), "check mode writes no ECS files (they are still checked with promtool/amtool)"
    # Only the local fixtures (what a real account already has) exist; nothing site.yml manages was created.
    assert aws_client("eks").list_clusters()["clusters"] == ["aws-rag-local"]
    assert aws_client("s3").list_buckets()["Buckets"] == []
    iam = aws_client("iam")
    assert [r["RoleName"] for r in iam.list_roles()["Roles"] if not r["RoleName"].endswith("-eks-cluster") and not r["Path"].startswith("/aws")] == []
    assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
