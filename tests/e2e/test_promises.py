"""README promises no other module checks: `--config` and the precedence
flag > environment > config file > default (addresses, GLOBAL_HOST and
EXECUTOR_PORT, LOG_LEVEL, the log file), `--idle-timeout`, SIGINT with its
grace and a second signal, and `steward service --graceful`.
"""

import http.client
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import (JOB_FAILURE, OP_FAILED, STEWARD_BIN, TOKEN, Api, Server, clean_env, free_port,
                      process_state, read_pid, wait_process_gone)

SERVING = "serving the REST API"  # an info line every start logs
GRPC_DEFAULT_PORT = 7000


class ConfiguredServer(Server):
    """A server given no address flags of its own: the test's config file,
    environment and flags decide everything."""

    def argv(self):
        return [STEWARD_BIN, "serve", "--data-dir", str(self.data_dir),
                "--inventory", str(self.inventory_path), *self.extra_args]


def toml(keys):
    return "".join(f"{key} = {value}\n" if isinstance(value, int) else f'{key} = "{value}"\n'
                   for key, value in keys.items())


@pytest.fixture
def launch(tmp_root):
    """launch(config={...}, flags=[...], env={...}) -> a started ConfiguredServer."""
    servers = []

    def start(config=None, flags=(), env=None):
        name = f"srv{len(servers)}-{os.urandom(4).hex()}"
        args = list(flags)
        if config is not None:
            path = tmp_root / f"{name}.toml"
            path.write_text(toml(config))
            args = ["--config", str(path), *args]
        srv = ConfiguredServer(tmp_root / name, extra_args=args, env=env)
        servers.append(srv)
        return srv.start()
    yield start
    for srv in servers:
        srv.stop()


def metric(srv, name):
    r = Api(srv).get("/metrics")
    assert r.status == 200, r
    values = [line.split()[1] for line in r.body.splitlines() if line.startswith(name + " ")]
    assert len(values) == 1, r.body
    return float(values[0])


def server_log(srv):
    """Everything the server printed, once it has stopped (so nothing is left unflushed)."""
    assert srv.stop() == 0, srv.log_tail()
    return srv.log_path.read_text(errors="replace")


# ---------------------------------------------------------------- --config and precedence

@pytest.mark.parametrize("key", ["max_connections", "max-connections"])
def test_config_file_sets_the_serve_flags(launch, key):
    grpc_port = free_port()
    srv = launch(config={"http": "127.0.0.1:0", "grpc": f"127.0.0.1:{grpc_port}", key: 3})
    assert srv.grpc_addr == f"127.0.0.1:{grpc_port}"
    assert metric(srv, "steward_max_connections") == 3


def test_a_flag_beats_the_config_file(launch):
    taken = free_port()
    srv = launch(config={"http": f"127.0.0.1:{taken}", "grpc": "off", "max_connections": 3},
                 flags=["--http", "127.0.0.1:0", "--max-connections", "7"])
    assert srv.addr[1] != taken
    assert metric(srv, "steward_max_connections") == 7


def test_an_unknown_config_key_is_refused_naming_file_and_key(tmp_root):
    path = tmp_root / "typo.toml"
    path.write_text('http = "127.0.0.1:0"\nmax_conections = 3\n')
    p = subprocess.run([STEWARD_BIN, "serve", "--config", str(path), "--grpc", "off",
                        "--data-dir", str(tmp_root / "typo-data")],
                       capture_output=True, text=True, timeout=30, env=clean_env(STEWARD_TOKEN=TOKEN))
    assert p.returncode == 2, p
    assert str(path) in p.stderr and "max_conections" in p.stderr, p.stderr


