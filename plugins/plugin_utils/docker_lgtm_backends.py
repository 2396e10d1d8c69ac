# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mimir (monolithic, -target=all), Loki (TSDB index) and Tempo configuration for a checked spec.

All three run multi-tenant (X-Scope-OrgID) with one replica, on S3 (the host's instance profile: no keys in
the files) or a local volume, per component. Mimir caches in Memcached when that service is enabled.
"""

MIMIR_PORT, LOKI_PORT, TEMPO_PORT = 8080, 3100, 3200
MEMCACHED = "dns+memcached:11211"


def _s3(spec, name, bucket):
    store = spec["storage"][name]
    endpoint = store["endpoint"] or "s3.%s.amazonaws.com" % spec["region"]
    return {"endpoint": endpoint, "region": spec["region"], "bucket_name": bucket}


def _mimir_cache():
    return {"backend": "memcached", "memcached": {"addresses": MEMCACHED, "timeout": "500ms"}}


def mimir(spec):
    store = spec["storage"]["mimir"]
    s3 = store["backend"] == "s3"

    def backend(purpose, local_dir):
        if s3:
            return {"backend": "s3", "s3": _s3(spec, "mimir", store["buckets"][purpose])}
        return {"backend": "filesystem", "filesystem": {"dir": local_dir}}

    blocks = backend("blocks", "/data/blocks")
    blocks["tsdb"] = {"dir": "/data/tsdb"}
    blocks["bucket_store"] = {"sync_dir": "/data/tsdb-sync"}
    config = {
        "target": "all",
        "multitenancy_enabled": True,
        "server": {"http_listen_port": MIMIR_PORT, "grpc_listen_port": 9095, "log_level": "info"},
        "common": {"storage": {"backend": "s3" if s3 else "filesystem"}},
        "blocks_storage": blocks,
        "ruler_storage": backend("ruler", "/data/ruler"),
        "alertmanager_storage": backend("alertmanager", "/data/alertmanager"),
        "alertmanager": {"data_dir": "/data/alertmanager-state", "sharding_ring": {"replication_factor": 1}},
        "compactor": {"data_dir": "/data/compactor", "sharding_ring": {"kvstore": {"store": "inmemory"}}},
        "distributor": {"ring": {"kvstore": {"store": "inmemory"}}},
        "ingester": {"ring": {"kvstore": {"store": "inmemory"}, "replication_factor": 1}},
        "store_gateway": {"sharding_ring": {"kvstore": {"store": "inmemory"}, "replication_factor": 1}},
        "ruler": {"rule_path": "/data/ruler-tmp", "ring": {"kvstore": {"store": "inmemory"}}},
        "limits": {"compactor_blocks_retention_period": store["retention"]},
        "usage_stats": {"enabled": False},
    }
    if s3:
        config["common"]["storage"]["s3"] = {"endpoint": _s3(spec, "mimir", "")["endpoint"], "region": spec["region"]}
    if "memcached" in spec["enabled"]:
        config["blocks_storage"]["bucket_store"].update(
            {"index_cache": _mimir_cache(), "chunks_cache": _mimir_cache(), "metadata_cache": _mimir_cache()})
        config["frontend"] = {"cache_results": True, "results_cache": _mimir_cache()}
    return config


def loki(spec):
    store = spec["storage"]["loki"]
    s3 = store["backend"] == "s3"
    object_store = "s3" if s3 else "filesystem"
    common = {"path_prefix": "/loki", "replication_factor": 1, "ring": {"kvstore": {"store": "inmemory"}}}
    if s3:
        common["storage"] = {"s3": {"bucketnames": store["buckets"]["chunks"], "region": spec["region"],
                                    "endpoint": store["endpoint"] or "s3.%s.amazonaws.com" % spec["region"]}}
    else:
        common["storage"] = {"filesystem": {"chunks_directory": "/loki/chunks", "rules_directory": "/loki/rules"}}
    return {
        "auth_enabled": True,
        "server": {"http_listen_port": LOKI_PORT, "grpc_listen_port": 9096, "log_level": "info"},
        "common": common,
        "schema_config": {"configs": [{"from": "2024-01-01", "store": "tsdb", "object_store": object_store,
                                       "schema": "v13", "index": {"prefix": "index_", "period": "24h"}}]},
        "storage_config": {"tsdb_shipper": {"active_index_directory": "/loki/tsdb-index", "cache_location": "/loki/tsdb-cache"}},
        "compactor": {"working_directory": "/loki/compactor", "retention_enabled": True, "delete_request_store": object_store},
        "limits_config": {"retention_period": store["retention"], "allow_structured_metadata": True, "volume_enabled": True},
        "ruler": {"alertmanager_url": "http://alertmanager:9093" if "alertmanager" in spec["enabled"] else ""},
        "analytics": {"reporting_enabled": False},
    }


def tempo(spec):
    store = spec["storage"]["tempo"]
    trace = {"wal": {"path": "/var/tempo/wal"}}
    if store["backend"] == "s3":
        trace.update({"backend": "s3", "s3": {"bucket": store["buckets"]["traces"], "region": spec["region"],
                                              "endpoint": store["endpoint"] or "s3.%s.amazonaws.com" % spec["region"]}})
    else:
        trace.update({"backend": "local", "local": {"path": "/var/tempo/traces"}})
    config = {
        "multitenancy_enabled": True,
        "stream_over_http_enabled": True,
        "server": {"http_listen_port": TEMPO_PORT, "log_level": "info"},
        "distributor": {"receivers": {"otlp": {"protocols": {"grpc": {"endpoint": "0.0.0.0:4317"},
                                                             "http": {"endpoint": "0.0.0.0:4318"}}}}},
        "compactor": {"compaction": {"block_retention": store["retention"]}},
        "storage": {"trace": trace},
        "usage_report": {"reporting_enabled": False},
    }
    # The service map and span metrics: Tempo's metrics generator writes them to Mimir with each tenant's
    # X-Scope-OrgID (or, without Mimir, to Prometheus's remote-write receiver).
    if "mimir" in spec["enabled"] or "prometheus" in spec["enabled"]:
        to_mimir = "mimir" in spec["enabled"]
        url = "http://mimir:%d/api/v1/push" % MIMIR_PORT if to_mimir else "http://prometheus:9090/api/v1/write"
        config["metrics_generator"] = {
            "registry": {"external_labels": {"source": "tempo"}},
            "storage": {"path": "/var/tempo/generator/wal", "remote_write": [{"url": url, "send_exemplars": True}],
                        "remote_write_add_org_id_header": to_mimir},
            "traces_storage": {"path": "/var/tempo/generator/traces"},
        }
        config["overrides"] = {"defaults": {"metrics_generator": {"processors": ["service-graphs", "span-metrics", "local-blocks"]}}}
    return config
