"""Issue 14's literal variant: `steward callback add NAME --sshd`.

The VM (a network namespace behind NAT, callback_vm.py) calls back not to
steward's endpoint but to the controller's own OpenSSH server, started here
with its own config on the server's address towards the VM: the bundle's
script runs `ssh -N -R 127.0.0.1:PORT:localhost:22 USER@controller`, the
account's authorized_keys holds only the line `callback add --sshd` printed,
and steward reaches the VM as the plain SSH host 127.0.0.1:PORT. Then:
commands and a file copy run on it; the restricted key gets no shell or
command and no other listening port (OpenSSH's own refusals); the port stays
the VM's across a server restart; `callback rm` takes the host out of the
inventory at once.
"""

import getpass
import socket
import subprocess
import uuid

import pytest

from callback_vm import VM_SSHD, Vm, cli, copy_to_vm, listed
from conftest import OP_CHANGED, Api, Server, free_port, qs, wait_for
from netns import nat_target_or_skip
from sshd import Sshd, free_port_on, keygen
from transport_contract import one

USER = getpass.getuser()  # the controller's account the VM logs in to, and the VM's account steward uses


@pytest.fixture(scope="module")
def nat():
    target = nat_target_or_skip("cs", "test of `callback add --sshd` (the VM must not be reachable)")
    yield target
    target.stop()


class Controller:
    """The controller's plain OpenSSH server, as the VM sees it."""

    def __init__(self, root, address):
        root.mkdir()
        (root / "home").mkdir()
        self.authorized_keys = root / "authorized_keys"
        self.authorized_keys.write_text("")
        self.host_key = keygen(root / "host_ed25519")
        self.address = address
        self.sshd = Sshd(root, "controller", [address], free_port_on([address]), self.host_key,
                         self.authorized_keys, root / "home").start()

    @property
    def port(self):
        return self.sshd.port

    def ssh(self, key, *args, timeout=20):
        """OpenSSH's client with the VM's callback key, from outside the VM."""
        argv = ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i", str(key),
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5",
                "-p", str(self.port), *args]
        return subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=timeout)


@pytest.fixture(scope="module")
def controller(tmp_root, nat):
    made = Controller(tmp_root / "controller", nat.server_address)
    yield made
    made.sshd.stop()


@pytest.fixture(scope="module")
def server(tmp_root):
    # The registry lives with the callback endpoint; the VM never dials it.
    srv = Server(tmp_root / "data", extra_args=["--callback", f"127.0.0.1:{free_port()}"]).start()
    yield srv
    assert srv.stop() == 0, srv.log_tail()


@pytest.fixture(scope="module")
def api(server):
    return Api(server)


def add_sshd_target(server, controller, tmp_root, name):
    bundle = tmp_root / f"bundle-{name}"
    p = cli(server, "callback", "add", name, "--sshd", "--user", USER, "--out", str(bundle),
            "--endpoint", f"{controller.address}:{controller.port}", "--sshd-user", USER,
            "--sshd-host-key", f"{controller.host_key}.pub", "--ssh-port", VM_SSHD.rsplit(":", 1)[1], cwd=tmp_root)
    return bundle, p


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def vm(server, api, controller, nat, tmp_root):
    bundle, added = add_sshd_target(server, controller, tmp_root, "vm")
    port = listed(api, "vm")["sshd_port"]
    line = added.stdout
    with controller.authorized_keys.open("a") as keys:
        keys.write(line)
    workdir = tmp_root / "vm"
    workdir.mkdir()
    machine = Vm(nat, workdir, bundle).start_sshd().call_back()
    machine.port = port
    machine.line = line
    wait_for(lambda: listening(port), timeout=15,
             what=f"the controller's sshd to listen on 127.0.0.1:{port}\n"
                  + (workdir / "callback.log").read_text(errors="replace"))
    yield machine
    machine.drop_callback()


