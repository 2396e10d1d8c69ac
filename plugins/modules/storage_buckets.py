#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: storage_buckets
short_description: Keep a set of observability S3 buckets in their desired state in one call
version_added: 0.1.0
description:
  - Brings every bucket in O(buckets) to the state an observability backend (Loki, Mimir, Tempo) needs,
    or deletes them, in one idempotent call.
  - Every bucket gets default encryption (SSE-S3 or SSE-KMS), all four public access block settings,
    object ownership C(BucketOwnerEnforced) (ACLs off), a bucket policy that denies requests not made
    over TLS, versioning as asked, lifecycle rules and tags.
  - The module owns the bucket policy. Lifecycle rules whose IDs start with C(lgtm-) are managed;
    other lifecycle rules on the bucket are kept.
  - Reports per bucket what it changed (or would change in check mode); with C(--diff) shows the
    settings before and after.
  - With O(state=absent), every bucket is checked before any is deleted; a bucket holding objects
    is only deleted, with its contents and all their versions, when O(force=true).
author:
  - lgtm.aws maintainers (@lgtm-aws)
options:
  buckets:
    description: The buckets to manage.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Bucket name; checked against the S3 naming rules before any call.
        type: str
        required: true
      encryption:
        description: Default server-side encryption.
        type: str
        choices: [AES256, 'aws:kms']
        default: AES256
      kms_key_id:
        description:
          - KMS key id, key ARN, alias or alias ARN for O(buckets[].encryption=aws:kms).
          - Without it, S3 uses the AWS managed key C(aws/s3).
        type: str
      bucket_key_enabled:
        description: Use an S3 Bucket Key with SSE-KMS to cut KMS request costs.
        type: bool
        default: true
      versioning:
        description: Keep object versions. When it is turned off on a versioned bucket, versioning is suspended.
        type: bool
        default: false
      lifecycle:
        description: Lifecycle rules, all applying to the whole bucket.
        type: dict
        default: {}
        suboptions:
          expiration_days:
            description: Delete objects this many days after creation (the retention). Omit to keep objects.
            type: int
          noncurrent_expiration_days:
            description: Delete noncurrent object versions this many days after they become noncurrent.
            type: int
          abort_multipart_days:
            description:
              - Abort incomplete multipart uploads this many days after they start.
              - Grafana's Tempo documentation recommends one day; parts of abandoned uploads are billed until aborted.
            type: int
            default: 1
      tags:
        description: Tags on the bucket.
        type: dict
        default: {}
  purge_tags:
    description: Remove tags that are not in O(buckets[].tags).
    type: bool
    default: true
  state:
    description: Whether the buckets should exist.
    type: str
    choices: [present, absent]
    default: present
  force:
    description:
      - With O(state=absent), delete buckets that still hold objects, with all their objects and versions.
      - Without it the module refuses, naming the buckets that are not empty, and deletes nothing.
    type: bool
    default: false
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Supports check mode and diff mode.
  - The caller needs C(s3:CreateBucket), C(s3:Get*)/C(s3:Put*) for the configurations above, and for
    O(state=absent) C(s3:ListBucketVersions), C(s3:DeleteObjectVersion) and C(s3:DeleteBucket).
"""

EXAMPLES = r"""
- name: Buckets for Loki and Tempo with their retention
  lgtm.aws.storage_buckets:
    region: eu-west-1
    buckets:
      - name: acme-prod-loki
        lifecycle:
          expiration_days: 365
        tags:
          Component: loki
      - name: acme-prod-tempo
        encryption: aws:kms
        kms_key_id: alias/observability
        lifecycle:
          expiration_days: 7

- name: Remove the buckets, refusing if any still holds data
  lgtm.aws.storage_buckets:
    state: absent
    buckets:
      - name: acme-prod-loki
      - name: acme-prod-tempo
"""

RETURN = r"""
buckets:
  description: One entry per bucket, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Bucket name.
      type: str
      sample: acme-prod-loki
    arn:
      description: Bucket ARN.
      type: str
      sample: arn:aws:s3:::acme-prod-loki
    action:
      description: What happened to the bucket.
      type: str
      sample: updated
      choices: [created, updated, unchanged, deleted, absent]
    changed:
      description: Whether the bucket was (or in check mode would be) changed.
      type: bool
    changes:
      description: The settings that were (or would be) changed.
      type: list
      elements: str
      sample: [lifecycle, tags]
    objects_deleted:
      description: Object versions deleted with O(force=true).
      type: int
      returned: when O(state=absent)
    settings:
      description: The bucket's settings after the call (desired settings in check mode); null when it does not exist.
      type: dict
      sample:
        encryption: {algorithm: AES256, kms_key_id: null, bucket_key_enabled: false}
        versioning: Suspended
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.lgtm.aws.plugins.module_utils import s3_buckets as s3
from ansible_collections.lgtm.aws.plugins.module_utils.aws_common import RetryingClient

LIFECYCLE_DAY_OPTIONS = ("expiration_days", "noncurrent_expiration_days", "abort_multipart_days")

