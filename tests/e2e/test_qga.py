"""The qga transport against the real qemu-ga on a unix socket.

qemu-ga (Debian's qemu-guest-agent) runs in the foreground on this machine,
so the "guest" is the machine itself: what a command did can be checked
directly. Two inventory hosts name the same socket, as two names of one VM
would; qemu-ga serves one client at a time, so they only both work if the
server shares one connection between them.
"""

import os
import signal
import time

import pytest

from conftest import JOB_DONE, JOB_FAILURE, OP_CHANGED, OP_FAILED, OP_OK, OP_UNREACHABLE, SANITIZER, Server, qs
from qemu_ga import QemuGa
from transport_contract import (MiB, RssPeak, check_cancel_kills_the_process_tree, check_file_errors,
                                check_output_cap, check_timeout_kills_the_process_tree, one, rss_kib,
                                sha256_of, write_random_file)

@pytest.fixture(scope="module")
def agent(tmp_root):
    qga = QemuGa(tmp_root / "qga").start()
    yield qga
    qga.stop()


@pytest.fixture(scope="module")
def server(tmp_root, agent):
    inventory = (
        "localhost ansible_connection=local\n"
        "[vms]\n"
        f"vm1 ansible_connection=qga steward_qga_socket={agent.socket}\n"
        f"vm1-alias ansible_connection=qga steward_qga_socket={agent.socket}\n"
        f"vmgone ansible_connection=qga steward_qga_socket={tmp_root / 'nowhere.sock'}\n"
        "nosocket ansible_connection=qga\n"
    )
    srv = Server(tmp_root / "data", inventory=inventory).start()
    yield srv
    assert srv.stop() == 0, srv.log_tail()


@pytest.fixture(scope="module")
def files_dir(server):
    path = server.data_dir / "files"
    assert path.is_dir(), "the server creates its files dir"
    return path


# ---------------------------------------------------------------- execution

def test_blocking_execute_runs_on_the_guest(api):
    r = api.get(qs("/execute", target="vm1", cmd="echo out; echo err >&2; id -u"))
    assert r.status == 200, r
    e = r.body["vm1"]
    assert e["status"] == OP_CHANGED and e["rtc"] == 0, e
    assert e["stdout"] == f"out\n{os.getuid()}\n" and e["stderr"] == "err\n", e


def test_exit_code_argv_env_cwd_stdin(api, tmp_root):
    job = api.run("/execute", {"targets": ["vm1"], "cmd": "echo out; echo err >&2; exit 3"})
    e = one(job, "vm1")
    assert e["status"] == OP_FAILED and e["rtc"] == 3, job
    assert e["stdout"] == "out\n" and e["stderr"] == "err\n", e
    assert job["state"] == JOB_FAILURE

    job = api.run("/execute", {"targets": ["vm1"], "argv": ["printf", "%s|", "a b", "$HOME;x", "it's"]})
    assert one(job, "vm1")["stdout"] == "a b|$HOME;x|it's|", job
    job = api.run("/execute", {"targets": ["vm1"], "cmd": 'echo "$E2E_VAR"; pwd; cat',
                               "env": {"E2E_VAR": "two words 'quoted'"}, "cwd": str(tmp_root),
                               "stdin": "from stdin\n"})
    assert one(job, "vm1")["stdout"] == f"two words 'quoted'\n{tmp_root}\nfrom stdin\n", job


def test_missing_program_fails_with_127(api):
    job = api.run("/execute", {"targets": ["vm1"], "argv": ["steward-no-such-program"]})
    e = one(job, "vm1")
    assert e["status"] == OP_FAILED and e["rtc"] == 127, e
    assert "steward-no-such-program" in e["error"], e


def test_ping_reaches_the_agent_and_names_a_missing_socket(api, tmp_root):
    r = api.get(qs("/ping", target="vm1"))
    assert r.status == 200 and r.body["vm1"]["status"] == OP_OK, r
    r = api.get(qs("/ping", target="vmgone"))
    assert r.status == 200, r
    e = r.body["vmgone"]
    assert e["status"] == OP_UNREACHABLE, e
    assert "vmgone" in e["error"] and str(tmp_root / "nowhere.sock") in e["error"], e
    r = api.get(qs("/ping", target="nosocket"))
    e = r.body["nosocket"]
    assert e["status"] == OP_FAILED and "steward_qga_socket" in e["error"], e


