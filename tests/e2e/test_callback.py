"""SSH callback targets (issue 14): the real `steward serve --callback`, the
real CLI's `steward callback add` bundle, and OpenSSH on the "VM" side.

The VM is a network namespace behind NAT (netns.py) running its own sshd on
its loopback and the bundle's steward-callback.sh (`ssh -N -R`): it reaches
the server's callback endpoint, the server cannot reach it. Then:
- commands, a file copy and fetch and a condition stream run through the tunnel;
- killing the VM's `ssh -R` mid-command ends the command Unreachable, and a
  new callback brings the target back; a condition stream on it skips ticks
  (unreachable) while it is down and resumes once it calls back;
- refusals, each logged with nothing run: an unregistered key, a session
  (exec) and a direct-tcpip channel asked with a registered key, a changed
  target host key, a removed callback (cut at once, refused when it returns).
"""

import getpass
import os
import shutil
import subprocess
import time
import uuid

import pytest

from callback_vm import VM_SSHD, Vm, cli, copy_to_vm, listed
from conftest import OP_CHANGED, OP_UNREACHABLE, Api, Server, assert_error, free_port, qs, wait_for
from netns import nat_target_or_skip
from sshd import keygen
from transport_contract import one, sha256_of

CALLBACK_WAIT = 4  # --callback-wait: rides out a reconnect, keeps the "never called back" test short


@pytest.fixture(scope="module")
def nat():
    target = nat_target_or_skip("cb", "callback test")
    yield target
    target.stop()


@pytest.fixture(scope="module")
def server(tmp_root, nat):
    inventory = f"direct ansible_connection=ssh ansible_host={nat.target_address} ansible_port=22\n"
    srv = Server(tmp_root / "data", inventory=inventory, grpc=True,
                 extra_args=["--callback", f"{nat.server_address}:{free_port()}",
                             "--callback-wait", str(CALLBACK_WAIT)]).start()
    yield srv
    assert srv.stop() == 0, srv.log_tail()


@pytest.fixture(scope="module")
def api(server):
    return Api(server)


def wait_connected(api, name, vm):
    return wait_for(lambda: (listed(api, name) or {}).get("connected") and listed(api, name), timeout=15,
                    what=f"{name} to call back\n" + (vm.workdir / "callback.log").read_text(errors="replace"))


def add_target(server, tmp_root, name, *extra):
    bundle = tmp_root / f"bundle-{name}"
    p = cli(server, "callback", "add", name, "--user", getpass.getuser(), "--out", str(bundle),
            "--ssh-port", VM_SSHD.rsplit(":", 1)[1], *extra, cwd=tmp_root)
    assert name in p.stderr and "registered" in p.stderr, p.stderr
    return bundle


@pytest.fixture(scope="module")
def vm(server, api, nat, tmp_root):
    bundle = add_target(server, tmp_root, "vm")
    workdir = tmp_root / "vm"
    workdir.mkdir()
    machine = Vm(nat, workdir, bundle).start_sshd().call_back()
    wait_connected(api, "vm", machine)
    yield machine
    machine.drop_callback()


def log_has(server, text, timeout=10):
    return wait_for(lambda: text in server.log_path.read_text(errors="replace"), timeout=timeout,
                    what=f"'{text}' in the server's log")


# ---------------------------------------------------------------- the bundle and the tunnel

