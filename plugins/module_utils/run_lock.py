# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who holds site.yml's run lock: shared by the lgtm.aws.run_lock action, module and callback."""

from __future__ import annotations

# What names one run: the control node, its boot and the ansible-playbook process (its pid and start time).
RUN_KEYS = ("controller", "boot_id", "pid", "pid_start")


def same_run(a, b):
    """Whether two holders (the lock's value, a run's owner) name the same run."""
    return all(str(a.get(key, "")) == str(b.get(key, "")) for key in RUN_KEYS)


def process_start(pid):
    """Start time (clock ticks since boot) of a live process on this host, or None when there is no such process."""
    try:
        with open("/proc/%d/stat" % int(pid)) as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, ValueError, IndexError):
        return None