def test_add_allocates_a_port_and_prints_the_restricted_line(server, api, controller, vm):
    public = (vm.bundle / "callback_key.pub").read_text().strip()
    assert vm.line == (f'restrict,port-forwarding,permitlisten="127.0.0.1:{vm.port}",command="/bin/false" '
                       f"{public}\n")
    assert (vm.bundle / "authorized_keys.sshd").read_text() == vm.line
    entry = listed(api, "vm")
    assert entry["user"] == USER and 1024 <= vm.port <= 65535, entry
    script = (vm.bundle / "steward-callback.sh").read_text()
    for expected in (f"forward='127.0.0.1:{vm.port}:localhost:{VM_SSHD.rsplit(':', 1)[1]}'",
                     f"endpoint_host='{controller.address}'", f"endpoint_port='{controller.port}'",
                     f"endpoint_user='{USER}'", "-o ExitOnForwardFailure=yes", "-o ServerAliveInterval=10"):
        assert expected in script, expected
    pinned = (controller.host_key.parent / (controller.host_key.name + ".pub")).read_text().split()[:2]
    assert (vm.bundle / "known_hosts").read_text() == f"[{controller.address}]:{controller.port} {' '.join(pinned)}\n"
    assert "authorized_keys.sshd" in (vm.bundle / "README.txt").read_text()
    shown = cli(server, "callback", "ls", cwd=vm.workdir).stdout
    assert f"sshd 127.0.0.1:{vm.port}" in shown, shown


def test_commands_and_copy_run_through_the_controllers_sshd(server, api, vm, nat, controller, tmp_root):
    job = api.run("/execute", {"targets": ["vm"], "cmd": "ip -o -4 addr show; echo user=$(id -un)"})
    e = one(job, "vm")
    assert e["status"] == OP_CHANGED, e
    assert nat.target_address in e["stdout"] and f"user={USER}" in e["stdout"], e
    assert "vm" in api.get(qs("/targets", pattern="callback")).body
    # An ordinary SSH host at 127.0.0.1:PORT, its key trusted on first use in the callback known_hosts;
    # steward's own endpoint never saw the VM.
    recorded = (server.data_dir / "callback" / "known_hosts").read_text()
    assert f"[127.0.0.1]:{vm.port} ssh-ed25519 " in recorded, recorded
    assert "callback vm: a new callback" not in server.log_path.read_text(errors="replace")
    assert not listed(api, "vm")["connected"]
    assert "Accepted publickey" in controller.sshd.log.read_text(errors="replace")

    copy_to_vm(server, api, tmp_root, 2)


def test_the_restricted_key_gets_no_shell_and_no_other_port(controller, vm, tmp_root):
    key = vm.bundle / "callback_key"
    marker = tmp_root / f"ran-{uuid.uuid4().hex[:6]}"
    p = controller.ssh(key, f"{USER}@{controller.address}", f"touch {marker}")
    assert p.returncode != 0 and not marker.exists(), (p.returncode, p.stderr)
    p = controller.ssh(key, "-tt", f"{USER}@{controller.address}")
    assert p.returncode != 0 and "PTY allocation request failed" in p.stderr, p.stderr
    other = free_port()
    p = controller.ssh(key, "-N", "-o", "ExitOnForwardFailure=yes", "-R", f"127.0.0.1:{other}:localhost:22",
                       f"{USER}@{controller.address}")
    assert p.returncode == 255 and f"remote port forwarding failed for listen port {other}" in p.stderr, p.stderr
    assert not listening(other)
    assert listening(vm.port), "a refused request disturbed the VM's forward"


def test_the_port_stays_the_vms_across_a_restart(server, api, controller, vm, tmp_root):
    assert server.stop() == 0, server.log_tail()
    server.start()
    assert listed(api, "vm")["sshd_port"] == vm.port
    job = api.run("/execute", {"targets": ["vm"], "cmd": "echo after restart"}, timeout=30)
    assert one(job, "vm")["stdout"] == "after restart\n", job
    _, second = add_sshd_target(server, controller, tmp_root, "vm2")
    other = listed(api, "vm2")["sshd_port"]
    assert other != vm.port and f"127.0.0.1:{other}" in second.stdout



def test_rm_takes_the_host_out_of_the_inventory_at_once(server, api, vm):
    cli(server, "callback", "rm", "vm2", cwd=vm.workdir)
    assert listed(api, "vm2") is None
    assert "vm2" not in api.get(qs("/targets", pattern="callback")).body
    r = api.post("/execute", {"targets": ["vm2"], "cmd": "true"})
    assert r.status == 404 and "vm2" in str(r.body), r
    assert "vm" in api.get(qs("/targets", pattern="callback")).body