@pytest.mark.parametrize("config, env, flags, expected", [
    # EXECUTOR_PORT (environment) beats the config file's port; GLOBAL_HOST its host.
    ({"grpc": "127.0.0.1:{p1}"}, {"EXECUTOR_PORT": "{p2}"}, [], "127.0.0.1:{p2}"),
    ({"grpc": "127.0.0.1:{p1}"}, {"GLOBAL_HOST": "127.0.0.3"}, [], "127.0.0.3:{p1}"),
    # Both variables over the default address.
    (None, {"GLOBAL_HOST": "127.0.0.4", "EXECUTOR_PORT": "{p2}"}, [], "127.0.0.4:{p2}"),
    # Only the host: the default port stays (on an address nothing else uses).
    (None, {"GLOBAL_HOST": "127.0.0.5"}, [], f"127.0.0.5:{GRPC_DEFAULT_PORT}"),
    # --grpc beats both variables.
    (None, {"GLOBAL_HOST": "127.0.0.6", "EXECUTOR_PORT": "{p2}"}, ["--grpc", "127.0.0.1:{p1}"], "127.0.0.1:{p1}"),
])
def test_grpc_address_precedence(launch, config, env, flags, expected):
    ports = {"p1": free_port(), "p2": free_port()}

    def fill(value):
        return value.format(**ports) if isinstance(value, str) else value
    srv = launch(config=None if config is None else {k: fill(v) for k, v in config.items()},
                 env={k: fill(v) for k, v in env.items()},
                 flags=["--http", "127.0.0.1:0", *[fill(f) for f in flags]])
    assert srv.grpc_addr == fill(expected)


@pytest.mark.parametrize("config, env, flag, logs_info", [
    ({"log_level": "warn"}, None, None, False),        # config beats the default (info)
    ({"log_level": "warn"}, "info", None, True),       # environment beats config
    ({"log_level": "info"}, "warn", None, False),
    (None, "warn", None, False),                       # environment beats the default
    ({"log_level": "warn"}, "warn", "info", True),     # the flag beats both
    (None, None, None, True),                          # the default: info
])
def test_log_level_precedence(launch, config, env, flag, logs_info):
    srv = launch(config={"http": "127.0.0.1:0", "grpc": "off", **(config or {})},
                 env={"LOG_LEVEL": env} if env else None,
                 flags=["--log-level", flag] if flag else [])
    assert (SERVING in server_log(srv)) == logs_info, srv.log_tail()


def test_log_file_precedence(launch, tmp_root):
    dirs = {name: tmp_root / f"logs-{name}-{os.urandom(3).hex()}" for name in ("config", "env", "flag")}

    def written(directory, name="steward.log"):
        path = directory / name
        return path.is_file() and SERVING in path.read_text(errors="replace")

    # The config file alone.
    srv = launch(config={"http": "127.0.0.1:0", "grpc": "off", "log_dir": str(dirs["config"])})
    srv.stop()
    assert written(dirs["config"]), list(dirs["config"].iterdir()) if dirs["config"].exists() else "no dir"
    assert not srv.data_dir.joinpath("steward.log").exists()

    # LOG_DIR and LOG_FILE_NAME beat the config file.
    srv = launch(config={"http": "127.0.0.1:0", "grpc": "off", "log_dir": str(dirs["config"]),
                         "log_file_name": "from-config.log"},
                 env={"LOG_DIR": str(dirs["env"]), "LOG_FILE_NAME": "from-env.log"})
    srv.stop()
    assert written(dirs["env"], "from-env.log")
    assert not (dirs["config"] / "from-config.log").exists() and not (dirs["env"] / "from-config.log").exists()

    # --log-dir beats LOG_DIR; the config's file name still applies.
    srv = launch(config={"http": "127.0.0.1:0", "grpc": "off", "log_file_name": "named.log"},
                 env={"LOG_DIR": str(dirs["env"])}, flags=["--log-dir", str(dirs["flag"])])
    srv.stop()
    assert written(dirs["flag"], "named.log")
    assert not (dirs["env"] / "named.log").exists()


# ---------------------------------------------------------------- --idle-timeout

def closed_after(addr, limit=15):
    """Seconds until the server closes a keep-alive connection left idle after one request."""
    conn = http.client.HTTPConnection(*addr, timeout=limit)
    try:
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        assert resp.status == 200
        resp.read()
        idle_since = time.monotonic()
        conn.sock.settimeout(limit)
        try:
            data = conn.sock.recv(1)
        except ConnectionResetError:
            data = b""
        except socket.timeout:
            raise AssertionError(f"the idle connection was still open after {limit} s") from None
        assert data == b"", data
        return time.monotonic() - idle_since
    finally:
        conn.close()


