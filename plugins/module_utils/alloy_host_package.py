# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Alloy package on a Linux host: Grafana's signed APT/RPM repository, a release archive checked
against its sha256, or a package file from the control node; version pinned (and held on APT)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import io
import os
import shutil
import zipfile

from ansible.module_utils.urls import open_url

from ansible_collections.lgtm.aws.plugins.module_utils.alloy_host_system import sha256_file

APT_ENV = {"DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
CACHE_DIR = "/var/cache/alloy"
# apt reads only the Alloy source's package list (kept here) and dpkg's status: installing then costs a fraction
# of a second instead of loading every list of the distribution. A dependency the host lacks falls back to
# apt's usual view (every source).
APT_LISTS = CACHE_DIR + "/apt-lists"
RPM_REPO_FILE = "/etc/yum.repos.d/grafana-alloy.repo"
# dpkg's journal: not empty after a dpkg run that was killed half-way (docs/retries.md, "Killed and concurrent runs").
DPKG_UPDATES = "/var/lib/dpkg/updates"


class NeedsPackage(Exception):
    """The package file is not on the host yet: the action must send it."""


class Package(object):
    def __init__(self, host, install, version, family, arch):
        self.host = host
        self.install = install
        self.version = version
        self.family = family
        self.arch = arch

    # --- what is installed ------------------------------------------------------------------

    def dpkg_status(self):
        rc, out, _err = self.host.run(["dpkg-query", "-W", "-f=${Status}|${Version}", "alloy"], check=False)
        if rc != 0 or "|" not in out:
            return "", None
        status, version = out.strip().split("|", 1)
        return status, (version if status.endswith(" installed") else None)

    def rpm_version(self, path=None):
        argv = ["rpm", "-q", "--qf", "%{VERSION}"] + (["-p", path] if path else ["alloy"])
        rc, out, _err = self.host.run(argv, check=False)
        return out.strip() if rc == 0 else None

    def installed_version(self):
        if self.install["method"] == "archive":
            target = os.path.realpath("/usr/bin/alloy") if os.path.islink("/usr/bin/alloy") else ""
            return self.version if target == self.archive_binary() else None
        return self.dpkg_status()[1] if self.family == "Debian" else self.rpm_version()

    # --- converge ---------------------------------------------------------------------------

    def ensure(self):
        """Converge the package; True when the binary changed (the service must restart)."""
        method = self.install["method"]
        if method == "archive":
            return self._archive()
        if method == "package_file":
            return self._package_file()
        return self._apt_repository() if self.family == "Debian" else self._rpm_repository()

    def _apt_repository(self):
        keyring, source = self.install["apt_keyring"], self.install["apt_source_file"]
        if not os.path.exists(keyring):
            self.host.file("repository", keyring, self.download_text(self.install["apt_key_url"]), mode=0o644)
        line = "deb [signed-by=%s] %s %s %s\n" % (
            keyring, self.install["apt_repository_url"], self.install["apt_suite"], self.install["apt_component"])
        self.host.file("repository", source, line, mode=0o644)
        status, installed = self.dpkg_status()
        if installed != self.version:
            self._describe_version(installed)
            if not self.host.check_mode:
                self._apt_update(source)
                self._apt_install("alloy=%s" % self.version, self._alloy_only(source))
            return self._hold(True)
        return self._hold(False, status)

    def _rpm_repository(self):
        content = "\n".join([
            "[grafana-alloy]",
            "name = Grafana packages (Alloy)",
            "baseurl = %s" % self.install["rpm_repository_url"],
            "gpgcheck = 1",
            "gpgkey = %s" % self.install["rpm_key_url"],
            "repo_gpgcheck = 1",
            "sslverify = 1",
            "enabled = 1",
            ""])
        self.host.file("repository", RPM_REPO_FILE, content, mode=0o644)
        installed = self.rpm_version()
        if installed == self.version:
            return False
        self._describe_version(installed)
        if not self.host.check_mode:
            self._dnf("alloy-%s" % self.version, installed)
        return True

    def _package_file(self):
        name, wanted_sha = self.install["name"], self.install["sha256"]
        cached = os.path.join(CACHE_DIR, name)
        have = os.path.exists(cached) and sha256_file(cached) == wanted_sha
        if not have:
            if self.install.get("src"):
                if not self.host.check_mode:
                    self.host.directory("package", CACHE_DIR, "root", "root", 0o755)
                    shutil.copyfile(self.install["src"], cached)
                    os.chmod(cached, 0o644)
                self.host.record("package", True, {"before_header": cached, "after_header": cached,
                                                   "before": "", "after": "%s sha256=%s\n" % (name, wanted_sha)})
            elif self.host.check_mode:
                # Not on the host yet: in check mode it would be copied and installed.
                self._describe_version(self.installed_version())
                return True
            else:
                raise NeedsPackage(name)
        if self.family == "RedHat" and self.install.get("key"):
            key_path = os.path.join(CACHE_DIR, "package-signing-key.asc")
            if self.host.file("package", key_path, self.install["key"], mode=0o644) and not self.host.check_mode:
                self.host.run(["rpm", "--import", key_path])
        if self.host.check_mode and not os.path.exists(cached):
            return True
        if self.family == "Debian":
            rc, out, _err = self.host.run(["dpkg-deb", "-f", cached, "Version"])
            file_version = out.strip()
            status, installed = self.dpkg_status()
            if installed == file_version:
                return self._hold(False, status)
            self._describe_version(installed, file_version)
            if not self.host.check_mode:
                self._apt_install(cached, self._alloy_only("/dev/null"))
            return self._hold(True)
        file_version = self.rpm_version(cached)
        installed = self.rpm_version()
        if installed == file_version:
            return False
        self._describe_version(installed, file_version)
        if not self.host.check_mode:
            self._dnf(cached, installed, local=True)
        return True

    def archive_binary(self):
        return os.path.join(self.install["archive_dir"], self.version, "alloy-linux-%s" % self.arch)

    def _archive(self):
        binary = self.archive_binary()
        changed = False
        if not os.path.exists(binary):
            changed = True
            self.host.record("package", True, {"before_header": binary, "after_header": binary, "before": "",
                                               "after": "%s from %s\n" % (binary, self.archive_url())})
            if not self.host.check_mode:
                data = self.download(self.archive_url())
                digest = hashlib.sha256(data).hexdigest()
                if digest != self.install["archive_sha256"].lower():
                    self.host.module.fail_json(msg="alloy_archive_sha256: %s has sha256 %s, expected %s; nothing was installed"
                                               % (self.archive_url(), digest, self.install["archive_sha256"]))
                self.host.directory("package", os.path.dirname(binary), "root", "root", 0o755)
                self._unpack(data, binary)
        return self.host.link("package", binary, "/usr/bin/alloy") or changed

    def archive_url(self):
        return self.install["archive_url"].replace("{arch}", self.arch)

    def _unpack(self, data, binary):
        wanted = os.path.basename(binary)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = [n for n in archive.namelist() if os.path.basename(n) == wanted] or \
                [n for n in archive.namelist() if not n.endswith("/")]
            if len(names) != 1:
                self.host.module.fail_json(msg="alloy_archive_url: %s does not hold %s" % (self.archive_url(), wanted))
            temp = binary + ".part"
            with archive.open(names[0]) as source, open(temp, "wb") as out:
                shutil.copyfileobj(source, out)
        os.chmod(temp, 0o755)
        os.rename(temp, binary)

    # --- removal ----------------------------------------------------------------------------

    def remove(self):
        if self.family == "Debian":
            status, _version = self.dpkg_status()
            if not status or status.endswith("not-installed"):
                return False
            if not self.host.check_mode:
                self.host.run(["apt-get", "purge", "-y", "--allow-change-held-packages", "alloy"], environ=APT_ENV)
        else:
            if self.rpm_version() is None:
                return False
            if not self.host.check_mode:
                self.host.run(["dnf", "-y", "remove", "alloy"])
        return self.host.record("package", True, {"before_header": "package alloy", "before": "alloy\n", "after": ""})

    # --- helpers ----------------------------------------------------------------------------

    def download(self, url):
        try:
            return open_url(url, timeout=60).read()
        except Exception as error:  # urllib raises several kinds; the message names the URL
            self.host.module.fail_json(msg="cannot download %s: %s" % (url, error))

    def download_text(self, url):
        return self.download(url).decode("utf-8")

    def _describe_version(self, installed, wanted=None):
        self.host.record("package", True, {"before_header": "package alloy", "after_header": "package alloy",
                                           "before": "alloy %s\n" % installed if installed else "",
                                           "after": "alloy %s\n" % (wanted or self.version)})

    @staticmethod
    def _alloy_only(source):
        """apt options for a view of only ``source`` (its list kept in APT_LISTS) and what is installed."""
        return ["-o", "Dir::Etc::sourcelist=%s" % source, "-o", "Dir::Etc::sourceparts=-",
                "-o", "Dir::State::Lists=%s" % APT_LISTS, "-o", "Dir::Cache::pkgcache=", "-o", "Dir::Cache::srcpkgcache="]

    @staticmethod
    def _lists_dir():
        if not os.path.isdir(os.path.join(APT_LISTS, "partial")):
            os.makedirs(os.path.join(APT_LISTS, "partial"))

    def _apt_update(self, source):
        # Only the Alloy source, into a list directory of its own: other sources' state is not this module's business.
        self._lists_dir()
        self.host.run(["apt-get", "update"] + self._alloy_only(source), environ=APT_ENV)

    def _finish_interrupted_dpkg(self):
        """A dpkg run killed half-way (the module's run killed, the host's power lost) leaves its journal behind, and
        apt then refuses every install ("dpkg was interrupted"): finish it as apt asks, ``dpkg --configure -a``."""
        try:
            pending = os.listdir(DPKG_UPDATES)
        except OSError:
            return
        if pending:
            self.host.run(["dpkg", "--force-confold", "--configure", "-a"], environ=APT_ENV)

    def _apt_install(self, what, view):
        argv = ["apt-get", "install", "-y", "--allow-downgrades", "--allow-change-held-packages",
                "-o", "Dpkg::Options::=--force-confold", what]
        self._finish_interrupted_dpkg()
        self._lists_dir()
        rc, _out, _err = self.host.run(argv[:2] + view + argv[2:], check=False, environ=APT_ENV)
        if rc != 0:
            # A dependency the host does not have: apt's usual view, every source, freshly read.
            self.host.run(["apt-get", "update"], environ=APT_ENV)
            self.host.run(argv, environ=APT_ENV)

    def _hold(self, changed, status=None):
        if not self.install["hold"] or self.host.check_mode and changed:
            return changed
        if status is None:
            status = self.dpkg_status()[0]
        if not status.startswith("hold "):
            if not self.host.check_mode:
                self.host.run(["apt-mark", "hold", "alloy"])
            self.host.record("package", True, {"before_header": "alloy selection", "after_header": "alloy selection",
                                               "before": "install\n", "after": "hold\n"})
        return changed

    def _dnf(self, what, installed, local=False):
        options = ["--setopt=localpkg_gpgcheck=1"] if local else []
        self.host.run(["dnf", "-y"] + options + ["install", what])
        if installed is not None and self.rpm_version() == installed:
            self.host.run(["dnf", "-y"] + options + ["downgrade", what])
