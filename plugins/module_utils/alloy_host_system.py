# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host side of lgtm.aws.alloy_host: what the host is, and files, directories, users and groups
converged with a per-part record of what changed (and a diff) and check mode honoured."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import grp
import hashlib
import os
import platform
import pwd
import tempfile
import time

# Go's names for the architectures Alloy releases are built for.
ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm"}
REDHAT_IDS = ("rhel", "fedora", "centos", "rocky", "almalinux", "amzn", "ol")


def os_release(path="/etc/os-release"):
    values = {}
    try:
        with open(path) as handle:
            for line in handle:
                key, sep, value = line.strip().partition("=")
                if sep:
                    values[key] = value.strip().strip('"')
    except (IOError, OSError):
        pass
    return values


def os_family(release=None):
    """RedHat or Debian, from /etc/os-release (ID and ID_LIKE), as Ansible's facts would say."""
    release = os_release() if release is None else release
    ids = [release.get("ID", "")] + release.get("ID_LIKE", "").split()
    if any(name in REDHAT_IDS for name in ids):
        return "RedHat"
    if os.path.exists("/etc/debian_version") or any(name in ("debian", "ubuntu") for name in ids):
        return "Debian"
    return "RedHat" if os.path.exists("/etc/redhat-release") else "Debian"


def architecture():
    machine = platform.machine()
    return ARCHITECTURES.get(machine, machine)


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_text(path):
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except (IOError, OSError):
        return None


