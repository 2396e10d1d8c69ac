"""lgtm.aws.eks_lgtm against the local AWS: render-only values and plan that match the buckets and IRSA
roles that exist, bad settings and missing outputs that stop before any AWS call (all their problems at
once), and the Helm install where a cluster is given. The runs are the deployer's (``as_deployer``: an IAM user
holding only the deployer policy for their settings and cluster, moto enforcing IAM); the assertions read as the
administrator."""

import json
import os
import shutil
import socket

import pytest
import yaml

from conftest import REPO_ROOT
import eks_chart_keys  # tests/eks_chart_keys.py: values against the keys each chart version's templates read

pytestmark = pytest.mark.integration

LOCAL = os.path.join(REPO_ROOT, "inventories", "local")
SITE = os.path.join(REPO_ROOT, "site.yml")
EKS = os.path.join(REPO_ROOT, "playbooks", "eks.yml")
# inventories/local's names, as lgtm.aws.deployer_policy takes them. playbooks/eks.yml alone takes no run lock.
LOCAL_NAMES = {"name_prefix": "aws-rag", "environment": "local"}


def eks_deployer(as_deployer, cluster):
    """The deployer of playbooks/eks.yml alone: the eks capability for ``cluster``, no run lock."""
    as_deployer(eks_cluster_name=cluster, capabilities=["eks"], run_lock_name="", **LOCAL_NAMES)


def values_of(out, release, chart_set=""):
    with open(os.path.join(out, "eks", chart_set, release + ".values.yaml")) as handle:
        return yaml.safe_load(handle)


def test_values_point_at_the_buckets_and_roles_that_exist(run_playbook, aws_client, tmp_path, as_deployer):
    as_deployer(eks_cluster_name="aws-rag-local", capabilities=["storage", "identity", "eks"], **LOCAL_NAMES)
    # Tenancy on without a tenant of its own: the shared lgtm_tenant is the one sent. Both chart sets written:
    # the installed one (seed) under eks/, the other under eks/current/.
    tenancy = {"eks_lgtm_tenancy": {"enabled": True}, "lgtm_tenant": "acme-platform", "eks_lgtm_export_chart_sets": ["seed", "current"]}
    result = run_playbook(SITE, "--tags", "storage,identity,eks", "-e", "lgtm_output_dir=%s" % tmp_path, inventory=LOCAL, extra_vars=tenancy)
    assert result.rc == 0, result.stdout[-3000:]
    again = run_playbook(SITE, "--tags", "storage,identity,eks", "-e", "lgtm_output_dir=%s" % tmp_path, inventory=LOCAL, extra_vars=tenancy)
    assert again.rc == 0 and again.total("changed") == 0

    with open(tmp_path / "eks" / "plan.yaml") as handle:
        plan = yaml.safe_load(handle)
    assert [r["release"] for r in plan["releases"]] == ["loki", "mimir", "tempo", "otel-collector", "otel-operator", "grafana"]
    the_lab_files_match_the_plan(tmp_path / "eks", plan)
    buckets = {b["Name"] for b in aws_client("s3").list_buckets()["Buckets"]}
    loki, mimir, tempo = (values_of(tmp_path, r) for r in ("loki", "mimir", "tempo"))
    assert loki["loki"]["storage"]["bucketNames"]["chunks"] in buckets
    config = mimir["mimir"]["structuredConfig"]
    assert {config[k]["s3"]["bucket_name"] for k in ("blocks_storage", "alertmanager_storage", "ruler_storage")} <= buckets
    assert tempo["storage"]["trace"]["s3"]["bucket"] in buckets
    assert tempo["metricsGenerator"]["config"]["storage"]["remote_write"][0]["headers"] == {"X-Scope-OrgID": "acme-platform"}
    assert loki["loki"]["auth_enabled"] is True

    iam = aws_client("iam")
    for release, values in (("loki", loki), ("mimir", mimir), ("tempo", tempo)):
        arn = values["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"]
        trust = iam.get_role(RoleName=arn.split("/")[-1])["Role"]["AssumeRolePolicyDocument"]
        subjects = [v for s in trust["Statement"] for c in s["Condition"].values() for k, v in c.items() if k.endswith(":sub")]
        assert subjects == ["system:serviceaccount:%s:%s" % (plan["namespace"], values["serviceAccount"]["name"])], release
    assert not (tmp_path / "eks" / "grafana.values.yaml").read_text().count("adminPassword")

    # Every key of both sets' values is one the templates of that set's chart version read.
    for chart_set in ("", "current"):
        with open(tmp_path / "eks" / chart_set / "plan.yaml") as handle:
            set_plan = yaml.safe_load(handle)
        assert set_plan["chart_set"] == (chart_set or "seed")
        for release in set_plan["releases"]:
            values = values_of(tmp_path, release["release"], chart_set)
            facts = eks_chart_keys.facts(release["chart"], release["version"])
            assert eks_chart_keys.unread_keys(facts, values, eks_chart_keys.mode_of(release["release"], values)) == [], (chart_set, release["release"])
    assert dict((r["chart"], r["version"]) for r in set_plan["releases"])["loki"] == "18.11.0"
    assert not (tmp_path / "eks" / "seed").exists()