def test_two_names_of_one_vm_share_the_connection(api):
    t0 = time.monotonic()
    job = api.run("/execute", {"targets": ["vm1", "vm1-alias"], "cmd": "sleep 1; echo shared"}, timeout=30)
    assert job["state"] == JOB_DONE, job
    for host in ("vm1", "vm1-alias"):
        assert one(job, host)["stdout"] == "shared\n", job
    # A second connection would have waited for the first to close.
    assert time.monotonic() - t0 < 5, "the commands did not run side by side"


def test_output_cap_applies(api):
    check_output_cap(api, "vm1", 3000000)



# ---------------------------------------------------------------- timeout and cancel

def test_timeout_kills_the_process_tree(api):
    check_timeout_kills_the_process_tree(api, "vm1")



def test_cancel_kills_the_process_tree(api):
    check_cancel_kills_the_process_tree(api, "vm1")



# ---------------------------------------------------------------- files

def test_copy_and_fetch_round_trip(api, files_dir, tmp_root):
    source = files_dir / "payload.bin"
    source.write_bytes(os.urandom(3 * MiB + 5))
    expected = sha256_of(source)
    remote_dir = tmp_root / "guest-files"
    remote_dir.mkdir()
    dest = remote_dir / "payload.bin"
    job = api.run("/copy", {"targets": ["vm1"], "src": "payload.bin", "dest": str(dest), "mode": "0640"}, timeout=60)
    e = one(job, "vm1")
    assert e["status"] == OP_CHANGED and e["stdout"] == f"{expected}  {dest}\n", e
    assert sha256_of(dest) == expected
    assert oct(dest.stat().st_mode & 0o7777) == "0o640"
    assert os.listdir(remote_dir) == ["payload.bin"], "no temporary file left behind"

    job = api.run("/fetch", {"targets": ["vm1"], "src": str(dest), "dest": "back"}, timeout=60)
    e = one(job, "vm1")
    fetched = files_dir / "back" / "vm1" / "payload.bin"
    assert e["status"] == OP_CHANGED and e["stdout"] == f"{expected}  {fetched}\n", e
    assert sha256_of(fetched) == expected
    assert oct(fetched.stat().st_mode & 0o7777) == "0o640", "fetch keeps the source's mode"


def test_big_files_are_streamed(api, server, files_dir, tmp_root):
    source = files_dir / "big.bin"
    expected = write_random_file(source, 48)
    dest = tmp_root / "big-on-guest.bin"
    before = rss_kib(server.proc.pid)
    with RssPeak(server.proc.pid) as put_memory:
        job = api.run("/copy", {"targets": ["vm1"], "src": "big.bin", "dest": str(dest)}, timeout=120)
    assert one(job, "vm1")["status"] == OP_CHANGED, job
    assert sha256_of(dest) == expected
    with RssPeak(server.proc.pid) as get_memory:
        job = api.run("/fetch", {"targets": ["vm1"], "src": str(dest), "dest": "big-back"}, timeout=120)
    assert one(job, "vm1")["status"] == OP_CHANGED, job
    fetched = files_dir / "big-back" / "vm1" / "big-on-guest.bin"
    assert sha256_of(fetched) == expected
    for sampler in (put_memory, get_memory) if not SANITIZER else ():  # ASan's quarantine: RSS no measure
        assert sampler.peak - before < 16 * 1024, f"server RSS grew {sampler.peak - before} KiB for 48 MiB"
    for path in (source, dest, fetched):
        path.unlink()


def test_file_errors_say_what_is_missing(api, files_dir):
    check_file_errors(api, files_dir, "vm1", "vmgone")


# ---------------------------------------------------------------- the agent goes away

def test_agent_restart_is_survived_and_outage_is_unreachable(api, agent):
    job = api.run("/execute", {"targets": ["vm1"], "cmd": "echo before"})
    assert one(job, "vm1")["stdout"] == "before\n", job

    agent.stop(signal.SIGKILL)
    job = api.run("/execute", {"targets": ["vm1"], "cmd": "echo down"})
    e = one(job, "vm1")
    assert e["status"] == OP_UNREACHABLE and agent.socket in e["error"], e

    agent.start()
    job = api.run("/execute", {"targets": ["vm1"], "cmd": "echo after"})
    assert one(job, "vm1")["stdout"] == "after\n", job
