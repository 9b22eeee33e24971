"""Real OpenSSH servers for the ssh end-to-end tests and the ssh benchmark.

`SshFleet(workdir, count)` starts enough `sshd` processes (Debian's
openssh-server, at most 16 ListenAddress lines each) to serve `count` targets
addressed 127.0.0.2, 127.0.0.3, ... on one port. Everything lives in
`workdir`: host key, client key, authorized_keys, configs, logs, and a clean
HOME for sessions (root's real ~/.bashrc is slow). Nothing leaves loopback.
"""

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
MAX_LISTEN_PER_SSHD = 16
TEST_USER = "steward-test"
TEST_PASSWORD = "pw-Vq8s!e2e"  # only ever set on a throwaway test user


def free_port_on(addresses):
    """A port free on every address (checked by binding each)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((addresses[0], 0))
            port = probe.getsockname()[1]
        if all(_can_bind(a, port) for a in addresses):
            return port
    raise RuntimeError("no port free on all test addresses")


def _can_bind(address, port):
    with socket.socket() as s:
        try:
            s.bind((address, port))
            return True
        except OSError:
            return False


def keygen(path, kind="ed25519"):
    path = Path(path)
    if not path.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "steward-test", "-f", str(path)],
                       check=True)
    return path


def fingerprint(public_key_path):
    """The SHA256:... fingerprint ssh-keygen prints for a public key."""
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(public_key_path)],
                         check=True, capture_output=True, text=True).stdout
    return out.split()[1]


def descendants(pid):
    """Every process below pid (sshd's per-connection children call setsid)."""
    children = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def ensure_test_user():
    """Create the password-auth test user when running as root.

    Returns (user, password) or None with the reason printed.
    """
    if os.geteuid() != 0:
        print("ssh e2e: not root, password authentication test user not created")
        return None
    if subprocess.run(["id", TEST_USER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", TEST_USER], check=True)
    subprocess.run(["chpasswd"], input=f"{TEST_USER}:{TEST_PASSWORD}\n", text=True, check=True)
    return TEST_USER, TEST_PASSWORD


class Sshd:
    """One sshd process listening on up to 16 addresses at one port."""

    def __init__(self, workdir, name, addresses, port, host_key, authorized_keys, home, log_level="INFO",
                 session_env=None, extra_config=""):
        self.log_level = log_level  # DEBUG also logs every keepalive request answered
        self.extra_config = extra_config  # sshd_config lines appended (e.g. forwarding permissions)
        self.session_env = dict(session_env or {})  # sessions' environment beside HOME (e.g. PATH)
        self.workdir = Path(workdir)
        self.name = name
        self.addresses = list(addresses)
        self.port = port
        self.host_key = Path(host_key)
        self.authorized_keys = authorized_keys
        self.home = home
        self.config = self.workdir / f"{name}.conf"
        self.log = self.workdir / f"{name}.log"
        self.proc = None

    def write_config(self):
        listen = "".join(f"ListenAddress {a}:{self.port}\n" for a in self.addresses)
        self.config.write_text(
            listen
            + f"HostKey {self.host_key}\n"
            + f"AuthorizedKeysFile {self.authorized_keys}\n"
            + f"PidFile {self.workdir / (self.name + '.pid')}\n"
            + "SetEnv" + "".join(f" {k}={v}" for k, v in {"HOME": self.home, **self.session_env}.items()) + "\n"
            + "StrictModes no\nUsePAM no\nPermitRootLogin yes\n"
            + "PasswordAuthentication yes\nKbdInteractiveAuthentication no\n"
            + "PubkeyAuthentication yes\nMaxStartups 400:30:500\nMaxSessions 20\n"
            + "MaxAuthTries 20\nLoginGraceTime 30\nUseDNS no\n"
            + f"LogLevel {self.log_level}\n"
            + "Subsystem sftp internal-sftp\n"
            + self.extra_config)

    def start(self, timeout=10.0):
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self.write_config()
        self.proc = subprocess.Popen([SSHD, "-D", "-f", str(self.config), "-E", str(self.log)],
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        pending = list(self.addresses)
        while pending:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd {self.name} exited with {self.proc.returncode}:\n"
                                   + self.log.read_text(errors="replace")[-2000:])
            try:
                socket.create_connection((pending[0], self.port), timeout=1).close()
                pending.pop(0)
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"sshd {self.name} not listening on {pending[0]}:{self.port}")
                time.sleep(0.02)
        return self

    def stop(self):
        """Stops the listener and every session it started (as a crash would)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        sessions = descendants(self.proc.pid)
        self.proc.send_signal(signal.SIGKILL)
        for pid in sessions:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(10)


class SshFleet:
    """`count` targets on 127.0.0.<first>... served by ceil(count/16) sshds."""

    def __init__(self, workdir, count, first=2):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.home = self.workdir / "home"
        self.home.mkdir(exist_ok=True)
        self.host_key = keygen(self.workdir / "host_ed25519")
        self.client_key = keygen(self.workdir / "client_ed25519")
        self.authorized_keys = self.workdir / "authorized_keys"
        self.authorized_keys.write_text(Path(str(self.client_key) + ".pub").read_text())
        self.user = getpass.getuser()
        self.addresses = [f"127.0.0.{first + i}" for i in range(count)]
        self.port = free_port_on(self.addresses)
        self.daemons = []
        for index in range(0, count, MAX_LISTEN_PER_SSHD):
            self.daemons.append(Sshd(self.workdir, f"sshd{index // MAX_LISTEN_PER_SSHD}",
                                     self.addresses[index:index + MAX_LISTEN_PER_SSHD], self.port,
                                     self.host_key, self.authorized_keys, self.home))

    def start(self):
        for daemon in self.daemons:
            daemon.start()
        return self

    def stop(self):
        for daemon in self.daemons:
            daemon.stop()

    def daemon_for(self, address):
        return next(d for d in self.daemons if address in d.addresses)

    def host_line(self, name, address, **variables):
        """An INI inventory line reaching `address` with the client key."""
        values = {"ansible_connection": "ssh", "ansible_host": address, "ansible_port": self.port,
                  "ansible_user": self.user, "ansible_ssh_private_key_file": self.client_key}
        values.update(variables)
        return name + "".join(f" {k}={v}" for k, v in values.items()) + "\n"
