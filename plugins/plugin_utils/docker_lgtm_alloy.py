# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Alloy collector container's configuration, through the collection's pipeline generator (alloy_pipelines):
CloudWatch metrics (and optionally logs) to Mimir and Loki with their tenants, and an OTLP receiver to Tempo."""

from ansible_collections.lgtm.aws.plugins.module_utils import alloy_syntax
from ansible_collections.lgtm.aws.plugins.plugin_utils import alloy_pipelines
from ansible_collections.lgtm.aws.plugins.plugin_utils.spec_checks import SpecError, merge


def _renamed(error):
    return error.renamed(lambda field: "alloy." + field if field else "alloy")


def collector_spec(spec):
    alloy = spec["alloy"]
    pipelines = merge({"cloudwatch_metrics": {"region": spec["region"], "tenant": alloy["cloudwatch_metrics_tenant"]},
                       "cloudwatch_logs": {"region": spec["region"], "tenant": alloy["cloudwatch_logs_tenant"]}},
                      alloy["pipelines"])
    return {"mode": "collector", "tenant": spec["tenants"][0], "pipelines": pipelines,
            "endpoints": {"mimir": {"url": "http://mimir:8080/api/v1/push"}, "loki": {"url": "http://loki:3100/loki/api/v1/push"}}}


def otlp_blocks(spec):
    """Applications' OTLP (4317 gRPC, 4318 HTTP) to Tempo under the first tenant."""
    agent = alloy_pipelines.validate({
        "mode": "agent", "tenant": spec["tenants"][0],
        "endpoints": {"tempo": {"endpoint": "tempo:4317", "insecure": True}},
        "pipelines": {"host_metrics": {"enabled": False}, "journal": {"enabled": False}, "files": {"enabled": False}}})
    return alloy_pipelines.otlp(agent)


def config(spec):
    """(Alloy text, whether it needs --stability.level=experimental); ``SpecError`` names ``alloy.*`` fields."""
    try:
        checked = alloy_pipelines.validate(collector_spec(spec))
    except SpecError as error:
        raise _renamed(error)
    blocks = alloy_pipelines.blocks(checked)
    if "tempo" in spec["enabled"]:
        blocks += otlp_blocks(spec)
    text = alloy_syntax.write(blocks)
    problems = alloy_syntax.check(text)
    if problems:
        raise SpecError([("alloy", "the generated configuration is not valid Alloy: %s" % "; ".join(p["message"] for p in problems))])
    return text, alloy_pipelines.needs_experimental(checked)
