# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Desired state, validation, and read/apply helpers for observability S3 buckets.

Pure functions (validation, desired documents, comparison) are used by both the
``storage_bucket_specs`` filter on the controller and the ``storage_buckets``
module; the functions taking a ``client`` talk to S3 through boto3.
"""

import ipaddress
import json
import re

from ansible_collections.lgtm.aws.plugins.module_utils.aws_common import error_code, tag_list
from ansible_collections.lgtm.aws.plugins.module_utils.policy_documents import policies_equal

ENCRYPTION_TYPES = ("AES256", "aws:kms")

# Managed lifecycle rule IDs: rules with other IDs belong to someone else and are kept.
RULE_EXPIRE = "lgtm-expire-objects"
RULE_NONCURRENT = "lgtm-expire-noncurrent-versions"
RULE_ABORT_MULTIPART = "lgtm-abort-incomplete-multipart"
MANAGED_RULE_IDS = (RULE_EXPIRE, RULE_NONCURRENT, RULE_ABORT_MULTIPART)
TLS_STATEMENT_SID = "DenyInsecureTransport"

_BUCKET_NAME_CHARS = re.compile(r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$")
_KMS_KEY_UUID = r"(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})"
_KMS_ALIAS = r"alias/[A-Za-z0-9/_-]{1,250}"
_KMS_ARN_PREFIX = r"arn:aws[a-z-]*:kms:[a-z]{2}(?:-[a-z]+)+-\d:\d{12}:"
_KMS_KEY_ID = re.compile(
    r"^(?:{uuid}|{alias}|{arn}key/{uuid}|{arn}{alias})$".format(uuid=_KMS_KEY_UUID, alias=_KMS_ALIAS, arn=_KMS_ARN_PREFIX)
)
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def bucket_name_error(name):
    """Return why ``name`` is not a valid general purpose S3 bucket name, or None."""
    if not isinstance(name, str):
        return "must be a string"
    if not 3 <= len(name) <= 63:
        return "must be 3 to 63 characters long (got %d)" % len(name)
    if not _BUCKET_NAME_CHARS.match(name):
        return "may contain only lowercase letters, digits, '.' and '-', and must start and end with a letter or digit"
    if ".." in name:
        return "must not contain two adjacent periods"
    try:
        ipaddress.IPv4Address(name)
        return "must not be formatted as an IP address"
    except ValueError:
        pass
    for prefix in _RESERVED_PREFIXES:
        if name.startswith(prefix):
            return "must not start with the reserved prefix '%s'" % prefix
    for suffix in _RESERVED_SUFFIXES:
        if name.endswith(suffix):
            return "must not end with the reserved suffix '%s'" % suffix
    return None


def kms_key_id_error(key_id):
    """Return why ``key_id`` is not a KMS key id, key ARN, alias or alias ARN, or None."""
    if not isinstance(key_id, str) or not _KMS_KEY_ID.match(key_id):
        return (
            "must be a KMS key id (1234abcd-12ab-34cd-56ef-1234567890ab), a key ARN "
            "(arn:aws:kms:<region>:<account>:key/<id>), an alias (alias/<name>) or an alias ARN"
        )
    return None


def positive_int_error(value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return "must be a whole number of days, 1 or more (got %r)" % (value,)
    return None


def tag_errors(tags):
    """S3 allows 50 tags, keys up to 128 and values up to 256 characters, no 'aws:' keys."""
    if not isinstance(tags, dict):
        return ["must be a mapping of tag keys to values"]
    errors = []
    if len(tags) > 50:
        errors.append("at most 50 tags are allowed on a bucket (got %d)" % len(tags))
    for key, value in tags.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 128:
            errors.append("tag key %r must be 1 to 128 characters" % (key,))
        elif key.lower().startswith("aws:"):
            errors.append("tag key %r uses the reserved prefix 'aws:'" % key)
        if not isinstance(value, (str, int, float)) or isinstance(value, bool) or len(str(value)) > 256:
            errors.append("tag %r must have a string value of at most 256 characters" % (key,))
    return errors


def bucket_arn(name, partition="aws"):
    return "arn:%s:s3:::%s" % (partition, name)


def desired_policy(name, partition="aws"):
    """A bucket policy that denies every request not made over TLS."""
    arn = bucket_arn(name, partition)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": TLS_STATEMENT_SID,
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [arn, arn + "/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def desired_lifecycle_rules(lifecycle):
    """Managed lifecycle rules, sorted by ID, from the bucket's ``lifecycle`` options."""
    rules = []
    if lifecycle.get("expiration_days"):
        rules.append(
            {"ID": RULE_EXPIRE, "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": lifecycle["expiration_days"]}}
        )
    if lifecycle.get("noncurrent_expiration_days"):
        rules.append(
            {
                "ID": RULE_NONCURRENT,
                "Status": "Enabled",
                "Filter": {"Prefix": ""},
                "NoncurrentVersionExpiration": {"NoncurrentDays": lifecycle["noncurrent_expiration_days"]},
            }
        )
    if lifecycle.get("abort_multipart_days"):
        rules.append(
            {
                "ID": RULE_ABORT_MULTIPART,
                "Status": "Enabled",
                "Filter": {"Prefix": ""},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": lifecycle["abort_multipart_days"]},
            }
        )
    return sorted(rules, key=lambda rule: rule["ID"])


