#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: efs_file_system
short_description: An encrypted EFS file system with its mount targets, access points and policy, in one idempotent call
version_added: 0.2.0
description:
  - Brings an EFS file system (found by its C(Name) tag), its mount targets, its access points (found by their C(Name)
    tags) and optionally its file system policy to the desired state, and reports the differences with C(--diff).
  - The file system is always encrypted at rest; an existing unencrypted one with the same name is an error (EFS
    cannot encrypt it in place).
  - "Access points cannot change in place: one whose POSIX user or root directory differs is deleted and created
    again (its ID changes; the data under its path stays)."
  - With O(state=absent) the file system and its data are deleted only when O(force=true); otherwise the module
    fails and changes nothing.
  - Uses the current EFS tagging API (C(ListTagsForResource)), not the retired C(DescribeTags).
author:
  - lgtm.aws maintainers (@lgtm-aws)
options:
  name:
    description: Value of the file system's C(Name) tag; also its creation token.
    type: str
    required: true
  kms_key_id:
    description: KMS key for encryption at rest (the AWS managed C(aws/elasticfilesystem) key when unset). Set on creation only.
    type: str
  performance_mode:
    description: Set on creation only.
    type: str
    choices: [generalPurpose, maxIO]
    default: generalPurpose
  throughput_mode:
    description: Throughput mode.
    type: str
    choices: [bursting, elastic]
    default: bursting
  mount_targets:
    description: One per subnet (one subnet per availability zone). Mount targets in other subnets are deleted.
    type: list
    elements: dict
    default: []
    suboptions:
      subnet_id:
        description: Subnet of the mount target.
        type: str
        required: true
      security_groups:
        description: Security group ids of the mount target.
        type: list
        elements: str
        required: true
  access_points:
    description: Access points that should exist. Others are left alone unless O(purge_access_points=true).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Value of the access point's C(Name) tag.
        type: str
        required: true
      uid:
        description: POSIX user ID every request through the access point runs as.
        type: int
        required: true
      gid:
        description: POSIX group ID every request runs as.
        type: int
        required: true
      path:
        description: Root directory the access point exposes (created with these owners on first use).
        type: str
        required: true
      permissions:
        description: Octal permissions of the root directory when EFS creates it.
        type: str
        default: "0755"
  purge_access_points:
    description: Delete access points that are not listed.
    type: bool
    default: false
  policy:
    description: File system policy document. Unset leaves the policy alone.
    type: dict
  tags:
    description: Tags on the file system and on created access points (C(Name) is added).
    type: dict
    default: {}
  state:
    description: Whether the file system should exist.
    type: str
    choices: [present, absent]
    default: present
  force:
    description: With O(state=absent), delete the file system and all data on it. Without it, absent fails.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait for the file system and mount targets to become available or deleted.
    type: int
    default: 600
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Supports check mode and diff mode.
"""

EXAMPLES = r"""
- name: Prometheus's data, reachable only from its tasks, through its access point, over TLS
  lgtm.aws.efs_file_system:
    name: lgtm-prod-prometheus
    mount_targets:
      - {subnet_id: subnet-0aaa, security_groups: [sg-0efs]}
      - {subnet_id: subnet-0ccc, security_groups: [sg-0efs]}
    access_points:
      - {name: prometheus, uid: 65534, gid: 65534, path: /prometheus}
    tags: {Environment: prod}
  register: efs
"""

RETURN = r"""
file_system_id:
  description: The file system's id (C(null) in check mode when it would be created, and after deletion).
  returned: always
  type: str
  sample: fs-0abc123
file_system_arn:
  description: The file system's ARN.
  returned: when it exists
  type: str
access_points:
  description: Access point name to C(id) and C(arn) (C(null) in check mode when it would be created).
  returned: always
  type: dict
  sample: {prometheus: {id: fsap-0abc, arn: "arn:aws:elasticfilesystem:eu-west-1:123456789012:access-point/fsap-0abc"}}
