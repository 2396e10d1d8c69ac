"""ECS monitoring configuration from one spec: validation, discovery, routing, dashboards, cost, documented defaults."""
import json
import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.lgtm.aws.plugins.filter.ecs_monitoring import ecs_monitoring_files
from ansible_collections.lgtm.aws.plugins.plugin_utils import ecs_aws, ecs_cost, ecs_monitoring as em

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
SHARED = {"name_prefix": "acme", "region": "us-east-1", "environment": "prod", "tenant": "acme-platform"}
SERVICES = [{"name": n} for n in ("api", "web", "worker")]
ROUTES = {"critical": "#oncall", "warning": "#ops"}


def spec(**changes):
    return em.validate(dict({"services": SERVICES, "slack": {"routes": ROUTES}}, **changes), SHARED)


def jobs_of(config):
    return dict((job["job_name"], job) for job in config["scrape_configs"])


def test_prometheus_config_discovers_every_service_and_the_exporter():
    config = em.prometheus_config(spec(remote_write={"enabled": True, "url": "https://mimir.example.internal/api/v1/push"}))
    jobs = jobs_of(config)
    assert set(jobs) == {"prometheus", "ecs-services", "cloudwatch", "ec2-nodes"}
    assert [sd["names"] for sd in jobs["ecs-services"]["dns_sd_configs"]] == [
        ["api.monitoring.local"], ["web.monitoring.local"], ["worker.monitoring.local"]]
    assert jobs["ec2-nodes"]["ec2_sd_configs"][0]["filters"] == [{"name": "tag:Monitoring", "values": ["enabled"]}]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager.monitoring.local:9093"]
    assert config["remote_write"][0]["headers"] == {"X-Scope-OrgID": "acme-platform"}
    assert config["global"]["external_labels"] == {"environment": "prod", "cluster": "acme-prod-monitoring"}


def test_each_service_is_scraped_on_its_own_port_and_metrics_path():
    services = [{"name": "payments", "port": 8080, "metrics_path": "/actuator/prometheus"}, {"name": "web"}]
    job = jobs_of(em.prometheus_config(spec(services=services)))["ecs-services"]
    assert [(sd["names"], sd["port"]) for sd in job["dns_sd_configs"]] == [(["payments.monitoring.local"], 8080), (["web.monitoring.local"], 9090)]
    assert job["metrics_path"] == "/metrics"
    paths = [r for r in job["relabel_configs"] if r["target_label"] == "__metrics_path__"]
    assert paths == [{"source_labels": ["__meta_dns_name"], "regex": r"payments\.monitoring\.local",
                      "target_label": "__metrics_path__", "replacement": "/actuator/prometheus"}]
    # ServiceDown watches exactly the job that scrapes the services.
    rules = dict((r["alert"], r) for r in em.alert_rules(spec())["groups"][0]["rules"])
    assert rules["ServiceDown"]["expr"] == 'up{job="%s"} == 0' % job["job_name"]


def test_shared_settings_fill_what_the_spec_leaves_out():
    shared = {"name_prefix": "acme", "region": "eu-west-1", "environment": "prod", "tenant": "acme-platform"}
    checked = em.validate({"services": [{"name": "payments", "port": 8080}], "remote_write": {"enabled": True, "url": "https://m/api/v1/push"}},
                          shared)
    assert (checked["name_prefix"], checked["region"], checked["environment"]) == ("acme", "eu-west-1", "prod")
    config = em.prometheus_config(checked)
    assert jobs_of(config)["ec2-nodes"]["ec2_sd_configs"][0]["region"] == "eu-west-1"
    assert config["remote_write"][0]["headers"] == {"X-Scope-OrgID": "acme-platform"}
    assert em.cloudwatch_exporter_config(checked)["region"] == "eu-west-1"
    names = ecs_aws.names(checked)
    assert names["cluster"] == "acme-prod-monitoring" and names["parameter_path"] == "/lgtm/acme-prod/ecs-monitoring"
    assert json.loads(ecs_monitoring_files({"services": [{"name": "payments"}]}, shared)["cost.json"])["region"] == "eu-west-1"


def test_spec_keys_win_over_the_shared_settings():
    checked = em.validate({"name_prefix": "obs", "region": "eu-central-1", "remote_write": {"tenant": "metrics"}}, SHARED)
    assert (checked["name_prefix"], checked["region"], checked["environment"]) == ("obs", "eu-central-1", "prod")
    assert checked["remote_write"]["tenant"] == "metrics"