def desired_state(spec, partition="aws"):
    """The normalized settings a bucket should have; comparable with ``read_state``."""
    encryption = {"algorithm": spec.get("encryption") or "AES256", "kms_key_id": None, "bucket_key_enabled": False}
    if encryption["algorithm"] == "aws:kms":
        encryption["kms_key_id"] = spec.get("kms_key_id")
        encryption["bucket_key_enabled"] = spec.get("bucket_key_enabled", True)
    return {
        "encryption": encryption,
        "public_access_block": dict.fromkeys(("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True),
        "ownership": "BucketOwnerEnforced",
        "policy": desired_policy(spec["name"], partition),
        "versioning": "Enabled" if spec.get("versioning") else "Suspended",
        "lifecycle": desired_lifecycle_rules(spec.get("lifecycle") or {}),
        "tags": {str(k): str(v) for k, v in (spec.get("tags") or {}).items()},
    }


# ---------------------------------------------------------------------------
# Comparison: S3 and moto return documents in their own shape; compare meaning.


def _canonical_rule(rule):
    rule = dict(rule)
    rule_filter = rule.pop("Filter", None)
    prefix = rule.pop("Prefix", None)
    if rule_filter in (None, {}, {"Prefix": ""}) and prefix in (None, ""):
        rule["Filter"] = {"Prefix": ""}
    else:
        rule["Filter"] = rule_filter if rule_filter is not None else {"Prefix": prefix}
    return rule


def managed_rules(rules):
    return sorted((_canonical_rule(r) for r in rules or [] if r.get("ID") in MANAGED_RULE_IDS), key=lambda r: r["ID"])


def unmanaged_rules(rules):
    return [r for r in rules or [] if r.get("ID") not in MANAGED_RULE_IDS]


def changed_aspects(current, desired, purge_tags=True):
    """Names of the settings that differ between observed and desired state."""
    changes = []
    for aspect in ("encryption", "public_access_block", "ownership", "versioning"):
        if current[aspect] != desired[aspect]:
            changes.append(aspect)
    if not policies_equal(current["policy"], desired["policy"]):
        changes.append("policy")
    if managed_rules(current["lifecycle"]) != managed_rules(desired["lifecycle"]):
        changes.append("lifecycle")
    wanted_tags = desired["tags"] if purge_tags else dict(current["tags"], **desired["tags"])
    if current["tags"] != wanted_tags:
        changes.append("tags")
    return changes


# ---------------------------------------------------------------------------
# Reading and writing S3.


def _read_optional(call, missing_codes, **kwargs):
    try:
        return call(**kwargs)
    except Exception as error:  # botocore ClientError; botocore is imported by the module only
        if error_code(error) in missing_codes:
            return None
        raise


def bucket_exists(client, name):
    try:
        client.head_bucket(Bucket=name)
        return True
    except Exception as error:
        if error_code(error) in ("404", "NoSuchBucket", "NotFound"):
            return False
        raise


def read_state(client, name):
    """Observed settings of an existing bucket, in the shape of ``desired_state``."""
    encryption = {"algorithm": None, "kms_key_id": None, "bucket_key_enabled": False}
    found = _read_optional(client.get_bucket_encryption, ("ServerSideEncryptionConfigurationNotFoundError",), Bucket=name)
    if found:
        rule = found["ServerSideEncryptionConfiguration"]["Rules"][0]
        default = rule.get("ApplyServerSideEncryptionByDefault", {})
        encryption["algorithm"] = default.get("SSEAlgorithm")
        encryption["kms_key_id"] = default.get("KMSMasterKeyID")
        encryption["bucket_key_enabled"] = bool(rule.get("BucketKeyEnabled")) and encryption["algorithm"] == "aws:kms"

    block = _read_optional(client.get_public_access_block, ("NoSuchPublicAccessBlockConfiguration",), Bucket=name)
    block = (block or {}).get("PublicAccessBlockConfiguration", {})

    ownership = _read_optional(client.get_bucket_ownership_controls, ("OwnershipControlsNotFoundError",), Bucket=name)
    ownership = ownership["OwnershipControls"]["Rules"][0]["ObjectOwnership"] if ownership else None

    policy = _read_optional(client.get_bucket_policy, ("NoSuchBucketPolicy",), Bucket=name)
    policy = json.loads(policy["Policy"]) if policy else None

    versioning = client.get_bucket_versioning(Bucket=name).get("Status") or "Suspended"

    lifecycle = _read_optional(client.get_bucket_lifecycle_configuration, ("NoSuchLifecycleConfiguration",), Bucket=name)
    tags = _read_optional(client.get_bucket_tagging, ("NoSuchTagSet", "NoSuchTagSetError"), Bucket=name)
    return {
        "encryption": encryption,
        "public_access_block": {k: bool(block.get(k)) for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")},
        "ownership": ownership,
        "policy": policy,
        "versioning": versioning,
        "lifecycle": (lifecycle or {}).get("Rules", []),
        "tags": {t["Key"]: t["Value"] for t in (tags or {}).get("TagSet", [])},
    }


def create_bucket(client, name, region):
    kwargs = {"Bucket": name, "ObjectOwnership": "BucketOwnerEnforced"}
    if region and region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    client.create_bucket(**kwargs)


def apply_aspect(client, name, aspect, current, desired, purge_tags=True):
    """Bring one setting of a bucket to its desired value."""
    if aspect == "encryption":
        enc = desired["encryption"]
        default = {"SSEAlgorithm": enc["algorithm"]}
        rule = {"ApplyServerSideEncryptionByDefault": default}
        if enc["algorithm"] == "aws:kms":
            if enc["kms_key_id"]:
                default["KMSMasterKeyID"] = enc["kms_key_id"]
            rule["BucketKeyEnabled"] = enc["bucket_key_enabled"]
        client.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [rule]})
    elif aspect == "public_access_block":
        client.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=desired["public_access_block"])
    elif aspect == "ownership":
        client.put_bucket_ownership_controls(Bucket=name, OwnershipControls={"Rules": [{"ObjectOwnership": desired["ownership"]}]})
    elif aspect == "policy":
        client.put_bucket_policy(Bucket=name, Policy=json.dumps(desired["policy"]))
    elif aspect == "versioning":
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": desired["versioning"]})
    elif aspect == "lifecycle":
        rules = unmanaged_rules(current["lifecycle"]) + desired["lifecycle"]
        if rules:
            client.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
        else:
            client.delete_bucket_lifecycle(Bucket=name)
    elif aspect == "tags":
        tags = desired["tags"] if purge_tags else dict(current["tags"], **desired["tags"])
        if tags:
            client.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_list(tags)})
        else:
            client.delete_bucket_tagging(Bucket=name)
    else:  # pragma: no cover - programming error
        raise ValueError("unknown bucket aspect %r" % aspect)


# Order matters on a new bucket: lock it down before anything else.
APPLY_ORDER = ("public_access_block", "ownership", "encryption", "policy", "versioning", "lifecycle", "tags")


def first_object(client, name):
    """The key of one object or object version in the bucket, or None when it is empty."""
    listing = client.list_object_versions(Bucket=name, MaxKeys=1)
    for entry in listing.get("Versions", []) + listing.get("DeleteMarkers", []):
        return entry["Key"]
    return None


def empty_bucket(client, name):
    """Delete every object version and delete marker; return how many were deleted."""
    deleted, markers = 0, {}
    while True:  # page by page, each call through the client's retries (a paginator's pages would not retry)
        page = client.list_object_versions(Bucket=name, **markers)
        entries = [{"Key": e["Key"], "VersionId": e["VersionId"]} for e in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        for start in range(0, len(entries), 1000):
            batch = entries[start:start + 1000]
            client.delete_objects(Bucket=name, Delete={"Objects": batch, "Quiet": True})
            deleted += len(batch)
        if not page.get("IsTruncated"):
            return deleted
        markers = {"KeyMarker": page["NextKeyMarker"], "VersionIdMarker": page["NextVersionIdMarker"]}