def test_the_bundle_holds_the_vm_key_alone_and_pins_the_endpoint(server, api, vm, tmp_root):
    files = {p.name: p for p in vm.bundle.iterdir()}
    assert set(files) == {"callback_key", "callback_key.pub", "authorized_keys.controller", "known_hosts",
                          "steward-callback.sh", "steward-callback.service", "cloud-init.yaml", "README.txt"}, files
    assert files["callback_key"].stat().st_mode & 0o777 == 0o600
    assert "PRIVATE KEY" in files["callback_key"].read_text()
    private = files["callback_key"].read_text().strip().splitlines()[1]
    for where in (server.log_path, server.data_dir / "steward.db"):
        assert private not in where.read_text(errors="replace"), f"the VM's private key is in {where}"
    endpoint = (server.data_dir / "callback.addr").read_text().strip()
    host, port = endpoint.rsplit(":", 1)
    assert files["known_hosts"].read_text().startswith(f"[{host}]:{port} ssh-ed25519 "), files["known_hosts"]
    assert (server.data_dir / "callback" / "controller_key").stat().st_mode & 0o777 == 0o600
    sh = shutil.which("dash") or "sh"
    assert subprocess.run([sh, "-n", str(files["steward-callback.sh"])]).returncode == 0


def test_commands_run_behind_nat_where_direct_ssh_cannot_reach(server, api, vm, nat):
    job = api.run("/execute", {"targets": ["vm"], "cmd": "ip -o -4 addr show; echo user=$(id -un)"})
    e = one(job, "vm")
    assert e["status"] == OP_CHANGED, e
    assert nat.target_address in e["stdout"] and f"user={getpass.getuser()}" in e["stdout"], e
    entry = listed(api, "vm")
    assert entry["address"].rsplit(":", 1)[0] == nat.router_address, entry
    assert entry["user"] == getpass.getuser() and entry["key_fingerprint"].startswith("SHA256:"), entry
    targets = api.get(qs("/targets", pattern="callback")).body
    assert "vm" in str(targets), targets
    direct = api.get(qs("/ping", target="direct")).body["direct"]
    assert direct["status"] == OP_UNREACHABLE, direct
    # Trusted on first callback: the VM sshd's key is recorded under the target's name.
    recorded = (server.data_dir / "callback" / "known_hosts").read_text()
    assert recorded.startswith("vm ssh-ed25519 "), recorded


def test_copy_and_fetch_through_the_tunnel(server, api, vm, tmp_root):
    dest = copy_to_vm(server, api, tmp_root, 4)
    job = api.run("/fetch", {"targets": ["vm"], "src": str(dest), "dest": "back"}, timeout=60)
    assert one(job, "vm")["status"] == OP_CHANGED, job
    assert sha256_of(server.data_dir / "files" / "back" / "vm" / dest.name) == sha256_of(dest)


def test_a_condition_streams_through_the_tunnel(server, vm):
    from deputy_packages import StreamReader
    from executor_client import Executor
    executor = Executor(server.grpc_addr)
    try:
        cid = executor.create_condition("vm", command="echo 0.75", interval=1)
        reader = StreamReader(executor, cid)
        try:
            assert reader.next_value(10) == 0.75
            assert reader.next_value(5) == 0.75
        finally:
            reader.cancel()
            executor.delete_condition(cid)
    finally:
        executor.close()


# ---------------------------------------------------------------- a dropped link

def test_a_second_callback_with_the_same_key_replaces_the_first(server, api, vm, nat, tmp_root):
    # A pooled connection runs through the first session's tunnel when it is replaced (its
    # channel was once freed twice: the server died at its next stop, which the fixture checks).
    first = api.run("/execute", {"targets": ["vm"], "cmd": "echo first"}, timeout=30)
    assert one(first, "vm")["stdout"] == "first\n", first
    workdir = tmp_root / "vm-again"
    workdir.mkdir()
    second = Vm(nat, workdir, vm.bundle).call_back()
    try:
        log_has(server, "callback vm: a new callback from")
        again = api.run("/execute", {"targets": ["vm"], "cmd": "echo replaced"}, timeout=30)
        assert one(again, "vm")["stdout"] == "replaced\n", again
    finally:
        second.drop_callback()
    wait_connected(api, "vm", vm)


