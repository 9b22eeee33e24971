"""Shared fixtures and helpers for steward's end-to-end tests.

Every test module starts the real `steward serve` on 127.0.0.1:0 with a
temporary data dir and reads the bound address back from DIR/http.addr.
Only the standard library, pytest and python3-jsonschema are used: every
reply that request() and Stream receive (each streamed document too) is
checked against the OpenAPI document (openapi_check.py), so a test fails
when the server answers something the document does not say.
"""

import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
from collections import namedtuple
from pathlib import Path

import pytest

from openapi_check import openapi

REPO = Path(__file__).resolve().parents[2]
STEWARD_BIN = os.environ.get("STEWARD_BIN") or str(REPO / "build" / "steward")
TOKEN = "secret"

# Job states and operation states of the contract.
JOB_DONE, JOB_RUNNING, JOB_FAILURE = 0, 1, 2
OP_ANNOUNCE, OP_OK, OP_SKIPPED, OP_FAILED, OP_UNREACHABLE, OP_CHANGED = range(6)

ALL_HOSTS = ["localhost", "web1", "web2"]
INVENTORY = """\
localhost ansible_connection=local

[web]
web1 ansible_connection=local
web2 ansible_connection=local
"""

# Environment variables of the server and the CLI that must not leak in from
# whoever runs the tests.
_STEWARD_ENV = ("STEWARD_TOKEN", "STEWARD_SERVER", "STEWARD_DATA_DIR", "STEWARD_SECRET_KEY",
                "GLOBAL_HOST", "EXECUTOR_PORT", "REDIS_HOST", "REDIS_PORT",
                "REDIS_PASSWORD", "LOG_DIR", "LOG_FILE_NAME")


# Set by `make test-asan` (address) for an instrumented build: a sanitizer
# report in any server's log fails the run (see _scan_sanitizer_reports).
SANITIZER = os.environ.get("STEWARD_SANITIZER", "")
_SANITIZER_REPORT = re.compile(
    r"ERROR: (AddressSanitizer|LeakSanitizer)|WARNING: ThreadSanitizer|SUMMARY: UndefinedBehaviorSanitizer|"
    r"\.(cpp|hpp|h|cc):\d+:\d+: runtime error:")
_sanitizer_reports = []  # (log path, excerpt) not yet reported as a test failure


def _scan_sanitizer_reports(log_path, offset):
    """Records a sanitizer report in log_path past offset; returns the new offset."""
    try:
        with open(log_path, "rb") as f:
            f.seek(offset)
            raw = f.read()
    except FileNotFoundError:
        return offset
    text = raw.decode(errors="replace")
    m = _SANITIZER_REPORT.search(text)
    if m:
        _sanitizer_reports.append((str(log_path), text[max(0, m.start() - 300):m.start() + 6000]))
    return offset + len(raw)


def _take_sanitizer_reports():
    reports = list(_sanitizer_reports)
    _sanitizer_reports.clear()
    return "\n\n".join(f"sanitizer report in {path}:\n{excerpt}" for path, excerpt in reports)


@pytest.fixture(autouse=True)
def no_sanitizer_reports():
    """Fails the test during which a server logged a sanitizer report."""
    yield
    reports = _take_sanitizer_reports()
    if reports:
        pytest.fail(reports, pytrace=False)


def pytest_sessionfinish(session, exitstatus):
    """Reports of servers stopped after the last test (module fixtures) fail the session."""
    reports = _take_sanitizer_reports()
    if reports:
        print("\n" + reports)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in _STEWARD_ENV}
    env.update({k: v for k, v in extra.items() if v is not None})
    return env


def require_binary():
    if not os.access(STEWARD_BIN, os.X_OK):
        pytest.fail(f"steward binary not found or not executable: {STEWARD_BIN}")


_serve_help = None


def serve_help():
    """`steward serve --help`, cached: used to turn optional listeners off."""
    global _serve_help
    if _serve_help is None:
        try:
            p = subprocess.run([STEWARD_BIN, "serve", "--help"], capture_output=True,
                               text=True, timeout=10, env=clean_env())
            _serve_help = p.stdout + p.stderr
        except (OSError, subprocess.TimeoutExpired):
            _serve_help = ""
    return _serve_help


