"""The ssh transport against real sshd processes on loopback.

50 targets (127.0.0.2 ... 127.0.0.51) share one fleet of sshds; host-key and
outage tests get sshds of their own so they cannot disturb the others.
"""

import os
import subprocess
import time

import pytest

from conftest import (JOB_DONE, JOB_FAILURE, OP_CHANGED, OP_FAILED, OP_OK, OP_UNREACHABLE, SANITIZER, Api, Server,
                      free_port, qs, wait_for)
from sshd import SshFleet, Sshd, ensure_test_user, fingerprint, keygen
from transport_contract import (RssPeak, check_cancel_kills_the_process_tree, check_file_errors,
                                check_output_cap, check_timeout_kills_the_process_tree, one, pids_with, rss_kib,
                                sha256_of, write_random_file)

FLEET_SIZE = 50
# Addresses of the single-purpose sshds, after the fleet's.
STRICT_ADDR, OFF_ADDR, REKEY_ADDR, OUTAGE_ADDR = "127.0.0.60", "127.0.0.61", "127.0.0.62", "127.0.0.63"


@pytest.fixture(scope="module")
def fleet(tmp_root):
    fleet = SshFleet(tmp_root / "ssh", FLEET_SIZE).start()
    yield fleet
    fleet.stop()


def spare_sshd(fleet, name, address, host_key=None):
    return Sshd(fleet.workdir, name, [address], fleet.port, host_key or fleet.host_key,
                fleet.authorized_keys, fleet.home)


@pytest.fixture(scope="module")
def extra_sshds(fleet):
    daemons = {name: spare_sshd(fleet, name, address).start()
               for name, address in (("strict", STRICT_ADDR), ("off", OFF_ADDR),
                                     ("rekey", REKEY_ADDR), ("outage", OUTAGE_ADDR))}
    yield daemons
    for daemon in daemons.values():
        daemon.stop()


@pytest.fixture(scope="module")
def password_user():
    return ensure_test_user()


def fleet_names():
    return [f"t{i:02d}" for i in range(FLEET_SIZE)]


@pytest.fixture(scope="module")
def inventory(fleet, password_user, tmp_root):
    wrong_key = keygen(tmp_root / "unauthorized_ed25519")
    lines = ["localhost ansible_connection=local\n", "[fleet]\n"]
    lines += [fleet.host_line(name, address) for name, address in zip(fleet_names(), fleet.addresses)]
    lines.append("[other]\n")
    lines.append(fleet.host_line("wrongkey", fleet.addresses[0], ansible_ssh_private_key_file=wrong_key))
    lines.append(fleet.host_line("refused", "127.0.0.1", ansible_port=free_port()))
    lines.append(fleet.host_line("nodns", "no-such-host.invalid"))
    lines.append(fleet.host_line("strict", STRICT_ADDR, steward_host_key_checking="strict"))
    lines.append(fleet.host_line("off", OFF_ADDR, steward_host_key_checking="off"))
    lines.append(fleet.host_line("rekey", REKEY_ADDR))
    lines.append(fleet.host_line("outage", OUTAGE_ADDR))
    if password_user:
        user, password = password_user
        lines.append(f"pw ansible_connection=ssh ansible_host={fleet.addresses[1]} ansible_port={fleet.port} "
                     f"ansible_user={user} ansible_password='{password}'\n")
        lines.append(f"badpw ansible_connection=ssh ansible_host={fleet.addresses[1]} ansible_port={fleet.port} "
                     f"ansible_user={user} ansible_password=wrong-{password}\n")
    return "".join(lines)


@pytest.fixture(scope="module")
def server(tmp_root, inventory, fleet, extra_sshds):
    srv = Server(tmp_root / "data", inventory=inventory).start()
    yield srv
    # Closing every pooled connection at shutdown once corrupted the heap.
    assert srv.stop() == 0, srv.log_tail()


@pytest.fixture(scope="module")
def api(server):
    return Api(server)


# ---------------------------------------------------------------- execution

def test_key_auth_runs_command_on_the_target(api, fleet):
    job = api.run("/execute", {"targets": ["t00"], "cmd": "echo $SSH_CONNECTION; id -un"})
    e = one(job, "t00")
    assert e["status"] == OP_CHANGED and e["rtc"] == 0, job
    connection, user = e["stdout"].splitlines()
    assert connection.split()[2] == fleet.addresses[0], e  # the server side address
    assert user == fleet.user


def test_exit_code_stdout_stderr(api):
    job = api.run("/execute", {"targets": ["t01"], "cmd": "echo out; echo err >&2; exit 3"})
    e = one(job, "t01")
    assert e["status"] == OP_FAILED and e["rtc"] == 3, job
    assert e["stdout"] == "out\n" and e["stderr"] == "err\n", e
    assert job["state"] == JOB_FAILURE


