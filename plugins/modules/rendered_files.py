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
author:
  - lgtm.aws maintainers (@lgtm-aws)
options:
  path:
    description: Directory the files go in (created when missing).
    type: path
    required: true
  files:
    description: Relative path (such as C(rules/alerts.yml)) to the file's content. Paths may not be absolute or contain C(..).
    type: dict
    required: true
  mode:
    description: Mode of the files.
    type: raw
    default: "0644"
  directory_mode:
    description: Mode of the directories created.
    type: raw
    default: "0755"
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
  skip_missing_commands:
    description:
      - A validation command whose program is not installed is skipped (and listed in RV(skipped)) instead of failing.
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
skipped:
  description: The validation commands skipped because their program is not installed (O(skip_missing_commands)).
  returned: always
  type: list
  elements: str
  sample: []
validated:
  description: The validation commands that ran and passed, as one line each.
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


def bad_paths(files):
    problems = []
    for relative in sorted(files):
        parts = relative.replace("\\", "/").split("/")
        if not relative or os.path.isabs(relative) or ".." in parts or "" in parts:
            problems.append("files: %r must be a relative path without .. or empty parts" % relative)
    return problems


def run_checks(module, files, commands, skip_missing):
    """Lay the files out in a scratch directory and run each command there; fail naming the first that fails.
    Returns the commands that passed and those skipped for want of their program."""
    passed, skipped = [], []
    runnable = []
    for command in commands:
        if module.get_bin_path(command["argv"][0]) is None and not os.path.isabs(command["argv"][0]):
            if not skip_missing:
                module.fail_json(msg="%s: %s is not installed (or not on PATH); nothing was written" % (" ".join(command["argv"]), command["argv"][0]))
            skipped.append(" ".join(command["argv"]))
        else:
            runnable.append(command)
    if not runnable:
        return passed, skipped
    scratch = tempfile.mkdtemp(prefix="lgtm-rendered-")
    try:
        for relative, content in files.items():
            target = os.path.join(scratch, relative)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as handle:
                handle.write(to_bytes(content))
        for command in runnable:
            line = " ".join(command["argv"])
            cwd = os.path.join(scratch, command["chdir"])
            rc, out, err = module.run_command(command["argv"], cwd=cwd)
            if rc != 0:
                module.fail_json(msg="%s failed (rc %d) in %s; nothing was written: %s" % (line, rc, command["chdir"], (err or out).strip()),
                                 rc=rc, stdout=out, stderr=err, validated=passed)
            passed.append(line)
        return passed, skipped
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def write(module, target, content, directory_mode):
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        os.makedirs(directory)
        module.set_mode_if_different(directory, directory_mode, False)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(target))
    with os.fdopen(handle, "wb") as out:
        out.write(content)
    module.atomic_move(temporary, target)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            files=dict(type="dict", required=True),
            mode=dict(type="raw", default="0644"),
            directory_mode=dict(type="raw", default="0755"),
            validate=dict(type="list", elements="dict", default=[], options=dict(
                argv=dict(type="list", elements="str", required=True),
                chdir=dict(type="str", default="."),
            )),
            skip_missing_commands=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    params = module.params
    files = dict((str(k), "" if v is None else to_native(v)) for k, v in params["files"].items())
    problems = bad_paths(files) + bad_paths([c["chdir"] for c in params["validate"] if c["chdir"] != "."])
    if problems:
        module.fail_json(msg="Nothing was written: " + "; ".join(problems))
    validated, skipped = run_checks(module, files, [c for c in params["validate"] if c["argv"]], params["skip_missing_commands"])

    root = params["path"]
    written, unchanged, diffs = [], [], []
    if not os.path.isdir(root):
        diffs.append({"before": {"path": root, "state": "absent"}, "after": {"path": root, "state": "directory"}})
        if not module.check_mode:
            os.makedirs(root)
            module.set_mode_if_different(root, params["directory_mode"], False)
    for relative in sorted(files):
        target = os.path.join(root, relative)
        wanted = to_bytes(files[relative])
        current = read(target)
        content_differs = current != wanted
        if content_differs:
            diffs.append({"before_header": target if current is not None else "%s (absent)" % target, "after_header": target,
                          "before": to_native(current or b"", errors="surrogate_or_strict"), "after": files[relative]})
            if not module.check_mode:
                write(module, target, wanted, params["directory_mode"])
        mode_changed = False
        if current is not None or not module.check_mode:
            file_args = module.load_file_common_arguments(dict(path=target, mode=params["mode"]))
            mode_changed = module.set_fs_attributes_if_different(file_args, False)
            if mode_changed and not content_differs:
                diffs.append({"before_header": "%s (mode)" % target, "after_header": "%s (mode)" % target,
                              "before": "", "after": "mode: %s\n" % params["mode"]})
        (written if content_differs or mode_changed else unchanged).append(relative)
    module.exit_json(changed=bool(diffs), written=written, unchanged=unchanged, validated=validated, skipped=skipped, diff=diffs)


if __name__ == "__main__":
    main()
