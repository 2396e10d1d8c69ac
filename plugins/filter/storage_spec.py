# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn the storage spec into the list of buckets to manage, validating it first."""

import re

from ansible.errors import AnsibleFilterError

from ansible_collections.lgtm.aws.plugins.module_utils import s3_buckets as s3
from ansible_collections.lgtm.aws.plugins.plugin_utils.spec_checks import merge, plain

# Which buckets each component needs, and what kind of data each holds.
# "state" buckets hold configuration (Mimir's alertmanager and ruler state) and never expire.
COMPONENT_BUCKETS = {
    "loki": (("loki", "logs"),),
    "mimir": (("mimir_blocks", "metrics"), ("mimir_alertmanager", "state"), ("mimir_ruler", "state")),
    "tempo": (("tempo", "traces"),),
}
SIGNALS = ("logs", "metrics", "traces")
# The spec's defaults; the role lgtm.aws.storage passes every key (its defaults/main.yml holds the same values).
DEFAULTS = {
    "components": ["loki", "mimir", "tempo"],
    "retention_days": {"logs": 365, "metrics": 365, "traces": 7},
    "encryption": "AES256",
    "kms_key_id": "",
    "versioning": False,
    "noncurrent_version_days": 7,
    "abort_multipart_days": 1,
    "tags": {},
    "bucket_names": {},
}
_NAME_PART = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


def _bucket_layout(components):
    return [(key, component, signal) for component in components for key, signal in COMPONENT_BUCKETS[component]]


def _spec_errors(spec):
    errors = []
    components = spec.get("components")
    if not isinstance(components, list) or not components:
        errors.append("components must be a non-empty list of %s" % ", ".join(COMPONENT_BUCKETS))
        components = []
    for component in components:
        if component not in COMPONENT_BUCKETS:
            errors.append("components: unknown component %r; allowed: %s" % (component, ", ".join(COMPONENT_BUCKETS)))
    for field in ("name_prefix", "environment"):
        value = spec.get(field)
        if not isinstance(value, str) or not _NAME_PART.match(value):
            errors.append("%s %r must be lowercase letters, digits and '-', starting and ending with a letter or digit" % (field, value))
    retention = spec.get("retention_days") or {}
    if not isinstance(retention, dict):
        errors.append("retention_days must be a mapping of signal to days")
        retention = {}
    for signal, days in retention.items():
        if signal not in SIGNALS:
            errors.append("retention_days: unknown signal %r; allowed: %s" % (signal, ", ".join(SIGNALS)))
        elif s3.positive_int_error(days):
            errors.append("retention_days.%s %s" % (signal, s3.positive_int_error(days)))
    for field in ("noncurrent_version_days", "abort_multipart_days"):
        if spec.get(field) is not None and s3.positive_int_error(spec[field]):
            errors.append("%s %s" % (field, s3.positive_int_error(spec[field])))
    encryption = spec.get("encryption", "AES256")
    if encryption not in s3.ENCRYPTION_TYPES:
        errors.append("encryption %r is not supported; allowed: %s" % (encryption, ", ".join(s3.ENCRYPTION_TYPES)))
    kms_key_id = spec.get("kms_key_id")
    if kms_key_id:
        if encryption != "aws:kms":
            errors.append("kms_key_id is set but encryption is %r; set encryption: aws:kms" % (encryption,))
        if s3.kms_key_id_error(kms_key_id):
            errors.append("kms_key_id %r %s" % (kms_key_id, s3.kms_key_id_error(kms_key_id)))
    if not isinstance(spec.get("versioning", False), bool):
        errors.append("versioning must be true or false (got %r)" % (spec.get("versioning"),))
    errors.extend("tags: %s" % e for e in s3.tag_errors(spec.get("tags") or {}))
    overrides = spec.get("bucket_names") or {}
    known_keys = [key for keys in COMPONENT_BUCKETS.values() for key, _signal in keys]
    for key in overrides:
        if key not in known_keys:
            errors.append("bucket_names: unknown bucket key %r; allowed: %s" % (key, ", ".join(known_keys)))
    return errors


