import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.lgtm.aws.plugins.filter.storage_spec import storage_bucket_specs, storage_outputs

SPEC = {"name_prefix": "aws-rag", "environment": "prod", "components": ["loki", "mimir", "tempo"]}


def plan(**overrides):
    return storage_bucket_specs(dict(SPEC, **overrides))


def test_default_layout_five_buckets_named_by_key():
    names = {entry["key"]: entry["name"] for entry in plan()}
    assert names == {
        "loki": "aws-rag-prod-loki",
        "mimir_blocks": "aws-rag-prod-mimir-blocks",
        "mimir_alertmanager": "aws-rag-prod-mimir-alertmanager",
        "mimir_ruler": "aws-rag-prod-mimir-ruler",
        "tempo": "aws-rag-prod-tempo",
    }


def test_default_retention_per_signal():
    expiry = {entry["key"]: entry["bucket"]["lifecycle"].get("expiration_days") for entry in plan()}
    assert expiry == {"loki": 365, "mimir_blocks": 365, "tempo": 7, "mimir_alertmanager": None, "mimir_ruler": None}


def test_state_buckets_never_expire_but_abort_multipart():
    for entry in plan():
        assert entry["bucket"]["lifecycle"]["abort_multipart_days"] == 1
        if entry["signal"] == "state":
            assert "expiration_days" not in entry["bucket"]["lifecycle"]


def test_retention_override_and_versioning():
    entries = plan(retention_days={"traces": 3}, versioning=True, noncurrent_version_days=2)
    tempo = next(e for e in entries if e["key"] == "tempo")
    assert tempo["bucket"]["lifecycle"] == {"abort_multipart_days": 1, "expiration_days": 3, "noncurrent_expiration_days": 2}
    assert tempo["bucket"]["versioning"] is True


def test_components_can_be_dropped():
    assert [e["key"] for e in plan(components=["tempo"])] == ["tempo"]


def test_tags_merge_spec_and_identity_tags():
    tags = plan(tags={"Team": "obs", "Environment": "ignored"})[0]["bucket"]["tags"]
    assert tags == {"Team": "obs", "Environment": "prod", "ManagedBy": "lgtm.aws", "Component": "loki", "Signal": "logs"}


def test_kms_key_passes_through():
    bucket = plan(encryption="aws:kms", kms_key_id="alias/obs")[0]["bucket"]
    assert (bucket["encryption"], bucket["kms_key_id"]) == ("aws:kms", "alias/obs")


def test_name_override():
    assert plan(bucket_names={"loki": "my-logs"})[0]["name"] == "my-logs"


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"components": ["loki", "prometheus"]}, "unknown component 'prometheus'"),
        ({"components": []}, "components must be a non-empty list"),
        ({"retention_days": {"logs": -1}}, "retention_days.logs must be a whole number of days, 1 or more"),
        ({"retention_days": {"logs": 0}}, "retention_days.logs must be a whole number"),
        ({"retention_days": {"profiles": 3}}, "unknown signal 'profiles'"),
        ({"encryption": "aws:kms:dsse"}, "encryption 'aws:kms:dsse' is not supported"),
        ({"encryption": "aws:kms", "kms_key_id": "my-key"}, "kms_key_id 'my-key' must be a KMS key id"),
        ({"kms_key_id": "alias/obs"}, "kms_key_id is set but encryption is 'AES256'"),
        ({"versioning": "yes"}, "versioning must be true or false"),
        ({"name_prefix": "AWS_RAG"}, "name_prefix 'AWS_RAG' must be lowercase"),
        ({"name_prefix": "a" * 50}, "bucket name"),
        ({"bucket_names": {"loki": "Bad_Name"}}, "bucket_names.loki: bucket name 'Bad_Name'"),
        ({"bucket_names": {"loki": "same", "tempo": "same"}}, "would both be named 'same'"),
        ({"bucket_names": {"grafana": "x-y-z"}}, "unknown bucket key 'grafana'"),
        ({"tags": {"aws:owner": "me"}}, "reserved prefix 'aws:'"),
    ],
)
def test_bad_specs_fail_with_one_clear_message(overrides, message):
    with pytest.raises(AnsibleFilterError) as error:
        plan(**overrides)
    assert message in str(error.value)
    assert str(error.value).startswith("Invalid storage spec, nothing was changed")


def test_not_a_mapping():
    with pytest.raises(AnsibleFilterError, match="expects the storage spec as a mapping"):
        storage_bucket_specs(["loki"])


def test_outputs_contract():
    outputs = storage_outputs(plan(components=["mimir"]), "ap-northeast-2", None)
    assert outputs["region"] == "ap-northeast-2"
    assert outputs["buckets"]["mimir_ruler"] == {
        "name": "aws-rag-prod-mimir-ruler",
        "arn": "arn:aws:s3:::aws-rag-prod-mimir-ruler",
        "component": "mimir",
        "signal": "state",
    }


def test_errors_name_the_callers_variables_and_come_all_at_once():
    with pytest.raises(AnsibleFilterError) as error:
        storage_bucket_specs(dict(SPEC, retention_days={"logs": 0, "trace": 3}, encryption="kms"), prefix="storage_")
    lines = str(error.value).splitlines()[1:]
    assert lines == [
        "- storage_retention_days.logs must be a whole number of days, 1 or more (got 0)",
        "- storage_retention_days: unknown signal 'trace'; allowed: logs, metrics, traces",
        "- storage_encryption 'kms' is not supported; allowed: AES256, aws:kms",
    ]
