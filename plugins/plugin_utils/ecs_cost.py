# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Monthly cost estimate (cost.json) of the chosen sizes, at the spec region's prices.

The table holds public on-demand list prices in USD (Fargate Linux/x86, EFS Standard storage, Application Load
Balancer hours and LCUs, CloudWatch Logs ingestion, CloudWatch metric requests) as published by AWS when this table
was written. They are estimates: prices change and taxes, free tiers, savings plans and data transfer are not
counted. Any figure can be replaced with the spec's ``prices`` key. A region without a table entry uses the
us-east-1 figures (FALLBACK_REGION), and cost.json says so.
"""

from ansible_collections.lgtm.aws.plugins.plugin_utils.ecs_prometheus import DEFAULT_CLOUDWATCH_METRICS

HOURS_PER_MONTH = 730
MINUTES_PER_MONTH = HOURS_PER_MONTH * 60
# Average Load Balancer Capacity Units a lightly used Grafana ALB consumes.
ALB_AVERAGE_LCU = 0.5
PRICE_KEYS = ("vcpu_hour", "gb_hour", "efs_gb_month", "alb_hour", "lcu_hour", "logs_gb_ingested", "cloudwatch_api_per_1000")
FALLBACK_REGION = "us-east-1"
NOTE = ("Estimate from public AWS on-demand list prices (USD); check the AWS pricing pages and override any figure "
        "with ecs_monitoring_spec.prices. Taxes, free tiers, savings plans and data transfer are not counted.")


def _prices(vcpu, gb, efs, alb, logs, lcu=0.008, cloudwatch=0.01):
    return {"vcpu_hour": vcpu, "gb_hour": gb, "efs_gb_month": efs, "alb_hour": alb, "lcu_hour": lcu,
            "logs_gb_ingested": logs, "cloudwatch_api_per_1000": cloudwatch}


# Per region: Fargate per vCPU-hour and per GB-hour, EFS Standard per GB-month, ALB per hour, CloudWatch Logs per GB
# ingested (LCU 0.008 per hour and 0.01 per 1000 CloudWatch metrics requested unless given). Estimates, see above.
PRICE_TABLE = {
    "us-east-1": _prices(0.04048, 0.004445, 0.30, 0.0225, 0.50),
    "us-east-2": _prices(0.04048, 0.004445, 0.30, 0.0225, 0.50),
    "us-west-2": _prices(0.04048, 0.004445, 0.30, 0.0225, 0.50),
    "eu-west-1": _prices(0.04048, 0.004445, 0.33, 0.0252, 0.57),
    "eu-central-1": _prices(0.04656, 0.00511, 0.36, 0.027, 0.63),
    "ap-northeast-1": _prices(0.05056, 0.00553, 0.36, 0.0243, 0.76),
    "ap-northeast-2": _prices(0.04656, 0.00511, 0.33, 0.0225, 0.76),
    "ap-southeast-1": _prices(0.05056, 0.00553, 0.36, 0.0252, 0.70),
}


def prices_for(spec):
    """(prices, source): the region's table entry (else FALLBACK_REGION's) with the spec's ``prices`` laid over it;
    source says which table was used, whether it was a fallback, and which figures came from the spec."""
    region = spec["region"]
    table = region if region in PRICE_TABLE else FALLBACK_REGION
    prices = dict(PRICE_TABLE[table])
    given = dict((key, value) for key, value in (spec.get("prices") or {}).items() if value is not None)
    prices.update(given)
    source = {"table": table, "fallback": table != region, "from_spec": sorted(given)}
    return prices, source


def cost_estimate(spec):
    """Monthly cost (USD) of the chosen task sizes, EFS, the ALB, CloudWatch Logs and the exporter's metric
    requests; figures rounded to cents, with the region and prices used."""
    prices, source = prices_for(spec)
    fargate = {}
    for task, size in spec["tasks"].items():
        vcpu, gb = size["cpu"] / 1024.0, size["memory"] / 1024.0
        fargate[task] = round((vcpu * prices["vcpu_hour"] + gb * prices["gb_hour"]) * HOURS_PER_MONTH, 2)
    # The exporter requests each metric once a minute (period_seconds 60): the default five and the listed ones.
    metrics = len(DEFAULT_CLOUDWATCH_METRICS) + len(spec["cloudwatch_exporter"]["metrics"])
    items = {
        "fargate": round(sum(fargate.values()), 2),
        "efs": round(spec["efs_storage_gb"] * prices["efs_gb_month"], 2),
        "alb": round(HOURS_PER_MONTH * (prices["alb_hour"] + ALB_AVERAGE_LCU * prices["lcu_hour"]), 2),
        "cloudwatch_logs": round(spec["logs_gb_month"] * prices["logs_gb_ingested"], 2),
        "cloudwatch_metrics": round(metrics * MINUTES_PER_MONTH / 1000.0 * prices["cloudwatch_api_per_1000"], 2),
    }
    return {"currency": "USD", "region": spec["region"], "prices": prices, "prices_source": source, "note": NOTE,
            "assumptions": {"hours_per_month": HOURS_PER_MONTH, "alb_average_lcu": ALB_AVERAGE_LCU,
                            "efs_storage_gb": spec["efs_storage_gb"], "logs_gb_month": spec["logs_gb_month"],
                            "cloudwatch_metrics_per_minute": metrics},
            "fargate_by_task": fargate, "items": items, "total_usd": round(sum(items.values()), 2)}
