#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: run_lock
short_description: Take or release the account-level lock of a site.yml run (an SSM parameter)
version_added: 0.3.0
description:
  - One run at a time per account, region and name prefix. The lock is an SSM parameter created with
    C(Overwrite=false), so of two runs that take it at once exactly one gets it; its value names the holder
    (controller, process, user, start and expiry).
  - A lock held by another live run fails the task at once, naming the holder and how to clear a lock left behind,
    before anything else is read or changed.
  - A stale lock is taken over with a warning, namely one past its expiry, or one held by a run on this same controller
    (same host and boot) whose process is gone, e.g. a run that was killed or failed half-way.
  - O(state=absent) deletes the lock only when this run holds it.
  - Usually called through the action of the same name, which fills in O(owner) with the control node's
    C(ansible-playbook) process; site.yml takes the lock first and releases it last (C(lgtm_run_lock)). A run that
    stops on a failure before the release gets it released by the C(lgtm.aws.run_lock) callback, when enabled.
author:
  - lgtm.aws maintainers (@lgtm-aws)
options:
  name:
    description: Name of the SSM parameter that is the lock.
    type: str
    required: true
  state:
    description: V(present) takes the lock (or keeps it when this run holds it), V(absent) releases it.
    type: str
    choices: [present, absent]
    default: present
  ttl:
    description: Seconds after which a lock nobody released counts as stale and another controller may take it over.
    type: int
    default: 10800
  owner:
    description:
      - Who takes the lock; the action plugin sets it (what is given here overrides it). A run is identified by
        C(controller), C(boot_id), C(pid) and C(pid_start) together; C(controller) and C(pid) are required.
    type: dict
    suboptions:
      controller:
        description: Host name of the control node.
        type: str
      boot_id:
        description: The control node's boot id (C(/proc/sys/kernel/random/boot_id)).
        type: str
        default: ""
      pid:
        description: Process id of the run's C(ansible-playbook).
        type: int
      pid_start:
        description: Start time of that process (clock ticks since boot), so a reused process id is not taken for the run.
        type: str
        default: ""
      user:
        description: The user running it.
        type: str
        default: ""
      run:
        description: What runs (the command line), shown to whoever finds the lock taken.
        type: str
        default: ""
notes:
  - In check mode nothing is written; the task still fails when another live run holds the lock. site.yml runs it
    with C(check_mode=false), so a check run takes the lock as well (it must not overlap a real run either).
  - IAM actions used are C(ssm:PutParameter), C(ssm:GetParameter), C(ssm:DeleteParameter) on the parameter O(name).
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Take the run lock
  lgtm.aws.run_lock:
    name: /lgtm/dev/lgtm-run-lock

- name: Release it
  lgtm.aws.run_lock:
    name: /lgtm/dev/lgtm-run-lock
    state: absent
"""

RETURN = r"""
holder:
  description: The lock's holder after the call (this run's owner with O(state=present)), or the holder found.
  returned: always
  type: dict
  sample: {controller: ci-1, pid: 4242, user: deploy, run: site.yml, taken: "2026-11-30T06:00:00Z", expires: "2026-11-30T09:00:00Z"}
took_over:
  description: The stale holder replaced, when the lock was taken over.
  returned: when a stale lock was taken over
  type: dict
lock:
  description: The lock's parameter name, the state asked for, region and endpoint (for the C(lgtm.aws.run_lock) callback).
  returned: always
  type: dict
  sample: {name: /lgtm/acme-prod/run-lock, state: present, region: eu-west-1, endpoint_url: ""}
check_mode:
  description: Whether the module ran in check mode (nothing written).
  returned: always
  type: bool