"""

import json
import re
import time

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.lgtm.aws.plugins.module_utils.aws_common import RetryingClient, error_code, sync_tags, tag_list


class FileSystem(object):
    """One run of the module: the client, the parameters, what changed and the diff."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.client = RetryingClient(module, "efs")
        self.changed = False
        self.diff = {"before": {}, "after": {}}

    def change(self, action, *args, **kwargs):
        self.changed = True
        if not self.module.check_mode:
            return action(*args, **kwargs)
        return None

    def wait(self, done, what):
        deadline = time.time() + self.params["wait_timeout"]
        while not done():
            if time.time() > deadline:
                self.module.fail_json(msg="%s did not finish within wait_timeout=%d s" % (what, self.params["wait_timeout"]))
            time.sleep(3)

    def find(self):
        for found in self.client.paginate("describe_file_systems")["FileSystems"]:
            if found.get("Name") == self.params["name"] or found.get("CreationToken") == self.params["name"]:
                return found
        return None

    def state_of(self, file_system_id):
        found = self.client.describe_file_systems(FileSystemId=file_system_id)["FileSystems"]
        return found[0]["LifeCycleState"] if found else "deleted"

    # -- the file system -----------------------------------------------------------------------

    def ensure_file_system(self):
        found = self.find()
        tags = dict(self.params["tags"], Name=self.params["name"])
        after = {"encrypted": True, "performance_mode": self.params["performance_mode"], "throughput_mode": self.params["throughput_mode"], "tags": tags}
        self.diff["after"]["file_system"] = after
        if found is None:
            self.diff["before"]["file_system"] = None
            kwargs = dict(CreationToken=self.params["name"], Encrypted=True, PerformanceMode=self.params["performance_mode"],
                          ThroughputMode=self.params["throughput_mode"], Tags=tag_list(tags))
            if self.params["kms_key_id"]:
                kwargs["KmsKeyId"] = self.params["kms_key_id"]
            created = self.change(self.client.create_file_system, **kwargs)
            if created is None:
                return None
            self.wait(lambda: self.state_of(created["FileSystemId"]) == "available", "creating the file system")
            return created
        if not found.get("Encrypted"):
            self.module.fail_json(msg="name: file system %s (%s) exists unencrypted; EFS cannot encrypt it in place. Copy the data to a new, "
                                      "encrypted file system; nothing was changed." % (self.params["name"], found["FileSystemId"]))
        current_tags = {t["Key"]: t["Value"] for t in self.client.list_tags_for_resource(ResourceId=found["FileSystemId"]).get("Tags", [])}
        self.diff["before"]["file_system"] = {"encrypted": True, "performance_mode": found["PerformanceMode"],
                                              "throughput_mode": found.get("ThroughputMode"), "tags": current_tags}
        if found.get("ThroughputMode") != self.params["throughput_mode"]:
            self.change(self.client.update_file_system, FileSystemId=found["FileSystemId"], ThroughputMode=self.params["throughput_mode"])
        if current_tags != tags:
            self.changed = True
            if not self.module.check_mode:
                sync_tags(current_tags, tags,
                          lambda keys: self.client.untag_resource(ResourceId=found["FileSystemId"], TagKeys=keys),
                          lambda tag_items: self.client.tag_resource(ResourceId=found["FileSystemId"], Tags=tag_items))
        return found

    # -- mount targets -------------------------------------------------------------------------

    def ensure_mount_targets(self, file_system_id):
        current = self.client.describe_mount_targets(FileSystemId=file_system_id)["MountTargets"]
        by_subnet = {}
        for target in current:
            groups = sorted(self.client.describe_mount_target_security_groups(MountTargetId=target["MountTargetId"])["SecurityGroups"])
            by_subnet[target["SubnetId"]] = {"id": target["MountTargetId"], "security_groups": groups}
        wanted = {t["subnet_id"]: sorted(t["security_groups"]) for t in self.params["mount_targets"]}
        self.diff["before"]["mount_targets"] = {subnet: t["security_groups"] for subnet, t in by_subnet.items()}
        self.diff["after"]["mount_targets"] = wanted
        for subnet, target in by_subnet.items():
            if subnet not in wanted:
                self.change(self.client.delete_mount_target, MountTargetId=target["id"])
            elif target["security_groups"] != wanted[subnet]:
                self.change(self.client.modify_mount_target_security_groups, MountTargetId=target["id"], SecurityGroups=wanted[subnet])
        for subnet, groups in wanted.items():
            if subnet not in by_subnet:
                self.change(self.client.create_mount_target, FileSystemId=file_system_id, SubnetId=subnet, SecurityGroups=groups)

    # -- access points -------------------------------------------------------------------------

    @staticmethod
    def shape(point):
        root = point.get("RootDirectory", {})
        creation = root.get("CreationInfo") or {}
        return {"uid": point["PosixUser"]["Uid"], "gid": point["PosixUser"]["Gid"], "path": root.get("Path", "/"),
                "permissions": str(creation.get("Permissions", "")).zfill(4)}

    @staticmethod
    def wanted_shape(point):
        return {"uid": point["uid"], "gid": point["gid"], "path": point["path"], "permissions": point["permissions"].zfill(4)}

    def ensure_access_points(self, file_system_id):
        existing = {}
        if file_system_id:
            for point in self.client.paginate("describe_access_points", FileSystemId=file_system_id)["AccessPoints"]:
                name = point.get("Name") or {t["Key"]: t["Value"] for t in point.get("Tags", [])}.get("Name")
                if name:
                    existing[name] = point
        self.diff["before"]["access_points"] = {name: self.shape(p) for name, p in existing.items()}
        self.diff["after"]["access_points"] = {p["name"]: self.wanted_shape(p) for p in self.params["access_points"]}
        result = {}
        for point in self.params["access_points"]:
            current = existing.get(point["name"])
            if current and self.shape(current) == self.wanted_shape(point):
                result[point["name"]] = {"id": current["AccessPointId"], "arn": current["AccessPointArn"]}
                continue
            if current:
                self.change(self.client.delete_access_point, AccessPointId=current["AccessPointId"])
            created = self.change(
                self.client.create_access_point, FileSystemId=file_system_id, PosixUser={"Uid": point["uid"], "Gid": point["gid"]},
                RootDirectory={"Path": point["path"], "CreationInfo": {"OwnerUid": point["uid"], "OwnerGid": point["gid"],
                                                                       "Permissions": point["permissions"].zfill(4)}},
                Tags=tag_list(dict(self.params["tags"], Name=point["name"])))
            result[point["name"]] = {"id": created["AccessPointId"], "arn": created["AccessPointArn"]} if created else {"id": None, "arn": None}
        if self.params["purge_access_points"]:
            for name, current in existing.items():
                if name not in result:
                    self.change(self.client.delete_access_point, AccessPointId=current["AccessPointId"])
        if not self.params["purge_access_points"]:
            for name in existing:
                self.diff["after"]["access_points"].setdefault(name, self.diff["before"]["access_points"][name])
        return result

    # -- policy --------------------------------------------------------------------------------

    def ensure_policy(self, file_system_id):
        desired = self.params["policy"]
        if desired is None:
            return
        try:
            current = json.loads(self.client.describe_file_system_policy(FileSystemId=file_system_id)["Policy"]) if file_system_id else None
        except botocore.exceptions.ClientError as error:
            if error_code(error) != "PolicyNotFound":
                raise
            current = None
        self.diff["before"]["policy"], self.diff["after"]["policy"] = current, desired
        if current != desired:
            self.change(self.client.put_file_system_policy, FileSystemId=file_system_id, Policy=json.dumps(desired))

    # -- absent --------------------------------------------------------------------------------

    def ensure_absent(self):
        found = self.find()
        if found is None:
            return
        if not self.params["force"]:
            self.module.fail_json(msg="force: file system %s (%s) holds %d bytes of data; state=absent deletes it only with force=true. "
                                      "Nothing was changed." % (self.params["name"], found["FileSystemId"], found["SizeInBytes"]["Value"]))
        file_system_id = found["FileSystemId"]
        self.diff["before"]["file_system"], self.diff["after"]["file_system"] = {"id": file_system_id}, None
        for point in self.client.paginate("describe_access_points", FileSystemId=file_system_id)["AccessPoints"]:
            self.change(self.client.delete_access_point, AccessPointId=point["AccessPointId"])
        targets = self.client.describe_mount_targets(FileSystemId=file_system_id)["MountTargets"]
        for target in targets:
            self.change(self.client.delete_mount_target, MountTargetId=target["MountTargetId"])
        if not self.module.check_mode:
            self.wait(lambda: not self.client.describe_mount_targets(FileSystemId=file_system_id)["MountTargets"], "deleting the mount targets")
        self.change(self.client.delete_file_system, FileSystemId=file_system_id)


