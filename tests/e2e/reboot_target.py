"""An ssh test target that can be "rebooted" by steward.

`RebootableSshd` runs a real sshd (tests/e2e/sshd.py) and writes a reboot
script for it: the inventory sets `steward_reboot_command` to that script,
which detaches, kills the sshd and every session it started (as a reboot
does), and, unless told to stay down, starts a new sshd on the same address
and port after a pause. Each step is appended to a marker file, so a test can
tell that the reboot really happened and when the target was back.
"""

import os
import signal
from pathlib import Path

from sshd import Sshd, descendants, free_port_on

HERE = Path(__file__).resolve().parent

# Runs on the target (this machine) as the reboot command's child.
_SCRIPT = r'''#!/usr/bin/python3
import os, signal, subprocess, sys, time
sys.path.insert(0, {here!r})
from sshd import SSHD, descendants

pidfile, config, log, marker, mode = {pidfile!r}, {config!r}, {log!r}, {marker!r}, sys.argv[1]
# Detach twice, so the end of the ssh session (and the kill below) spares us.
if os.fork():
    os._exit(0)
os.setsid()
if os.fork():
    os._exit(0)
null = os.open(os.devnull, os.O_RDWR)
for fd in (0, 1, 2):
    os.dup2(null, fd)
time.sleep(0.5)
listener = int(open(pidfile).read())
for pid in [p for p in descendants(listener) if p != os.getpid()] + [listener]:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
with open(marker, "a") as f:
    f.write(f"down {{time.time()}} {{listener}}\n")
if mode == "stay-down":
    sys.exit(0)
time.sleep(1.5)
sshd = subprocess.Popen([SSHD, "-D", "-f", config, "-E", log], stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
open(pidfile, "w").write(str(sshd.pid))
with open(marker, "a") as f:
    f.write(f"up {{time.time()}} {{sshd.pid}}\n")
'''


class RebootableSshd:
    def __init__(self, fleet, name, address, stay_down=False):
        self.sshd = Sshd(fleet.workdir, name, [address], free_port_on([address]), fleet.host_key,
                         fleet.authorized_keys, fleet.home)
        self.address = address
        self.port = self.sshd.port
        self.pidfile = fleet.workdir / f"{name}.current-pid"
        self.marker = fleet.workdir / f"{name}.reboots"
        self.script = fleet.workdir / f"{name}-reboot.py"
        self.script.write_text(_SCRIPT.format(here=str(HERE), pidfile=str(self.pidfile),
                                              config=str(self.sshd.config), log=str(self.sshd.log),
                                              marker=str(self.marker)))
        self.script.chmod(0o755)
        # The target's steward_reboot_command: a path, so the inventory value needs no quoting.
        self.reboot_command = fleet.workdir / f"{name}-reboot.sh"
        self.reboot_command.write_text(f"#!/bin/sh\nexec /usr/bin/python3 {self.script} "
                                       f"{'stay-down' if stay_down else 'restart'}\n")
        self.reboot_command.chmod(0o755)

    def start(self):
        self.sshd.start()
        self.pidfile.write_text(str(self.sshd.proc.pid))
        return self

    def current_pid(self):
        return int(self.pidfile.read_text())

    def events(self):
        """[(kind, time, pid), ...] from the marker file: "down" then "up" per reboot."""
        try:
            lines = self.marker.read_text().splitlines()
        except FileNotFoundError:
            return []
        return [(kind, float(at), int(pid)) for kind, at, pid in (line.split() for line in lines)]

    def stop(self):
        self.sshd.stop()
        try:
            pid = self.current_pid()
        except (FileNotFoundError, ValueError):
            return
        for victim in descendants(pid) + [pid]:
            try:
                os.kill(victim, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.sshd.proc is not None and self.sshd.proc.poll() is None:
            self.sshd.proc.wait(10)