def test_without_shared_settings_name_prefix_region_and_environment_are_required():
    with pytest.raises(em.SpecError) as error:
        em.validate({})
    assert [field for field, _message in error.value.problems] == ["name_prefix", "region", "environment"]
    assert "lgtm_region" in str(error.value)
    with pytest.raises(em.SpecError) as error:
        em.validate({"remote_write": {"enabled": True, "url": "https://m/api/v1/push"}}, dict(SHARED, tenant=""))
    assert error.value.problems == [("remote_write.tenant", "is required when remote_write is enabled (the role fills it from lgtm_tenant)")]


def test_aws_sd_ecs_role_only_for_prometheus_3_8_and_later_with_each_services_port():
    assert em.aws_ecs_scrape_configs(spec(prometheus_version="2.53.0")) is None
    assert em.aws_ecs_scrape_configs(spec(prometheus_version="3.7.1")) is None
    job = em.aws_ecs_scrape_configs(spec(prometheus_version="3.8.0", services=[{"name": "payments", "port": 8080,
                                                                               "metrics_path": "/actuator/prometheus"}]))["scrape_configs"][0]
    assert job["aws_sd_configs"] == [{"role": "ecs", "region": "us-east-1", "port": 9090}]
    relabel = dict((r["target_label"], r) for r in job["relabel_configs"])
    assert relabel["__address__"]["regex"] == "payments;([^:]+)(?::[0-9]+)?" and relabel["__address__"]["replacement"] == "${1}:8080"
    assert relabel["__metrics_path__"]["replacement"] == "/actuator/prometheus"


def test_rules_follow_the_spec_thresholds():
    rules = dict((r["alert"], r) for r in em.alert_rules(spec(thresholds={"cpu_percent": 70}))["groups"][0]["rules"])
    assert rules["HighCPUUsage"]["expr"].endswith("> 70") and rules["HighCPUUsage"]["for"] == "5m"
    assert rules["ServiceDown"]["expr"] == 'up{job="ecs-services"} == 0' and rules["ServiceDown"]["labels"] == {"severity": "critical"}
    assert set(rules) == {"HighCPUUsage", "HighMemoryUsage", "ServiceDown", "TargetScrapeFailing", "DiskSpaceLow", "HighErrorRate", "HighP95Latency"}


def seconds(duration):
    return int(duration[:-1]) * {"s": 1, "m": 60}[duration[-1]]


def test_default_service_down_path_stays_under_two_minutes():
    """Worst case from death to the Slack post: the rule's `for`, a scrape and an evaluation missed, the group wait."""
    defaults = spec()
    rule = dict((r["alert"], r) for r in em.alert_rules(defaults)["groups"][0]["rules"])["ServiceDown"]
    route = em.alertmanager_config(defaults)["route"]
    budget = (seconds(rule["for"]) + seconds(defaults["scrape_interval"]) + seconds(defaults["evaluation_interval"])
              + seconds(route["group_wait"]))
    assert budget < 120, "default ServiceDown path takes up to %d s" % budget


def test_alertmanager_routes_by_severity_and_groups_by_alertname_and_service():
    config = em.alertmanager_config(spec())
    assert config["route"]["group_by"] == ["alertname", "service"]
    assert [(r["matchers"], r["receiver"]) for r in config["route"]["routes"]] == [
        (['severity="critical"'], "slack-critical"), (['severity="warning"'], "slack-warning")]
    slack = config["receivers"][0]["slack_configs"][0]
    assert slack["channel"] == "#oncall" and slack["api_url_file"] == "/etc/alertmanager/secrets/slack-webhook-url" and "api_url" not in slack


def test_no_slack_routes_by_default_means_alertmanager_sends_nothing():
    config = em.alertmanager_config(em.validate({}, SHARED))
    assert config["receivers"] == [{"name": "none"}] and config["route"]["receiver"] == "none" and config["route"]["routes"] == []


def test_dashboards_are_grafana_json_reading_metrics_the_pipeline_produces():
    boards = em.dashboards(spec())
    assert {"infrastructure-overview", "ecs-cluster", "application-performance", "cost-estimation"} <= set(boards)
    assert {"service-" + s["name"] for s in SERVICES} <= set(boards)
    for uid, board in boards.items():
        assert board["uid"] == uid and board["schemaVersion"] >= 36 and board["panels"]
        for panel in board["panels"]:
            assert set(panel["gridPos"]) == {"h", "w", "x", "y"} and panel["datasource"]["uid"] == "prometheus"
            for target in panel["targets"]:
                unknown = em.dashboard_metrics(target["expr"]) - em.METRICS_PRODUCED
                assert not unknown, "%s/%s reads %s" % (uid, panel["title"], unknown)


def test_dashboard_metric_check_sees_an_unknown_metric():
    assert em.dashboard_metrics('sum(rate(made_up_metric_total{service="x"}[5m]))') == {"made_up_metric_total"}


