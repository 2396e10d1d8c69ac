"""ECS monitoring configuration from one spec: validation, discovery, routing, dashboards, cost."""
import pytest

from ansible_collections.lgtm.aws.plugins.plugin_utils import ecs_monitoring as em

SERVICES = [{"name": n} for n in ("atlantis", "api-1", "api-2", "worker", "web")]


def spec(**changes):
    return em.validate(dict({"services": SERVICES}, **changes))


def test_prometheus_config_discovers_every_service_and_the_exporter():
    config = em.prometheus_config(spec(remote_write={"enabled": True, "url": "https://mimir.example.internal/api/v1/push"}))
    jobs = dict((job["job_name"], job) for job in config["scrape_configs"])
    assert set(jobs) >= {"prometheus", "ecs-services", "cloudwatch", "ec2-nodes"} | {"service-" + s["name"] for s in SERVICES}
    assert jobs["ecs-services"]["dns_sd_configs"][0]["names"][0] == "atlantis.monitoring.local"
    assert jobs["service-api-1"]["static_configs"][0] == {"targets": ["api-1.monitoring.local:9090"], "labels": {"service": "api-1"}}
    assert jobs["ec2-nodes"]["ec2_sd_configs"][0]["filters"] == [{"name": "tag:Monitoring", "values": ["enabled"]}]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager.monitoring.local:9093"]
    assert config["remote_write"][0]["headers"] == {"X-Scope-OrgID": "aws-rag-ecs"}
    assert config["global"]["external_labels"]["environment"] == "prod"


def test_aws_sd_ecs_role_only_for_prometheus_3_8_and_later():
    assert em.aws_ecs_scrape_configs(spec(prometheus_version="2.53.0")) is None
    assert em.aws_ecs_scrape_configs(spec(prometheus_version="3.7.1")) is None
    job = em.aws_ecs_scrape_configs(spec(prometheus_version="3.8.0"))["scrape_configs"][0]
    assert job["aws_sd_configs"] == [{"role": "ecs", "region": "ap-northeast-2", "port": 9090}]


def test_rules_follow_the_spec_thresholds():
    rules = dict((r["alert"], r) for r in em.alert_rules(spec(thresholds={"cpu_percent": 70}))["groups"][0]["rules"])
    assert rules["HighCPUUsage"]["expr"].endswith("> 70") and rules["HighCPUUsage"]["for"] == "5m"
    assert rules["ServiceDown"]["expr"] == 'up{job="ecs-services"} == 0' and rules["ServiceDown"]["labels"] == {"severity": "critical"}
    assert set(rules) == {"HighCPUUsage", "HighMemoryUsage", "ServiceDown", "TargetScrapeFailing", "DiskSpaceLow", "HighErrorRate", "HighP95Latency"}


def seconds(duration):
    return int(duration[:-1]) * {"s": 1, "m": 60}[duration[-1]]


def test_default_service_down_path_fits_the_seeds_two_minute_bar():
    """Worst case from death to the Slack post: the rule's `for`, a scrape and an evaluation missed, the group wait."""
    defaults = spec()
    rule = dict((r["alert"], r) for r in em.alert_rules(defaults)["groups"][0]["rules"])["ServiceDown"]
    route = em.alertmanager_config(defaults)["route"]
    budget = (seconds(rule["for"]) + seconds(defaults["scrape_interval"]) + seconds(defaults["evaluation_interval"])
              + seconds(route["group_wait"]))
    assert budget < 120, "default ServiceDown path takes up to %d s; the seed's bar is under 2 minutes" % budget


def test_alertmanager_routes_by_severity_and_groups_by_alertname_and_service():
    config = em.alertmanager_config(spec())
    assert config["route"]["group_by"] == ["alertname", "service"]
    assert [(r["matchers"], r["receiver"]) for r in config["route"]["routes"]] == [
        (['severity="critical"'], "slack-critical"), (['severity="warning"'], "slack-warning")]
    slack = config["receivers"][0]["slack_configs"][0]
    assert slack["api_url_file"] == "/etc/alertmanager/secrets/slack-webhook-url" and "api_url" not in slack


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


def test_cost_matches_the_seed_for_the_seed_sizes():
    cost = em.cost_estimate(spec(tasks={"alertmanager": {"cpu": 256, "memory": 512}}))
    assert cost["fargate_by_task"]["prometheus"] == 36.04  # seed: $35.55 (it rounds 730 h differently)
    assert cost["fargate_by_task"]["grafana"] == 18.02  # seed: $17.78
    assert 100 <= cost["total_usd"] <= 120  # seed: $105-116 a month


@pytest.mark.parametrize("changes, message", [
    ({"tasks": {"prometheus": {"cpu": 1024, "memory": 1024}}}, "tasks.prometheus.memory: 1024 MiB does not go with 1024 CPU units on Fargate"),
    ({"tasks": {"grafana": {"cpu": 300, "memory": 1024}}}, "tasks.grafana.cpu: 300 is not a Fargate CPU size"),
    ({"allowed_cidrs": ["10.0.0.0/33"]}, "allowed_cidrs: '10.0.0.0/33' is not a CIDR"),
    ({"allowed_cidrs": ["office"]}, "allowed_cidrs: 'office' is not a CIDR"),
    ({"certificate_arn": "arn:aws:iam::123456789012:server-certificate/x"}, "certificate_arn: must be an ACM certificate ARN"),
    ({"slack": {"routes": {"info": "#x"}}}, "slack.routes: unknown key info; allowed: critical, warning"),
    ({"slack": {"routes": {"critical": "alerts"}}}, "slack.routes.critical: must be a Slack channel"),
    ({"thresholds": {"cpu_percent": -1}}, "thresholds.cpu_percent: must be a positive number"),
    ({"durations": {"down": "soon"}}, "durations.down: must be a Prometheus duration"),
    ({"services": [{"name": "API"}]}, "services[0].name: must be a lower-case DNS label"),
    ({"services": [{"name": "api"}, {"name": "api"}]}, "services[1].name: 'api' is listed twice"),
    ({"remote_write": {"enabled": True}}, "remote_write.url: is required when remote_write is enabled"),
])
def test_bad_input_fails_naming_the_field(changes, message):
    with pytest.raises(em.SpecError) as error:
        spec(**changes)
    assert message in str(error.value)