def test_a_chart_set_newer_than_the_cluster_stops_before_anything_is_written(run_playbook, aws_client, tmp_path, as_deployer):
    # A cluster on Kubernetes 1.31; the current set needs 1.32 (mimir-distributed 6.2).
    aws_client("eks").create_cluster(name="acme-k131", version="1.31", roleArn="arn:aws:iam::123456789012:role/eks",
                                     resourcesVpcConfig={"subnetIds": []})
    eks_deployer(as_deployer, "acme-k131")
    write_outputs(tmp_path)
    result = run_playbook(EKS, "-e", "lgtm_output_dir=%s" % tmp_path, inventory=LOCAL,
                          extra_vars={"eks_lgtm_chart_set": "current", "eks_lgtm_cluster_name": "acme-k131"})
    assert result.rc != 0
    messages = result.failed_messages()
    assert len(messages) == 1, messages
    assert "runs Kubernetes 1.31; nothing was written or changed." in messages[0], messages[0]
    assert "eks_lgtm_eks_version: Kubernetes 1.31 is older than chart set 'current' needs: 1.32 or newer" in messages[0], messages[0]
    assert not (tmp_path / "eks").exists()


def the_lab_files_match_the_plan(out, plan):
    """plan.yaml's helm commands, the Argo CD Applications, the Instrumentation and the dashboards, as written."""
    for release in plan["releases"]:
        words = release["helm"].split()
        assert words[:5] == ["helm", "upgrade", "--install", release["release"], "%s/%s" % (release["repo_name"], release["chart"])]
        assert words[words.index("-f") + 1] == release["values_file"] and (out / release["values_file"]).is_file()
        with open(out / "argocd" / ("%s.application.yaml" % release["release"])) as handle:
            app = yaml.safe_load(handle)
        assert app["kind"] == "Application" and app["spec"]["source"]["targetRevision"] == release["version"]
        assert app["spec"]["source"]["helm"]["valuesObject"] == values_of(out.parent, release["release"])
        assert app["spec"]["destination"]["namespace"] == release["namespace"]
    with open(out / "instrumentation.yaml") as handle:
        instrumentation = yaml.safe_load(handle)
    assert instrumentation["kind"] == "Instrumentation"
    collector = values_of(out.parent, "otel-collector")["config"]
    assert sorted(collector["service"]["pipelines"]["metrics/mesh"]["receivers"]) == ["prometheus/hubble", "prometheus/ztunnel"]
    assert instrumentation["spec"]["exporter"]["endpoint"].startswith("http://otel-collector-opentelemetry-collector.%s.svc:" % plan["namespace"])
    assert plan["commands"][-1] == "kubectl apply -f instrumentation.yaml"
    dashboards = sorted(path.name for path in (out / "dashboards").iterdir())
    # The example deployment (inventories/local) scrapes Hubble and ztunnel: the network dashboard is there too.
    assert dashboards == ["lgtm-lab-http.json", "lgtm-lab-logs.json", "lgtm-lab-network.json", "lgtm-lab-service-graph.json"]
    grafana = values_of(out.parent, "grafana")
    for name in dashboards:
        with open(out / "dashboards" / name) as handle:
            written = json.load(handle)
        assert json.loads(grafana["dashboards"]["lgtm-lab"][name[:-len(".json")]]["json"]) == written