def test_cost_uses_the_regions_prices_and_says_which():
    cost = em.cost_estimate(spec())
    assert cost["region"] == "us-east-1" and cost["prices_source"] == {"table": "us-east-1", "fallback": False, "from_spec": []}
    assert cost["prices"] == ecs_cost.PRICE_TABLE["us-east-1"] and "estimate" in cost["note"].lower()
    # 1 vCPU and 2 GB for 730 hours at 0.04048 and 0.004445.
    assert cost["fargate_by_task"]["prometheus"] == round((0.04048 + 2 * 0.004445) * 730, 2)
    assert cost["total_usd"] == round(sum(cost["items"].values()), 2)
    frankfurt = em.cost_estimate(em.validate({}, dict(SHARED, region="eu-central-1")))
    assert frankfurt["prices_source"]["table"] == "eu-central-1" and frankfurt["total_usd"] > cost["total_usd"]


def test_cost_prices_from_the_spec_replace_the_table_and_an_unknown_region_falls_back_to_us_east_1():
    cost = em.cost_estimate(em.validate({"prices": {"vcpu_hour": 0.1}}, dict(SHARED, region="sa-east-1")))
    assert cost["region"] == "sa-east-1"
    assert cost["prices_source"] == {"table": "us-east-1", "fallback": True, "from_spec": ["vcpu_hour"]}
    assert cost["prices"] == dict(ecs_cost.PRICE_TABLE["us-east-1"], vcpu_hour=0.1)


def test_the_price_table_covers_the_documented_regions_with_every_figure():
    assert {"us-east-1", "eu-west-1", "ap-northeast-2"} <= set(ecs_cost.PRICE_TABLE)
    for region, prices in ecs_cost.PRICE_TABLE.items():
        assert sorted(prices) == sorted(ecs_cost.PRICE_KEYS) and all(v > 0 for v in prices.values()), region


def test_merge_rule_is_key_by_key_for_task_sizes_and_role_mapping():
    checked = spec(tasks={"grafana": {"memory": 2048}}, grafana={"oauth": {"role_mapping": {"Admin": ["ops"]}}})
    assert checked["tasks"]["grafana"] == {"cpu": 512, "memory": 2048}
    assert checked["tasks"]["prometheus"] == {"cpu": 1024, "memory": 2048}
    assert checked["grafana"]["oauth"]["role_mapping"] == {"Admin": ["ops"], "Editor": []}
    assert spec(services=[{"name": "only"}])["services"] == [{"name": "only", "port": 9090, "metrics_path": "/metrics"}]


@pytest.mark.parametrize("changes, message", [
    ({"tasks": {"prometheus": {"cpu": 1024, "memory": 1024}}}, "tasks.prometheus.memory: 1024 MiB does not go with 1024 CPU units on Fargate"),
    ({"tasks": {"grafana": {"cpu": 300, "memory": 1024}}}, "tasks.grafana.cpu: 300 is not a Fargate CPU size"),
    ({"tasks": {"grafana": {"cpu": 1024}}}, "tasks.grafana.memory: 1024 MiB does not go with 1024 CPU units"),
    ({"allowed_cidrs": ["10.0.0.0/33"]}, "allowed_cidrs: '10.0.0.0/33' is not a CIDR"),
    ({"allowed_cidrs": ["office"]}, "allowed_cidrs: 'office' is not a CIDR"),
    ({"certificate_arn": "arn:aws:iam::123456789012:server-certificate/x"}, "certificate_arn: must be an ACM certificate ARN"),
    ({"slack": {"routes": {"info": "#x"}}}, "slack.routes: unknown key info; allowed: critical, warning"),
    ({"slack": {"routes": {"critical": "alerts"}}}, "slack.routes.critical: must be a Slack channel"),
    ({"thresholds": {"cpu_percent": -1}}, "thresholds.cpu_percent: must be a positive number"),
    ({"thresholds": {"cpu_percnt": 70}}, "thresholds: unknown key cpu_percnt (did you mean cpu_percent?)"),
    ({"durations": {"down": "soon"}}, "durations.down: must be a Prometheus duration"),
    ({"services": [{"name": "API"}]}, "services[0].name: must be a lower-case DNS label"),
    ({"services": [{"name": "api"}, {"name": "api"}]}, "services[1].name: 'api' is listed twice"),
    ({"services": [{"name": "api", "port": 70000}]}, "services[0].port: must be a TCP port"),
    ({"services": [{"name": "api", "metrics_path": "metrics"}]}, "services[0].metrics_path: must be a URL path"),
    ({"services": [{"name": "api", "path": "/m"}]}, "services[0]: unknown key path"),
    ({"remote_write": {"enabled": True}}, "remote_write.url: is required when remote_write is enabled"),
    ({"prices": {"vcpu": 0.1}}, "prices: unknown key vcpu (did you mean vcpu_hour?)"),
    ({"prices": {"gb_hour": -1}}, "prices.gb_hour: must be a non-negative number"),
    ({"region": "Europe"}, "region: must be an AWS region"),
    ({"name_prefix": "Acme"}, "name_prefix: must be a lower-case DNS label"),
    ({"cloudmap_namespace": "not a domain"}, "cloudmap_namespace: must be a DNS domain"),
    ({"tasks": "large"}, "tasks: must be a mapping, got str"),
    ({"sevices": []}, "unknown key sevices (did you mean services?)"),
])
def test_bad_input_fails_naming_the_field(changes, message):
    with pytest.raises(em.SpecError) as error:
        spec(**changes)
    assert message in str(error.value)


