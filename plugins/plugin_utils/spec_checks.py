# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks shared by the spec validators: errors that name the field and what is allowed."""


class SpecError(ValueError):
    """A spec problem, naming the field."""


def fail(field, message):
    raise SpecError("%s: %s" % (field, message))


def check_keys(value, allowed, field):
    """``value`` must be a mapping whose keys are all in ``allowed``."""
    if not isinstance(value, dict):
        fail(field, "must be a mapping, got %s" % type(value).__name__)
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        fail(field, "unknown key(s) %s; allowed: %s" % (", ".join(unknown), ", ".join(sorted(allowed))))


def plain(value):
    """Ansible hands filters its own str/dict/list subclasses; give the generators plain ones."""
    if isinstance(value, dict):
        return dict((str(k), plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value