def closed_port():
    """A loopback port nothing listens on: any AWS call made through it fails."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_outputs(out, components=("loki", "mimir", "tempo")):
    """Storage and identity outputs as an earlier run would have written them, for these components only."""
    keys = {"loki": ("loki",), "mimir": ("mimir_blocks", "mimir_alertmanager", "mimir_ruler"), "tempo": ("tempo",)}
    buckets = dict((k, {"name": "acme-prod-" + k.replace("_", "-")}) for c in components for k in keys[c])
    roles = dict((c, {"arn": "arn:aws:iam::123456789012:role/acme-prod-%s-irsa" % c, "service_account": c, "namespace": "monitoring"})
                 for c in components)
    out.mkdir(parents=True, exist_ok=True)
    (out / "storage.json").write_text(json.dumps({"buckets": buckets}))
    (out / "identity.json").write_text(json.dumps({"irsa_roles": roles}))


def run_eks_offline(run_playbook, out, extra_vars):
    """playbooks/eks.yml with its AWS endpoint on a closed port: it must fail on its own checks, not on AWS."""
    return run_playbook(EKS, "-e", "lgtm_output_dir=%s" % out, "-e", "lgtm_aws_endpoint_url=http://127.0.0.1:%d" % closed_port(),
                        inventory=LOCAL, extra_vars=extra_vars)


def test_every_bad_setting_is_reported_at_once_before_any_aws_call(run_playbook, tmp_path, as_deployer):
    eks_deployer(as_deployer, "aws-rag-local")
    write_outputs(tmp_path)
    result = run_eks_offline(run_playbook, tmp_path, {
        "eks_lgtm_replicas": {"loki": {"querier": 0}},
        "eks_lgtm_retention": {"logs": "36h"},
        "eks_lgtm_tenancy": {"enabled": True, "tenant": "acme platform"},
        "eks_lgtm_ingress": {"host": "grafana.example.com", "security_groups": ["default"]},
        "eks_lgtm_sampling": {"percentage": 120},
        "eks_lgtm_chart_set": "current",
        "eks_lgtm_eks_version": "1.31",
    })
    assert result.rc != 0
    messages = result.failed_messages()
    assert len(messages) == 1, messages
    for expected in ("eks_lgtm_replicas.loki.querier: must be a whole number of 1 or more (got 0)",
                     "eks_lgtm_retention.logs: must be a multiple of Loki's 24h index period (got 36h)",
                     "eks_lgtm_tenancy.tenant: must be 1-150 letters, digits and !._*'()- (got 'acme platform')",
                     "eks_lgtm_ingress.security_groups: 'default' is not a security group ID",
                     "eks_lgtm_sampling.percentage: must be a number between 0 and 100 (got 120)",
                     "eks_lgtm_eks_version: Kubernetes 1.31 is older than chart set 'current' needs: 1.32 or newer"):
        assert expected in messages[0], messages[0]
    # Reported by the variable check every role runs first (lgtm.aws.settings), which includes the role's value checks.
    assert messages[0].startswith("lgtm.aws.eks_lgtm: 6 problem(s) in the variables; nothing was changed."), messages[0]
    assert not (tmp_path / "eks").exists()


def test_every_missing_bucket_and_role_is_named_with_the_role_that_provides_it(run_playbook, tmp_path, as_deployer):
    eks_deployer(as_deployer, "aws-rag-local")
    write_outputs(tmp_path, components=("loki",))
    result = run_eks_offline(run_playbook, tmp_path, None)
    assert result.rc != 0
    messages = result.failed_messages()
    assert len(messages) == 1, messages
    lines = messages[0].splitlines()
    assert lines[0] == "lgtm.aws.eks_lgtm: 6 problem(s) with the storage and identity outputs; nothing was read or changed.", lines
    assert [line.split(":")[0] for line in lines[1:]] == ["- " + field for field in (
        "storage_outputs.buckets.mimir_blocks", "storage_outputs.buckets.mimir_alertmanager", "storage_outputs.buckets.mimir_ruler",
        "storage_outputs.buckets.tempo", "identity_outputs.irsa_roles.mimir", "identity_outputs.irsa_roles.tempo")]
    assert "when tempo is in storage_components (default: lgtm_components)" in lines[4]
    assert "when mimir is in identity_components (default: lgtm_components)" in lines[5]
    assert not (tmp_path / "eks").exists()


def test_missing_cluster_is_named(run_playbook, tmp_path, as_deployer):
    # The deployer may describe the cluster it is told to use; that it does not exist is the message, not AccessDenied.
    eks_deployer(as_deployer, "no-such-cluster")
    write_outputs(tmp_path)
    result = run_playbook(EKS, "-e", "lgtm_output_dir=%s" % tmp_path, inventory=LOCAL, extra_vars={"eks_lgtm_cluster_name": "no-such-cluster"})
    assert result.rc != 0
    assert any("EKS cluster 'no-such-cluster' does not exist" in m for m in result.failed_messages()), result.failed_messages()
    assert not (tmp_path / "eks").exists()


@pytest.mark.skipif(not os.environ.get("KUBECONFIG") or not shutil.which("helm"),
                    reason="installs the charts: needs a reachable Kubernetes cluster (KUBECONFIG) and the helm binary")
def test_install_on_a_real_cluster(run_playbook, tmp_path):
    result = run_playbook(SITE, "--tags", "storage,identity,eks", "-e", "lgtm_output_dir=%s" % tmp_path, inventory=LOCAL,
                          extra_vars={"eks_lgtm_install": True, "eks_lgtm_kubeconfig": os.environ["KUBECONFIG"]})
    assert result.rc == 0, result.stdout[-3000:]