def test_a_dropped_callback_ends_the_command_unreachable_and_a_new_one_serves(server, api, vm, tmp_root):
    marker = tmp_root / f"started-{uuid.uuid4().hex[:6]}"
    jid = api.submit("/execute", {"targets": ["vm"], "cmd": f"touch {marker}; echo before; sleep 20; echo after"})
    wait_for(marker.exists, timeout=15, what="the command to start")
    vm.drop_callback()
    job = api.wait_job(jid, timeout=30)
    e = one(job, "vm")
    assert e["status"] == OP_UNREACHABLE, e
    wait_for(lambda: not listed(api, "vm")["connected"], timeout=10, what="the callback to be seen gone")
    vm.call_back()
    wait_connected(api, "vm", vm)
    again = api.run("/execute", {"targets": ["vm"], "cmd": "echo back again"}, timeout=30)
    assert one(again, "vm")["stdout"] == "back again\n", again


def condition_counters(api, identifier):
    found = [c for c in api.get("/conditions").body if c["id"] == identifier]
    assert len(found) == 1, found
    return found[0].get("counters") or {}


def test_a_condition_skips_while_the_callback_is_down_and_resumes_after_it_returns(server, api, vm):
    from deputy_packages import StreamReader
    from executor_client import Executor
    executor = Executor(server.grpc_addr)
    try:
        cid = executor.create_condition("vm", command="echo 0.25", interval=1)
        reader = StreamReader(executor, cid)
        try:
            assert reader.next_value(10) == 0.25
            vm.drop_callback()
            wait_for(lambda: not listed(api, "vm")["connected"], timeout=10, what="the callback to be seen gone")
            reader.drain()  # what was on its way before the drop
            skipped = condition_counters(api, cid).get("skipped_unreachable", 0)
            # A tick waits --callback-wait for the VM, then counts as unreachable.
            wait_for(lambda: condition_counters(api, cid).get("skipped_unreachable", 0) > skipped,
                     timeout=CALLBACK_WAIT + 10, what="a tick skipped as unreachable while the callback is down")
            assert reader.drain() == [], "a value while the VM had not called back"
            assert not reader.ended.is_set(), f"the stream ended with the outage: {reader.describe_end()}"
            vm.call_back()
            wait_connected(api, "vm", vm)
            assert reader.next_value(CALLBACK_WAIT + 10) == 0.25
            assert reader.next_value(5) == 0.25
        finally:
            reader.cancel()
            executor.delete_condition(cid)
    finally:
        executor.close()


def test_a_target_that_never_called_back_ends_unreachable_after_the_wait(server, api, tmp_root):
    add_target(server, tmp_root, "silent")
    started = time.monotonic()
    job = api.run("/execute", {"targets": ["silent"], "cmd": "true"}, timeout=30)
    e = one(job, "silent")
    assert e["status"] == OP_UNREACHABLE and "silent never called back" in e["error"], e
    assert time.monotonic() - started >= CALLBACK_WAIT - 0.5


# ---------------------------------------------------------------- refusals

def ssh_to_endpoint(server, key, *options, command=()):
    host, port = (server.data_dir / "callback.addr").read_text().strip().rsplit(":", 1)
    argv = ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i", str(key),
            "-o", "StrictHostKeyChecking=no", "-o", f"UserKnownHostsFile={os.devnull}",
            "-o", "ConnectTimeout=5", "-p", port, *options, f"x@{host}", *command]
    return subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30)


def test_an_unregistered_key_is_refused(server, api, vm, tmp_root):
    stranger = keygen(tmp_root / "stranger_ed25519")
    p = ssh_to_endpoint(server, stranger, "-N", "-R", "22:127.0.0.1:22")
    assert p.returncode != 0 and "Permission denied" in p.stderr, p.stderr
    log_has(server, "is not a registered callback key: refused")
    assert listed(api, "vm")["connected"], "a refused login disturbed the live callback"


