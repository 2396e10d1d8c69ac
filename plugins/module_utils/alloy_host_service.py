# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Alloy systemd service: its unit and environment file, start or restart on change, readiness on
/-/ready, and the roll back to the last good configuration when a new one does not come up."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import time

from ansible.module_utils.urls import open_url

UNIT_FILE = "/etc/systemd/system/alloy.service"
HEADER = "# Managed by Ansible (lgtm.aws.alloy): local changes are overwritten.\n"


def env_file_text(config_file, run_args, basic_auth_password):
    lines = [HEADER.rstrip("\n"), 'CONFIG_FILE="%s"' % config_file, 'CUSTOM_ARGS="%s"' % run_args, "RESTART_ON_UPGRADE=true"]
    if basic_auth_password:
        lines.append('ALLOY_BASIC_AUTH_PASSWORD="%s"' % basic_auth_password.replace("\\", "\\\\").replace('"', '\\"'))
    return "\n".join(lines) + "\n"


def unit_text(mode, user, group, env_file, data_dir):
    home = os.path.dirname(data_dir)
    return HEADER + "\n".join([
        "[Unit]",
        "Description=Grafana Alloy (%s)" % mode,
        "Documentation=https://grafana.com/docs/alloy/latest/",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "User=%s" % user,
        "Group=%s" % group,
        "EnvironmentFile=%s" % env_file,
        "WorkingDirectory=%s" % home,
        "ExecStart=/usr/bin/alloy run $CUSTOM_ARGS --storage.path=%s $CONFIG_FILE" % data_dir,
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=always",
        "RestartSec=5",
        "TimeoutStopSec=20s",
        "NoNewPrivileges=true",
        "ProtectSystem=full",
        "ProtectHome=read-only",
        "ReadWritePaths=%s" % home,
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        ""])


def ready_url(listen_addr):
    return "http://%s/-/ready" % re.sub(r"^0\.0\.0\.0:", "127.0.0.1:", listen_addr)


class Service(object):
    def __init__(self, host, name="alloy"):
        self.host = host
        self.name = name

    def state(self):
        """ActiveState and UnitFileState as systemd reports them ('' when systemd does not know the unit)."""
        rc, out, _err = self.host.run(["systemctl", "show", self.name, "--property=ActiveState,UnitFileState,LoadState"],
                                      check=False)
        values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line) if rc == 0 else {}
        if values.get("LoadState") == "not-found":
            return {"ActiveState": "", "UnitFileState": ""}
        return values

    def daemon_reload(self):
        if not self.host.check_mode:
            self.host.run(["systemctl", "daemon-reload"])

    def enable_and_run(self, restart):
        """Enable; restart when ``restart``, else start when not running. Returns whether it (re)started."""
        state = self.state()
        if state.get("UnitFileState") != "enabled":
            if not self.host.check_mode:
                self.host.run(["systemctl", "enable", self.name])
            self.host.record("service", True, {"before_header": "alloy.service", "after_header": "alloy.service",
                                               "before": "%s\n" % (state.get("UnitFileState") or "absent"),
                                               "after": "enabled\n"})
        running = state.get("ActiveState") in ("active", "activating", "reloading")
        if not restart and running:
            return False
        if not self.host.check_mode:
            self.host.run(["systemctl", "restart" if running else "start", self.name])
        self.host.record("service", True, {"before_header": "alloy.service", "after_header": "alloy.service",
                                           "before": "%s\n" % (state.get("ActiveState") or "absent"),
                                           "after": "active (%s)\n" % ("restarted" if running else "started")})
        return True

    def stop_and_disable(self):
        state = self.state()
        if not state.get("UnitFileState") and not state.get("ActiveState"):
            return False
        changed = state.get("ActiveState") not in ("inactive", "failed", "") or state.get("UnitFileState") == "enabled"
        if changed:
            if not self.host.check_mode:
                self.host.run(["systemctl", "disable", "--now", self.name])
            self.host.record("service", True, {"before_header": "alloy.service", "before": "%s/%s\n" % (
                state.get("ActiveState"), state.get("UnitFileState")), "after": "inactive/disabled\n"})
        return changed

    def wait_ready(self, url, timeout):
        """True once ``url`` answers 200 within ``timeout`` seconds."""
        start = time.time()
        deadline = start + timeout
        while True:
            try:
                if open_url(url, timeout=5).getcode() == 200:
                    return True
            except Exception:  # not listening yet, or not ready: ask again until the deadline
                pass
            if time.time() >= deadline:
                return False
            # Alloy is usually up within a second or two: ask often at first.
            time.sleep(0.25 if time.time() < start + 5 else 1)

    def restart(self):
        self.host.run(["systemctl", "restart", self.name])
