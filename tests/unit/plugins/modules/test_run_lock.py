"""lgtm.aws.run_lock against an in-process moto: one holder at a time, a clear error naming a live holder, stale
locks (expired, or a gone process on this controller) taken over, and only the holder releases."""
import json
import os
import subprocess

import pytest
from conftest import Retrying

from ansible_collections.lgtm.aws.plugins.action.run_lock import owner as controller_owner
from ansible_collections.lgtm.aws.plugins.modules import run_lock as module

NAME = "/lgtm/acme-prod/run-lock"


class Failed(Exception):
    pass


class Module(object):
    def __init__(self, check_mode=False):
        self.check_mode = check_mode
        self.warnings = []

    def fail_json(self, msg, **_kwargs):
        raise Failed(msg)

    def warn(self, message):
        self.warnings.append(message)


def params(who, ttl=3600):
    return {"name": NAME, "ttl": ttl, "owner": who}


@pytest.fixture
def ssm(aws):
    return Retrying(aws("ssm"))


def started(pid):
    with open("/proc/%d/stat" % pid) as handle:
        return handle.read().rsplit(")", 1)[1].split()[19]


@pytest.fixture
def me():
    """This run: this process on this controller (the action names ansible-playbook, its workers' parent)."""
    return dict(controller_owner(), pid=os.getpid(), pid_start=started(os.getpid()), run="pytest")


def another_live_run(me):
    """Another run on this controller whose process is alive (this test's parent process)."""
    return dict(me, pid=os.getppid(), pid_start=started(os.getppid()), run="the other run")


def test_the_first_run_takes_the_lock_and_a_second_live_run_is_refused_by_name(ssm, me):
    taken = module.take(Module(), ssm, params(another_live_run(me)))
    assert taken["changed"] and json.loads(ssm.get_parameter(Name=NAME)["Parameter"]["Value"])["run"] == "the other run"
    with pytest.raises(Failed) as refused:
        module.take(Module(), ssm, params(me))
    assert "Another run holds the lock %s" % NAME in str(refused.value)
    assert "pid %d" % os.getppid() in str(refused.value) and "Nothing was changed" in str(refused.value)
    # The holder taking it again keeps it.
    assert module.take(Module(), ssm, params(another_live_run(me)))["changed"] is False


def test_a_lock_whose_process_on_this_controller_is_gone_is_taken_over_with_a_warning(ssm, me):
    gone = subprocess.Popen(["true"])
    gone.wait()
    module.take(Module(), ssm, params(dict(me, pid=gone.pid, pid_start="1")))
    warned = Module()
    taken = module.take(warned, ssm, params(me))
    assert taken["changed"] and taken["took_over"]["pid"] == gone.pid
    assert "Took over the run lock" in warned.warnings[0] and "is gone" in warned.warnings[0]
    assert json.loads(ssm.get_parameter(Name=NAME)["Parameter"]["Value"])["pid"] == me["pid"]


def test_a_live_lock_of_another_controller_is_kept_until_it_expires(ssm, me):
    elsewhere = dict(me, controller="ci-runner-7", boot_id="other-boot", pid=1)
    module.take(Module(), ssm, params(elsewhere, ttl=3600))
    with pytest.raises(Failed):
        module.take(Module(), ssm, params(me))
    ssm.delete_parameter(Name=NAME)
    module.take(Module(), ssm, params(elsewhere, ttl=1))
    value = json.loads(ssm.get_parameter(Name=NAME)["Parameter"]["Value"])
    ssm.put_parameter(Name=NAME, Value=json.dumps(dict(value, expires_epoch=value["expires_epoch"] - 10)), Type="String", Overwrite=True)
    warned = Module()
    assert module.take(warned, ssm, params(me))["took_over"]["controller"] == "ci-runner-7"
    assert "expired" in warned.warnings[0]


def test_only_the_holder_releases_and_check_mode_writes_nothing(ssm, me):
    assert module.take(Module(check_mode=True), ssm, params(me))["changed"] is True
    assert module.read(ssm, NAME) is None, "check mode wrote the lock"
    module.take(Module(), ssm, params(another_live_run(me)))
    warned = Module()
    assert module.release(warned, ssm, params(me))["changed"] is False and module.read(ssm, NAME) is not None
    assert "Not releasing" in warned.warnings[0]
    assert module.release(Module(), ssm, params(another_live_run(me)))["changed"] is True
    assert module.read(ssm, NAME) is None
    assert module.release(Module(), ssm, params(me))["changed"] is False
