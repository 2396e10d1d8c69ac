"""The host side of lgtm.aws.alloy_host that needs no host: what the OS family is, the files it writes, and
files converged with check mode and ownership honoured (on a temporary directory, as the current user)."""

import grp
import os
import pwd

import pytest

from ansible_collections.lgtm.aws.plugins.module_utils import alloy_host_service as service
from ansible_collections.lgtm.aws.plugins.module_utils import alloy_host_system as system


@pytest.mark.parametrize("release, family", [
    ({"ID": "rocky", "ID_LIKE": "rhel centos fedora"}, "RedHat"),
    ({"ID": "amzn", "ID_LIKE": "centos rhel fedora"}, "RedHat"),
    ({"ID": "ubuntu", "ID_LIKE": "debian"}, "Debian"),
    ({"ID": "debian"}, "Debian"),
])
def test_os_family_follows_os_release_like_ansible_facts(release, family):
    assert system.os_family(release) == family


def test_os_release_reads_quoted_values(tmp_path):
    path = tmp_path / "os-release"
    path.write_text('NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\n# comment\n')
    assert system.os_release(str(path)) == {"NAME": "Rocky Linux", "ID": "rocky", "ID_LIKE": "rhel centos fedora"}


def test_the_environment_file_quotes_the_secret_and_omits_it_when_empty():
    text = service.env_file_text("/etc/alloy/config.alloy", "--disable-reporting", 'a"b\\c')
    assert 'ALLOY_BASIC_AUTH_PASSWORD="a\\"b\\\\c"' in text.splitlines()
    assert 'CUSTOM_ARGS="--disable-reporting"' in text.splitlines()
    assert "ALLOY_BASIC_AUTH_PASSWORD" not in service.env_file_text("/etc/alloy/config.alloy", "", "")


def test_the_unit_runs_as_the_service_user_with_its_storage_path():
    unit = service.unit_text("collector", "alloy", "alloy", "/etc/sysconfig/alloy", "/var/lib/alloy/data")
    lines = unit.splitlines()
    assert "Description=Grafana Alloy (collector)" in lines and "User=alloy" in lines
    assert "EnvironmentFile=/etc/sysconfig/alloy" in lines
    assert "ExecStart=/usr/bin/alloy run $CUSTOM_ARGS --storage.path=/var/lib/alloy/data $CONFIG_FILE" in lines
    assert "ReadWritePaths=/var/lib/alloy" in lines


@pytest.mark.parametrize("listen, url", [("0.0.0.0:12345", "http://127.0.0.1:12345/-/ready"),
                                         ("10.0.0.5:9000", "http://10.0.0.5:9000/-/ready")])
def test_readiness_is_asked_where_alloy_listens(listen, url):
    assert service.ready_url(listen) == url


class Module(object):
    """What Host needs of AnsibleModule; files only, so no command runs."""

    def __init__(self, check_mode):
        self.check_mode = check_mode

    def run_command(self, argv, **_kwargs):
        raise AssertionError("no command expected: %s" % argv)

    def fail_json(self, **kwargs):
        raise AssertionError(kwargs)


def _me():
    return pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name


def test_a_file_is_written_once_with_its_mode_and_a_diff_that_masks_the_secret(tmp_path):
    owner, group = _me()
    path = str(tmp_path / "alloy.env")
    host = system.Host(Module(check_mode=False))
    assert host.file("environment", path, "PASSWORD=hunter2\n", owner, group, 0o640, secret="hunter2")
    assert open(path).read() == "PASSWORD=hunter2\n" and (os.stat(path).st_mode & 0o7777) == 0o640
    assert host.parts == {"environment": True}
    assert "hunter2" not in str(host.diffs) and "PASSWORD=********" in host.diffs[0]["after"]
    again = system.Host(Module(check_mode=False))
    assert not again.file("environment", path, "PASSWORD=hunter2\n", owner, group, 0o640)
    assert again.parts == {} and again.diffs == []
    os.chmod(path, 0o644)
    assert system.Host(Module(check_mode=False)).file("environment", path, "PASSWORD=hunter2\n", owner, group, 0o640)
    assert (os.stat(path).st_mode & 0o7777) == 0o640
    assert [name for name in os.listdir(str(tmp_path)) if name != "alloy.env"] == [], "no temporary file is left"


def test_check_mode_reports_the_change_and_writes_nothing(tmp_path):
    owner, group = _me()
    host = system.Host(Module(check_mode=True))
    assert host.file("config", str(tmp_path / "etc" / "config.alloy"), "logging {}\n", owner, group, 0o640)
    assert host.directory("directories", str(tmp_path / "data"), owner, group, 0o750)
    assert host.link("package", "/opt/alloy/1.18.1/alloy-linux-amd64", str(tmp_path / "alloy"))
    assert os.listdir(str(tmp_path)) == []
    assert host.parts == {"config": True, "directories": True, "package": True}


def test_remove_takes_a_tree_and_reports_nothing_when_it_is_gone(tmp_path):
    tree = tmp_path / "alloy"
    (tree / "data" / "wal").mkdir(parents=True)
    (tree / "data" / "wal" / "segment").write_text("x")
    os.symlink("/nonexistent", str(tree / "dangling"))
    host = system.Host(Module(check_mode=False))
    assert host.remove("files", str(tree)) and not tree.exists()
    assert not system.Host(Module(check_mode=False)).remove("files", str(tree))


class RecordingHost(object):
    check_mode = False

    def __init__(self):
        self.commands = []

    def run(self, argv, check=True, environ=None, data=None):
        self.commands.append(argv)
        return 0, "", ""


@pytest.mark.parametrize("journal, replayed", [(["0001"], True), ([], False)])
def test_an_install_first_finishes_a_dpkg_run_that_was_killed(tmp_path, monkeypatch, journal, replayed):
    """A killed dpkg leaves its journal (apt then refuses: "dpkg was interrupted"); the next install replays it first."""
    from ansible_collections.lgtm.aws.plugins.module_utils import alloy_host_package as package
    updates = tmp_path / "updates"
    updates.mkdir()
    for name in journal:
        (updates / name).write_text("")
    monkeypatch.setattr(package, "DPKG_UPDATES", str(updates))
    monkeypatch.setattr(package, "APT_LISTS", str(tmp_path / "lists"))
    host = RecordingHost()
    pkg = package.Package(host, {"method": "apt_repository"}, "1.18.1", "Debian", "amd64")
    pkg._apt_install("alloy=1.18.1", [])  # pylint: disable=protected-access
    configure = ["dpkg", "--force-confold", "--configure", "-a"]
    assert (configure in host.commands) is replayed
    assert host.commands[-1][:2] == ["apt-get", "install"]
    if replayed:
        assert host.commands.index(configure) == 0