def free_port():
    """A port nothing listens on (bound then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- server

class Server:
    """One `steward serve` process on an ephemeral port."""

    def __init__(self, data_dir, token=TOKEN, inventory=INVENTORY, extra_args=(), grpc=False, env=None):
        self.data_dir = Path(data_dir)
        self.env = dict(env or {})  # the server's own environment (STEWARD_SECRET_KEY, LOG_DIR, PATH, ...)
        self.grpc = grpc  # serve gRPC on an ephemeral port (see grpc_addr)
        self.token = token
        self.extra_args = list(extra_args)
        self.inventory_path = None
        if inventory is not None:
            self.inventory_path = self.data_dir.parent / (self.data_dir.name + "-inventory.ini")
            self.inventory_path.write_text(inventory)
        self.proc = None
        self.addr = None  # (host, port)
        self.log_path = self.data_dir.parent / (self.data_dir.name + "-server.log")
        self._log = None
        self._log_scanned = 0  # bytes of the log already scanned for sanitizer reports

    @property
    def addr_file(self):
        return self.data_dir / "http.addr"

    @property
    def url(self):
        return f"http://{self.addr[0]}:{self.addr[1]}"

    def argv(self):
        args = [STEWARD_BIN, "serve", "--http", "127.0.0.1:0", "--data-dir", str(self.data_dir)]
        if self.inventory_path is not None:
            args += ["--inventory", str(self.inventory_path)]
        if self.grpc:
            args += ["--grpc", "127.0.0.1:0"]
        elif "--grpc" in serve_help():
            # Never bind the fixed default gRPC port: modules run in parallel.
            args += ["--grpc", "off"]
        return args + self.extra_args

    def start(self, timeout=10.0):
        require_binary()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.addr_file.unlink()
        except FileNotFoundError:
            pass
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv(), stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL,
                                     env=clean_env(STEWARD_TOKEN=self.token, **self.env))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                pytest.fail(f"steward serve exited with {rc} before listening\n"
                            f"argv: {self.argv()}\n{self.log_tail()}")
            addr = self._read_addr()
            if addr is not None:
                self.addr = addr
                return self
            time.sleep(0.05)
        self.kill9()
        pytest.fail(f"{self.addr_file} did not appear within {timeout} s\n{self.log_tail()}")

    def _read_addr(self):
        try:
            text = self.addr_file.read_text().strip()
        except FileNotFoundError:
            return None
        m = re.fullmatch(r"\[?([^\]]+?)\]?:(\d+)", text)
        if not m or int(m.group(2)) == 0:
            return None  # partially written
        return (m.group(1), int(m.group(2)))

    @property
    def grpc_addr(self):
        """host:port of the gRPC listener (written before the HTTP address)."""
        return (self.data_dir / "grpc.addr").read_text().strip()

    def log_tail(self, n=40):
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return "(no server log)"
        return "server log tail:\n" + "\n".join(lines[-n:])

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace=5.0):
        """SIGTERM, then SIGKILL after `grace` seconds. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._close_log()
        return self.proc.returncode

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self._close_log()

    def _close_log(self):
        if self._log is not None:
            self._log.close()
            self._log = None
        self._log_scanned = _scan_sanitizer_reports(self.log_path, self._log_scanned)


# ---------------------------------------------------------------- HTTP

Response = namedtuple("Response", "status headers body")


def _encode(body, headers):
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    headers.setdefault("Content-Type", "application/json")
    return json.dumps(body).encode()


def _decode(raw, headers):
    ctype = headers.get("content-type", "")
    if "json" in ctype and "ndjson" not in ctype and raw:
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode(errors="replace")
    if raw[:1] in (b"{", b"[") and "ndjson" not in ctype:
        try:
            return json.loads(raw)
        except ValueError:
            pass
    return raw.decode(errors="replace")


