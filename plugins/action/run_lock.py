# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fill in the run lock's owner with this control node's ansible-playbook process (docs: modules/run_lock.py)."""

from __future__ import annotations

import getpass
import os
import socket

from ansible.plugins.action import ActionBase

from ansible_collections.lgtm.aws.plugins.module_utils.run_lock import process_start


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return ""


def owner():
    """The run that takes the lock: Ansible's workers are forked from ansible-playbook, so it is their parent."""
    pid = os.getppid()
    command = " ".join(os.path.basename(part) if index < 2 else part
                       for index, part in enumerate(_read("/proc/%d/cmdline" % pid).split("\0")[:-1]))
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return {"controller": socket.gethostname(), "boot_id": _read("/proc/sys/kernel/random/boot_id").strip(), "pid": pid,
            "pid_start": process_start(pid) or "", "user": user,
            "run": command[:300]}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        args["owner"] = dict(owner(), **(args.get("owner") or {}))
        result.update(self._execute_module(module_name="lgtm.aws.run_lock", module_args=args, task_vars=task_vars))
        return result
