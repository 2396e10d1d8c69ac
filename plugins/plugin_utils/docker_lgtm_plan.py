# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Everything the role lgtm.aws.docker_lgtm does on a host, as data, from the spec: checked first, whole."""

from ansible_collections.lgtm.aws.plugins.plugin_utils import docker_lgtm_alloy, docker_lgtm_containers, docker_lgtm_spec
from ansible_collections.lgtm.aws.plugins.plugin_utils import docker_lgtm_proxy
from ansible_collections.lgtm.aws.plugins.plugin_utils.spec_checks import Problems

# The checks run on a candidate copy in a scratch directory lgtm.aws.rendered_files makes (and removes) under the
# configuration directory; it stands for that directory's path in the checks' arguments.
SCRATCH = "{scratch}"
# Generated on the host when not given (kept there, never overwritten); the others only when given.
GENERATED_SECRETS = ("grafana_admin_password", "keycloak_admin_password", "oauth_client_secret")
FILE_MODE, SENSITIVE_MODE, SECRET_MODE, CERT_MODE = "0644", "0444", "0444", "0400"


def directories(file_list):
    """{relative path: mode} of the configuration's directories (0700 where one holds a secret-bearing file;
    those files are bind-mounted one by one), for lgtm.aws.rendered_files."""
    private = set(f["path"].rsplit("/", 1)[0] for f in file_list if f["sensitive"])
    return dict((d, "0700" if d in private else "0755") for d in set(f["path"].rsplit("/", 1)[0] for f in file_list))


def rendered(file_list):
    """The files for one lgtm.aws.rendered_files call: plain ones, and those carrying a secret (never shown)."""
    out = {"files": {}, "sensitive_files": {}}
    for f in file_list:
        kind = "sensitive_files" if f["sensitive"] else "files"
        out[kind][f["path"]] = {"content": f["content"], "mode": SENSITIVE_MODE if f["sensitive"] else FILE_MODE}
    return out


def validate(containers):
    """rendered_files' validate list: each service's checks, run only when one of its own files changed."""
    return [{"argv": argv, "when_changed": [c["service"]]} for c in containers for argv in c["checks"]]


def secret_files(plan_data, given, generate, cert=None, key=None):
    """The secrets (and the proxy's certificate and key) for one rendered_files call: ``sensitive_files``,
    ``keep_existing`` (generated ones, kept once written) and ``directories``. ``generate``: a callable that returns a
    fresh random value (used only where no file exists yet)."""
    files, keep = {}, []
    for secret in plan_data["secrets"]:
        path = "secrets/" + secret["name"]
        if given.get(secret["name"]):
            files[path] = {"content": given[secret["name"]], "mode": SECRET_MODE}
        elif secret["generate"]:
            files[path] = {"content": generate(), "mode": SECRET_MODE}
            keep.append(path)
    if cert is not None and key is not None:
        files["certs/cert.pem"] = {"content": cert, "mode": CERT_MODE}
        files["certs/key.pem"] = {"content": key, "mode": CERT_MODE}
    return {"sensitive_files": files, "keep_existing": keep, "directories": {".": "0755", "secrets": "0700", "certs": "0700"}}


def plan(given, secrets=None, storage_outputs=None):
    """``given``: the spec; ``secrets``: their values (read on the host) for the files that must carry them.

    Returns network, volumes, secrets (names the enabled services read), files ({service, path, content,
    sensitive}), the same as one rendered_files call (directories, rendered, validate), containers
    (community.docker.docker_container settings plus service, checks) and hosts."""
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
    for container in containers:
        container["checks"] = docker_lgtm_containers.checks(spec, container["service"], SCRATCH, experimental)
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
        "directories": directories(file_list),
        "files": file_list,
        "rendered": rendered(file_list),
        "validate": validate(containers),
        "containers": containers,
        "hosts": docker_lgtm_proxy.hosts(spec),
        # For agents on other hosts (written to <lgtm_output_dir>/docker/<host>/ingest.json), and where the proxy
        # keeps the CA they trust when the stack signs its own certificates (tls.mode internal).
        "ingest": docker_lgtm_proxy.ingest_endpoints(spec),
        "ingest_ca": docker_lgtm_proxy.INTERNAL_CA if spec["tls"]["mode"] == "internal" else None,
    }
