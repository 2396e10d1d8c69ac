import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.lgtm.aws.plugins.filter.alloy import alloy_expr, to_alloy


def test_to_alloy_writes_and_checks():
    text = to_alloy([
        {"name": "prometheus.exporter.unix", "label": "host"},
        {"name": "prometheus.scrape", "label": "host", "body": {
            "targets": alloy_expr("prometheus.exporter.unix.host.targets"),
            "forward_to": [alloy_expr("prometheus.remote_write.mimir.receiver")]}},
        {"name": "prometheus.remote_write", "label": "mimir", "blocks": [{"name": "endpoint", "body": {"url": "http://m"}}]},
    ])
    assert 'prometheus.remote_write "mimir" {' in text


def test_to_alloy_refuses_undefined_reference():
    with pytest.raises(AnsibleFilterError, match="line 2, column 16: reference to undefined component: loki.write.missing.receiver"):
        to_alloy([{"name": "loki.source.journal", "label": "j", "body": {"forward_to": [alloy_expr("loki.write.missing.receiver")]}}])


def test_to_alloy_refuses_bad_data():
    with pytest.raises(AnsibleFilterError, match="unknown keys"):
        to_alloy([{"name": "loki.write", "lable": "x"}])


def test_alloy_expr_needs_text():
    with pytest.raises(AnsibleFilterError, match="non-empty string"):
        alloy_expr("")
