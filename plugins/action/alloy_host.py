# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of lgtm.aws.alloy_host: render and check the configuration here, then converge the host in
one module call (docs: modules/alloy_host.py). A package or installer file crosses the wire only when the
host says it lacks it; a host that does not answer yet is asked again until connect_timeout."""

from __future__ import annotations

import os
import re
import time

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.lgtm.aws.plugins.module_utils import alloy_syntax
from ansible_collections.lgtm.aws.plugins.module_utils.alloy_binary import summary
from ansible_collections.lgtm.aws.plugins.module_utils.alloy_host_system import sha256_file
from ansible_collections.lgtm.aws.plugins.plugin_utils import alloy_pipelines

VERSION = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+([-~+.][0-9A-Za-z.~+-]+)?$")
SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
HEADER = "// Managed by Ansible (lgtm.aws.alloy): local changes are overwritten.\n"

INSTALL = {
    "method": {"type": "str", "default": "repository", "choices": ["repository", "archive", "package_file"]},
    "hold": {"type": "bool", "default": True},
    "apt_repository_url": {"type": "str"}, "apt_suite": {"type": "str"}, "apt_component": {"type": "str"},
    "apt_key_url": {"type": "str"}, "rpm_repository_url": {"type": "str"}, "rpm_key_url": {"type": "str"},
    "archive_url": {"type": "str", "default": ""}, "archive_sha256": {"type": "str", "default": ""},
    "package_file": {"type": "str", "default": ""}, "package_key_file": {"type": "str", "default": ""},
}
WINDOWS = {
    "installer_url": {"type": "str", "default": ""}, "installer_sha256": {"type": "str", "default": ""},
    "installer_file": {"type": "str", "default": ""}, "install_dir": {"type": "str"}, "data_dir": {"type": "str"},
    "registry_key": {"type": "str"}, "service_name": {"type": "str"}, "temp_dir": {"type": "str"},
}
ARGS = {
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "mode": {"type": "str", "default": "agent", "choices": ["agent", "collector"]},
    "version": {"type": "str"},
    "spec": {"type": "dict"},
    "config_override": {"type": "str", "default": ""},
    "extra_config": {"type": "str", "default": ""},
    "extra_args": {"type": "list", "elements": "str", "default": []},
    "http_listen_addr": {"type": "str", "default": "127.0.0.1:12345"},
    "ready_timeout": {"type": "int", "default": 60},
    "basic_auth_password": {"type": "str", "default": "", "no_log": True},
    "validate": {"type": "bool", "default": True},
    "install": {"type": "dict", "default": {}, "options": INSTALL},
    "user": {"type": "str"}, "group": {"type": "str"}, "user_groups": {"type": "list", "elements": "str"},
    "config_dir": {"type": "str"}, "data_dir": {"type": "str"}, "keep_user": {"type": "bool", "default": False},
    "connect_timeout": {"type": "int", "default": 0},
    "windows": {"type": "dict", "default": {}, "options": WINDOWS},
    "render_only": {"type": "bool", "default": False},
}
LINUX_PASSTHROUGH = ("user", "group", "user_groups", "config_dir", "data_dir")


def _present(values):
    return {key: value for key, value in values.items() if value is not None}


class ActionModule(ActionBase):
    # The temporary directory is made only when a file must be sent (see _send), not before every call.
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=ARGS)
        windows = getattr(self._connection._shell, "SHELL_FAMILY", "sh") == "powershell"
        self._deadline = time.time() + args["connect_timeout"]
        rendered = {"pipelines": [], "tenants": {}}
        config = run_args = None
        if args["state"] == "present":
            problems = [] if args["render_only"] else self._install_problems(args, windows)
            if problems:
                return dict(result, failed=True, msg="lgtm.aws.alloy: %d problem(s); nothing was changed.\n%s"
                            % (len(problems), "\n".join("- " + line for line in problems)))
            try:
                rendered, config = self._render(args, "windows" if windows else "linux")
            except (alloy_pipelines.SpecError, ValueError) as error:
                return dict(result, failed=True, msg=self._render_error(error), errors=getattr(error, "errors", []))
            flags = ["--server.http.listen-addr=" + args["http_listen_addr"], "--disable-reporting"]
            if rendered.get("experimental"):
                flags.append("--stability.level=experimental")
            run_args = flags + list(args["extra_args"])
            if args["render_only"]:
                return dict(result, changed=False, config=config, run_args=run_args, pipelines=rendered["pipelines"],
                            tenants=rendered["tenants"])
        try:
            if windows:
                module_result = self._windows(args, config, run_args, task_vars)
            else:
                module_result = self._linux(args, config, run_args, task_vars)
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        result.update(module_result)
        report = dict(module_result.get("report") or {})
        if args["state"] == "present" and report:
            report.update(pipelines=rendered["pipelines"], tenants=rendered["tenants"])
        result["report"] = report
        return result

    # --- controller side ----------------------------------------------------------------------

    def _render(self, args, platform):
        if args["config_override"]:
            rendered = {"config": args["config_override"], "pipelines": [], "tenants": {}, "experimental": False}
        else:
            if args["spec"] is None:
                raise ValueError("spec or config_override is required with state=present")
            rendered = alloy_pipelines.render(dict(args["spec"], platform=platform), role=True)
        config = HEADER + rendered["config"].strip() + "\n"
        if args["extra_config"].strip():
            config += "\n// alloy_extra_config\n" + args["extra_config"].strip() + "\n"
        errors = alloy_syntax.check(config)
        if errors:
            error = ValueError(summary(errors) + "; nothing was changed")
            error.errors = errors
            raise error
        return rendered, config

    @staticmethod
    def _install_problems(args, windows):
        install, problems = args["install"], []
        if not VERSION.match(args["version"] or ""):
            problems.append("alloy_version: expected X.Y.Z (without the leading v), got %r" % (args["version"],))
        if windows:
            if not args["windows"]["installer_file"] and not SHA256.match(args["windows"]["installer_sha256"]):
                problems.append("alloy_windows_installer_sha256: Windows hosts need the 64 hex digits of the installer zip "
                                "from the release page, or alloy_windows_installer_file (an installer on the control node)")
        elif install["method"] == "archive" and not SHA256.match(install["archive_sha256"]):
            problems.append("alloy_archive_sha256: alloy_install_method=archive needs the 64 hex digits of the release zip")
        elif install["method"] == "package_file" and not install["package_file"]:
            problems.append("alloy_package_file: alloy_install_method=package_file needs a .deb or .rpm on the control node")
        return problems

    @staticmethod
    def _render_error(error):
        if isinstance(error, alloy_pipelines.SpecError):
            return "lgtm.aws.alloy: %d problem(s); nothing was changed.\n%s" % (
                len(error.problems), "\n".join("- " + line for line in str(error).splitlines()))
        return str(error)

    def _local_file(self, path, variable):
        try:
            return self._find_needle("files", path)
        except AnsibleError:
            raise AnsibleError("%s: %s is not a file on the control node" % (variable, path))

    # --- the host -----------------------------------------------------------------------------

    def _call(self, name, module_args, task_vars):
        """One module call; while the host does not answer, ask again until connect_timeout."""
        while True:
            try:
                return self._execute_module(module_name=name, module_args=module_args, task_vars=task_vars)
            except AnsibleConnectionFailure:
                if time.time() >= self._deadline:
                    raise
                time.sleep(2)
                try:
                    self._connection.reset()
                except Exception:  # pylint: disable=broad-except  # the next call reports the real failure
                    pass

    def _send(self, local, name):
        """Copy a control-node file into a temporary directory on the host; returns its path there."""
        if self._connection._shell.tmpdir is None:
            self._make_tmp_path()
        remote = self._connection._shell.join_path(self._connection._shell.tmpdir, name)
        self._transfer_file(local, remote)
        self._fixup_perms2((self._connection._shell.tmpdir, remote))
        return remote

    def _linux(self, args, config, run_args, task_vars):
        given = args["install"]
        install = _present({key: given[key] for key in INSTALL if key not in ("package_file", "package_key_file")})
        package_info = {}
        module_args = dict(state=args["state"], mode=args["mode"], version=args["version"], keep_user=args["keep_user"],
                           install=install, validate=args["validate"], http_listen_addr=args["http_listen_addr"],
                           ready_timeout=args["ready_timeout"], basic_auth_password=args["basic_auth_password"],
                           **_present({key: args[key] for key in LINUX_PASSTHROUGH}))
        if args["state"] == "present":
            module_args.update(_config=config, _run_args=" ".join(run_args), _package=package_info)
        package = None
        if args["state"] == "present" and given["method"] == "package_file":
            package = self._local_file(given["package_file"], "alloy_package_file")
            package_info.update(name=os.path.basename(package), sha256=sha256_file(package))
            if given["package_key_file"]:
                with open(self._local_file(given["package_key_file"], "alloy_package_key_file")) as handle:
                    package_info["key"] = handle.read()
        module_result = self._call("lgtm.aws.alloy_host", module_args, task_vars)
        if module_result.get("needs_package") and package:
            package_info["src"] = self._send(package, package_info["name"])
            module_result = self._call("lgtm.aws.alloy_host", module_args, task_vars)
        return module_result

    def _windows(self, args, config, run_args, task_vars):
        given = args["windows"]
        module_args = dict(_present({key: given[key] for key in WINDOWS if key != "installer_file"}),
                           state=args["state"], mode=args["mode"], version=args["version"] or "",
                           http_listen_addr=args["http_listen_addr"], ready_timeout=args["ready_timeout"],
                           basic_auth_password=args["basic_auth_password"])
        if args["state"] == "present":
            module_args.update(config=config, run_args=run_args)
        installer = None
        if args["state"] == "present" and given["installer_file"]:
            installer = self._local_file(given["installer_file"], "alloy_windows_installer_file")
            module_args["installer_url"] = ""
        module_result = self._call("lgtm.aws.alloy_host_windows", module_args, task_vars)
        if module_result.get("needs_installer") and installer:
            module_args["installer_path"] = self._send(installer, to_text(os.path.basename(installer)))
            module_result = self._call("lgtm.aws.alloy_host_windows", module_args, task_vars)
        return module_result
