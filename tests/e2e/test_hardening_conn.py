"""Connections are bounded and the REST server degrades gracefully (issue 12).

Servers here run under a low descriptor limit (soft and hard, so the raise
at start is bounded) and are flooded with idle connections; a server that
spins on EMFILE, logs every failure or holds the descriptors of dead
streaming clients fails these tests.
"""

import os
import socket
import sys
import time

import pytest

from conftest import (JOB_RUNNING, SANITIZER, Api, Server, qs, request, wait_for)

SOFT_LIMIT, HARD_LIMIT = 128, 256
ACCEPT_FAILURE = "accepting an HTTP connection failed"

# Sets the descriptor limit, then becomes `steward serve` (same pid).
_WITH_LIMIT = ("import os, resource, sys; "
               "resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), int(sys.argv[2]))); "
               "os.execv(sys.argv[3], sys.argv[3:])")


class LimitedServer(Server):
    def __init__(self, data_dir, soft=SOFT_LIMIT, hard=HARD_LIMIT, **kw):
        super().__init__(data_dir, **kw)
        self.limits = (soft, hard)

    def argv(self):
        return [sys.executable, "-c", _WITH_LIMIT, str(self.limits[0]), str(self.limits[1])] + super().argv()

    @property
    def pid(self):
        return self.proc.pid

    def cpu_seconds(self):
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def open_fds(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def log_lines(self, needle):
        return [line for line in self.log_path.read_text(errors="replace").splitlines() if needle in line]


@pytest.fixture
def start(tmp_root):
    servers = []

    def _start(name, **kw):
        srv = LimitedServer(tmp_root / name, **kw).start()
        servers.append(srv)
        return srv
    yield _start
    for srv in servers:
        srv.stop()


def open_idle(addr, n):
    """n TCP connections that never send a byte."""
    conns = []
    for _ in range(n):
        s = socket.socket()
        s.settimeout(5)
        s.connect(addr)
        conns.append(s)
    return conns


def close_all(conns):
    for s in conns:
        s.close()


def timed_healthz(addr):
    t0 = time.monotonic()
    r = request(addr, "GET", "/healthz", token=None, timeout=10)
    assert r.status == 200, r
    return time.monotonic() - t0


def cpu_over(server, seconds):
    before = server.cpu_seconds()
    time.sleep(seconds)
    return server.cpu_seconds() - before


def test_descriptor_limit_is_raised_to_the_hard_limit(start):
    srv = start("raise")
    limits = open(f"/proc/{srv.pid}/limits").read()
    line = next(l for l in limits.splitlines() if l.startswith("Max open files"))
    assert line.split()[3:5] == [str(HARD_LIMIT), str(HARD_LIMIT)], line
    assert srv.log_lines(f"descriptor limit: {HARD_LIMIT} (raised from {SOFT_LIMIT})"), srv.log_tail()
    # The default connection limit is three quarters of it.
    assert srv.log_lines(f"at most {HARD_LIMIT * 3 // 4} connections"), srv.log_tail()


def test_idle_flood_beyond_the_connection_limit_evicts_the_oldest_idle(start):
    srv = start("flood")
    conns = open_idle(srv.addr, 2 * HARD_LIMIT)
    try:
        # A fresh client is served at once: the longest idle connection makes room.
        assert timed_healthz(srv.addr) < 1.0
        assert cpu_over(srv, 3.0) < 0.5
        assert srv.open_fds() < HARD_LIMIT
        # The oldest connections were closed by the server (EOF, no reply).
        conns[0].settimeout(5)
        assert conns[0].recv(1) == b""
        assert srv.log_lines(ACCEPT_FAILURE) == [], srv.log_tail()
    finally:
        close_all(conns)


# A sanitizer runtime needs descriptors of its own to check anything: with
# none left, UBSan's vptr check reports every virtual call as invalid.
@pytest.mark.skipif(SANITIZER != "", reason="sanitizer runtimes cannot work without free descriptors")
def test_out_of_descriptors_backs_off_and_logs_once(start):
    # A connection limit above the descriptor limit: accept hits EMFILE.
    srv = start("emfile", extra_args=["--max-http-connections", "100000"])
    conns = open_idle(srv.addr, 2 * HARD_LIMIT)
    try:
        wait_for(lambda: srv.log_lines(ACCEPT_FAILURE), timeout=5, what="an accept failure")
        assert cpu_over(srv, 3.0) < 0.5, "the accept loop spins"
        failures = srv.log_lines(ACCEPT_FAILURE)
        assert 1 <= len(failures) <= 3, "\n".join(failures[:10])
        assert "Too many open files" in failures[0]
    finally:
        close_all(conns)
    # Once the clients are gone the server serves again, within its back-off.
    deadline = time.monotonic() + 10
    while True:
        try:
            assert timed_healthz(srv.addr) < 3.0
            break
        except (OSError, AssertionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    wait_for(lambda: srv.log_lines("accepting HTTP connections again"), timeout=5, what="the recovery line")


def test_slow_header_client_is_cut_after_the_header_timeout(start):
    srv = start("slow", extra_args=["--header-timeout", "2", "--idle-timeout", "60"])
    s = socket.create_connection(srv.addr, timeout=10)
    try:
        t0 = time.monotonic()
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        closed_at = None
        for i in range(10):
            try:
                s.sendall(f"X-Slow-{i}: 1\r\n".encode())
            except (BrokenPipeError, ConnectionResetError):
                closed_at = time.monotonic() - t0
                break
            s.settimeout(1.0)
            try:
                if s.recv(1) == b"":
                    closed_at = time.monotonic() - t0
                    break
            except socket.timeout:
                continue
            except ConnectionResetError:
                closed_at = time.monotonic() - t0
                break
        assert closed_at is not None, "a client trickling headers kept its connection for 10 s"
        assert 1.5 <= closed_at <= 5.0, closed_at
    finally:
        s.close()


def test_idle_keep_alive_gets_the_idle_timeout_not_the_header_timeout(start):
    srv = start("idle", extra_args=["--header-timeout", "1", "--idle-timeout", "60"])
    s = socket.create_connection(srv.addr, timeout=10)
    try:
        time.sleep(2.5)  # silent longer than the header timeout
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = s.recv(4096)
        assert reply.startswith(b"HTTP/1.1 200"), reply
    finally:
        s.close()


def _raw_stream(addr, path, token):
    s = socket.create_connection(addr, timeout=10)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        assert chunk, "the stream closed before its headers"
        head += chunk
    assert head.startswith(b"HTTP/1.1 200"), head
    return s


@pytest.mark.parametrize("path", ["/jobs/{jid}?follow=1", "/jobs/{jid}/events"])
def test_killed_stream_client_is_released_while_the_job_is_quiet(start, path):
    srv = start("follow" + ("sse" if "events" in path else "ndjson"))
    api = Api(srv)
    jid = api.submit("/execute", {"targets": ["localhost"], "cmd": "sleep 60"})
    try:
        assert api.job(jid)["state"] == JOB_RUNNING
        time.sleep(0.5)  # the command's pipes are open
        baseline = srv.open_fds()
        s = _raw_stream(srv.addr, path.format(jid=jid), api.token)
        assert srv.open_fds() == baseline + 1
        s.close()
        t0 = time.monotonic()
        wait_for(lambda: srv.open_fds() <= baseline, timeout=5, what="the stream's descriptor to be released")
        assert time.monotonic() - t0 < 5
        assert api.job(jid)["state"] == JOB_RUNNING  # the job itself goes on
    finally:
        api.delete(qs(f"/jobs/{jid}"))


def test_quiet_event_stream_gets_keepalive_comments(start):
    srv = start("keepalive")
    api = Api(srv)
    jid = api.submit("/execute", {"targets": ["localhost"], "cmd": "sleep 60"})
    try:
        s = _raw_stream(srv.addr, f"/jobs/{jid}/events", api.token)
        s.settimeout(10)
        data = b""
        t0 = time.monotonic()
        while b": keepalive" not in data and time.monotonic() - t0 < 9:
            data += s.recv(4096)
        assert b": keepalive\n\n" in data, data
        s.close()
    finally:
        api.delete(qs(f"/jobs/{jid}"))
