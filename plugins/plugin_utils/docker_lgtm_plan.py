# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Everything the role lgtm.aws.docker_lgtm does on a host, as data, from the spec: checked first, whole."""

from ansible_collections.lgtm.aws.plugins.plugin_utils import docker_lgtm_alloy, docker_lgtm_containers, docker_lgtm_spec
from ansible_collections.lgtm.aws.plugins.plugin_utils import docker_lgtm_proxy
from ansible_collections.lgtm.aws.plugins.plugin_utils.spec_checks import Problems

NEXT_DIR = ".next"
# Generated on the host when not given (kept there, never overwritten); the others only when given.
GENERATED_SECRETS = ("grafana_admin_password", "keycloak_admin_password", "oauth_client_secret")


def directories(spec, file_list):
    """[{path, mode}] on the host: the configuration, its next copy, secrets and certificates (0700 where a
    directory holds a secret-bearing file; those files are bind-mounted one by one)."""
    root = spec["config_dir"]
    private = set(f["path"].rsplit("/", 1)[0] for f in file_list if f["sensitive"])
    out = [{"path": root, "mode": "0755"}] + [{"path": "%s/%s" % (root, d), "mode": "0700"} for d in ("secrets", "certs", NEXT_DIR)]
    for base in (root, "%s/%s" % (root, NEXT_DIR)):
        for relative in sorted(set(f["path"].rsplit("/", 1)[0] for f in file_list)):
            out.append({"path": "%s/%s" % (base, relative), "mode": "0700" if relative in private else "0755"})
    return out


def plan(given, secrets=None, storage_outputs=None):
    """``given``: the spec; ``secrets``: their values (read on the host) for the files that must carry them.

    Returns network, volumes, secrets (names the enabled services read), files ({service, path, content,
    sensitive}), containers (community.docker.docker_container settings plus service, checks) and hosts."""
    spec = docker_lgtm_spec.validate(given, storage_outputs)
    problems = Problems()
    alloy_text, experimental = "", False
    if "alloy" in spec["enabled"]:
        with problems.section():
            alloy_text, experimental = docker_lgtm_alloy.config(spec)
    problems.raise_if_any()
    values = dict(spec["secrets"], **(secrets or {}))
    file_list = docker_lgtm_containers.files(spec, alloy_text, values)
    containers = docker_lgtm_containers.containers(spec, file_list, experimental, values)
    next_root = "%s/%s" % (spec["config_dir"], NEXT_DIR)
    for container in containers:
        container["checks"] = docker_lgtm_containers.checks(spec, container["service"], next_root, experimental)
    used = sorted(set(s for name in spec["enabled"] for s in docker_lgtm_containers.secrets_used(spec, name)))
    spec.pop("secrets")
    return {
        "spec": spec,
        "network": spec["network"],
        "volumes": [m["source"] for c in containers for m in c["mounts"] if m["type"] == "volume"],
        "all_containers": [docker_lgtm_containers.container_name(spec, n) for n in docker_lgtm_spec.SERVICES],
        "all_volumes": [docker_lgtm_containers.volume_name(spec, n) for n in docker_lgtm_spec.SERVICES
                        if docker_lgtm_containers.PATHS[n][1]],
        "secrets": [{"name": name, "generate": name in GENERATED_SECRETS, "given": bool(values.get(name))} for name in used],
        "directories": directories(spec, file_list),
        "files": file_list,
        "containers": containers,
        "hosts": docker_lgtm_proxy.hosts(spec),
    }
