#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: rendered_files
short_description: Write a set of generated files under one directory in one call, after checking them
version_added: 0.3.0
description:
  - Writes every file of O(files) under O(path), creating the directories they need, and reports a diff per file.
  - A file is written only when its content differs (atomically, through a temporary file in the same directory),
    and its mode is corrected when it differs, so a run that changes nothing writes nothing.
  - With O(validate), all files are first laid out in a scratch directory and each command runs there; if one
    fails, nothing is written and the module fails with the command's output. The commands run in check mode too
    (they only read the scratch copy).
  - Files under O(path) that are not listed are left alone.
  - In the arguments of a O(validate) command, C({scratch}) stands for the scratch directory's absolute path (for
    programs that need one, such as C(docker run -v {scratch}/prometheus:/etc/prometheus:ro ...)).
author:
  - lgtm.aws maintainers (@lgtm-aws)
options:
  path:
    description: Directory the files go in (created when missing).
    type: path
    required: true
  files:
    description:
      - Relative path (such as C(rules/alerts.yml)) to the file's content. Paths may not be absolute or contain C(..).
      - A value may also be a mapping with C(content) and C(mode), for a file whose mode differs from O(mode).
    type: dict
    default: {}
  sensitive_files:
    description:
      - Files like O(files) whose content is secret (passwords, keys, files that carry them). Their content is never
        shown in the diff or the module's output, and the values are hidden from logs like any C(no_log) parameter.
    type: dict
    default: {}
  keep_existing:
    description:
      - Relative paths of O(files) or O(sensitive_files) written only when they do not exist yet (a generated
        password kept afterwards); their mode is still corrected.
    type: list
    elements: str
    default: []
  mode:
    description: Mode of the files (unless a file gives its own).
    type: raw
    default: "0644"
  directory_mode:
    description: Mode of the directories created.
    type: raw
    default: "0755"
  directories:
    description:
      - Relative path to mode of directories that must exist with that mode (created or corrected), such as a
        C(0700) directory for secrets. C(.) is O(path) itself.
    type: dict
    default: {}
  scratch_parent:
    description:
      - Directory the scratch directory of O(validate) is made in (then removed); the system's temporary directory
        when not given. Give one the checking programs can read, for example a container engine's bind mounts.
    type: path
  validate:
    description: Commands that check the files before any is written, run in the scratch directory.
    type: list
    elements: dict
    default: []
    suboptions:
      argv:
        description: The command and its arguments (no shell).
        type: list
        elements: str
        required: true
      chdir:
        description: Directory to run in, relative to the scratch directory.
        type: str
        default: "."
      when_changed:
        description:
          - Run the command only when a file under one of these relative paths (a file or a directory) differs from
            what is under O(path) now, for a check that is slow (a container run) and pointless when its files did
            not change. Empty runs it always.
        type: list
        elements: str
        default: []
  skip_missing_commands:
    description:
      - A validation command whose program is not installed is skipped (and listed in RV(skipped_checks)) instead of failing.
    type: bool
    default: false
notes:
  - Supports check mode and diff mode.
  - Runs on the target host; the files it writes are the target's.
seealso:
  - module: ansible.builtin.copy
"""

EXAMPLES = r"""
- name: Prometheus's configuration, checked by promtool, then written
  lgtm.aws.rendered_files:
    path: /srv/prometheus
    files:
      prometheus.yml: "{{ prometheus_config | to_nice_yaml }}"
      rules/alerts.yml: "{{ alert_rules | to_nice_yaml }}"
    validate:
      - argv: [promtool, check, config, prometheus.yml]

- name: Configuration checked by the image's own binary (only when it changed), with a secret file
  lgtm.aws.rendered_files:
    path: /srv/stack
    files:
      prometheus/prometheus.yml: "{{ prometheus_config | to_nice_yaml }}"
    sensitive_files:
      secrets/admin_password: {content: "{{ admin_password }}", mode: "0400"}
    keep_existing: [secrets/admin_password]
    directories: {secrets: "0700"}
    scratch_parent: /srv/stack
    validate:
      - argv: [docker, run, --rm, -v, "{scratch}/prometheus:/etc/prometheus:ro", --entrypoint, /bin/promtool,
               prom/prometheus:v3.8.1, check, config, /etc/prometheus/prometheus.yml]
        when_changed: [prometheus]