def test_argv_env_cwd_stdin(api):
    job = api.run("/execute", {"targets": ["t02"], "argv": ["printf", "%s|", "a b", "$HOME;x", "it's"]})
    assert one(job, "t02")["stdout"] == "a b|$HOME;x|it's|", job
    job = api.run("/execute", {"targets": ["t02"], "cmd": 'echo "$E2E_VAR"; pwd; cat',
                               "env": {"E2E_VAR": "two words 'quoted'"}, "cwd": "/tmp",
                               "stdin": "from stdin\n"})
    e = one(job, "t02")
    assert e["stdout"] == "two words 'quoted'\n/tmp\nfrom stdin\n", job


def test_operations_work_unchanged(api):
    r = api.get(qs("/ping", target="t03"))
    assert r.status == 200 and r.body["t03"]["status"] == OP_OK, r
    r = api.get(qs("/facter", target="t03"))
    assert r.status == 200, r
    facts = r.body["t03"]
    assert facts["status"] == OP_OK, facts
    text = repr(facts)
    assert subprocess.run(["hostname"], capture_output=True, text=True).stdout.strip() in text


def test_connection_is_reused_across_jobs(api):
    ports = set()
    for _ in range(3):
        job = api.run("/execute", {"targets": ["t04"], "cmd": "echo $SSH_CONNECTION"})
        ports.add(one(job, "t04")["stdout"].split()[1])  # the client's source port
    assert len(ports) == 1, f"each job opened a new connection: {ports}"


def test_fifty_targets_in_one_job(api, fleet):
    job = api.run("/execute", {"target": "fleet", "cmd": "echo $SSH_CONNECTION"}, timeout=60)
    assert job["state"] == JOB_DONE, job
    assert set(job["return_data"]) == set(fleet_names())
    for name, address in zip(fleet_names(), fleet.addresses):
        e = one(job, name)
        assert e["status"] == OP_CHANGED and e["stdout"].split()[2] == address, (name, e)


def test_output_cap_applies(api):
    check_output_cap(api, "t05", 5000000)



# ---------------------------------------------------------------- timeout and cancel

def test_timeout_kills_remote_process_tree(api):
    check_timeout_kills_the_process_tree(api, "t06")



def test_cancel_kills_remote_process_tree(api):
    check_cancel_kills_the_process_tree(api, "t07")



# ---------------------------------------------------------------- failures

def test_failure_classes_are_unreachable_and_job_goes_on(api):
    job = api.run("/execute", {"targets": ["t08", "wrongkey", "refused", "nodns"], "cmd": "echo ok"}, timeout=60)
    assert one(job, "t08")["status"] == OP_CHANGED, job
    expectations = {"wrongkey": "auth", "refused": "refused", "nodns": "no-such-host.invalid"}
    for host, words in expectations.items():
        e = one(job, host)
        assert e["status"] == OP_UNREACHABLE, (host, e)
        error = e.get("error") or ""
        assert host in error and words in error.lower(), (host, error)


def test_password_auth_and_no_secret_leak(api, server, password_user):
    if not password_user:
        pytest.skip("needs root to create the password test user")
    user, password = password_user
    job = api.run("/execute", {"targets": ["pw", "badpw"], "cmd": "id -un"})
    assert one(job, "pw")["status"] == OP_CHANGED and one(job, "pw")["stdout"] == user + "\n", job
    bad = one(job, "badpw")
    assert bad["status"] == OP_UNREACHABLE and "auth" in bad["error"].lower(), bad
    everything = repr(job) + repr(api.get("/jobs").body) + repr(api.get("/targets").body)
    everything += server.log_path.read_text(errors="replace")
    assert password not in everything


def test_strict_refuses_unknown_host_key(api):
    job = api.run("/execute", {"targets": ["strict"], "cmd": "echo no"})
    e = one(job, "strict")
    assert e["status"] == OP_UNREACHABLE and "strict" in e.get("error", "").lower(), e


def test_off_connects_without_recording(api, server):
    job = api.run("/execute", {"targets": ["off"], "cmd": "echo yes"})
    assert one(job, "off")["stdout"] == "yes\n", job
    known = (server.data_dir / "known_hosts").read_text() if (server.data_dir / "known_hosts").exists() else ""
    assert OFF_ADDR not in known


def test_changed_host_key_is_refused_naming_both_fingerprints(api, server, fleet, extra_sshds, tmp_root):
    job = api.run("/execute", {"targets": ["rekey"], "cmd": "echo first"})
    assert one(job, "rekey")["stdout"] == "first\n", job
    assert REKEY_ADDR in (server.data_dir / "known_hosts").read_text()

    extra_sshds["rekey"].stop()
    new_key = keygen(tmp_root / "other_host_ed25519")
    extra_sshds["rekey"] = spare_sshd(fleet, "rekey2", REKEY_ADDR, host_key=new_key).start()
    job = api.run("/execute", {"targets": ["rekey"], "cmd": "echo second"})
    e = one(job, "rekey")
    assert e["status"] == OP_UNREACHABLE, e
    error = e.get("error") or ""
    assert "rekey" in error and REKEY_ADDR in error, error
    for key in (fleet.host_key, new_key):
        assert fingerprint(str(key) + ".pub") in error, (key, error)


