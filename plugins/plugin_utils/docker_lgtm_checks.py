# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Value checks of the Docker LGTM spec: domains, image references, ports, durations, files, sizes.

Each check raises ``SpecError`` naming the field; the spec module runs them in ``Problems.section()``s so
one run reports every problem.
"""

import os
import re

from ansible_collections.lgtm.aws.plugins.plugin_utils import spec_checks
from ansible_collections.lgtm.aws.plugins.plugin_utils.spec_checks import choice, fail, tenant  # noqa: F401 pylint: disable=unused-import

# RFC 1123 labels, at least two of them, a final label that is not all digits.
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
DOMAIN = re.compile(r"^(%s\.)+(?![0-9]+$)%s$" % (_LABEL, _LABEL))
# The grammar of docker/distribution's reference package: [host[:port]/]path[:tag][@digest].
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*"
_HOST = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?)"
IMAGE = re.compile(r"^(?:%s/)?%s(?:/%s)*(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$" % (_HOST, _COMPONENT, _COMPONENT))
REGISTRY = re.compile(r"^%s(?:/%s)*$" % (_HOST, _COMPONENT))
DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
MEMORY = re.compile(r"^[0-9]+[bkmg]$", re.IGNORECASE)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def domain(value, field):
    if not isinstance(value, str) or len(value) > 253 or not DOMAIN.match(value):
        fail(field, "must be a DNS domain such as observability.example.com (got %r)" % (value,))


def _has_registry_host(value):
    first = value.split("/", 1)[0]
    return "/" in value and ("." in first or ":" in first or first == "localhost")


def image(value, field):
    # An upper-case first path component is neither a registry host nor a repository.
    upper_path = isinstance(value, str) and "/" in value and not _has_registry_host(value) and value.split("/", 1)[0] != value.split("/", 1)[0].lower()
    if upper_path or not isinstance(value, str) or not IMAGE.match(value) or (":" not in value.rsplit("/", 1)[-1] and "@" not in value):
        fail(field, "must be an image reference with a tag, [registry/]repository:tag such as grafana/grafana:12.3.1 (got %r)" % (value,))


def registry(value, field):
    if not isinstance(value, str) or (value and not REGISTRY.match(value)):
        fail(field, "must be empty or a registry host[:port][/path] such as registry.example.com:5000/mirror (got %r)" % (value,))


def port(value, field, zero_ok=False):
    if isinstance(value, bool) or not isinstance(value, int) or not ((zero_ok and value == 0) or 1 <= value <= 65535):
        fail(field, "must be a port number 1-65535%s (got %r)" % (" or 0 (off)" if zero_ok else "", value))


def duration(value, field):
    if not isinstance(value, str) or not DURATION.match(value):
        fail(field, "must be a duration such as 30s, 15m, 12h or 30d (got %r)" % (value,))


_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def seconds(value):
    """Seconds of a duration that passed ``duration`` (Prometheus's units, parts added: 1m30s is 90)."""
    return sum(int(number) * _UNITS[unit] for number, unit in re.findall(r"([0-9]+)(ms|s|m|h|d|w|y)", value))


def positive_duration(value, field):
    duration(value, field)
    if not seconds(value):
        fail(field, "must be longer than zero (got %r)" % (value,))


def boolean(value, field):
    if not isinstance(value, bool):
        fail(field, "must be true or false (got %r)" % (value,))


def string(value, field, allow_empty=True):
    if not isinstance(value, str) or (not allow_empty and not value):
        fail(field, "must be a%s string (got %r)" % ("" if allow_empty else " non-empty", value))


def email(value, field):
    if not isinstance(value, str) or not EMAIL.match(value):
        fail(field, "must be an e-mail address (got %r)" % (value,))


def host_port(value, field):
    spec_checks.host_port(value, field, " such as smtp.example.com:587")


def memory(value, field):
    if not isinstance(value, str) or not MEMORY.match(value):
        fail(field, "must be a size such as 512m or 2g (got %r)" % (value,))


def cpus(value, field):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        fail(field, "must be a positive number of CPUs such as 0.5 or 2 (got %r)" % (value,))


def readable_file(value, field):
    if not isinstance(value, str) or not value:
        fail(field, "is required (a file on the controller)")
    if not os.path.isfile(value) or not os.access(value, os.R_OK):
        fail(field, "file %s does not exist or is not readable on the controller" % value)


def port_clashes(ports):
    """``ports``: (field, port) pairs of what the host publishes; one problem per port used twice."""
    seen, problems = {}, []
    for field, number in ports:
        if number in seen:
            problems.append((field, "port %d is already used by %s" % (number, seen[number].rsplit(".", 1)[-1])))
        else:
            seen[number] = field
    return problems