def test_a_registered_key_gets_no_session_exec_or_direct_tcpip_channel(server, api, vm, tmp_root):
    marker = tmp_root / f"exec-{uuid.uuid4().hex[:6]}"
    p = ssh_to_endpoint(server, vm.bundle / "callback_key", command=[f"touch {marker}"])
    assert p.returncode != 0 and "prohibited" in p.stderr, p.stderr
    log_has(server, "refused a session (shell, exec, sftp) channel")
    p = ssh_to_endpoint(server, vm.bundle / "callback_key", "-W", VM_SSHD)
    assert p.returncode != 0, p.stderr
    log_has(server, "refused a direct-tcpip channel")
    assert not marker.exists(), "a command ran through the callback endpoint"
    again = api.run("/execute", {"targets": ["vm"], "cmd": "echo still the live one"}, timeout=30)
    assert one(again, "vm")["stdout"] == "still the live one\n", again


def test_a_changed_target_host_key_is_refused(server, api, nat, tmp_root, vm):
    impostor_key = keygen(tmp_root / "pinned_ed25519")
    pinned = (impostor_key.parent / (impostor_key.name + ".pub")).read_text().strip()
    bundle = add_target(server, tmp_root, "pinned", "--host-key", pinned)
    workdir = tmp_root / "pinned-vm"
    workdir.mkdir()
    other = Vm(nat, workdir, bundle).call_back()  # forwards the same sshd, whose key is not the pinned one
    try:
        wait_connected(api, "pinned", other)
        marker = tmp_root / f"pinned-{uuid.uuid4().hex[:6]}"
        job = api.run("/execute", {"targets": ["pinned"], "cmd": f"touch {marker}"}, timeout=30)
        e = one(job, "pinned")
        assert e["status"] == OP_UNREACHABLE and "host key for pinned" in e["error"] and "changed" in e["error"], e
        assert not marker.exists()
    finally:
        other.drop_callback()


def test_a_removed_callback_is_cut_at_once_and_refused_when_it_returns(server, api, nat, tmp_root):
    bundle = add_target(server, tmp_root, "gone")
    workdir = tmp_root / "gone-vm"
    workdir.mkdir()
    machine = Vm(nat, workdir, bundle).call_back()
    wait_connected(api, "gone", machine)
    assert api.delete("/callbacks/gone").status == 204
    log = workdir / "callback.log"
    wait_for(lambda: "connection ended" in log.read_text(errors="replace"), timeout=10,
             what="the removed callback's session to be cut")
    log_has(server, "callback gone removed: its session")
    assert listed(api, "gone") is None
    # The script calls back again by itself (after 1 s), and is refused.
    wait_for(lambda: "Permission denied" in log.read_text(errors="replace"), timeout=15,
             what="the returning callback to be refused")
    machine.drop_callback()
    # Its inventory host left with it: nothing can be aimed at it any more.
    assert "gone" not in api.get(qs("/targets", pattern="callback")).body
    assert_error(api.post("/execute", {"targets": ["gone"], "cmd": "true"}), 404, "gone")
    assert api.delete("/callbacks/gone").status == 404


def test_registration_errors(server, api, vm):
    bad = [({"name": "-x", "public_key": "ssh-ed25519 AAAA"}, "name"),
           ({"name": "ok", "public_key": "ssh-ed25519 not-base64!"}, "public_key"),
           ({"name": "ok", "public_key": "ssh-ed25519"}, "public_key"),
           ({"name": "ok"}, "public_key"),
           ({"name": "ok", "public_key": 7}, "public_key")]
    for body, word in bad:
        assert_error(api.post("/callbacks", body), 400, word)
    vm_key = (vm.bundle / "callback_key.pub").read_text()
    assert_error(api.post("/callbacks", {"name": "vm", "public_key": vm_key}), 409, "registered already")
    assert_error(api.post("/callbacks", {"name": "vm-twin", "public_key": vm_key}), 409, "for 'vm'")
    entry = listed(api, "vm")
    assert "public_key" not in entry and "controller_public_key" not in entry, entry

