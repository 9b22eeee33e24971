"""The callback bundle (issue 14): what `steward callback add` hands a machine.

The generated steward-callback.sh runs under dash with the real OpenSSH client
against a real sshd standing in for steward's callback endpoint (a plain
OpenSSH server allowing only remote forwarding, as in the issue's literal
variant). A second sshd plays the machine's own sshd: a controller login
through the forwarded port proves the tunnel, the pinned host key and the
controller's authorized_keys line; killing the endpoint's session proves the
reconnect. The bundle comes from tests/cli/callback_bundle_tool, which calls
the same write_callback_bundle as the CLI.
"""

import getpass
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from sshd import Sshd, descendants, free_port_on, keygen

REPO = Path(__file__).resolve().parents[2]
TOOL = os.environ.get("CALLBACK_BUNDLE_TOOL") or str(REPO / "build" / "tests" / "cli" / "callback_bundle_tool")
LOOPBACK = "127.0.0.1"


def distinct_ports(count):
    ports = set()
    while len(ports) < count:
        ports.add(free_port_on([LOOPBACK]))
    return sorted(ports)


def alive(pid):
    """Running (a zombie waiting for its reaper has ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


class World:
    """The bundle, the endpoint sshd (not started) and the machine's sshd (started)."""

    def __init__(self, root):
        self.root = root
        self.user = getpass.getuser()
        self.home = root / "home"
        self.home.mkdir()
        self.endpoint_port, self.listen_port, self.machine_port = distinct_ports(3)
        endpoint_host_key = keygen(root / "endpoint_host_key")
        self.callback_key = keygen(root / "callback_key")
        self.controller_key = keygen(root / "controller_key")
        self.bundle = root / "bundle"
        subprocess.run([TOOL, str(self.bundle), "vm1", LOOPBACK, str(self.endpoint_port),
                        f"{endpoint_host_key}.pub", str(self.callback_key), f"{self.controller_key}.pub",
                        self.user, str(self.machine_port), self.user, str(self.listen_port)], check=True)
        self.endpoint = Sshd(root, "endpoint", [LOOPBACK], self.endpoint_port, endpoint_host_key,
                             self.bundle / "callback_key.pub", self.home,
                             extra_config=f"AllowTcpForwarding remote\nPermitListen {self.listen_port}\n")
        self.machine = Sshd(root, "machine", [LOOPBACK], self.machine_port, keygen(root / "machine_host_key"),
                            self.bundle / "authorized_keys.controller", self.home).start()
        self.script_log = root / "steward-callback.log"
        self.script = None

    def start_script(self):
        env = {"PATH": os.environ["PATH"], "HOME": str(self.home), "STEWARD_CALLBACK_DIR": str(self.bundle)}
        self.script = subprocess.Popen(["dash", str(self.bundle / "steward-callback.sh")], env=env,
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=self.script_log.open("wb"))

    def log(self):
        return self.script_log.read_text(errors="replace")

    def wait_for_log(self, text, count=1, timeout=15):
        deadline = time.monotonic() + timeout
        while self.log().count(text) < count:
            assert self.script.poll() is None, f"the script exited:\n{self.log()}"
            assert time.monotonic() < deadline, f"no {count} x {text!r} in the script's log:\n{self.log()}"
            time.sleep(0.05)

    def login_through_tunnel(self):
        """The controller's login to the machine's sshd via the endpoint's forwarded port."""
        return subprocess.run(
            ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
             "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes",
             "-o", "ConnectTimeout=5", "-i", str(self.controller_key), "-p", str(self.listen_port),
             f"{self.user}@{LOOPBACK}", "echo through-the-tunnel"],
            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=20)

    def wait_for_tunnel(self, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            login = self.login_through_tunnel()
            if login.returncode == 0:
                return login.stdout
            assert time.monotonic() < deadline, (f"no login through the tunnel: {login.stderr}\n"
                                                 f"script:\n{self.log()}\nendpoint:\n"
                                                 + self.endpoint.log.read_text(errors="replace")[-2000:])
            time.sleep(0.2)

    def stop(self):
        if self.script is not None and self.script.poll() is None:
            for pid in [self.script.pid] + descendants(self.script.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.script.wait(10)
        self.endpoint.stop()
        self.machine.stop()


@pytest.fixture
def world(tmp_path):
    if not shutil.which("dash"):
        pytest.skip("dash is not installed (Debian: apt-get install dash)")
    w = World(tmp_path)
    yield w
    w.stop()


def test_script_is_posix_sh_and_cloud_init_is_valid_yaml(world):
    script = world.bundle / "steward-callback.sh"
    subprocess.run(["dash", "-n", str(script)], check=True)
    for linter in (["checkbashisms", "--posix"], ["shellcheck", "-s", "sh"]):
        if shutil.which(linter[0]):
            lint = subprocess.run(linter + [str(script)], capture_output=True, text=True)
            assert lint.returncode == 0, lint.stdout + lint.stderr
        else:
            print(f"{linter[0]} is not installed: not run")
    text = (world.bundle / "cloud-init.yaml").read_text()
    assert text.startswith("#cloud-config\n")
    config = yaml.safe_load(text)
    contents = {entry["path"]: entry["content"] for entry in config["write_files"]}
    assert contents["/etc/steward-callback/steward-callback.sh"] == script.read_text()
    assert contents["/etc/steward-callback/callback_key"] == (world.bundle / "callback_key").read_text()
    assert config["runcmd"][-1] == ["systemctl", "enable", "--now", "--no-block", "steward-callback.service"]


def test_unit_passes_systemd_analyze_verify(world):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed: the unit was not verified")
    unit = world.bundle / "steward-callback.service"
    verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr
    assert "steward-callback.service:" not in verify.stderr, verify.stderr  # a warning about one of its lines


def test_script_connects_forwards_and_reconnects(world):
    world.start_script()
    # The endpoint is not up yet: the waits double.
    world.wait_for_log("reconnecting in 1s")
    world.wait_for_log("reconnecting in 2s")
    world.endpoint.start()
    assert world.wait_for_tunnel() == "through-the-tunnel\n"

    # The endpoint drops the session: the script dials again and the tunnel comes back.
    connects = world.log().count("connecting to")
    sessions = descendants(world.endpoint.proc.pid)
    assert sessions, "the endpoint has no session for the script"
    for pid in sessions:
        os.kill(pid, signal.SIGKILL)
    world.wait_for_log("connection ended (ssh exit status 255", count=3)
    world.wait_for_log("connecting to", count=connects + 1)
    assert world.wait_for_tunnel() == "through-the-tunnel\n"
    assert world.endpoint.log.read_text().count("Accepted publickey") == 2

    # SIGTERM (systemd's stop) ends the script and its ssh at once.
    children = descendants(world.script.pid)
    world.script.send_signal(signal.SIGTERM)
    assert world.script.wait(5) == 0
    assert "steward-callback: stopped" in world.log()
    deadline = time.monotonic() + 5
    while [pid for pid in children if alive(pid)]:
        assert time.monotonic() < deadline, "ssh outlived the script"
        time.sleep(0.05)
