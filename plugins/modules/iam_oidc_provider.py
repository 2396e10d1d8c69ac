#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: iam_oidc_provider
short_description: Make sure an IAM OpenID Connect provider exists, e.g. for an EKS cluster's issuer (IRSA)
version_added: 0.1.0
description:
  - Creates, updates or deletes the IAM OIDC identity provider for an issuer URL, or for the issuer of an
    EKS cluster read from the EKS API, so that IAM roles can trust Kubernetes service accounts (IRSA).
  - Returns the provider ARN and the issuer in both forms roles need (URL and host/path).
  - "Thumbprints: IAM no longer needs them for well-known issuers such as EKS's (it validates the issuer's
    certificate with its own trusted CAs), and the API fetches one when none is sent. Give O(thumbprints)
    to pin them, or O(compute_thumbprint=true) to compute the SHA-1 of the issuer's top CA certificate
    from this host; otherwise thumbprints are left to IAM and not compared."
author:
  - lgtm.aws maintainers (@lgtm-aws)
options:
  url:
    description: Issuer URL (C(https://...)).
    type: str
  eks_cluster_name:
    description: Read the issuer URL from this EKS cluster in O(region). Fails if the cluster does not exist.
    type: str
  client_ids:
    description: Audiences (client IDs) the provider accepts.
    type: list
    elements: str
    default: [sts.amazonaws.com]
  thumbprints:
    description: SHA-1 thumbprints (40 hex digits) of the issuer's CA certificates.
    type: list
    elements: str
  compute_thumbprint:
    description: Compute the thumbprint from the issuer's TLS certificate chain (needs network access to the issuer).
    type: bool
    default: false
  tags:
    description: Tags on the provider.
    type: dict
    default: {}
  state:
    description: Whether the provider should exist.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Supports check mode and diff mode.
"""

EXAMPLES = r"""
- name: OIDC provider for the cluster's service accounts
  lgtm.aws.iam_oidc_provider:
    eks_cluster_name: lgtm-prod
    region: ap-northeast-2
  register: oidc

- name: Use it in a trust policy
  ansible.builtin.debug:
    msg: "{{ oidc.arn | lgtm.aws.irsa_trust_policy(oidc.url, 'monitoring', 'loki') }}"
"""

RETURN = r"""
arn:
  description: Provider ARN (predicted in check mode when it would be created).
  returned: when O(state=present)
  type: str
  sample: arn:aws:iam::123456789012:oidc-provider/oidc.eks.ap-northeast-2.amazonaws.com/id/EXAMPLE
url:
  description: Issuer URL.
  type: str
  returned: always
  sample: https://oidc.eks.ap-northeast-2.amazonaws.com/id/EXAMPLE
host:
  description: Issuer without scheme, as trust-policy condition keys use it.
  type: str
  returned: always
  sample: oidc.eks.ap-northeast-2.amazonaws.com/id/EXAMPLE
client_ids:
  description: Audiences the provider accepts.
  type: list
  elements: str
  returned: when O(state=present)
thumbprints:
  description: Thumbprints on the provider.
  type: list
  elements: str
  returned: when O(state=present)
"""

import hashlib
import re
import socket
import ssl

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.lgtm.aws.plugins.module_utils.aws_common import RetryingClient, error_code, sync_tags, tag_list
from ansible_collections.lgtm.aws.plugins.module_utils.iam_documents import issuer_host

THUMBPRINT = re.compile(r"^[0-9a-fA-F]{40}$")


def eks_issuer(module, name):
    try:
        cluster = RetryingClient(module, "eks").describe_cluster(name=name)["cluster"]
    except botocore.exceptions.ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            module.fail_json(msg="eks_cluster_name: EKS cluster %r does not exist in %s; nothing was changed." % (name, module.region))
        raise
    issuer = ((cluster.get("identity") or {}).get("oidc") or {}).get("issuer")
    if not issuer:
        module.fail_json(msg="eks_cluster_name: EKS cluster %r reports no OIDC issuer; nothing was changed." % name)
    return issuer


def computed_thumbprint(host):
    """SHA-1 of the last certificate the issuer's TLS server sends (the top CA of its chain)."""
    hostname = host.split("/")[0]
    context = ssl.create_default_context()
    with socket.create_connection((hostname, 443), timeout=10) as sock:
        with context.wrap_socket(sock, server_hostname=hostname) as tls:
            if not hasattr(tls, "get_unverified_chain"):
                raise OSError("reading the certificate chain needs Python 3.13 or later; give thumbprints instead")
            top = tls.get_unverified_chain()[-1]
    der = top if isinstance(top, bytes) else top.public_bytes()
    return hashlib.sha1(der).hexdigest()  # nosec - IAM defines the thumbprint as SHA-1


def find_provider(client, host):
    for entry in client.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        if entry["Arn"].split(":oidc-provider/", 1)[-1] == host:
            found = client.get_open_id_connect_provider(OpenIDConnectProviderArn=entry["Arn"])
            return {
                "arn": entry["Arn"],
                "client_ids": sorted(found.get("ClientIDList", [])),
                "thumbprints": sorted(t.lower() for t in found.get("ThumbprintList", [])),
                "tags": {t["Key"]: t["Value"] for t in found.get("Tags", [])},
            }
    return None


def predicted_arn(module, host):
    try:
        parts = RetryingClient(module, "sts").get_caller_identity()["Arn"].split(":")
        return "arn:%s:iam::%s:oidc-provider/%s" % (parts[1], parts[4], host)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
        return None


def ensure_present(module, client, url, host, thumbprints):
    current = find_provider(client, host)
    desired = {
        "client_ids": sorted(set(module.params["client_ids"])),
        "thumbprints": thumbprints if thumbprints is not None else (current or {}).get("thumbprints", []),
        "tags": {str(k): str(v) for k, v in module.params["tags"].items()},
    }
    changes = ["provider"] if current is None else [k for k in ("client_ids", "thumbprints", "tags") if current[k] != desired[k]]
    arn = current["arn"] if current else None
    if changes and not module.check_mode:
        if current is None:
            kwargs = {"Url": url, "ClientIDList": desired["client_ids"]}
            if thumbprints:
                kwargs["ThumbprintList"] = thumbprints
            if desired["tags"]:
                kwargs["Tags"] = tag_list(desired["tags"])
            arn = client.create_open_id_connect_provider(**kwargs)["OpenIDConnectProviderArn"]
        else:
            update_provider(client, current, desired)
    if module.check_mode:
        after = dict(desired, arn=arn)
    elif changes:
        # A new provider may not be visible to the next call for a moment: NoSuchEntity is retried too.
        after = find_provider(RetryingClient(module, "iam", "NoSuchEntity") if current is None else client, host)
    else:
        after = current
    return changes, current, after, arn or predicted_arn(module, host)


def update_provider(client, current, desired):
    arn = current["arn"]
    for client_id in set(desired["client_ids"]) - set(current["client_ids"]):
        client.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID=client_id)
    for client_id in set(current["client_ids"]) - set(desired["client_ids"]):
        client.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID=client_id)
    if desired["thumbprints"] != current["thumbprints"]:
        client.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=arn, ThumbprintList=desired["thumbprints"])
    sync_tags(current["tags"], desired["tags"],
              lambda keys: client.untag_open_id_connect_provider(OpenIDConnectProviderArn=arn, TagKeys=keys),
              lambda tags: client.tag_open_id_connect_provider(OpenIDConnectProviderArn=arn, Tags=tags))


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            url=dict(type="str"),
            eks_cluster_name=dict(type="str"),
            client_ids=dict(type="list", elements="str", default=["sts.amazonaws.com"]),
            thumbprints=dict(type="list", elements="str"),
            compute_thumbprint=dict(type="bool", default=False),
            tags=dict(type="dict", default={}),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        mutually_exclusive=[("url", "eks_cluster_name"), ("thumbprints", "compute_thumbprint")],
        required_one_of=[("url", "eks_cluster_name")],
        supports_check_mode=True,
    )
    params = module.params
    bad = [t for t in params["thumbprints"] or [] if not THUMBPRINT.match(t)]
    if bad:
        module.fail_json(msg="thumbprints: %s must be SHA-1 fingerprints of 40 hex digits; nothing was changed." % ", ".join(bad))
    if not params["client_ids"]:
        module.fail_json(msg="client_ids must name at least one audience, e.g. sts.amazonaws.com; nothing was changed.")
    try:
        url = params["url"] or eks_issuer(module, params["eks_cluster_name"])
        try:
            host = issuer_host(url)
        except ValueError as error:
            module.fail_json(msg="url: %s; nothing was changed." % error)
        client = RetryingClient(module, "iam")
        if params["state"] == "absent":
            current = find_provider(client, host)
            if current and not module.check_mode:
                client.delete_open_id_connect_provider(OpenIDConnectProviderArn=current["arn"])
            module.exit_json(changed=bool(current), url=url, host=host, diff={"before": current, "after": None})
        thumbprints = sorted(t.lower() for t in params["thumbprints"]) if params["thumbprints"] else None
        if params["compute_thumbprint"]:
            try:
                thumbprints = [computed_thumbprint(host)]
            except (OSError, ssl.SSLError) as error:
                module.fail_json(msg="compute_thumbprint: could not read the TLS chain of %s: %s" % (host, error))
        changes, before, after, arn = ensure_present(module, client, url, host, thumbprints)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        module.fail_json_aws(error, msg="AWS request failed")
    module.exit_json(
        changed=bool(changes),
        changes=changes,
        arn=arn,
        url=url if url.startswith("https://") else "https://" + url,
        host=host,
        client_ids=after["client_ids"],
        thumbprints=after["thumbprints"],
        diff={"before": before, "after": after},
    )


if __name__ == "__main__":
    main()