class Host(object):
    """Converges parts of one host and keeps, per part, whether it changed and its diff."""

    def __init__(self, module):
        self.module = module
        self.check_mode = module.check_mode
        self.parts = {}
        self.diffs = []
        self.timings = {}

    @contextlib.contextmanager
    def timed(self, step):
        """Add the seconds the block takes to ``timings[step]``."""
        start = time.time()
        try:
            yield
        finally:
            self.timings[step] = round(self.timings.get(step, 0) + time.time() - start, 3)

    def record(self, part, changed, diff=None):
        self.parts[part] = self.parts.get(part, False) or bool(changed)
        if changed and diff:
            self.diffs.append(diff)
        return bool(changed)

    def changed(self, *parts):
        return any(self.parts.get(part) for part in (parts or self.parts))

    def run(self, argv, check=True, environ=None, data=None):
        rc, out, err = self.module.run_command(argv, environ_update=environ, data=data)
        if check and rc != 0:
            self.module.fail_json(msg="%s failed (rc=%d): %s" % (" ".join(argv), rc, (err or out).strip()),
                                  parts=self.parts, diff=self.diffs)
        return rc, out, err

    # --- users and groups ---------------------------------------------------------------

    def group(self, part, name):
        try:
            grp.getgrnam(name)
            return False
        except KeyError:
            pass
        if not self.check_mode:
            self.run(["groupadd", "--system", name])
        return self.record(part, True, {"before": "", "after": "group %s\n" % name, "after_header": "group " + name})

    def user(self, part, name, group, groups, home):
        missing = [g for g in groups if not _group_exists(g)]
        if missing:
            self.module.fail_json(msg="alloy_user_groups: group(s) %s do not exist on this host; existing groups "
                                      "only (e.g. adm, systemd-journal on Debian)" % ", ".join(missing))
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            entry = None
        if entry is None:
            if not self.check_mode:
                argv = ["useradd", "--system", "--gid", group, "--shell", "/usr/sbin/nologin", "--home-dir", home,
                        "--no-create-home"]
                if groups:
                    argv += ["--groups", ",".join(groups)]
                self.run(argv + [name])
            return self.record(part, True, {"before": "", "after": "user %s groups=%s\n" % (name, ",".join(groups)),
                                            "after_header": "user " + name})
        member_of = set(g.gr_name for g in grp.getgrall() if name in g.gr_mem)
        lacking = [g for g in groups if g not in member_of]
        primary_ok = _gid(group) in (entry.pw_gid, None)
        if not lacking and primary_ok:
            return False
        if not self.check_mode:
            if not primary_ok:
                self.run(["usermod", "--gid", group, name])
            if lacking:
                self.run(["usermod", "--append", "--groups", ",".join(lacking), name])
        return self.record(part, True, {"before": "user %s groups=%s\n" % (name, ",".join(sorted(member_of))),
                                        "after": "user %s groups=%s\n" % (name, ",".join(sorted(member_of | set(groups)))),
                                        "before_header": "user " + name, "after_header": "user " + name})

    def remove_user(self, part, name, group):
        changed = False
        for kind, exists, command in (("user", _user_exists, "userdel"), ("group", _group_exists, "groupdel")):
            target = name if kind == "user" else group
            if exists(target):
                if not self.check_mode:
                    self.run([command, target])
                changed = self.record(part, True, {"before": "%s %s\n" % (kind, target), "after": "",
                                                   "before_header": "%s %s" % (kind, target)}) or changed
        return changed

    # --- files and directories ----------------------------------------------------------

    def directory(self, part, path, owner, group, mode):
        exists = os.path.isdir(path)
        if exists and self._ownership_ok(path, owner, group, mode):
            return False
        if not self.check_mode:
            if not exists:
                os.makedirs(path)
            self._set_ownership(path, owner, group, mode)
        return self.record(part, True, {"before_header": path, "after_header": path,
                                        "before": "" if not exists else _describe(path),
                                        "after": "directory %s:%s %04o\n" % (owner, group, mode)})

    def file(self, part, path, content, owner="root", group="root", mode=0o644, secret=None):
        """Write ``content`` atomically when it or its ownership differs. ``secret``: text masked in the diff."""
        current = read_text(path)
        if current == content and self._ownership_ok(path, owner, group, mode):
            return False
        if not self.check_mode:
            directory = os.path.dirname(path)
            if not os.path.isdir(directory):
                os.makedirs(directory)
            handle, temp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path))
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(content.encode("utf-8"))
                self._set_ownership(temp, owner, group, mode)
                os.rename(temp, path)
            except Exception:
                if os.path.exists(temp):
                    os.unlink(temp)
                raise
        mask = (lambda text: text.replace(secret, "********")) if secret else (lambda text: text)
        return self.record(part, True, {"before_header": path, "after_header": path,
                                        "before": mask(current or ""), "after": mask(content)})

    def copy(self, part, source, dest, owner, group, mode):
        content = read_text(source)
        return content is not None and self.file(part, dest, content, owner, group, mode)

    def link(self, part, target, path):
        current = os.readlink(path) if os.path.islink(path) else None
        if current == target:
            return False
        if not self.check_mode:
            if os.path.lexists(path):
                os.unlink(path)
            os.symlink(target, path)
        return self.record(part, True, {"before_header": path, "after_header": path,
                                        "before": "%s -> %s\n" % (path, current) if current else "",
                                        "after": "%s -> %s\n" % (path, target)})

    def remove(self, part, path):
        if not os.path.lexists(path):
            return False
        if not self.check_mode:
            if os.path.isdir(path) and not os.path.islink(path):
                for root, dirs, files in os.walk(path, topdown=False):
                    for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
                        os.unlink(os.path.join(root, name))
                    for name in dirs:
                        if not os.path.islink(os.path.join(root, name)):
                            os.rmdir(os.path.join(root, name))
                os.rmdir(path)
            else:
                os.unlink(path)
        return self.record(part, True, {"before_header": path, "before": "%s\n" % path, "after": ""})

    def _ownership_ok(self, path, owner, group, mode):
        try:
            info = os.lstat(path)
        except OSError:
            return False
        uid, gid = _uid(owner), _gid(group)
        # In check mode the service user may not exist yet: it is reported by its own part.
        return ((uid is None or info.st_uid == uid) and (gid is None or info.st_gid == gid)
                and (info.st_mode & 0o7777) == mode)

    def _set_ownership(self, path, owner, group, mode):
        os.chown(path, _uid(owner) if _uid(owner) is not None else -1, _gid(group) if _gid(group) is not None else -1)
        os.chmod(path, mode)


def _uid(name):
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        return None


def _gid(name):
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


def _user_exists(name):
    return _uid(name) is not None


def _group_exists(name):
    return _gid(name) is not None


def _describe(path):
    info = os.lstat(path)
    return "directory uid=%d gid=%d %04o\n" % (info.st_uid, info.st_gid, info.st_mode & 0o7777)