def request(addr, method, path, body=None, token=TOKEN, headers=None, timeout=30):
    """One HTTP request. Returns Response(status, headers (lower-case keys), body).

    body (out) is JSON-encoded unless bytes/str; body (in) is parsed JSON when
    the reply is JSON, else text. token=None sends no Authorization header.
    """
    hdrs = dict(headers or {})
    if token is not None:
        hdrs["Authorization"] = f"Bearer {token}"
    data = _encode(body, hdrs)
    conn = http.client.HTTPConnection(addr[0], addr[1], timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        rheaders = {k.lower(): v for k, v in resp.getheaders()}
        reply = Response(resp.status, rheaders, _decode(raw, rheaders))
        items = openapi().check(method, path, reply.status, rheaders, reply.body)
        if rheaders.get("content-type", "").startswith("application/x-ndjson"):
            for line in reply.body.splitlines():
                if line.strip():
                    items.line(json.loads(line))
        return reply
    finally:
        conn.close()


def qs(path, **params):
    """path?k=v&... with proper escaping (None values dropped)."""
    params = {k: v for k, v in params.items() if v is not None}
    return path + ("?" + urllib.parse.urlencode(params) if params else "")


def assert_error(resp, status, contains=None):
    """An error reply: the status, a JSON object body with a non-empty message."""
    assert resp.status == status, f"expected {status}, got {resp.status}: {resp.body!r}"
    assert isinstance(resp.body, dict), f"error body is not a JSON object: {resp.body!r}"
    msg = resp.body.get("message")
    assert isinstance(msg, str) and msg.strip(), f"error body without message: {resp.body!r}"
    if contains is not None:
        assert contains in msg, f"message {msg!r} does not contain {contains!r}"
    return msg


class Stream:
    """A streaming GET (NDJSON or SSE); lines are read as they arrive."""

    def __init__(self, addr, path, token=TOKEN, timeout=30):
        hdrs = {"Authorization": f"Bearer {token}"} if token is not None else {}
        self.conn = http.client.HTTPConnection(addr[0], addr[1], timeout=timeout)
        self.t0 = time.monotonic()
        self.conn.request("GET", path, headers=hdrs)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.headers = {k.lower(): v for k, v in self.resp.getheaders()}
        self.items = openapi().check("GET", path, self.status, self.headers, None, has_body=False)

    def readline(self):
        """(seconds since the request, line without newline) or None at the end."""
        line = self.resp.readline()
        if not line:
            return None
        return time.monotonic() - self.t0, line.decode(errors="replace").rstrip("\r\n")

    def ndjson(self):
        """Yield (t, object) for each non-empty line."""
        while True:
            item = self.readline()
            if item is None:
                return
            t, line = item
            if line.strip():
                document = json.loads(line)
                self.items.line(document)
                yield t, document

    def sse(self):
        """Yield (t, event, data) per Server-Sent Event; data JSON-decoded if possible."""
        event, data = None, []
        while True:
            item = self.readline()
            if item is None:
                return
            t, line = item
            if line == "":
                if data or event:
                    text = "\n".join(data)
                    try:
                        value = json.loads(text)
                    except ValueError:
                        value = text
                    self.items.event(event or "message", value)
                    yield t, event or "message", value
                event, data = None, []
            elif line.startswith(":"):
                continue
            else:
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "event":
                    event = value
                elif field == "data":
                    data.append(value)

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def raw_request(addr, head, body=b"", timeout=15):
    """Send raw bytes (head, then body) and return (status, body bytes).

    For oversized bodies: the server may answer before reading the body and
    close; a failed send is tolerated as long as a response arrives.
    """
    s = socket.create_connection(addr, timeout=timeout)
    try:
        s.sendall(head)
        ready, _, _ = select.select([s], [], [], 1.0)
        if not ready:
            view = memoryview(body)
            try:
                for i in range(0, len(view), 65536):
                    s.sendall(view[i:i + 65536])
            except (BrokenPipeError, ConnectionResetError):
                pass
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
                if b"\r\n\r\n" in data:
                    hdr, _, rest = data.partition(b"\r\n\r\n")
                    m = re.search(rb"content-length:\s*(\d+)", hdr, re.I)
                    if m and len(rest) >= int(m.group(1)):
                        break
        except (ConnectionResetError, socket.timeout):
            pass
    finally:
        s.close()
    if not data:
        raise AssertionError("no HTTP response (connection closed or reset without reply)")
    hdr, _, rest = data.partition(b"\r\n\r\n")
    status = int(hdr.split(b" ", 2)[1])
    return status, rest


class Api:
    """Client of one server with the default token."""

    def __init__(self, server, token=TOKEN):
        self.server = server
        self.token = token

    @property
    def addr(self):
        return self.server.addr

    def request(self, method, path, body=None, token="default", **kw):
        return request(self.addr, method, path, body,
                       token=self.token if token == "default" else token, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def submit(self, path, body):
        """POST work; assert 201 {"jid"}; return the jid."""
        r = self.post(path, body)
        assert r.status == 201, f"POST {path} {body!r}: {r.status} {r.body!r}"
        assert isinstance(r.body, dict) and isinstance(r.body.get("jid"), str) and r.body["jid"], r.body
        return r.body["jid"]

    def job(self, jid, outputs=False, prefix=""):
        r = self.get(qs(f"{prefix}/jobs/{jid}", outputs=1 if outputs else None))
        assert r.status == 200, f"GET /jobs/{jid}: {r.status} {r.body!r}"
        return r.body

    def wait_job(self, jid, timeout=30, outputs=True):
        """Poll until the job is no longer Running; return the job object."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(jid, outputs=outputs)
            if job["state"] != JOB_RUNNING:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {jid} still running after {timeout} s: {job!r}")
            time.sleep(0.1)

    def run(self, path, body, timeout=30):
        """submit + wait_job (with outputs)."""
        return self.wait_job(self.submit(path, body), timeout=timeout)


def metric_families(api):
    """GET /metrics read by Prometheus' own text-format parser (python3-prometheus-client)."""
    from prometheus_client.parser import text_string_to_metric_families
    r = api.get("/metrics")
    assert r.status == 200, r
    assert r.headers.get("content-type", "").startswith("text/plain"), r.headers
    return list(text_string_to_metric_families(r.body))


def metrics(api):
    """{sample name (with its labels, sorted): value} of GET /metrics."""
    samples = {}
    for family in metric_families(api):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[sample.name + (f"{{{labels}}}" if labels else "")] = sample.value
    return samples


def wait_for(predicate, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def process_state(pid):
    """The /proc state letter of pid (e.g. 'S', 'Z' for an unreaped zombie), or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return None


def wait_process_gone(pid, timeout=5.0):
    """Assert pid disappears (and is reaped) within timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        state = process_state(pid)
        if state is None:
            return
        if time.monotonic() > deadline:
            what = "a zombie (never reaped)" if state == "Z" else f"alive (state {state})"
            raise AssertionError(f"process {pid} still {what} after {timeout} s")
        time.sleep(0.05)


def read_pid(path, timeout=10.0):
    def get():
        try:
            text = Path(path).read_text().strip()
        except FileNotFoundError:
            return None
        return int(text) if text.isdigit() else None
    return wait_for(get, timeout, what=f"pid in {path}")


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def tmp_root():
    d = Path(tempfile.mkdtemp(prefix="steward-e2e-"))
    yield d
    if not os.environ.get("STEWARD_E2E_KEEP"):  # keep data dirs and server logs to look at after a run
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def server(tmp_root, request):
    """The module's server, started with the module's SERVER_OPTIONS (Server's keyword arguments)."""
    srv = Server(tmp_root / "data", **getattr(request.module, "SERVER_OPTIONS", {})).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def api(server):
    return Api(server)


@pytest.fixture(scope="module")
def executor(server):
    """A gRPC client (Ranger executor API) of a server started with grpc=True."""
    from executor_client import Executor  # imports grpc, which only these tests need
    client = Executor(server.grpc_addr)
    yield client
    client.close()


@pytest.fixture
def reap():
    """reap(pid): SIGKILL that pid (a command a test started) at teardown if still alive,
    so one failed cancel does not leave a target busy for the rest of the module."""
    pids = []
    yield pids.append
    for pid in pids:
        if process_state(pid) not in (None, "Z"):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