def test_every_problem_of_a_spec_at_once_in_the_users_variable_names():
    bad = {"services": [{"name": "payments", "port": 0}, {"name": "Web"}], "tasks": {"grafana": {"cpu": 300}},
           "thresholds": {"cpu_percent": -1}, "slack": {"routes": {"critical": "oncall"}}, "retension": "15d"}
    with pytest.raises(AnsibleFilterError) as error:
        ecs_monitoring_files(bad, SHARED)
    lines = str(error.value.message).splitlines()
    assert lines[0] == "ecs_monitoring_spec: 6 problems"
    assert [line.split(":")[0] for line in lines[1:]] == [
        "ecs_monitoring_spec", "ecs_monitoring_spec.services[0].port", "ecs_monitoring_spec.services[1].name",
        "ecs_monitoring_spec.tasks.grafana.cpu", "ecs_monitoring_spec.thresholds.cpu_percent", "ecs_monitoring_spec.slack.routes.critical"]
    assert "unknown key retension (did you mean retention?)" in lines[1]


def test_files_carry_no_internal_jargon():
    files = ecs_monitoring_files({"services": [{"name": "api"}]}, SHARED)
    for path, content in files.items():
        assert "seed" not in content.lower(), path


# ---------------------------------------------------------------------------
# The documented defaults (meta/argument_specs.yml) are the Python DEFAULTS.


def documented_spec():
    with open(os.path.join(ROOT, "roles", "ecs_monitoring", "meta", "argument_specs.yml")) as handle:
        return yaml.safe_load(handle)["argument_specs"]["main"]["options"]["ecs_monitoring_spec"]


def disagreements(options, defaults, path):
    """Where the documented options and the Python defaults differ: every key, its default, at every depth."""
    found = []
    for key in sorted(set(options) | set(defaults)):
        where = "%s.%s" % (path, key)
        if key not in options:
            found.append("%s: in DEFAULTS, not documented" % where)
        elif key not in defaults:
            found.append("%s: documented, not in DEFAULTS" % where)
        elif "options" in options[key] and isinstance(defaults[key], dict) and defaults[key]:
            found.extend(disagreements(options[key]["options"], defaults[key], where))
        elif options[key].get("default") != defaults[key]:
            found.append("%s: documented default %r, DEFAULTS %r" % (where, options[key].get("default"), defaults[key]))
    return found


def test_documented_spec_defaults_are_the_python_defaults():
    documented = documented_spec()
    options = dict(documented["options"])
    for key in em.REQUIRED:
        assert "default" not in options.pop(key) and not documented["options"][key].get("required"), key
    problems = disagreements(options, em.DEFAULTS, "ecs_monitoring_spec")
    service = documented["options"]["services"]["options"]
    problems += disagreements(dict((k, v) for k, v in service.items() if k != "name"), em.SERVICE_DEFAULTS, "services[]")
    metric = documented["options"]["cloudwatch_exporter"]["options"]["metrics"]["options"]
    problems += disagreements(dict((k, v) for k, v in metric.items() if "default" in v), em.METRIC_DEFAULTS, "metrics[]")
    assert sorted(documented["options"]["prices"]["options"]) == sorted(ecs_cost.PRICE_KEYS)
    assert not problems, "\n".join(problems)


def test_the_disagreement_check_sees_a_changed_default():
    changed = dict(em.DEFAULTS, tasks=dict(em.DEFAULTS["tasks"], grafana={"cpu": 512, "memory": 2048}))
    options = dict((k, v) for k, v in documented_spec()["options"].items() if k not in em.REQUIRED)
    assert disagreements(options, changed, "s") == ["s.tasks.grafana.memory: documented default 1024, DEFAULTS 2048"]
