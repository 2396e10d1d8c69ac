# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The LGTM stack on one Docker host (role lgtm.aws.docker_lgtm): checks and plan, thin over plugin_utils."""

from ansible.errors import AnsibleFilterError

from ansible_collections.lgtm.aws.plugins.plugin_utils.spec_checks import SpecError, format_problem, plain as _plain
import os
import random
import string

from ansible_collections.lgtm.aws.plugins.plugin_utils import docker_lgtm_spec, docker_lgtm_plan, role_settings

PREFIX = "docker_lgtm_"


def spec_of(variables):
    """The role's variables (``docker_lgtm_<key>``) as a spec (``<key>``); other names are not this filter's."""
    return dict((name[len(PREFIX):], value) for name, value in _plain(variables or {}).items()
                if name.startswith(PREFIX) and name[len(PREFIX):] in docker_lgtm_spec.DEFAULTS)


def variable(field):
    """``services.grafana.image`` -> ``docker_lgtm_services.grafana.image``."""
    return PREFIX + field if field else PREFIX.rstrip("_")


def _lines(error):
    return [format_problem(field, message) for field, message in error.renamed(variable).problems]


ROLE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "roles", "docker_lgtm")


def _documented_with_options(field):
    """Whether the argument spec lists the keys of ``field`` (lgtm.aws.settings then reports unknown keys itself)."""
    options = role_settings.argument_specs(ROLE_DIR).get("main") or {}
    parts = field.split(".")
    parts[0] = PREFIX + parts[0]
    for part in parts:
        option = options.get(part)
        if not option or not option.get("options"):
            return False
        options = option["options"]
    return True


def docker_lgtm_problems(variables, storage_outputs=None):
    """Every problem of the role's variables, one ``docker_lgtm_<field>: message`` line each; empty when valid.

    Unknown keys of mappings the argument spec documents key by key are left out: lgtm.aws.settings reports them."""
    try:
        docker_lgtm_plan.plan(spec_of(variables), None, _plain(storage_outputs) or None)
    except SpecError as error:
        kept = [(field, message) for field, message in error.problems
                if not (message.startswith("unknown key") and field and _documented_with_options(field))]
        return _lines(SpecError(kept))
    return []


def docker_lgtm_plan_filter(variables, secrets=None, storage_outputs=None):
    """Files, checks, volumes and containers for the role's variables (see docker_lgtm_plan.yml)."""
    try:
        return docker_lgtm_plan.plan(spec_of(variables), _plain(secrets) or None, _plain(storage_outputs) or None)
    except SpecError as error:
        lines = _lines(error)
        raise AnsibleFilterError("lgtm.aws.docker_lgtm: %d problem%s; nothing was changed.\n%s"
                                 % (len(lines), "" if len(lines) == 1 else "s", "\n".join("- " + line for line in lines)))


def _password(length=32):
    chooser = random.SystemRandom()
    return "".join(chooser.choice(string.ascii_letters + string.digits) for _index in range(length))


def docker_lgtm_secret_files(plan, secrets=None, cert=None, key=None):
    """The secret files (given ones, generated ones kept once written) and the proxy's certificate and key, as
    arguments of one lgtm.aws.rendered_files call (sensitive_files, keep_existing, directories)."""
    return docker_lgtm_plan.secret_files(_plain(plan), _plain(secrets) or {}, _password, cert, key)


class FilterModule(object):
    def filters(self):
        return {"docker_lgtm_problems": docker_lgtm_problems, "docker_lgtm_plan": docker_lgtm_plan_filter,
                "docker_lgtm_secret_files": docker_lgtm_secret_files}