def test_sshd_stopped_mid_command_then_pool_recovers(api, fleet, extra_sshds):
    # A duration no other test uses: modules run in parallel, and stopping sshd
    # before this command started would test authentication, not the outage.
    jid = api.submit("/execute", {"targets": ["outage"], "cmd": "sleep 30.17"})
    wait_for(lambda: pids_with("sleep 30.17"), timeout=10, what="the remote sleep to start")
    extra_sshds["outage"].stop()
    t0 = time.monotonic()
    job = api.wait_job(jid, timeout=20)
    assert time.monotonic() - t0 < 10, "the lost connection was not noticed promptly"
    e = one(job, "outage")
    assert e["status"] == OP_UNREACHABLE and "lost" in (e.get("error") or ""), e

    job = api.run("/execute", {"targets": ["outage"], "cmd": "echo down"})
    assert one(job, "outage")["status"] == OP_UNREACHABLE, job

    extra_sshds["outage"] = spare_sshd(fleet, "outage2", OUTAGE_ADDR).start()
    job = api.run("/execute", {"targets": ["outage"], "cmd": "echo back"})
    assert one(job, "outage")["stdout"] == "back\n", job


# ---------------------------------------------------------------- files

@pytest.fixture(scope="module")
def files_dir(server):
    path = server.data_dir / "files"
    assert path.is_dir(), "the server creates its files dir"
    return path


def test_copy_and_fetch_200_mib_streamed(api, server, files_dir, tmp_root):
    big = files_dir / "big.bin"
    expected = write_random_file(big, 200)
    remote_dir = tmp_root / "remote-big"
    remote_dir.mkdir()
    dest = remote_dir / "big.bin"
    before = rss_kib(server.proc.pid)
    with RssPeak(server.proc.pid) as put_memory:
        job = api.run("/copy", {"targets": ["t09"], "src": "big.bin", "dest": str(dest), "mode": "0640"}, timeout=120)
    e = one(job, "t09")
    assert e["status"] == OP_CHANGED, e
    assert e["stdout"] == f"{expected}  {dest}\n", e
    assert sha256_of(dest) == expected
    assert oct(dest.stat().st_mode & 0o7777) == "0o640"
    assert os.listdir(remote_dir) == ["big.bin"], "no temporary file left behind"

    with RssPeak(server.proc.pid) as get_memory:
        job = api.run("/fetch", {"targets": ["t09"], "src": str(dest), "dest": "back"}, timeout=120)
    e = one(job, "t09")
    fetched = files_dir / "back" / "t09" / "big.bin"
    assert e["status"] == OP_CHANGED and e["stdout"] == f"{expected}  {fetched}\n", e
    assert sha256_of(fetched) == expected
    assert oct(fetched.stat().st_mode & 0o7777) == "0o640", "fetch keeps the source's mode"
    for sampler in (put_memory, get_memory) if not SANITIZER else ():  # ASan's quarantine: RSS no measure
        assert sampler.peak - before < 32 * 1024, f"server RSS grew {sampler.peak - before} KiB for 200 MiB"
    big.unlink()
    fetched.unlink()


def test_copy_replaces_and_sets_owner(api, files_dir, tmp_root, password_user):
    (files_dir / "small.txt").write_text("new content\n")
    dest = tmp_root / "small-dest.txt"
    dest.write_text("old content\n")
    owner = password_user[0] if password_user else None
    body = {"targets": ["t10", "localhost"], "src": "small.txt", "dest": str(dest)}
    if owner:
        body["owner"] = owner
    job = api.run("/copy", body)
    for host in ("t10", "localhost"):
        assert one(job, host)["status"] == OP_CHANGED, job
    assert dest.read_text() == "new content\n"
    assert oct(dest.stat().st_mode & 0o7777) == "0o644", "default mode"
    if owner:
        import pwd
        assert pwd.getpwuid(dest.stat().st_uid).pw_name == owner


@pytest.mark.parametrize("body, words", [
    ({"src": "../token", "dest": "/tmp/x"}, "inside the server's files dir"),
    ({"src": "/etc/passwd", "dest": "/tmp/x"}, "inside the server's files dir"),
    ({"src": "small.txt", "dest": "relative/x"}, "absolute"),
    ({"src": "small.txt", "dest": "/tmp/x", "mode": 644}, "octal"),
    ({"src": "small.txt", "dest": "/tmp/x", "mode": "0999"}, "octal"),
    ({"src": "small.txt", "dest": "/tmp/x", "owner": "a b;rm"}, "owner"),
    ({"dest": "/tmp/x"}, "src"),
])
def test_copy_bad_arguments_are_400(api, body, words):
    r = api.post("/copy", dict(body, targets=["t11"]))
    assert r.status == 400 and words in r.body["message"], r


def test_fetch_bad_destination_is_400(api):
    r = api.post("/fetch", {"targets": ["t11"], "src": "/etc/hostname", "dest": "../../etc"})
    assert r.status == 400 and "inside the server's files dir" in r.body["message"], r


def test_file_errors_are_failed_with_a_message(api, files_dir):
    job = api.run("/copy", {"targets": ["t11"], "src": "missing.bin", "dest": "/tmp/steward-never"})
    e = one(job, "t11")
    assert e["status"] == OP_FAILED and "missing.bin" in e["error"], e
    check_file_errors(api, files_dir, "t11", "refused")
