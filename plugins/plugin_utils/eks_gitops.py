# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The install plan as commands and as Argo CD Applications, so the same releases install without Ansible.

``plan(spec)`` is ``eks_values.plan(spec)`` with the lab's releases (eks_lab.releases), the chart
repositories (``helm repo add`` lines) and, per release, its ``helm upgrade --install`` command (run from the
directory the values files are written to). ``applications(spec, values)`` are the Argo CD ``Application``
manifests of the same releases, values inline, in install order by sync wave.
"""

from urllib.parse import urlsplit

from ansible_collections.lgtm.aws.plugins.plugin_utils import eks_lab, eks_values


def repo_name(url):
    """The local name of a chart repository: its host with dots as dashes (what the role's install adds)."""
    return urlsplit(url).hostname.replace(".", "-")


def helm_command(entry):
    return "helm upgrade --install %s %s/%s --version %s --namespace %s --create-namespace -f %s" % (
        entry["release"], repo_name(entry["repository"]), entry["chart"], entry["version"], entry["namespace"], entry["values_file"])


def plan(spec):
    base = eks_values.plan(spec)
    releases = []
    for entry in eks_lab.releases(spec, base):
        entry = dict(entry, repo_name=repo_name(entry["repository"]))
        entry["helm"] = helm_command(entry)
        releases.append(entry)
    repositories = []
    for url in sorted(set(entry["repository"] for entry in releases)):
        repositories.append({"name": repo_name(url), "url": url, "helm": "helm repo add %s %s" % (repo_name(url), url)})
    out = dict(base, releases=releases, repositories=repositories)
    out["commands"] = ([r["helm"] for r in repositories] + ["helm repo update"] + [r["helm"] for r in releases])
    manifests = eks_lab.manifests(spec)
    if manifests:
        # Objects the role applies itself once the releases are up (the operator's CRDs first).
        out["manifests"] = sorted(manifests)
        out["commands"] += ["kubectl apply -f %s" % name for name in sorted(manifests)]
        # What a workload's pod template carries to be instrumented, per language.
        out["instrumentation"] = dict((language, {annotation: value}) for language, (annotation, value) in eks_lab.annotations(spec).items())
    return out


def application(spec, entry, values):
    argocd = spec["argocd"]
    sync = {"syncOptions": ["CreateNamespace=true", "ServerSideApply=true"]}
    if argocd["automated"]:
        sync["automated"] = {"prune": True, "selfHeal": True}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": entry["release"],
            "namespace": argocd["namespace"],
            # Within an app of apps, lower waves are synced (and healthy) first: backends, collector, Grafana.
            "annotations": {"argocd.argoproj.io/sync-wave": str(entry["order"])},
            "labels": {"app.kubernetes.io/part-of": "lgtm", "app.kubernetes.io/managed-by": "lgtm.aws.eks_lgtm"},
            # Deleting the Application deletes the release's objects (the S3 buckets and their data stay).
            "finalizers": ["resources-finalizer.argocd.argoproj.io"],
        },
        "spec": {
            "project": argocd["project"],
            "source": {"repoURL": entry["repository"], "chart": entry["chart"], "targetRevision": entry["version"],
                       "helm": {"releaseName": entry["release"], "valuesObject": values}},
            "destination": {"server": argocd["server"], "namespace": entry["namespace"]},
            "syncPolicy": sync,
        },
    }


def applications(spec, values):
    """``{file name: Application}`` for every release of the plan, with the release's values inline."""
    return dict(("%s.application.yaml" % entry["release"], application(spec, entry, values[entry["release"]]))
                for entry in plan(spec)["releases"])
