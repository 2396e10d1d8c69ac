# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Release the site.yml run lock when a run ends without reaching its release play (a task failed)."""

from __future__ import annotations

DOCUMENTATION = """
name: run_lock
type: aggregate
short_description: Release the run lock of a site.yml run that stopped before releasing it
description:
  - Notes the lock an M(lgtm.aws.run_lock) task took, and when the run ends while still holding it (a task failed, so
    Ansible ran no later play and site.yml's release play did not run), deletes it, if this run still holds it.
  - Uses the AWS credentials of the control node's environment (the SDK's default chain) and the region and endpoint
    the lock was taken with. A run that is killed releases nothing; the next run on the same control node takes its
    lock over (docs/retries.md).
  - Enable it with C(callbacks_enabled = lgtm.aws.run_lock) in C(ansible.cfg) (this repository's does).
requirements:
  - boto3
"""

import json  # noqa: E402  pylint: disable=wrong-import-position

from ansible.plugins.callback import CallbackBase  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.lgtm.aws.plugins.module_utils.run_lock import same_run  # noqa: E402  pylint: disable=wrong-import-position


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "lgtm.aws.run_lock"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._held = None

    def v2_runner_on_ok(self, result):
        task = result._task  # pylint: disable=protected-access
        if (getattr(task, "resolved_action", None) or task.action) not in ("lgtm.aws.run_lock", "run_lock"):
            return
        answer = result._result  # pylint: disable=protected-access
        lock = answer.get("lock") or {}
        self._held = (lock, answer.get("holder") or {}) if lock.get("state") == "present" and not answer.get("check_mode") else None

    def v2_playbook_on_stats(self, stats):
        if not self._held:
            return
        lock, holder = self._held
        self._held = None
        try:
            import boto3  # pylint: disable=import-outside-toplevel

            ssm = boto3.client("ssm", region_name=lock.get("region") or None, endpoint_url=lock.get("endpoint_url") or None)
            try:
                current = json.loads(ssm.get_parameter(Name=lock["name"])["Parameter"]["Value"])
            except ssm.exceptions.ParameterNotFound:
                return
            if not same_run(current, holder):
                return
            ssm.delete_parameter(Name=lock["name"])
            self._display.warning("The run stopped before its end: released the run lock %s it held." % lock["name"])
        except Exception as error:  # pylint: disable=broad-except
            self._display.warning("The run stopped before its end and could not release the run lock %s: %s. The next run on "
                                  "this control node takes it over; from another, delete it (aws ssm delete-parameter --name %s) "
                                  "or wait until it expires." % (lock.get("name"), error, lock.get("name")))
