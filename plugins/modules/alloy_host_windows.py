#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This file holds the documentation only; the module is alloy_host_windows.ps1 beside it.

DOCUMENTATION = r"""
---
module: alloy_host_windows
short_description: Converge one Windows Grafana Alloy host in one call
version_added: 0.2.0
description:
  - Installs, configures and runs Grafana Alloy on a Windows host, or removes it, in one module call - the Windows
    counterpart of M(lgtm.aws.alloy_host), which calls this module when the connection's shell is PowerShell.
  - B(Package) - compares the installed version (the product version of C(alloy-windows-amd64.exe), else its
    C(--version) output) with O(version); when they differ runs the official installer silently
    (C(/S /DISABLEREPORTING=yes)) from O(installer_path), or downloads the release zip from O(installer_url), checks it
    against O(installer_sha256) and unpacks the installer first. When neither is given and the version differs, fails
    before changing anything with RV(needs_installer=true), so the caller can copy an installer and call again
    (in check mode it reports the change instead).
  - B(Service registry values) - sets C(Arguments) under O(registry_key) to C(run), the configuration file,
    C(--storage.path=)O(data_dir) and O(run_args); sets C(Environment) to C(ALLOY_BASIC_AUTH_PASSWORD=...) when
    O(basic_auth_password) is not empty, else to nothing. Only values that differ are written.
  - B(Configuration) - writes O(config) to C(config.alloy) in O(install_dir) only when its text differs, through a
    file beside it that then replaces it. The text is expected to be checked already (the action does that).
  - B(Service) - start mode C(auto) (not delayed); restarted when the package, a registry value or the configuration
    changed, started when stopped, left alone otherwise. Then waits up to O(ready_timeout) seconds for C(/-/ready) at
    O(http_listen_addr) (C(0.0.0.0) asked at C(127.0.0.1)).
  - B(Rollback) - when the service does not start or does not become ready, puts C(config.alloy.last-good) back (when
    there is one), restarts the service and fails with the reason and RV(rolled_back). Once ready, the configuration
    is kept as C(config.alloy.last-good).
  - With O(state=absent) stops the service, runs the installer's C(uninstall.exe /S) and waits for it, then removes
    O(install_dir), O(data_dir) and O(registry_key).
author:
  - lgtm.aws maintainers (@lgtm-aws)
options:
  state:
    description: Whether Alloy should be installed and running, or removed.
    type: str
    choices: [present, absent]
    default: present
  version:
    description: The Alloy version to have, without the leading C(v), e.g. C(1.18.1). Required with O(state=present).
    type: str
  mode:
    description: What this host runs (C(agent) or C(collector)); only reported back in RV(report).
    type: str
    choices: [agent, collector]
    default: agent
  config:
    description: The complete C(config.alloy) text. Required with O(state=present).
    type: str
  run_args:
    description: Extra command line flags for C(alloy run), after the configuration file and the storage path.
    type: list
    elements: str
    default: []
  basic_auth_password:
    description:
      - The basic auth password, given to the service as E(ALLOY_BASIC_AUTH_PASSWORD) through the C(Environment)
        registry value; never written to C(config.alloy) and never shown (the diff masks it). Empty means none.
    type: str
    default: ''
  http_listen_addr:
    description: Alloy's HTTP server address; readiness is asked at C(http://<address>/-/ready).
    type: str
    default: 127.0.0.1:12345
  ready_timeout:
    description: Seconds to wait for C(/-/ready) after a start or restart before rolling back.
    type: int
    default: 60
  installer_url:
    description: Where the host downloads the release zip (C(alloy-installer-windows-amd64.exe.zip)) when it needs it.
    type: str
    default: ''
  installer_sha256:
    description: The sha256 (64 hex digits) of the zip at O(installer_url); required for a download.
    type: str
    default: ''
  installer_path:
    description: An installer (.exe) already on the host, used instead of a download.
    type: str
    default: ''
  install_dir:
    description: The installer's directory; C(config.alloy) lives here.
    type: str
    default: C:\Program Files\GrafanaLabs\Alloy
  data_dir:
    description: Alloy's storage path (C(--storage.path)).
    type: str
    default: C:\ProgramData\GrafanaLabs\Alloy\data
  registry_key:
    description: The registry key the Alloy service reads its C(Arguments) and C(Environment) from (64-bit view).
    type: str
    default: HKLM:\SOFTWARE\GrafanaLabs\Alloy
  service_name:
    description: The Windows service the installer creates.
    type: str
    default: Alloy
  temp_dir:
    description: Where a downloaded installer zip is kept and unpacked.
    type: str
    default: C:\Windows\Temp\lgtm-alloy
notes:
  - Supports check mode (changes nothing, reports what would change) and diff mode (one entry per part, the password
    masked).
  - Normally called by the M(lgtm.aws.alloy_host) action, which renders and checks the configuration on the control
    node; see the C(lgtm.aws.alloy) role.
seealso:
  - module: lgtm.aws.alloy_host
"""

EXAMPLES = r"""
- name: Alloy 1.18.1 on a Windows host, the installer downloaded there
  lgtm.aws.alloy_host_windows:
    version: 1.18.1
    config: "{{ lookup('ansible.builtin.file', 'config.alloy') }}"
    run_args: [--server.http.listen-addr=127.0.0.1:12345, --disable-reporting]
    installer_url: https://github.com/grafana/alloy/releases/download/v1.18.1/alloy-installer-windows-amd64.exe.zip
    installer_sha256: "{{ alloy_windows_installer_sha256 }}"
    basic_auth_password: "{{ vault_alloy_password }}"

- name: Remove Alloy
  lgtm.aws.alloy_host_windows:
    state: absent
"""

RETURN = r"""
parts:
  description: Which parts changed (or would, in check mode).
  returned: always
  type: dict
  sample: {package: false, environment: false, arguments: false, config: true, service: true}
restarted:
  description: Whether the service was restarted.
  returned: always
  type: bool
rolled_back:
  description: Whether the last good configuration was put back because the new one did not become ready.
  returned: always
  type: bool
installed_version:
  description: The Alloy version found on the host before this run, without C(v); empty when none.
  returned: always
  type: str
  sample: 1.16.0
needs_installer:
  description:
    - Whether the host needs an installer that was not given (the version differs and neither O(installer_path) nor
      O(installer_url) was set). Outside check mode the module then fails before changing anything; in check mode
      the package is reported as a change.
  returned: always
  type: bool
report:
  description: This host's entry in the fleet report.
  returned: always
  type: dict
  contains:
    state:
      description: O(state).
      type: str
    mode:
      description: O(mode).
      type: str
    version:
      description: The Alloy version, with C(v); empty with O(state=absent).
      type: str
      sample: v1.18.1
    config_sha256:
      description: The sha256 of the configuration Alloy runs with; empty with O(state=absent).
      type: str
    service:
      description: The service as C(<state>/<start mode>), e.g. C(started/auto); C(absent) with O(state=absent).
      type: str
      sample: started/auto
diff:
  description: One entry per changed part (before/after text with headers); the password masked.
  returned: in diff mode when something changed
  type: list
  elements: dict
"""