"""

import json
import time

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.lgtm.aws.plugins.module_utils.aws_common import RetryingClient, error_code
from ansible_collections.lgtm.aws.plugins.module_utils.run_lock import process_start, same_run

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports it


def iso(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def stale_reason(holder, owner, now):
    """Why ``holder`` no longer holds the lock ('' while it does)."""
    expires = holder.get("expires_epoch", 0)
    if not isinstance(expires, (int, float)) or expires <= now:
        return "it expired at %s" % holder.get("expires", "?")
    if holder.get("controller") == owner["controller"] and holder.get("boot_id") == owner["boot_id"] and owner["boot_id"]:
        started = process_start(holder.get("pid", 0))
        if started is None or (holder.get("pid_start") and started != str(holder.get("pid_start"))):
            return "its process %s on this controller is gone" % holder.get("pid")
    return ""


def describe(holder):
    return "%s (pid %s, user %s, %s) since %s, until %s" % (
        holder.get("controller", "?"), holder.get("pid", "?"), holder.get("user", "?") or "?", holder.get("run") or "a run",
        holder.get("taken", "?"), holder.get("expires", "?"))


def read(client, name):
    try:
        value = client.get_parameter(Name=name)["Parameter"]["Value"]
    except botocore.exceptions.ClientError as error:
        if error_code(error) == "ParameterNotFound":
            return None
        raise
    try:
        holder = json.loads(value)
    except ValueError:
        holder = {}
    return holder if isinstance(holder, dict) else {}


def create(client, name, value):
    """True when this call created the parameter, False when it exists already."""
    try:
        client.put_parameter(Name=name, Value=json.dumps(value, sort_keys=True), Type="String", Overwrite=False,
                             Description="lgtm.aws run lock: one site.yml run at a time (docs/retries.md)")
        return True
    except botocore.exceptions.ClientError as error:
        if error_code(error) == "ParameterAlreadyExists":
            return False
        raise


def take(module, client, params):
    owner, name, now = params["owner"], params["name"], time.time()
    mine = dict(owner, taken=iso(now), expires=iso(now + params["ttl"]), expires_epoch=int(now + params["ttl"]))
    if module.check_mode:
        holder = read(client, name)
        if holder is None or same_run(holder, owner):
            return {"changed": holder is None, "holder": holder or mine}
        if not stale_reason(holder, owner, now):
            module.fail_json(msg="Another run holds the lock %s: %s." % (name, describe(holder)), holder=holder)
        return {"changed": True, "holder": mine, "took_over": holder}
    if create(client, name, mine):
        return {"changed": True, "holder": mine}
    holder = read(client, name)
    if holder is None and create(client, name, mine):  # released in between
        return {"changed": True, "holder": mine}
    holder = holder or read(client, name) or {}
    if same_run(holder, owner):
        return {"changed": False, "holder": holder}
    reason = stale_reason(holder, owner, now)
    if not reason:
        module.fail_json(msg="Another run holds the lock %s: %s. Wait for it to finish; if that run is gone, delete the "
                             "lock (aws ssm delete-parameter --name %s) or wait until it expires. Nothing was changed."
                             % (name, describe(holder), name), holder=holder)
    # Take over: delete the stale lock and create ours; of two runs doing this at once the later create fails.
    if read(client, name) != holder:
        module.fail_json(msg="The run lock %s changed hands while it was being taken over; run again." % name)
    try:
        client.delete_parameter(Name=name)
    except botocore.exceptions.ClientError as error:
        if error_code(error) != "ParameterNotFound":
            raise
    if not create(client, name, mine):
        holder = read(client, name) or {}
        module.fail_json(msg="Another run took over the stale lock %s first: %s. Nothing was changed." % (name, describe(holder)),
                         holder=holder)
    module.warn("Took over the run lock %s from %s: %s." % (name, describe(holder), reason))
    return {"changed": True, "holder": mine, "took_over": holder}


def release(module, client, params):
    holder = read(client, params["name"])
    if holder is None:
        return {"changed": False, "holder": {}}
    if not same_run(holder, params["owner"]):
        module.warn("Not releasing the run lock %s: %s holds it." % (params["name"], describe(holder)))
        return {"changed": False, "holder": holder}
    if module.check_mode:
        return {"changed": True, "holder": {}}
    try:
        client.delete_parameter(Name=params["name"])
    except botocore.exceptions.ClientError as error:
        if error_code(error) != "ParameterNotFound":
            raise
    return {"changed": True, "holder": {}}


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            ttl=dict(type="int", default=10800),
            owner=dict(type="dict", options=dict(
                controller=dict(type="str"),
                boot_id=dict(type="str", default=""),
                pid=dict(type="int"),
                pid_start=dict(type="str", default=""),
                user=dict(type="str", default=""),
                run=dict(type="str", default=""),
            )),
        ),
        supports_check_mode=True,
    )
    owner = module.params["owner"] or {}
    if not owner.get("controller") or not owner.get("pid"):
        module.fail_json(msg="owner.controller and owner.pid are required (the lgtm.aws.run_lock action sets them)")
    if module.params["ttl"] < 1:
        module.fail_json(msg="ttl must be at least 1 second, got %d" % module.params["ttl"])
    client = RetryingClient(module, "ssm")
    try:
        if module.params["state"] == "present":
            result = take(module, client, module.params)
        else:
            result = release(module, client, module.params)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        module.fail_json_aws(error, msg="Run lock %s" % module.params["name"])
    # For the lgtm.aws.run_lock callback, which releases a lock the run still holds when it stops early.
    result["lock"] = {"name": module.params["name"], "state": module.params["state"], "region": module.region,
                      "endpoint_url": module.params.get("endpoint_url") or ""}
    module.exit_json(check_mode=module.check_mode, **result)


if __name__ == "__main__":
    main()
