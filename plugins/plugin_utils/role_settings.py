# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A role's variables checked before it changes anything: every problem at once, in the user's names.

``known_names(role_dir)`` is what a role reads or sets: the options of every entry point of its
``meta/argument_specs.yml``, its ``defaults/main.yml`` and the names its own tasks register or set.
``unknown_variables`` finds the variables carrying the role's prefix that are none of those (a misspelled
``storage_retension_days`` would otherwise be ignored silently), with the closest known name.
``type_problems`` runs Ansible's argument spec validator and rewords its messages into one line per field.
"""

import os
import re

import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.lgtm.aws.plugins.plugin_utils.spec_checks import closest

# Names a role's tasks define themselves (never user input).
_TASK_DEFINED_KEYS = ("register",)
_SET_FACT_ACTIONS = ("set_fact", "ansible.builtin.set_fact", "ansible.legacy.set_fact")
_SET_FACT_ARGS = ("cacheable",)


def load_yaml(path):
    if not os.path.isfile(path):
        return None
    with open(path) as stream:
        return yaml.safe_load(stream)


def argument_specs(role_dir):
    """``{entry point: options}`` from the role's meta/argument_specs.yml."""
    data = load_yaml(os.path.join(role_dir, "meta", "argument_specs.yml")) or {}
    return dict((name, (entry or {}).get("options") or {}) for name, entry in (data.get("argument_specs") or {}).items())


def _task_defined(node, names):
    if isinstance(node, list):
        for item in node:
            _task_defined(item, names)
    elif isinstance(node, dict):
        for key in _TASK_DEFINED_KEYS:
            if isinstance(node.get(key), str):
                names.add(node[key])
        for action in _SET_FACT_ACTIONS:
            if isinstance(node.get(action), dict):
                names.update(k for k in node[action] if k not in _SET_FACT_ARGS)
        if isinstance(node.get("loop_control"), dict) and isinstance(node["loop_control"].get("loop_var"), str):
            names.add(node["loop_control"]["loop_var"])
        for key in ("block", "rescue", "always"):
            _task_defined(node.get(key), names)


def task_defined_names(role_dir):
    """Names registered or set by the role's own tasks and handlers."""
    names = set()
    for sub in ("tasks", "handlers"):
        top = os.path.join(role_dir, sub)
        for root, _dirs, files in os.walk(top):
            for name in files:
                if name.endswith((".yml", ".yaml")):
                    _task_defined(load_yaml(os.path.join(root, name)), names)
    return names


def options(specs):
    """The options of every entry point of ``argument_specs(role_dir)``, in one mapping."""
    merged = {}
    for entry in specs.values():
        merged.update(entry)
    return merged


def known_names(role_dir, specs=None):
    """What a role knows; ``specs`` is its ``argument_specs(role_dir)`` when the caller has read them already."""
    names = set(task_defined_names(role_dir))
    names.update(options(argument_specs(role_dir) if specs is None else specs))
    for sub in ("defaults", "vars"):
        names.update(load_yaml(os.path.join(role_dir, sub, "main.yml")) or {})
    return names


def unknown_variables(variables, prefixes, known, owner="this role"):
    """``(name, message)`` for each variable starting with one of ``prefixes`` that is not ``known``."""
    problems = []
    for name in sorted(variables):
        prefix = next((p for p in prefixes if name.startswith(p)), None)
        if prefix is not None and name not in known:
            # Compared without the shared prefix, which would make every name look close.
            suffixes = [k[len(prefix):] for k in known if k.startswith(prefix)]
            guess = closest(name[len(prefix):], suffixes).replace("did you mean ", "did you mean " + prefix)
            problems.append((name, "is not a variable of %s%s; it would be ignored" % (owner, guess)))
    return problems


_UNSUPPORTED = re.compile(r"^(?P<names>.+?)\. Supported parameters include: (?P<allowed>.+?)\.?$")
_TYPE = re.compile(r"^argument '(?P<name>[^']+)' is of type (?P<got>[\w.]+)(?: found in '(?P<parent>[^']+)'\.?)?"
                   r" and we were unable to convert to (?P<want>\w+): (?P<detail>.*)$")
