import pytest

from ansible_collections.lgtm.aws.plugins.module_utils import s3_buckets as s3
from ansible_collections.lgtm.aws.plugins.module_utils.policy_documents import policies_equal


@pytest.mark.parametrize("name", ["abc", "aws-rag-prod-mimir-alertmanager", "a.b-c", "x" * 63])
def test_valid_bucket_names(name):
    assert s3.bucket_name_error(name) is None


@pytest.mark.parametrize(
    "name, reason",
    [
        ("ab", "3 to 63"),
        ("x" * 64, "3 to 63"),
        ("Upper", "lowercase"),
        ("under_score", "lowercase"),
        ("-dash-first", "start and end"),
        ("a..b", "adjacent periods"),
        ("192.168.1.1", "IP address"),
        ("xn--bucket", "reserved prefix"),
        ("bucket-s3alias", "reserved suffix"),
        (42, "string"),
    ],
)
def test_invalid_bucket_names_say_why(name, reason):
    assert reason in s3.bucket_name_error(name)


@pytest.mark.parametrize(
    "key",
    [
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "mrk-1234abcd12ab34cd56ef1234567890ab",
        "alias/observability",
        "arn:aws:kms:ap-northeast-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:ap-northeast-2:123456789012:alias/observability",
    ],
)
def test_kms_key_forms(key):
    assert s3.kms_key_id_error(key) is None


@pytest.mark.parametrize("key", ["observability", "arn:aws:s3:::bucket", "alias/", "1234", "arn:aws:kms:ap-northeast-2:123:key/x"])
def test_bad_kms_keys(key):
    assert "KMS key id" in s3.kms_key_id_error(key)


def test_tls_policy_denies_plain_http_on_bucket_and_objects():
    policy = s3.desired_policy("logs")
    (statement,) = policy["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statement["Resource"] == ["arn:aws:s3:::logs", "arn:aws:s3:::logs/*"]


def test_lifecycle_rules_per_option():
    rules = s3.desired_lifecycle_rules({"expiration_days": 7, "abort_multipart_days": 1, "noncurrent_expiration_days": 3})
    by_id = {rule["ID"]: rule for rule in rules}
    assert by_id[s3.RULE_EXPIRE]["Expiration"] == {"Days": 7}
    assert by_id[s3.RULE_ABORT_MULTIPART]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert by_id[s3.RULE_NONCURRENT]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 3}
    assert s3.desired_lifecycle_rules({}) == []


def _state(**overrides):
    state = s3.desired_state({"name": "b", "lifecycle": {"expiration_days": 7}, "tags": {"A": "1"}})
    state.update(overrides)
    return state


def test_no_change_when_equal_in_meaning():
    desired = _state()
    statement = desired["policy"]["Statement"][0]
    reordered = dict(statement, Resource=list(reversed(statement["Resource"])))
    current = _state(policy={"Statement": [reordered], "Version": "2012-10-17"})
    current["lifecycle"] = [dict(r, Filter={}) for r in desired["lifecycle"]] + [{"ID": "someone-elses", "Status": "Enabled"}]
    assert s3.changed_aspects(current, desired) == []


@pytest.mark.parametrize(
    "aspect, value",
    [
        ("encryption", {"algorithm": None, "kms_key_id": None, "bucket_key_enabled": False}),
        ("public_access_block", {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False, "RestrictPublicBuckets": True}),
        ("ownership", "ObjectWriter"),
        ("policy", None),
        ("versioning", "Enabled"),
        ("lifecycle", []),
        ("tags", {"A": "2"}),
    ],
)
def test_each_drift_is_reported(aspect, value):
    assert s3.changed_aspects(_state(**{aspect: value}), _state()) == [aspect]


def test_tags_kept_without_purge():
    current = _state(tags={"A": "1", "Extra": "x"})
    assert s3.changed_aspects(current, _state(), purge_tags=False) == []
    assert s3.changed_aspects(current, _state(), purge_tags=True) == ["tags"]


def test_policy_comparison_accepts_json_text():
    assert policies_equal('{"Version": "2012-10-17", "Statement": []}', {"Statement": [], "Version": "2012-10-17"})
    assert not policies_equal(None, {"Statement": []})


@pytest.mark.parametrize("tags, fragment", [({"aws:x": "1"}, "reserved"), ({"k" * 129: "v"}, "1 to 128"), ({"k": "v" * 257}, "256"), ([], "mapping")])
def test_tag_errors(tags, fragment):
    assert any(fragment in e for e in s3.tag_errors(tags))
