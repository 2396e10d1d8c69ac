"""One source per default: a role's defaults/main.yml, its meta/argument_specs.yml and the Python side agree.

- every default is documented as an option of the role's argument spec;
- every option of the main entry point has a default (or is required, or is documented as set elsewhere);
- a literal default is documented with the same value; a templated default (one that follows a shared setting)
  is documented either in words or with the very same template, never with another value;
- a role default never repeats a shared setting's fallback (``lgtm_region | default(...)``): those live only in
  lgtm.aws.settings;
- where Python code holds the default of a spec key the role passes, both are equal.
"""
import glob
import os
import re

import pytest
import yaml

from ansible_collections.lgtm.aws.plugins.filter import storage_spec
from ansible_collections.lgtm.aws.plugins.plugin_utils import role_settings

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(REPO, "roles", "*", "meta")))
# Options of a main entry point that need no default: set by the user or computed when unset (documented so).
NO_DEFAULT = {
    "settings": {"lgtm_region", "lgtm_aws_endpoint_url"},
}


def load(role, *parts):
    return role_settings.load_yaml(os.path.join(REPO, "roles", role, *parts))


def defaults(role):
    return load(role, "defaults", "main.yml") or {}


def options(role):
    return role_settings.options(role_settings.argument_specs(os.path.join(REPO, "roles", role)))


def main_options(role):
    specs = role_settings.argument_specs(os.path.join(REPO, "roles", role))
    return specs.get("main") or specs.get("shared") or {}


def templated(value):
    return "{{" in yaml.safe_dump(value)


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_documented(role):
    undocumented = sorted(set(defaults(role)) - set(options(role)))
    assert not undocumented, "%s: defaults without an argument spec option: %s" % (role, undocumented)


@pytest.mark.parametrize("role", ROLES)
def test_every_option_has_a_default(role):
    missing = sorted(name for name, spec in main_options(role).items()
                     if name not in defaults(role) and not spec.get("required") and name not in NO_DEFAULT.get(role, ()))
    assert not missing, "%s: documented options without a default in defaults/main.yml: %s" % (role, missing)


@pytest.mark.parametrize("role", ROLES)
def test_documented_defaults_equal_the_role_defaults(role):
    wrong = []
    for name, value in defaults(role).items():
        spec = options(role).get(name) or {}
        if templated(value):
            if "default" in spec and spec["default"] != value:
                wrong.append("%s: templated default %r is documented as %r" % (name, value, spec["default"]))
        elif "default" not in spec:
            wrong.append("%s: default %r is not documented (default: in argument_specs.yml)" % (name, value))
        elif spec["default"] != value:
            wrong.append("%s: defaults/main.yml says %r, argument_specs.yml says %r" % (name, value, spec["default"]))
    assert not wrong, "%s:\n%s" % (role, "\n".join(wrong))


SHARED_FALLBACK = re.compile(r"lgtm_\w+\s*\|\s*default\(")


@pytest.mark.parametrize("role", [r for r in ROLES if r != "settings"])
def test_role_defaults_do_not_repeat_a_shared_fallback(role):
    path = os.path.join(REPO, "roles", role, "defaults", "main.yml")
    with open(path) as stream:
        text = stream.read()
    assert not SHARED_FALLBACK.search(text), "%s: a shared setting's fallback belongs in roles/settings/defaults/main.yml" % path


def test_every_role_depends_on_the_shared_settings():
    for role in ROLES:
        if role == "settings":
            continue
        deps = (load(role, "meta", "main.yml") or {}).get("dependencies") or []
        names = [d.get("role") if isinstance(d, dict) else d for d in deps]
        assert "lgtm.aws.settings" in names, role
        settings = [d for d in deps if isinstance(d, dict) and d.get("role") == "lgtm.aws.settings"][0]
        assert settings["vars"]["settings_role"] == role


def test_storage_defaults_equal_the_python_defaults():
    role = defaults("storage")
    for key, value in storage_spec.DEFAULTS.items():
        name = "storage_" + key
        if templated(role[name]):
            continue
        assert role[name] == value, "%s: role %r, Python %r" % (name, role[name], value)


def test_shared_defaults_live_only_in_the_settings_role():
    shared = set(defaults("settings"))
    for role in ROLES:
        if role == "settings":
            continue
        redefined = shared & set(defaults(role))
        assert not redefined, "%s redefines shared settings %s" % (role, sorted(redefined))
