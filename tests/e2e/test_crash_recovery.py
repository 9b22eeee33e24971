"""After kill -9 of the server: no command runs on unsupervised, and every
target that was running reports what really became of it (README "After a crash").

Each test kills the real build/steward while commands run on local and ssh
targets, changes the world while it is down, restarts it on the same data
dir, and reads the targets' outcomes.
"""

import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from conftest import (JOB_DONE, JOB_FAILURE, JOB_RUNNING, OP_CHANGED, OP_FAILED, OP_UNREACHABLE, Api, Server,
                      wait_for)
from sshd import SshFleet, Sshd
from transport_contract import pids_with

LOCAL_INVENTORY = """\
[local]
l1 ansible_connection=local
l2 ansible_connection=local
l3 ansible_connection=local
"""


def tag():
    return f"crash-{uuid.uuid4().hex[:12]}"


def groups_of(pids):
    groups = set()
    for pid in pids:
        try:
            groups.add(os.getpgid(pid))
        except ProcessLookupError:
            pass
    return groups


def members_of_group(pgid):
    """Pids whose process group is pgid (from /proc, field 5 of stat)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def start_commands(api, commands):
    """Submit {host: cmd} as one execute job each; wait until each command runs (its tag in a command line)."""
    jids = {}
    for host, (cmd, marker) in commands.items():
        jids[host] = api.submit("/execute", {"targets": [host], "cmd": cmd})
    for host, (cmd, marker) in commands.items():
        wait_for(lambda: pids_with(marker), timeout=15, what=f"the command on {host} to start")
    return jids


def kill_leftovers(marker):
    """A failed test leaves no sleeping command behind."""
    for pid in pids_with(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def outcome(api, jid, host, timeout=60):
    job = api.wait_job(jid, timeout=timeout)
    return job, job["return_data"][host]


@pytest.fixture
def local_server(tmp_root):
    srv = Server(tmp_root / f"data-{uuid.uuid4().hex[:6]}", inventory=LOCAL_INVENTORY).start()
    yield srv
    srv.stop()


def test_local_commands_that_outlive_the_server_are_stopped(local_server, request):
    api = Api(local_server)
    marker = tag()
    request.addfinalizer(lambda: kill_leftovers(marker))
    jids = start_commands(api, {"l1": (f"sleep 300; echo {marker}", marker)})
    groups = groups_of(pids_with(marker))
    assert len(groups) == 1, groups
    pgid = groups.pop()

    local_server.kill9()
    time.sleep(0.5)
    assert pids_with(marker), "the command did not outlive the server: nothing left to supervise"

    local_server.start()
    job, e = outcome(api, jids["l1"], "l1")
    assert e["status"] == OP_FAILED, e
    assert e["error"] == f"interrupted: server restarted; process group {pgid} stopped", e
    assert job["state"] == JOB_FAILURE, job
    assert not pids_with(marker), "the command still runs after the restart"
    assert members_of_group(pgid) == [], "processes of the stopped group are left"
    assert list((local_server.data_dir / "runs").iterdir()) == [], "status files are left behind"


def test_local_commands_that_end_while_the_server_is_down_report_their_exit_status(local_server):
    api = Api(local_server)
    zero, three, killed = tag(), tag(), tag()
    gate = local_server.data_dir.parent / f"gate-{zero}"
    # Each waits for the gate, which opens only once the server is dead.
    wait = f"while [ ! -e {gate} ]; do sleep 0.05; done"
    jids = start_commands(api, {"l1": (f"{wait}; exit 0 # {zero}", zero),
                                "l2": (f"{wait}; exit 3 # {three}", three),
                                "l3": (f"{wait}; kill -s KILL $$ # {killed}", killed)})
    local_server.kill9()
    gate.touch()
    wait_for(lambda: not (pids_with(zero) or pids_with(three) or pids_with(killed)), timeout=10,
             what="the commands to end while the server is down")

    local_server.start()
    job, e = outcome(api, jids["l1"], "l1")
    assert e["status"] == OP_CHANGED and e["rtc"] == 0, e
    assert e["error"] == "finished while the server was down", e
    assert job["state"] == JOB_DONE, job

    job, e = outcome(api, jids["l2"], "l2")
    assert e["status"] == OP_FAILED and e["rtc"] == 3, e
    assert e["error"] == "exit status 3 (finished while the server was down)", e
    assert job["state"] == JOB_FAILURE, job

    job, e = outcome(api, jids["l3"], "l3")
    assert e["status"] == OP_FAILED and e.get("signal") == signal.SIGKILL, e
    assert e["error"] == "killed by signal KILL (finished while the server was down)", e
    assert list((local_server.data_dir / "runs").iterdir()) == [], "status files are left behind"


def test_a_command_whose_status_file_and_process_are_gone_has_an_unknown_outcome(local_server, request):
    api = Api(local_server)
    marker = tag()
    request.addfinalizer(lambda: kill_leftovers(marker))
    jids = start_commands(api, {"l2": (f"sleep 300; echo {marker}", marker)})
    pgid = groups_of(pids_with(marker)).pop()
    local_server.kill9()
    os.killpg(pgid, signal.SIGKILL)  # the wrapper dies too, so it writes no status file
    wait_for(lambda: not members_of_group(pgid), timeout=10, what="the group to end")

    local_server.start()
    job, e = outcome(api, jids["l2"], "l2")
    assert e["status"] == OP_FAILED, e
    assert e["error"] == ("outcome unknown: server restarted; "
                          "neither its status file nor its process group was left"), e
    assert job["state"] == JOB_FAILURE, job


def test_normal_runs_leave_no_record_or_status_file(local_server):
    api = Api(local_server)
    job = api.run("/execute", {"targets": ["l1"], "cmd": "printf '%s' \"it's\n\"; exit 2", "stdin": "ignored"})
    e = job["return_data"]["l1"]
    assert e["status"] == OP_FAILED and e["rtc"] == 2 and e["stdout"] == "it's\n", e
    assert list((local_server.data_dir / "runs").iterdir()) == [], "a status file outlived its recorded outcome"
    mode = (local_server.data_dir / "runs").stat().st_mode & 0o777
    assert mode == 0o700, oct(mode)


# ---------------------------------------------------------------- ssh

@pytest.fixture(scope="module")
def fleet(tmp_root):
    fleet = SshFleet(tmp_root / "ssh", 2).start()
    yield fleet
    fleet.stop()


def status_files(fleet):
    folder = fleet.home / ".cache" / "steward"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_ssh_commands_are_stopped_or_report_their_exit_status(fleet, tmp_root):
    inventory = "".join(fleet.host_line(name, address)
                        for name, address in zip(("s1", "s2"), fleet.addresses))
    srv = Server(tmp_root / "data-ssh", inventory=inventory).start()
    sleeper, three = tag(), tag()
    try:
        api = Api(srv)
        assert api.run("/execute", {"targets": ["s1"], "cmd": "true"})["return_data"]["s1"]["status"] == OP_CHANGED
        gate = tmp_root / f"gate-{three}"
        jids = start_commands(api, {
            "s1": (f"sleep 300; echo {sleeper}", sleeper),
            "s2": (f"while [ ! -e {gate} ]; do sleep 0.05; done; exit 3 # {three}", three)})
        pgid = groups_of(pids_with(sleeper)).pop()

        srv.kill9()
        gate.touch()
        wait_for(lambda: not pids_with(three), timeout=10, what="the ssh command to end while the server is down")
        time.sleep(0.5)
        assert pids_with(sleeper), "the ssh command did not outlive the server"
        assert len(status_files(fleet)) >= 1, "no status file written on the target"

        srv.start()
        job, e = outcome(api, jids["s1"], "s1")
        assert e["status"] == OP_FAILED, e
        assert e["error"] == f"interrupted: server restarted; process group {pgid} stopped", e
        assert not pids_with(sleeper), "the ssh command still runs after the restart"
        assert members_of_group(pgid) == []

        job, e = outcome(api, jids["s2"], "s2")
        assert e["status"] == OP_FAILED and e["rtc"] == 3, e
        assert e["error"] == "exit status 3 (finished while the server was down)", e

        # A normal run's status file goes with the target's next command.
        for _ in range(2):
            r = api.run("/execute", {"targets": ["s1"], "cmd": "echo \"a 'quoted'\nline\"", "stdin": "x"})
            assert r["return_data"]["s1"]["stdout"] == "a 'quoted'\nline\n", r
        assert len(status_files(fleet)) <= 1, status_files(fleet)
    finally:
        srv.stop()
        kill_leftovers(sleeper)


def test_ssh_target_unreachable_during_recovery(fleet, tmp_root):
    address = "127.0.0.70"
    lonely = Sshd(fleet.workdir, "lonely", [address], fleet.port, fleet.host_key,
                  fleet.authorized_keys, fleet.home).start()
    srv = Server(tmp_root / "data-unreach", inventory=fleet.host_line("u1", address)).start()
    marker = tag()
    try:
        api = Api(srv)
        jids = start_commands(api, {"u1": (f"sleep 300; echo {marker}", marker)})
        srv.kill9()
        lonely.stop()  # kills its sessions, as a crash of the target would
        started = time.monotonic()
        srv.start()
        assert time.monotonic() - started < 5, "recovery held up the server's start"
        job, e = outcome(api, jids["u1"], "u1", timeout=60)
        assert e["status"] == OP_UNREACHABLE, e
        assert e["error"].startswith("outcome unknown: server restarted; cannot reach the target to look: "), e
        assert job["state"] == JOB_FAILURE, job
    finally:
        srv.stop()
        lonely.stop()
        kill_leftovers(marker)
