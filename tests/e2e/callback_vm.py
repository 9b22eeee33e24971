"""The VM side of the callback tests (issue 14): a network namespace behind
NAT (netns.py) running its own sshd on its loopback, which accepts the
controller key of a `steward callback add` bundle, and that bundle's
steward-callback.sh (`ssh -N -R`)."""

import os
import signal
import subprocess
import uuid

from conftest import OP_CHANGED, STEWARD_BIN, TOKEN, clean_env, require_binary, wait_for
from sshd import SSHD, keygen
from transport_contract import one, sha256_of, write_random_file

VM_SSHD = "127.0.0.1:2222"  # inside the VM's namespace


def cli(server, *args, cwd):
    require_binary()
    p = subprocess.run([STEWARD_BIN, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=cwd,
                       timeout=30, env=clean_env(STEWARD_SERVER=server.url, STEWARD_TOKEN=TOKEN))
    assert p.returncode == 0, f"{args} exited {p.returncode}: {p.stdout}{p.stderr}"
    return p


def copy_to_vm(server, api, tmp_root, mib):
    """Copies a random file of `mib` MiB to the target "vm"; asserts it arrived whole; returns its path there."""
    files = server.data_dir / "files"
    files.mkdir(exist_ok=True)
    digest = write_random_file(files / "blob.bin", mib)
    dest = tmp_root / "on-vm" / f"blob-{uuid.uuid4().hex[:6]}.bin"
    dest.parent.mkdir(exist_ok=True)
    job = api.run("/copy", {"targets": ["vm"], "src": "blob.bin", "dest": str(dest), "mode": "0600"}, timeout=60)
    assert one(job, "vm")["status"] == OP_CHANGED, job
    assert sha256_of(dest) == digest
    return dest


def listed(api, name):
    return {c["name"]: c for c in api.get("/callbacks").body}.get(name)


class Vm:
    """The VM's side: an sshd on the namespace's loopback that accepts the
    controller key, and the bundle's callback script."""

    def __init__(self, nat, workdir, bundle):
        self.nat = nat
        self.workdir = workdir
        self.bundle = bundle
        self.host_key = keygen(workdir / "vm_host_ed25519")
        self.sshd = None
        self.callback = None

    def start_sshd(self):
        authorized = self.workdir / "authorized_keys"
        authorized.write_text((self.bundle / "authorized_keys.controller").read_text())
        home = self.workdir / "home"
        home.mkdir(exist_ok=True)
        config = self.workdir / "sshd.conf"
        self.log = self.workdir / "sshd.log"
        config.write_text(f"ListenAddress {VM_SSHD}\nHostKey {self.host_key}\nAuthorizedKeysFile {authorized}\n"
                          f"PidFile {self.workdir / 'sshd.pid'}\nSetEnv HOME={home}\nStrictModes no\nUsePAM no\n"
                          "PermitRootLogin yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                          "UseDNS no\nSubsystem sftp internal-sftp\n")
        self.sshd = self.nat.popen([SSHD, "-D", "-f", str(config), "-E", str(self.log)], stdin=subprocess.DEVNULL)
        wait_for(lambda: "Server listening" in self.log.read_text(errors="replace") if self.log.exists() else False,
                 timeout=10, what="the VM's sshd")
        return self

    def call_back(self):
        log = open(self.workdir / "callback.log", "ab")
        self.callback = self.nat.popen(["sh", str(self.bundle / "steward-callback.sh")], stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=log, start_new_session=True,
                                       env=clean_env(STEWARD_CALLBACK_DIR=str(self.bundle), HOME=str(self.workdir)))
        log.close()
        return self

    def drop_callback(self):
        """Kills the script and its ssh at once, as a crash of the VM's callback would."""
        try:
            os.killpg(self.callback.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.callback.wait(10)