def test_idle_timeout_closes_idle_connections(launch):
    srv = launch(flags=["--http", "127.0.0.1:0", "--grpc", "off", "--idle-timeout", "2"])
    took = closed_after(srv.addr)
    assert 1.5 <= took < 10, f"closed after {took:.1f} s with --idle-timeout 2"


# ---------------------------------------------------------------- SIGINT, grace, a second signal

def start_sleeper(api, tmp_root, host="localhost"):
    pidfile = tmp_root / f"sleeper-{os.urandom(3).hex()}.pid"
    jid = api.submit("/execute", {"targets": [host], "cmd": f"echo $$ > {pidfile}; exec sleep 100"})
    return jid, read_pid(pidfile)


def kill_if_alive(pid):
    if process_state(pid) not in (None, "Z"):
        os.kill(pid, signal.SIGKILL)


def test_sigint_cancels_running_work_after_the_grace(launch, tmp_root):
    srv = launch(flags=["--http", "127.0.0.1:0", "--grpc", "off", "--grace", "1"])
    jid, pid = start_sleeper(Api(srv), tmp_root)
    try:
        srv.proc.send_signal(signal.SIGINT)
        assert srv.proc.wait(20) == 0, srv.log_tail()
        wait_process_gone(pid, timeout=5)
    finally:
        kill_if_alive(pid)
    srv.start()
    job = Api(srv).job(jid)
    entry = job["return_data"]["localhost"]
    assert job["state"] == JOB_FAILURE and entry["status"] == OP_FAILED, job
    assert entry["error"] == "cancelled: server shutting down", job


def test_a_second_signal_exits_at_once(launch, tmp_root):
    srv = launch(flags=["--http", "127.0.0.1:0", "--grpc", "off", "--grace", "120"])
    _, pid = start_sleeper(Api(srv), tmp_root)
    try:
        srv.proc.send_signal(signal.SIGINT)
        time.sleep(1)
        assert srv.alive(), "the server did not wait for the running command (--grace 120)"
        assert process_state(pid) not in (None, "Z"), "the command was stopped before its grace ran out"
        srv.proc.send_signal(signal.SIGINT)
        try:
            rc = srv.proc.wait(10)
        except subprocess.TimeoutExpired:
            raise AssertionError("the server still runs 10 s after a second SIGINT") from None
        assert rc >= 0, f"the server died of signal {-rc}"
    finally:
        kill_if_alive(pid)


# ---------------------------------------------------------------- steward service --graceful

@pytest.fixture
def service_recorder(tmp_root):
    """A PATH whose `service` and `systemctl` record their arguments (one line per call)."""
    bin_dir = tmp_root / f"fake-service-bin-{os.urandom(3).hex()}"
    bin_dir.mkdir()
    record = bin_dir / "calls"
    for tool in ("service", "systemctl"):
        script = bin_dir / tool
        script.write_text(f'#!/bin/sh\necho "{tool} $*" >> {record}\n')
        script.chmod(0o755)
    return bin_dir, record


def test_cli_service_graceful_reloads(launch, service_recorder, tmp_root):
    bin_dir, record = service_recorder
    srv = launch(flags=["--http", "127.0.0.1:0", "--grpc", "off"],
                 env={"PATH": f"{bin_dir}:{os.environ['PATH']}"})

    def service(*args):
        return subprocess.run([STEWARD_BIN, "service", "--server", srv.url, "localhost", "web-app", *args],
                              capture_output=True, text=True, timeout=60, cwd=tmp_root,
                              env=clean_env(STEWARD_TOKEN=TOKEN))
    for args in (["restart", "--graceful"], ["restart"], ["stop"]):
        p = service(*args)
        assert p.returncode == 0, p
    calls = record.read_text().splitlines()
    tool = "systemctl" if os.path.isdir("/run/systemd/system") else "service"
    expected = {"systemctl": ["systemctl reload web-app", "systemctl restart web-app", "systemctl stop web-app"],
                "service": ["service web-app reload", "service web-app restart", "service web-app stop"]}[tool]
    assert calls == expected, calls
