# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's settings of an LGTM-on-EKS spec: auto-instrumentation, optional mesh scrapes, dashboards, Argo CD.

``DEFAULTS`` are merged into ``eks_values.DEFAULTS`` (one spec, one validation); ``check(spec, components,
problems)`` adds the problems of these fields. Rendering lives in ``eks_lab`` and ``eks_gitops``.
"""

import re

from ansible_collections.lgtm.aws.plugins.plugin_utils.spec_checks import unknown_key_problems

# Languages the OpenTelemetry Operator injects by annotation (instrumentation.opentelemetry.io/inject-<language>).
# go is off in the operator by default (eBPF, a privileged sidecar): listing it turns the operator's switch on.
LANGUAGES = ("java", "nodejs", "python", "dotnet", "go")
# Propagators the operator accepts in Instrumentation.spec.propagators.
PROPAGATORS = ("tracecontext", "baggage", "b3", "b3multi", "jaeger", "xray", "ottrace", "none")
# Samplers the operator accepts in Instrumentation.spec.sampler.type (OTEL_TRACES_SAMPLER values).
SAMPLERS = ("always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off",
            "parentbased_traceidratio", "jaeger_remote", "xray")
OPERATOR_VERSION = "0.104.0"
K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
VERSION = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$")
URL = re.compile(r"^https://[^\s/]+(/\S*)?$")

DEFAULTS = {
    # Applications send every span (parentbased_always_on): the collector's tail sampling decides what is kept.
    "instrumentation": {"enabled": True, "name": "lgtm", "languages": ["java", "nodejs", "python", "dotnet"],
                        "propagators": ["tracecontext", "baggage"], "sampler": "parentbased_always_on", "sampler_argument": "1",
                        "operator_version": OPERATOR_VERSION, "cert_manager": False},
    # Scrape Cilium's Hubble and Istio's ztunnel metrics (only where the cluster runs them).
    "scrape": {"hubble": False, "ztunnel": False, "interval": "30s"},
    "dashboards": True,
    "argocd": {"namespace": "argocd", "project": "default", "server": "https://kubernetes.default.svc", "automated": True},
}
DURATION = re.compile(r"^[0-9]+(s|m)$")


def _keys(problems, value, allowed, field):
    if not isinstance(value, dict):
        problems.add(field, "must be a mapping, got %s" % type(value).__name__)
        return {}
    for problem in unknown_key_problems(value, allowed, field):
        problems.add(*problem)
    return value


def _bool(problems, value, field):
    if not isinstance(value, bool):
        problems.add(field, "must be true or false (got %r)" % (value,))


def _choices(problems, value, allowed, field, at_least_one=True):
    if not isinstance(value, list) or (at_least_one and not value):
        problems.add(field, "must be a list of %s (got %r)" % (", ".join(allowed), value))
        return
    for item in value:
        if item not in allowed:
            problems.add(field, "unknown %r; allowed: %s" % (item, ", ".join(allowed)))


def _check_instrumentation(spec, problems):
    # Without the collector there is nothing to export to: instrumentation follows it (eks_lab.instrumentation_enabled).
    given = _keys(problems, spec["instrumentation"], DEFAULTS["instrumentation"], "instrumentation")
    if not given:
        return
    _bool(problems, given["enabled"], "instrumentation.enabled")
    _bool(problems, given["cert_manager"], "instrumentation.cert_manager")
    if not isinstance(given["name"], str) or not K8S_NAME.match(given["name"]):
        problems.add("instrumentation.name", "must be a Kubernetes name (got %r)" % (given["name"],))
    _choices(problems, given["languages"], LANGUAGES, "instrumentation.languages")
    _choices(problems, given["propagators"], PROPAGATORS, "instrumentation.propagators")
    if given["sampler"] not in SAMPLERS:
        problems.add("instrumentation.sampler", "unknown sampler %r; allowed: %s" % (given["sampler"], ", ".join(SAMPLERS)))
    if not isinstance(given["sampler_argument"], str):
        problems.add("instrumentation.sampler_argument", "must be a string such as \"0.25\" (got %r)" % (given["sampler_argument"],))
    if not VERSION.match(str(given["operator_version"])):
        problems.add("instrumentation.operator_version", "must be a chart version such as %s (got %r)"
                     % (OPERATOR_VERSION, given["operator_version"]))


def _check_scrape(spec, components, problems):
    given = _keys(problems, spec["scrape"], DEFAULTS["scrape"], "scrape")
    if not given:
        return
    for key in ("hubble", "ztunnel"):
        _bool(problems, given[key], "scrape.%s" % key)
    if not isinstance(given["interval"], str) or not DURATION.match(given["interval"]):
        problems.add("scrape.interval", "must be seconds or minutes such as 30s or 1m (got %r)" % (given["interval"],))
    if (given["hubble"] is True or given["ztunnel"] is True) and not {"otel_collector", "mimir"} <= set(components):
        problems.add("scrape", "the collector scrapes and Mimir stores these metrics: both otel_collector and mimir must be in components")


def _check_argocd(spec, problems):
    given = _keys(problems, spec["argocd"], DEFAULTS["argocd"], "argocd")
    if not given:
        return
    for key in ("namespace", "project"):
        if not isinstance(given[key], str) or not K8S_NAME.match(given[key]):
            problems.add("argocd.%s" % key, "must be a Kubernetes name (got %r)" % (given[key],))
    if not isinstance(given["server"], str) or not URL.match(given["server"]):
        problems.add("argocd.server", "must be the https:// URL of the destination cluster's API (got %r)" % (given["server"],))
    _bool(problems, given["automated"], "argocd.automated")


def check(spec, components, problems):
    """Adds every problem of the lab fields of a spec already merged over the defaults."""
    _check_instrumentation(spec, problems)
    _check_scrape(spec, components, problems)
    _bool(problems, spec["dashboards"], "dashboards")
    _check_argocd(spec, problems)