ARGUMENT_SPEC = dict(
    buckets=dict(
        type="list",
        elements="dict",
        required=True,
        options=dict(
            name=dict(type="str", required=True),
            encryption=dict(type="str", choices=list(s3.ENCRYPTION_TYPES), default="AES256"),
            kms_key_id=dict(type="str"),
            bucket_key_enabled=dict(type="bool", default=True),
            versioning=dict(type="bool", default=False),
            lifecycle=dict(
                type="dict",
                default={},
                options=dict(
                    expiration_days=dict(type="int"),
                    noncurrent_expiration_days=dict(type="int"),
                    abort_multipart_days=dict(type="int", default=1),
                ),
            ),
            tags=dict(type="dict", default={}),
        ),
    ),
    purge_tags=dict(type="bool", default=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    force=dict(type="bool", default=False),
)


def validation_errors(buckets):
    """Every problem in the requested buckets, each naming the field."""
    errors = []
    seen = set()
    for index, bucket in enumerate(buckets):
        where = "buckets[%d]" % index
        name_error = s3.bucket_name_error(bucket["name"])
        if name_error:
            errors.append("%s.name %r %s" % (where, bucket["name"], name_error))
        if bucket["name"] in seen:
            errors.append("%s.name %r is listed twice" % (where, bucket["name"]))
        seen.add(bucket["name"])
        if bucket.get("kms_key_id") is not None:
            if bucket["encryption"] != "aws:kms":
                errors.append("%s.kms_key_id is set but encryption is %r; use encryption: aws:kms" % (where, bucket["encryption"]))
            key_error = s3.kms_key_id_error(bucket["kms_key_id"])
            if key_error:
                errors.append("%s.kms_key_id %r %s" % (where, bucket["kms_key_id"], key_error))
        for option in LIFECYCLE_DAY_OPTIONS:
            value = (bucket.get("lifecycle") or {}).get(option)
            if value is not None and s3.positive_int_error(value):
                errors.append("%s.lifecycle.%s %s" % (where, option, s3.positive_int_error(value)))
        errors.extend("%s.tags: %s" % (where, e) for e in s3.tag_errors(bucket.get("tags") or {}))
    return errors


def partition_of(module):
    region = module.region or ""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def ensure_present(module, client, spec):
    name = spec["name"]
    desired = s3.desired_state(spec, partition_of(module))
    result = {"name": name, "arn": s3.bucket_arn(name, partition_of(module))}
    exists = s3.bucket_exists(client, name)
    if exists:
        current = s3.read_state(client, name)
        changes = s3.changed_aspects(current, desired, module.params["purge_tags"])
    else:
        current = None
        changes = [aspect for aspect in s3.APPLY_ORDER if aspect != "ownership"]
    if not module.check_mode:
        to_apply = changes
        if not exists:
            s3.create_bucket(client, name, module.region)
            current = s3.read_state(client, name)
            to_apply = s3.changed_aspects(current, desired, module.params["purge_tags"])
        for aspect in s3.APPLY_ORDER:
            if aspect in to_apply:
                s3.apply_aspect(client, name, aspect, current, desired, module.params["purge_tags"])
    # Read back what changed; an unchanged bucket is as it was read.
    after = desired if module.check_mode else (s3.read_state(client, name) if changes or not exists else current)
    result.update(
        action="created" if not exists else ("updated" if changes else "unchanged"),
        changed=bool(changes) or not exists,
        changes=changes if exists else ["bucket"] + changes,
        settings=after,
    )
    return result, current, after


def run_present(module, client):
    results, before, after = [], {}, {}
    for spec in module.params["buckets"]:
        result, current, final = ensure_present(module, client, spec)
        results.append(result)
        before[spec["name"]] = current
        after[spec["name"]] = final
    return results, before, after


def run_absent(module, client):
    names = [spec["name"] for spec in module.params["buckets"]]
    existing = [name for name in names if s3.bucket_exists(client, name)]
    if not module.params["force"]:
        not_empty = ["%s (holds %s)" % (name, key) for name in existing for key in [s3.first_object(client, name)] if key]
        if not_empty:
            module.fail_json(
                msg="Refusing to delete buckets that are not empty: %s. Nothing was deleted. "
                "Set force: true to delete them with all their objects and versions." % ", ".join(not_empty),
                not_empty=[entry.split(" ")[0] for entry in not_empty],
            )
    results, before, after = [], {}, {}
    for name in names:
        result = {"name": name, "arn": s3.bucket_arn(name, partition_of(module)), "objects_deleted": 0, "settings": None}
        if name not in existing:
            result.update(action="absent", changed=False, changes=[])
            before[name] = None
        else:
            before[name] = s3.read_state(client, name)
            if not module.check_mode:
                result["objects_deleted"] = s3.empty_bucket(client, name)
                client.delete_bucket(Bucket=name)
            result.update(action="deleted", changed=True, changes=["bucket"])
        after[name] = None
        results.append(result)
    return results, before, after


def main():
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    errors = validation_errors(module.params["buckets"])
    if errors:
        module.fail_json(msg="Invalid buckets, nothing was changed: " + "; ".join(errors), errors=errors)

    client = RetryingClient(module, "s3")
    try:
        if module.params["state"] == "present":
            results, before, after = run_present(module, client)
        else:
            results, before, after = run_absent(module, client)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        module.fail_json_aws(error, msg="S3 request failed")

    changed = any(result["changed"] for result in results)
    module.exit_json(changed=changed, buckets=results, diff={"before": before, "after": after})


if __name__ == "__main__":
    main()
