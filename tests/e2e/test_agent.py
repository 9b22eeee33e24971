"""The agent transport end to end (issue 13): the real `steward serve` with
--agent-listen and the real `steward agent` on loopback.

The agent dials the server through a small TCP proxy the test controls, so
the link can be cut mid-command (the agent reconnects by itself). Targets
run on this machine, so the contract checks shared with ssh and qga
(transport_contract.py) see the processes a command starts.
"""

import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from conftest import (JOB_DONE, OP_CHANGED, OP_UNREACHABLE, STEWARD_BIN, Api, Server, clean_env, read_pid,
                      wait_for, wait_process_gone)
from transport_contract import (MiB, check_cancel_kills_the_process_tree, check_output_cap,
                                check_timeout_kills_the_process_tree, one, sha256_of, write_random_file)

AGENT_WAIT = 6  # --agent-wait: long enough to ride out a cut link, short for the away test


class Proxy(threading.Thread):
    """TCP forwarder from 127.0.0.1:port to the agent listener; cut() drops
    every open connection, refuse(s) turns new ones away for a while."""

    def __init__(self, upstream):
        super().__init__(daemon=True)
        self.upstream = upstream
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.open = []
        self.refuse_until = 0.0
        self.connections = 0

    def run(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if time.monotonic() < self.refuse_until:
                client.close()
                continue
            host, port = self.upstream.rsplit(":", 1)
            try:
                server = socket.create_connection((host, int(port)))
            except OSError:
                client.close()
                continue
            with self.lock:
                self.open += [client, server]
                self.connections += 1
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self, refuse_seconds=0.0):
        self.refuse_until = time.monotonic() + refuse_seconds
        with self.lock:
            sockets, self.open = self.open, []
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self):
        self.listener.close()
        self.cut()


class Agent:
    """One `steward agent` process."""

    def __init__(self, server_addr, state_dir, log_path, extra_args=()):
        self.server_addr, self.state_dir, self.log_path = server_addr, Path(state_dir), Path(log_path)
        self.extra_args = list(extra_args)
        self.proc = None

    def start(self, *args):
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([STEWARD_BIN, "agent", "--server", self.server_addr, "--state-dir",
                                      str(self.state_dir), *self.extra_args, *args],
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=clean_env(), start_new_session=True)
        log.close()
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def log_tail(self, n=30):
        try:
            return "agent log tail:\n" + "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except FileNotFoundError:
            return "(no agent log)"


def status_kib(pid, field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0
