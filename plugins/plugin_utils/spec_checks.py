# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks shared by the spec validators: every error of an input at once, each naming its field.

A validator runs its independent checks inside ``Problems.section()``; a ``SpecError`` raised in a section
is recorded and the next section runs. ``Problems.raise_if_any()`` then raises one ``SpecError`` listing them
all. ``merge`` is the one rule by which a spec is laid over its defaults.
"""

import copy
import difflib
import re
from contextlib import contextmanager


class SpecError(ValueError):
    """One or more spec problems, each ``(field, message)``."""

    def __init__(self, problems):
        if isinstance(problems, str):
            problems = [("", problems)]
        self.problems = list(problems)
        super(SpecError, self).__init__("\n".join(format_problem(f, m) for f, m in self.problems))

    def renamed(self, name_of):
        """The same problems with every field passed through ``name_of`` (spec key -> the user's variable)."""
        return SpecError([(name_of(field), message) for field, message in self.problems])


def format_problem(field, message):
    return "%s: %s" % (field, message) if field else message


def fail(field, message):
    raise SpecError([(field, message)])


# A tenant ID as Mimir, Loki and Tempo take it in X-Scope-OrgID.
TENANT = re.compile(r"^[A-Za-z0-9!._*'()-]{1,150}$")
HOST_PORT = re.compile(r"^[^\s:/]+:[0-9]{1,5}$")


def choice(value, choices, field):
    if value not in choices:
        fail(field, "must be one of %s (got %r)" % (", ".join(choices), value))


def tenant(value, field):
    if not isinstance(value, str) or not TENANT.match(value):
        fail(field, "must be a tenant ID of 1-150 letters, digits and !._*'()- (got %r)" % (value,))


def host_port(value, field, example):
    """``host:port``; ``example`` shows one in the message (e.g. tempo.example.internal:4317)."""
    if not isinstance(value, str) or not HOST_PORT.match(value):
        fail(field, "must be host:port%s (got %r)" % (example, value))


def closest(name, known):
    """' (did you mean X?)' for the known name closest to ``name``, or ''."""
    match = difflib.get_close_matches(str(name), [str(k) for k in known], n=1, cutoff=0.6)
    return " (did you mean %s?)" % match[0] if match else ""


def unknown_key_problems(value, allowed, field):
    """One problem per key of ``value`` not in ``allowed``, with the closest allowed key."""
    return [(field, "unknown key %s%s; allowed: %s" % (key, closest(key, allowed), ", ".join(sorted(str(a) for a in allowed))))
            for key in sorted(set(value) - set(allowed), key=str)]


def check_keys(value, allowed, field):
    """``value`` must be a mapping whose keys are all in ``allowed`` (every unknown key is reported)."""
    if not isinstance(value, dict):
        fail(field, "must be a mapping, got %s" % type(value).__name__)
    problems = unknown_key_problems(value, allowed, field)
    if problems:
        raise SpecError(problems)


class Problems(object):
    """Collects the problems of independent checks, so one run reports them all."""

    def __init__(self):
        self.problems = []

    def add(self, field, message):
        self.problems.append((field, message))

    @contextmanager
    def section(self):
        try:
            yield
        except SpecError as error:
            self.problems.extend(error.problems)

    def raise_if_any(self):
        if self.problems:
            raise SpecError(self.problems)


def merge(defaults, given):
    """``given`` laid over ``defaults``: mappings merge key by key, at every depth; anything else (a list,
    a scalar, a mapping over a non-mapping) replaces the default whole. The one merge rule of every spec."""
    merged = copy.deepcopy(defaults)
    for key, value in (given or {}).items():
        if isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def plain(value):
    """Ansible hands filters its own str/dict/list subclasses; give the generators plain ones."""
    if isinstance(value, dict):
        return dict((str(k), plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value
