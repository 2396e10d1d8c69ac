#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: alloy_host
short_description: Converge Grafana Alloy on one Linux host in one call
version_added: 0.2.0
description:
  - Installs the pinned Alloy package, creates the service user and its directories, writes the environment file,
    the systemd unit and C(config.alloy), enables the service and restarts it only when one of those changed.
  - A new configuration is checked with the host's own C(alloy) binary before it replaces the running one, and
    written atomically. After a (re)start Alloy must answer C(/-/ready) within O(ready_timeout) seconds; otherwise
    the last good configuration is put back, Alloy restarted with it, and the module fails with the reason.
  - Gathers what it needs about the host itself (OS family from C(/etc/os-release), CPU architecture).
  - Usually called through the action of the same name (role M(lgtm.aws.alloy_host) task), which renders and checks the
    configuration on the control node and sends a package file only when the host does not have it yet.
author:
  - lgtm.aws maintainers (@lgtm-aws)
options:
  state:
    description: V(present) installs, configures and runs Alloy; V(absent) stops it and removes what this module installed.
    type: str
    choices: [present, absent]
    default: present
  version:
    description: The Alloy version to install, without the leading C(v). Required with O(state=present).
    type: str
  mode:
    description: What this Alloy is for; shown in the unit's description and the report.
    type: str
    choices: [agent, collector]
    default: agent
  spec:
    description:
      - The pipeline spec the configuration is generated from (see C(docs/alloy.md); the role builds it from its variables).
      - Rendered and checked on the control node. One of O(spec) or O(config_override) is required with O(state=present).
    type: dict
  config_override:
    description: Alloy text that replaces the generated configuration entirely (still checked).
    type: str
    default: ""
  extra_config:
    description: Alloy text appended to the configuration.
    type: str
    default: ""
  extra_args:
    description: Extra flags for C(alloy run).
    type: list
    elements: str
    default: []
  basic_auth_password:
    description: Kept in the environment file as C(ALLOY_BASIC_AUTH_PASSWORD) (mode 0640); never in C(config.alloy), never logged.
    type: str
    default: ""
  validate:
    description: Check a changed configuration with the host's C(alloy fmt) (and C(alloy validate) where it exists) before it is installed.
    type: bool
    default: true
  install:
    description: Where the package comes from.
    type: dict
    default: {}
    suboptions:
      method:
        description: V(repository) (Grafana's APT/RPM repository), V(archive) (a release zip) or V(package_file).
        type: str
        choices: [repository, archive, package_file]
        default: repository
      hold:
        description: APT only; hold the package at the pinned version.
        type: bool
        default: true
      apt_repository_url:
        description: APT repository.
        type: str
        default: https://apt.grafana.com
      apt_suite:
        description: APT suite.
        type: str
        default: stable
      apt_component:
        description: APT component.
        type: str
        default: main
      apt_key_url:
        description: The repository's signing key, downloaded when the keyring is missing.
        type: str
        default: https://apt.grafana.com/gpg.key
      apt_keyring:
        description: Where the key is kept; the source trusts only this key (C(signed-by)).
        type: path
        default: /etc/apt/keyrings/grafana-alloy.asc
      apt_source_file:
        description: The APT source file.
        type: path
        default: /etc/apt/sources.list.d/grafana-alloy.list
      rpm_repository_url:
        description: RPM repository.
        type: str
        default: https://rpm.grafana.com
      rpm_key_url:
        description: The RPM repository's signing key (C(gpgcheck) and C(repo_gpgcheck) on).
        type: str
        default: https://rpm.grafana.com/gpg.key
      archive_url:
        description: The release zip; C({arch}) is replaced by the host's architecture (amd64, arm64, arm).
        type: str
        default: ""
      archive_sha256:
        description: The zip's sha256; a download that does not match installs nothing.
        type: str
        default: ""
      archive_dir:
        description: Unpacked versions live in C(<archive_dir>/<version>); C(/usr/bin/alloy) links to the pinned one.
        type: path
        default: /opt/alloy
      package_file:
        description: A C(.deb) or C(.rpm) on the control node for O(install.method=package_file); sent only when the host lacks it.
        type: str
        default: ""
      package_key_file:
        description: RPM only; an ASCII-armoured key on the control node, imported before the package's signature is checked.
        type: str
        default: ""
  user:
    description: Service user.
    type: str
    default: alloy
  group:
    description: Service group.
    type: str
    default: alloy
  user_groups:
    description: Supplementary groups of the service user (they must exist).
    type: list
    elements: str
    default: [adm, systemd-journal]
  config_dir:
    description: Directory of C(config.alloy).
    type: path
    default: /etc/alloy
  data_dir:
    description: Alloy's storage path; its parent is the service's home and working directory.
    type: path
    default: /var/lib/alloy/data
  env_file:
    description: The environment file; by default C(/etc/default/alloy) (Debian) or C(/etc/sysconfig/alloy) (RedHat).
    type: path
  keep_user:
    description: With O(state=absent), keep the service user and group.
    type: bool
    default: false
  http_listen_addr:
    description: Alloy's HTTP server; readiness is asked at C(/-/ready) there (C(0.0.0.0) is asked on 127.0.0.1).
    type: str
    default: 127.0.0.1:12345
  ready_timeout:
    description: Seconds to wait for C(/-/ready) after a (re)start before the configuration is rolled back.
    type: int
    default: 60
  connect_timeout:
    description: Seconds a host that does not answer is asked again before it is reported unreachable.
    type: int
    default: 0
  windows:
    description: Windows hosts (chosen by the connection's PowerShell shell); see M(lgtm.aws.alloy_host_windows).
    type: dict
    default: {}
    suboptions:
      installer_url:
        description: The installer zip of the release.
        type: str
        default: ""
      installer_sha256:
        description: The installer zip's sha256.
        type: str
        default: ""
      installer_file:
        description: An installer (.exe) on the control node instead of the download; sent only when the host needs it.
        type: str
        default: ""
      install_dir:
        description: Installation directory.
        type: str
      data_dir:
        description: Alloy's storage path.
        type: str
      registry_key:
        description: The service's registry key (arguments and environment).
        type: str
      service_name:
        description: The Windows service.
        type: str
      temp_dir:
        description: Download directory.
        type: str
  render_only:
    description:
      - Only render and check the configuration on the control node and return it (RV(config), RV(run_args)); the host is
        not contacted. For previews, and for giving another tool the same text.
    type: bool
    default: false
  _config:
    description: Internal, set by the action - the checked configuration text.
    type: str
  _run_args:
    description: Internal, set by the action - the flags for C(alloy run).
    type: str
  _package:
    description: Internal, set by the action - the package file's name, sha256, path on the host once sent, and RPM key.
    type: dict
notes:
  - An action plugin runs first on the control node - it renders and checks the configuration and sends files -
    then this module converges the host in one call.
  - Supports check mode (nothing changes; a host without the unit yet reports the service it would start) and diff mode.
  - Needs systemd.
"""

EXAMPLES = r"""
- name: Converge Alloy from Grafana's repository (the action renders the configuration; see the lgtm.aws.alloy role)
  lgtm.aws.alloy_host:
    version: "1.18.0"
    spec:
      mode: agent
      tenant: acme-prod
      endpoints:
        mimir: {url: "https://mimir.example.com/api/v1/push"}
        loki: {url: "https://loki.example.com/loki/api/v1/push"}
        tempo: {endpoint: "tempo.example.com:4317"}

- name: Remove Alloy and its files, keeping the service user
  lgtm.aws.alloy_host:
    state: absent
    keep_user: true
"""

RETURN = r"""
parts:
  description: Per part of the host, whether it changed.
  returned: always
  type: dict
  sample: {package: false, user: false, directories: false, environment: false, unit: false, config: true, service: true}
restarted:
  description: Whether Alloy was started or restarted.
  returned: always
  type: bool
timings:
  description: Seconds spent on the host per step (package, files, check, service, ready), for sizing and finding slow hosts.
  returned: always
  type: dict
  sample: {package: 0.04, files: 0.01, service: 0.02, ready: 0.01}
rolled_back:
  description: Whether the last good configuration was put back because the new one did not come up.
  returned: always
  type: bool
needs_package:
  description: The package file is not on the host; nothing was changed and the action sends it.
  returned: when the package file is missing
  type: bool
config:
  description: The configuration text (with O(render_only=true)).
  returned: with render_only
  type: str
run_args:
  description: The flags for C(alloy run) (with O(render_only=true)).
  returned: with render_only
  type: list
  elements: str
report:
  description: The host's state after the run.
  returned: always
  type: dict
  sample: {state: present, mode: agent, status: ok, version: v1.18.0, config_sha256: 3b1f..., service: active/enabled, changed: true}
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lgtm.aws.plugins.module_utils.alloy_binary import binary_errors, summary
from ansible_collections.lgtm.aws.plugins.module_utils.alloy_host_package import CACHE_DIR, RPM_REPO_FILE, NeedsPackage, Package
from ansible_collections.lgtm.aws.plugins.module_utils.alloy_host_service import (
    UNIT_FILE, Service, env_file_text, ready_url, unit_text)
from ansible_collections.lgtm.aws.plugins.module_utils.alloy_host_system import (
    Host, architecture, os_family, read_text, sha256_file)

INSTALL_OPTIONS = dict(
    method=dict(type="str", default="repository", choices=["repository", "archive", "package_file"]),
    hold=dict(type="bool", default=True),
    apt_repository_url=dict(type="str", default="https://apt.grafana.com"),
    apt_suite=dict(type="str", default="stable"),
    apt_component=dict(type="str", default="main"),
    apt_key_url=dict(type="str", default="https://apt.grafana.com/gpg.key", no_log=False),
    apt_keyring=dict(type="path", default="/etc/apt/keyrings/grafana-alloy.asc"),
    apt_source_file=dict(type="path", default="/etc/apt/sources.list.d/grafana-alloy.list"),
    rpm_repository_url=dict(type="str", default="https://rpm.grafana.com"),
    rpm_key_url=dict(type="str", default="https://rpm.grafana.com/gpg.key", no_log=False),
    archive_url=dict(type="str", default=""),
    archive_sha256=dict(type="str", default=""),
    archive_dir=dict(type="path", default="/opt/alloy"),
    package_file=dict(type="str", default=""),
    package_key_file=dict(type="str", default=""),
)

WINDOWS_OPTIONS = dict(
    installer_url=dict(type="str", default=""), installer_sha256=dict(type="str", default=""),
    installer_file=dict(type="str", default=""), install_dir=dict(type="str"), data_dir=dict(type="str"),
    registry_key=dict(type="str", no_log=False), service_name=dict(type="str"), temp_dir=dict(type="str"),
)

ARGUMENT_SPEC = dict(
    state=dict(type="str", default="present", choices=["present", "absent"]),
    version=dict(type="str"),
    mode=dict(type="str", default="agent", choices=["agent", "collector"]),
    spec=dict(type="dict"),
    config_override=dict(type="str", default=""),
    extra_config=dict(type="str", default=""),
    extra_args=dict(type="list", elements="str", default=[]),
    basic_auth_password=dict(type="str", default="", no_log=True),
    validate=dict(type="bool", default=True),
    install=dict(type="dict", default={}, options=INSTALL_OPTIONS),
    user=dict(type="str", default="alloy"),
    group=dict(type="str", default="alloy"),
    user_groups=dict(type="list", elements="str", default=["adm", "systemd-journal"]),
    config_dir=dict(type="path", default="/etc/alloy"),
    data_dir=dict(type="path", default="/var/lib/alloy/data"),
    env_file=dict(type="path"),
    keep_user=dict(type="bool", default=False),
    http_listen_addr=dict(type="str", default="127.0.0.1:12345"),
    ready_timeout=dict(type="int", default=60),
    connect_timeout=dict(type="int", default=0),
    windows=dict(type="dict", default={}, options=WINDOWS_OPTIONS),
    render_only=dict(type="bool", default=False),
    # Set by the action: the checked configuration text, the run flags, and the package file's name,
    # sha256, path on the host once sent, and RPM signing key.
    _config=dict(type="str"),
    _run_args=dict(type="str"),
    _package=dict(type="dict"),
)


def check_with_binary(host, config, config_file):
    """Let the host's alloy (the version just installed) judge a changed configuration before it is installed."""
    binary = host.module.get_bin_path("alloy")
    if not binary or read_text(config_file) == config:
        return
    handle, path = tempfile.mkstemp(suffix=".alloy")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(config)
        errors = binary_errors(host.module, binary, path)
    finally:
        os.unlink(path)
    if errors:
        host.module.fail_json(msg=summary(errors) + "; the installed configuration was left as it was",
                              errors=errors, parts=host.parts, diff=host.diffs)


def report(host, params, config_file, service):
    state = service.state()
    version = ""
    binary = host.module.get_bin_path("alloy")
    if binary:
        out = host.run([binary, "--version"], check=False)[1]
        version = next((word for word in out.split() if word.startswith("v") and word[1:2].isdigit()), "")
    return {
        "state": "present",
        "mode": params["mode"],
        "status": "ok",
        "version": version,
        "config_sha256": sha256_file(config_file) if os.path.exists(config_file) else "",
        "service": "%s/%s" % (state.get("ActiveState") or "unknown", state.get("UnitFileState") or "unknown"),
        "changed": host.changed(),
    }


def present(module, host, params, family):
    config_file = os.path.join(params["config_dir"], "config.alloy")
    last_good = config_file + ".last-good"
    env_file = params["env_file"] or ("/etc/sysconfig/alloy" if family == "RedHat" else "/etc/default/alloy")
    home = os.path.dirname(params["data_dir"])
    user, group = params["user"], params["group"]
    service = Service(host)
    known_before = bool(service.state().get("UnitFileState"))

    package = Package(host, dict(params["install"], **(params["_package"] or {})), params["version"], family, architecture())
    try:
        with host.timed("package"):
            binary_changed = package.ensure()
    except NeedsPackage:
        module.exit_json(changed=False, needs_package=True, parts={}, restarted=False, rolled_back=False, report={})

    with host.timed("files"):
        host.group("user", group)
        host.user("user", user, group, params["user_groups"], home)
        host.directory("directories", params["config_dir"], "root", group, 0o750)
        for path in (home, params["data_dir"]):
            host.directory("directories", path, user, group, 0o750)
        host.file("environment", env_file, env_file_text(config_file, params["_run_args"] or "", params["basic_auth_password"]),
                  "root", group, 0o640, secret=params["basic_auth_password"] or None)
        if host.file("unit", UNIT_FILE, unit_text(params["mode"], user, group, env_file, params["data_dir"]), mode=0o644):
            service.daemon_reload()
    if params["validate"] and not module.check_mode:
        with host.timed("check"):
            check_with_binary(host, params["_config"], config_file)
    host.file("config", config_file, params["_config"], "root", group, 0o640)

    restart = binary_changed or host.changed("user", "environment", "unit", "config")
    restarted = rolled_back = False
    if module.check_mode and not known_before:
        host.record("service", True, {"before_header": "alloy.service", "before": "absent\n", "after": "active/enabled\n"})
    else:
        with host.timed("service"):
            restarted = service.enable_and_run(restart)
    if not module.check_mode:
        url = ready_url(params["http_listen_addr"])
        with host.timed("ready"):
            ready = service.wait_ready(url, params["ready_timeout"] if restarted else min(params["ready_timeout"], 10))
        if not ready:
            good = read_text(last_good)
            if restarted and good is not None and good != params["_config"]:
                host.file("config", config_file, good, "root", group, 0o640)
                service.restart()
                rolled_back = True
            module.fail_json(
                msg="Alloy did not become ready at %s within %ds%s; %s. See `journalctl -u alloy` on this host."
                % (params["http_listen_addr"], params["ready_timeout"], " with the new configuration" if restarted else "",
                   "the last good configuration was restored and Alloy restarted with it" if rolled_back
                   else "there was no earlier configuration to restore"),
                parts=host.parts, diff=host.diffs, restarted=restarted, rolled_back=rolled_back)
        if restarted or not os.path.exists(last_good):
            # Kept outside the parts: it follows the configuration, it is not a change of its own.
            Host(module).file("last_good", last_good, params["_config"], "root", group, 0o640)
    return dict(restarted=restarted, rolled_back=rolled_back, report=report(host, params, config_file, service))


def absent(module, host, params, family):
    env_file = params["env_file"] or ("/etc/sysconfig/alloy" if family == "RedHat" else "/etc/default/alloy")
    install = params["install"]
    service = Service(host)
    unit_existed = os.path.exists(UNIT_FILE)
    if unit_existed:
        service.stop_and_disable()
    Package(host, install, params["version"] or "", family, architecture()).remove()
    paths = [UNIT_FILE, env_file, env_file + ".rpmsave", params["config_dir"], os.path.dirname(params["data_dir"]),
             install["apt_source_file"], install["apt_keyring"], RPM_REPO_FILE, install["archive_dir"], CACHE_DIR]
    for path in paths:
        host.remove("files", path)
    binary = "/usr/bin/alloy"
    if os.path.islink(binary) and os.readlink(binary).startswith(install["archive_dir"].rstrip("/") + "/"):
        host.remove("files", binary)
    if unit_existed:
        service.daemon_reload()
    if not params["keep_user"]:
        host.remove_user("user", params["user"], params["group"])
    return dict(restarted=False, rolled_back=False, report={
        "state": "absent", "mode": params["mode"], "status": "ok", "version": "", "config_sha256": "",
        "service": "absent", "changed": host.changed()})


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        required_if=[("state", "present", ("version", "_config"))],
        supports_check_mode=True,
    )
    params = module.params
    install = params["install"]
    if params["state"] == "present":
        if install["method"] == "archive" and (not install["archive_url"] or len(install["archive_sha256"]) != 64):
            module.fail_json(msg="install.method=archive needs install.archive_url and install.archive_sha256 (64 hex digits)")
        if install["method"] == "package_file" and not (params["_package"] or {}).get("sha256"):
            module.fail_json(msg="install.method=package_file needs install.package_file (sent by the action)")
    host = Host(module)
    family = os_family()
    result = (present if params["state"] == "present" else absent)(module, host, params, family)
    module.exit_json(changed=host.changed(), parts=host.parts, diff=host.diffs, timings=host.timings, **result)


if __name__ == "__main__":
    main()