"""

RETURN = r"""
written:
  description: Relative paths of the files written (or that would be, in check mode), content or mode.
  returned: always
  type: list
  elements: str
  sample: [prometheus.yml]
unchanged:
  description: Relative paths of the files already as asked.
  returned: always
  type: list
  elements: str
  sample: [rules/alerts.yml]
skipped_checks:
  description:
    - The validation commands skipped because their program is not installed (O(skip_missing_commands)) or none of
      their O(validate[].when_changed) files changed. (Not C(skipped), which Ansible would read as the whole task
      skipped.)
  returned: always
  type: list
  elements: str
  sample: []
validated:
  description: The validation commands that ran and passed, as one line each (C({scratch}) as written).
  returned: always
  type: list
  elements: str
  sample: [promtool check config prometheus.yml]
"""

import os
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native

HIDDEN = "(content of a sensitive file, not shown)\n"


def bad_paths(files):
    problems = []
    for relative in sorted(files):
        parts = relative.replace("\\", "/").split("/")
        if not relative or os.path.isabs(relative) or ".." in parts or "" in parts:
            problems.append("files: %r must be a relative path without .. or empty parts" % relative)
    return problems


def entries(params):
    """``{relative: {content, mode, sensitive}}`` of files and sensitive_files, or problems."""
    out, problems = {}, []
    for option, sensitive in (("files", False), ("sensitive_files", True)):
        for key, value in (params[option] or {}).items():
            relative = str(key)
            if relative in out:
                problems.append("%s: %r is also in files" % (option, relative))
            mode = params["mode"]
            if isinstance(value, dict):
                unknown = sorted(set(value) - set(("content", "mode")))
                if unknown or "content" not in value:
                    problems.append("%s: %r must be a string or a mapping with content (and mode); got keys %s"
                                    % (option, relative, ", ".join(sorted(value))))
                    continue
                mode, value = value.get("mode") or mode, value["content"]
            out[relative] = {"content": "" if value is None else to_native(value), "mode": mode, "sensitive": sensitive}
    return out, problems


def read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def differing(root, files, keep):
    """Relative paths whose content differs from what is under root (a kept file only when absent)."""
    out = set()
    for relative, entry in files.items():
        current = read(os.path.join(root, relative))
        if current is None or (relative not in keep and current != to_bytes(entry["content"])):
            out.add(relative)
    return out


def touches(changed, prefixes):
    return any(c == p.rstrip("/") or c.startswith(p.rstrip("/") + "/") for c in changed for p in prefixes)


def run_checks(module, files, commands, skip_missing, changed, scratch_parent):
    """Lay the files out in a scratch directory and run each command there; fail naming the first that fails.
    Returns the commands that passed and those skipped (program missing, or none of its files changed)."""
    passed, skipped = [], []
    runnable = []
    for command in commands:
        line = " ".join(command["argv"])
        if command["when_changed"] and not touches(changed, command["when_changed"]):
            skipped.append(line)
        elif module.get_bin_path(command["argv"][0]) is None and not os.path.isabs(command["argv"][0]):
            if not skip_missing:
                module.fail_json(msg="%s: %s is not installed (or not on PATH); nothing was written" % (line, command["argv"][0]))
            skipped.append(line)
        else:
            runnable.append(command)
    if not runnable:
        return passed, skipped
    if scratch_parent and not os.path.isdir(scratch_parent):
        os.makedirs(scratch_parent)
    scratch = tempfile.mkdtemp(prefix=".lgtm-rendered-", dir=scratch_parent or None)
    try:
        for relative, entry in files.items():
            target = os.path.join(scratch, relative)
            if not os.path.isdir(os.path.dirname(target)):
                os.makedirs(os.path.dirname(target))
                os.chmod(os.path.dirname(target), 0o755)
            with open(target, "wb") as handle:
                handle.write(to_bytes(entry["content"]))
            os.chmod(target, 0o600 if entry["sensitive"] else 0o644)
        for command in runnable:
            line = " ".join(command["argv"])
            cwd = os.path.join(scratch, command["chdir"])
            argv = [arg.replace("{scratch}", scratch) for arg in command["argv"]]
            rc, out, err = module.run_command(argv, cwd=cwd)
            if rc != 0:
                module.fail_json(msg="%s failed (rc %d) in %s; nothing was written: %s" % (line, rc, command["chdir"], (err or out).strip()),
                                 rc=rc, stdout=out, stderr=err, validated=passed)
            passed.append(line)
        return passed, skipped
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def write(module, target, content, directory_mode):
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        os.makedirs(directory)
        module.set_mode_if_different(directory, directory_mode, False)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(target))
    with os.fdopen(handle, "wb") as out:
        out.write(content)
    module.atomic_move(temporary, target)


def ensure_directories(module, root, directories, default_mode, diffs):
    for relative in sorted(directories, key=lambda r: (r.count("/"), r)):
        target = os.path.normpath(os.path.join(root, relative))
        mode = directories[relative] or default_mode
        if not os.path.isdir(target):
            diffs.append({"before": {"path": target, "state": "absent"}, "after": {"path": target, "state": "directory", "mode": mode}})
            if module.check_mode:
                continue
            os.makedirs(target)
        args = module.load_file_common_arguments(dict(path=target, mode=mode))
        if module.set_fs_attributes_if_different(args, False) and os.path.isdir(target):
            diffs.append({"before_header": "%s (mode)" % target, "after_header": "%s (mode)" % target, "before": "", "after": "mode: %s\n" % mode})


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            files=dict(type="dict", default={}),
            sensitive_files=dict(type="dict", default={}, no_log=True),
            keep_existing=dict(type="list", elements="str", default=[], no_log=False),
            mode=dict(type="raw", default="0644"),
            directory_mode=dict(type="raw", default="0755"),
            directories=dict(type="dict", default={}),
            scratch_parent=dict(type="path"),
            validate=dict(type="list", elements="dict", default=[], options=dict(
                argv=dict(type="list", elements="str", required=True),
                chdir=dict(type="str", default="."),
                when_changed=dict(type="list", elements="str", default=[]),
            )),
            skip_missing_commands=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    params = module.params
    files, problems = entries(params)
    keep = set(params["keep_existing"])
    problems += bad_paths(files) + bad_paths([c["chdir"] for c in params["validate"] if c["chdir"] != "."])
    problems += bad_paths([d for d in params["directories"] if d != "."])
    problems += ["keep_existing: %r is not in files or sensitive_files" % k for k in sorted(keep - set(files))]
    if problems:
        module.fail_json(msg="Nothing was written: " + "; ".join(problems))
    root = params["path"]
    validated, skipped = run_checks(module, files, [c for c in params["validate"] if c["argv"]], params["skip_missing_commands"],
                                    differing(root, files, keep), params["scratch_parent"])

    written, unchanged, diffs = [], [], []
    if not os.path.isdir(root):
        diffs.append({"before": {"path": root, "state": "absent"}, "after": {"path": root, "state": "directory"}})
        if not module.check_mode:
            os.makedirs(root)
            module.set_mode_if_different(root, params["directory_mode"], False)
    ensure_directories(module, root, params["directories"], params["directory_mode"], diffs)
    for relative in sorted(files):
        entry = files[relative]
        target = os.path.join(root, relative)
        wanted = to_bytes(entry["content"])
        current = read(target)
        content_differs = current is None or (relative not in keep and current != wanted)
        if content_differs:
            if entry["sensitive"]:
                before, after = ("" if current is None else HIDDEN), HIDDEN
            else:
                before, after = to_native(current or b"", errors="surrogate_or_strict"), entry["content"]
            diffs.append({"before_header": target if current is not None else "%s (absent)" % target, "after_header": target,
                          "before": before, "after": after})
            if not module.check_mode:
                write(module, target, wanted, params["directory_mode"])
        mode_changed = False
        if current is not None or not module.check_mode:
            file_args = module.load_file_common_arguments(dict(path=target, mode=entry["mode"]))
            mode_changed = module.set_fs_attributes_if_different(file_args, False)
            if mode_changed and not content_differs:
                diffs.append({"before_header": "%s (mode)" % target, "after_header": "%s (mode)" % target,
                              "before": "", "after": "mode: %s\n" % entry["mode"]})
        (written if content_differs or mode_changed else unchanged).append(relative)
    module.exit_json(changed=bool(diffs), written=written, unchanged=unchanged, validated=validated, skipped_checks=skipped, diff=diffs)


if __name__ == "__main__":
    main()
