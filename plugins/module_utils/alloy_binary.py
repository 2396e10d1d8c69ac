# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of an Alloy configuration file by the host's own alloy binary."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

_POSITION = re.compile(r":(\d+):(\d+):?\s*(.*)")


def binary_errors(module, binary, path):
    """Errors ``alloy fmt`` (and ``alloy validate`` where that version has it) print for the file."""
    errors = []
    commands = [[binary, "fmt", path]]
    if module.run_command([binary, "validate", "--help"])[0] == 0:
        commands.append([binary, "validate", path])
    for command in commands:
        rc, _out, err = module.run_command(command)
        if rc == 0:
            continue
        for line in (err or "").splitlines() or ["%s exited with %d" % (" ".join(command[:2]), rc)]:
            match = _POSITION.search(line)
            if match:
                errors.append({"line": int(match.group(1)), "column": int(match.group(2)),
                               "message": "alloy %s: %s" % (command[1], match.group(3))})
            elif line.strip():
                errors.append({"line": 0, "column": 0, "message": "alloy %s: %s" % (command[1], line.strip())})
    return errors


def summary(errors):
    first = errors[0]
    return ("Invalid Alloy configuration: %d problem(s); first at line %d, column %d: %s"
            % (len(errors), first["line"], first["column"], first["message"]))
