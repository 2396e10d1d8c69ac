# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only: tell tests/aws_proxy.py which role, task and module Ansible runs (it counts AWS calls per capability)."""

import json
import os
import urllib.request

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: aws_proxy_phases
type: aggregate
short_description: Mark the role and task each AWS call of a run belongs to, for the test proxy
description:
  - Posts the role (the capability), the task name and the module of each task to the test proxy in C(AWS_ENDPOINT_URL).
requirements:
  - AWS_ENDPOINT_URL pointing at tests/aws_proxy.py
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "aws_proxy_phases"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._url = os.environ.get("AWS_ENDPOINT_URL", "").rstrip("/") + "/__aws_proxy__/phase"
        self._play = "-"

    def v2_playbook_on_play_start(self, play):
        self._play = play.get_name()

    def v2_playbook_on_task_start(self, task, is_conditional):
        role = task._role.get_name(include_role_fqcn=False) if task._role else self._play  # pylint: disable=protected-access
        module = getattr(task, "resolved_action", None) or task.action
        body = json.dumps({"phase": role, "task": task.get_name(), "module": module}).encode()
        request = urllib.request.Request(self._url, data=body, method="POST", headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=10).close()

    v2_playbook_on_handler_task_start = v2_playbook_on_task_start
