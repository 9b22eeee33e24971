"""Debian's qemu-ga (qemu-guest-agent) in the foreground on a unix socket.

The "guest" is this machine itself, so what a command did can be checked
directly. Used by the qga transport's end-to-end tests.
"""

import os
import signal
import socket
import subprocess

import pytest

from conftest import wait_for

QEMU_GA = "/usr/sbin/qemu-ga"


class QemuGa:
    """One qemu-ga in the foreground, listening on a unix socket."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.socket = str(workdir / "qga.sock")
        self.proc = None

    def connectable(self):
        with socket.socket(socket.AF_UNIX) as s:
            try:
                s.connect(self.socket)
                return True
            except OSError:
                return False

    def start(self):
        if not os.access(QEMU_GA, os.X_OK):
            pytest.fail(f"{QEMU_GA} not found: install qemu-guest-agent")
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.workdir / "qemu-ga.log", "ab")
        self.proc = subprocess.Popen([QEMU_GA, "-m", "unix-listen", "-p", self.socket, "-t", str(self.workdir),
                                      "-f", str(self.workdir / "qemu-ga.pid")],
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        wait_for(self.connectable, timeout=10, what="qemu-ga to listen")
        return self

    def stop(self, sig=signal.SIGTERM):
        """qemu-ga 7.2 can deadlock in its own SIGTERM handler: KILL follows an unheeded TERM."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