def validate(module):
    params = module.params
    if not re.match(r"^[A-Za-z0-9 _.:/=+@-]{1,64}$", params["name"]):
        module.fail_json(msg="name: %r must be 1-64 letters, digits, spaces or _.:/=+@-" % params["name"])
    subnets = [t["subnet_id"] for t in params["mount_targets"]]
    for subnet in subnets:
        if not re.match(r"^subnet-[0-9a-f]+$", subnet) or subnets.count(subnet) > 1:
            module.fail_json(msg="mount_targets: %r must be a subnet id such as subnet-0abc123, listed once" % subnet)
    names = [a["name"] for a in params["access_points"]]
    for point in params["access_points"]:
        where = "access_points[%s]" % point["name"]
        if names.count(point["name"]) > 1:
            module.fail_json(msg="%s: listed twice" % where)
        if not point["path"].startswith("/") or "//" in point["path"]:
            module.fail_json(msg="%s.path: must be an absolute path such as /prometheus (got %r)" % (where, point["path"]))
        if not re.match(r"^0?[0-7]{3}$", point["permissions"]):
            module.fail_json(msg="%s.permissions: must be octal such as 0755 (got %r)" % (where, point["permissions"]))
        for key in ("uid", "gid"):
            if not 0 <= point[key] <= 4294967295:
                module.fail_json(msg="%s.%s: must be a POSIX id between 0 and 4294967295 (got %r)" % (where, key, point[key]))


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            kms_key_id=dict(type="str"),
            performance_mode=dict(type="str", choices=["generalPurpose", "maxIO"], default="generalPurpose"),
            throughput_mode=dict(type="str", choices=["bursting", "elastic"], default="bursting"),
            mount_targets=dict(type="list", elements="dict", default=[], options=dict(
                subnet_id=dict(type="str", required=True), security_groups=dict(type="list", elements="str", required=True))),
            access_points=dict(type="list", elements="dict", default=[], options=dict(
                name=dict(type="str", required=True), uid=dict(type="int", required=True), gid=dict(type="int", required=True),
                path=dict(type="str", required=True), permissions=dict(type="str", default="0755"))),
            purge_access_points=dict(type="bool", default=False),
            policy=dict(type="dict"),
            tags=dict(type="dict", default={}),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            force=dict(type="bool", default=False),
            wait_timeout=dict(type="int", default=600),
        ),
        supports_check_mode=True,
    )
    validate(module)
    run = FileSystem(module)
    result = {"file_system_id": None, "access_points": {}}
    try:
        if module.params["state"] == "absent":
            run.ensure_absent()
        else:
            found = run.ensure_file_system()
            file_system_id = found["FileSystemId"] if found else None
            if file_system_id:
                result.update(file_system_id=file_system_id, file_system_arn=found.get("FileSystemArn"))
                run.ensure_mount_targets(file_system_id)
            else:
                run.diff["after"]["mount_targets"] = {t["subnet_id"]: sorted(t["security_groups"]) for t in module.params["mount_targets"]}
            result["access_points"] = run.ensure_access_points(file_system_id)
            run.ensure_policy(file_system_id)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg="EFS file system %s" % module.params["name"])
    module.exit_json(changed=run.changed, diff=run.diff, **result)


if __name__ == "__main__":
    main()