def _lifecycle(signal, spec):
    lifecycle = {"abort_multipart_days": spec["abort_multipart_days"]}
    if signal in SIGNALS:
        lifecycle["expiration_days"] = spec["retention_days"][signal]
    if spec["versioning"]:
        lifecycle["noncurrent_expiration_days"] = spec["noncurrent_version_days"]
    return lifecycle


def _invalid(errors, prefix):
    """One error naming every problem, each with the user's variable name (``prefix`` + the spec key)."""
    return AnsibleFilterError("Invalid storage spec, nothing was changed:\n" + "\n".join("- " + prefix + e for e in errors))


def _plan(spec):
    """``(plan, errors)``: one entry per bucket, and every problem of the spec (then the plan is incomplete)."""
    if not isinstance(spec, dict):
        raise AnsibleFilterError("storage_bucket_specs expects the storage spec as a mapping, got %s" % type(spec).__name__)
    spec = plain(spec)
    if spec.get("retention_days") is not None and not isinstance(spec["retention_days"], dict):
        return [], ["retention_days must be a mapping of signal to days"]
    spec = merge(DEFAULTS, dict((k, v) for k, v in spec.items() if v is not None))
    errors = _spec_errors(spec)
    if errors:
        return [], errors

    overrides = spec.get("bucket_names") or {}
    plan, names = [], {}
    for key, component, signal in _bucket_layout(spec["components"]):
        name = overrides.get(key) or "%s-%s-%s" % (spec["name_prefix"], spec["environment"], key.replace("_", "-"))
        name_error = s3.bucket_name_error(name)
        if name_error:
            field = "bucket_names.%s" % key if key in overrides else "name_prefix/environment (bucket %s)" % key
            errors.append("%s: bucket name %r %s" % (field, name, name_error))
        if name in names:
            errors.append("bucket_names: %s and %s would both be named %r" % (names[name], key, name))
        names[name] = key
        tags = dict(spec.get("tags") or {})
        tags.update(Environment=spec["environment"], ManagedBy="lgtm.aws", Component=component, Signal=signal)
        bucket = {
            "name": name,
            "encryption": spec["encryption"],
            "versioning": bool(spec["versioning"]),
            "lifecycle": _lifecycle(signal, spec),
            "tags": {str(k): str(v) for k, v in tags.items()},
        }
        if spec.get("kms_key_id"):
            bucket["kms_key_id"] = spec["kms_key_id"]
        plan.append({"key": key, "component": component, "signal": signal, "name": name, "bucket": bucket})
    return plan, errors


def storage_bucket_specs(spec, prefix=""):
    """Validate the storage spec and return one entry per bucket with the module arguments under ``bucket``.

    ``prefix`` is put before each field an error names (the role passes ``storage_``, so errors read
    ``storage_retention_days.logs ...`` as the user wrote it)."""
    plan, errors = _plan(spec)
    if errors:
        raise _invalid(errors, prefix)
    return plan


def storage_problems(spec, prefix=""):
    """Every problem of the storage spec, one line each (``prefix`` before the fields); empty when it is valid."""
    try:
        return [prefix + error for error in _plan(spec)[1]]
    except AnsibleFilterError as error:  # not a mapping at all
        return [str(error)]


def storage_outputs(plan, region, kms_key_arn=None, partition="aws"):
    """The ``storage_outputs`` fact other roles read: buckets by key with name, ARN, component and signal."""
    return {
        "region": region,
        "kms_key_arn": kms_key_arn,
        "buckets": {
            entry["key"]: {
                "name": entry["name"],
                "arn": s3.bucket_arn(entry["name"], partition),
                "component": entry["component"],
                "signal": entry["signal"],
            }
            for entry in plan
        },
    }


class FilterModule(object):
    def filters(self):
        return {"storage_bucket_specs": storage_bucket_specs, "storage_problems": storage_problems, "storage_outputs": storage_outputs}