_VALUE = re.compile(r"^value of (?P<name>\S+) must be one of: (?P<allowed>.+), got: (?P<got>.*?)(?: found in (?P<parent>\S+))?$")
_ELEMENTS = re.compile(r"^Elements value for option '(?P<name>[^']+)'(?: found in '(?P<parent>[^']+)')? is of type (?P<got>[\w.]+)"
                       r" and we were unable to convert to (?P<want>\w+): (?P<detail>.*)$")


_CHOICES = re.compile(r"^value of (?P<name>\S+) must be one or more of: (?P<allowed>.+)\. Got no match for: (?P<got>.*?)(?: found in (?P<parent>\S+))?$")
_REQUIRED = re.compile(r"^missing required arguments: (?P<names>.+?)(?: found in (?P<parent>\S+))?$")
_NOT_CONVERTED = re.compile(r'^"(?P<value>.*)" cannot be converted to')


_NOT_BOOLEAN = re.compile(r"^The value (?P<value>.*) is not a valid boolean")


def _got(kind, detail):
    match = _NOT_CONVERTED.match(detail) or _NOT_BOOLEAN.match(detail)
    return "got %s %s" % (kind, match.group("value")) if match else "got %s: %s" % (kind, detail)


def _field(name, parent):
    return "%s.%s" % (parent, name) if parent else name


def _allowed_at(spec, path):
    """The option names of the (nested) spec at ``path`` (a dotted field without its last part)."""
    options = spec
    for part in re.sub(r"\[[0-9]+\]", "", path).split(".") if path else []:
        options = (options.get(part) or {}).get("options") or {}
    return sorted(options)


def _reworded(message, spec):
    """Ansible's validator messages as (field, message)."""
    match = _UNSUPPORTED.match(message)
    if match:
        # One message lists every unsupported key of every level, with the supported keys of one of them only.
        problems = []
        for name in match.group("names").split(", "):
            parent, _dot, key = name.strip().rpartition(".")
            allowed = _allowed_at(spec, parent)
            problems.append((name.strip(), "unknown key%s; allowed: %s" % (closest(key, allowed), ", ".join(allowed))))
        return problems
    match = _TYPE.match(message)
    if match:
        return [(_field(match.group("name"), match.group("parent")), "must be of type %s (%s)"
                 % (match.group("want"), _got(match.group("got"), match.group("detail"))))]
    match = _ELEMENTS.match(message)
    if match:
        return [(_field(match.group("name"), match.group("parent")), "every element must be of type %s (%s)"
                 % (match.group("want"), _got(match.group("got"), match.group("detail"))))]
    match = _CHOICES.match(message)
    if match:
        return [(_field(match.group("name"), match.group("parent")), "every element must be one of %s (got %s)"
                 % (match.group("allowed"), match.group("got")))]
    match = _REQUIRED.match(message)
    if match:
        return [(_field(name.strip(), match.group("parent")), "is required") for name in match.group("names").split(",")]
    match = _VALUE.match(message)
    if match:
        return [(_field(match.group("name"), match.group("parent")), "must be one of %s (got %s)"
                 % (match.group("allowed"), match.group("got")))]
    return [("", message)]


def type_problems(values, documented):
    """Check ``values`` (variable -> templated value) against ``documented`` (an argument spec's options)."""
    spec = dict((name, documented[name]) for name in values if name in documented)
    result = ArgumentSpecValidator(_without_docs(spec)).validate(dict((name, values[name]) for name in spec))
    problems = []
    for error in result.errors:
        problems.extend(_reworded(str(error), spec))
    return problems


_DOC_KEYS = ("description", "version_added", "version_added_collection", "notes", "seealso")


def _without_docs(spec):
    """An argument spec without its documentation keys (the validator rejects none, but keeps it small)."""
    plain = {}
    for name, option in spec.items():
        option = dict((k, v) for k, v in (option or {}).items() if k not in _DOC_KEYS)
        if isinstance(option.get("options"), dict):
            option["options"] = _without_docs(option["options"])
        plain[name] = option
    return plain
