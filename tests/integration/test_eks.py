"""lgtm.aws.eks_lgtm against the local AWS: render-only values and plan that match the buckets and IRSA
roles that exist, bad specs that stop before any call, and the Helm install where a cluster is given."""

import json
import os
import shutil

import pytest
import yaml

from conftest import REPO_ROOT

pytestmark = pytest.mark.integration

LOCAL = os.path.join(REPO_ROOT, "inventories", "local")
SITE = os.path.join(REPO_ROOT, "site.yml")


def values_of(out, release):
    with open(os.path.join(out, "eks", release + ".values.yaml")) as handle:
        return yaml.safe_load(handle)


def test_values_point_at_the_buckets_and_roles_that_exist(run_playbook, aws_client, tmp_path):
    result = run_playbook(SITE, "--tags", "storage,identity,eks", "-e", "lgtm_output_dir=%s" % tmp_path, inventory=LOCAL)
    assert result.rc == 0, result.stdout[-3000:]
    again = run_playbook(SITE, "--tags", "storage,identity,eks", "-e", "lgtm_output_dir=%s" % tmp_path, inventory=LOCAL)
    assert again.rc == 0 and again.total("changed") == 0

    with open(tmp_path / "eks" / "plan.yaml") as handle:
        plan = yaml.safe_load(handle)
    assert [r["release"] for r in plan["releases"]] == ["loki", "mimir", "tempo", "otel-collector", "grafana"]
    buckets = {b["Name"] for b in aws_client("s3").list_buckets()["Buckets"]}
    loki, mimir, tempo = (values_of(tmp_path, r) for r in ("loki", "mimir", "tempo"))
    assert loki["loki"]["storage"]["bucketNames"]["chunks"] in buckets
    config = mimir["mimir"]["structuredConfig"]
    assert {config[k]["s3"]["bucket_name"] for k in ("blocks_storage", "alertmanager_storage", "ruler_storage")} <= buckets
    assert tempo["storage"]["trace"]["s3"]["bucket"] in buckets

    iam = aws_client("iam")
    for release, values in (("loki", loki), ("mimir", mimir), ("tempo", tempo)):
        arn = values["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"]
        trust = iam.get_role(RoleName=arn.split("/")[-1])["Role"]["AssumeRolePolicyDocument"]
        subjects = [v for s in trust["Statement"] for c in s["Condition"].values() for k, v in c.items() if k.endswith(":sub")]
        assert subjects == ["system:serviceaccount:%s:%s" % (plan["namespace"], values["serviceAccount"]["name"])], release
    assert not (tmp_path / "eks" / "grafana.values.yaml").read_text().count("adminPassword")


def test_bad_spec_fails_before_anything_is_written(run_playbook, tmp_path):
    result = run_playbook(SITE, "--tags", "eks", "-e", "lgtm_output_dir=%s" % tmp_path, inventory=LOCAL,
                          extra_vars={"eks_lgtm_replicas": {"loki": {"querier": 0}}, "eks_lgtm_outputs_file": str(write_outputs(tmp_path))})
    assert result.rc != 0
    assert any("replicas.loki.querier: must be a whole number of 1 or more" in m for m in result.failed_messages()), result.failed_messages()
    assert not (tmp_path / "eks").exists()


def test_missing_cluster_is_named(run_playbook, tmp_path):
    result = run_playbook(SITE, "--tags", "eks", "-e", "lgtm_output_dir=%s" % tmp_path, inventory=LOCAL,
                          extra_vars={"eks_lgtm_cluster_name": "no-such-cluster"})
    assert result.rc != 0
    assert any("EKS cluster 'no-such-cluster' does not exist" in m for m in result.failed_messages()), result.failed_messages()
    assert not (tmp_path / "eks").exists()


def write_outputs(tmp_path):
    """Storage and identity outputs as an earlier run would have written them."""
    roles = dict((c, {"arn": "arn:aws:iam::123456789012:role/aws-rag-local-%s-irsa" % c, "service_account": c, "namespace": "monitoring"})
                 for c in ("loki", "mimir", "tempo"))
    buckets = dict((k, {"name": "aws-rag-local-" + k.replace("_", "-")}) for k in ("loki", "mimir_blocks", "mimir_alertmanager", "mimir_ruler", "tempo"))
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"storage": {"buckets": buckets}, "identity": {"irsa_roles": roles}}))
    return path


@pytest.mark.skipif(not os.environ.get("KUBECONFIG") or not shutil.which("helm"),
                    reason="installs the charts: needs a reachable Kubernetes cluster (KUBECONFIG) and the helm binary")
def test_install_on_a_real_cluster(run_playbook, tmp_path):
    result = run_playbook(SITE, "--tags", "storage,identity,eks", "-e", "lgtm_output_dir=%s" % tmp_path, inventory=LOCAL,
                          extra_vars={"eks_lgtm_install": True, "eks_lgtm_kubeconfig": os.environ["KUBECONFIG"]})
    assert result.rc == 0, result.stdout[-3000:]
