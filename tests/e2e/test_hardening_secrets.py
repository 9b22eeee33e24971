"""Secrets stay secret (issue 12, item 5).

Secret values (secret_env, environment names matching --secret-env-pattern,
stdin marked secret_stdin, Deputy condition environments) reach the command
in clear, are shown as "***" by the API, and appear nowhere in the store's
files or the logs; a restart still runs pending work with the real values;
a wrong STEWARD_SECRET_KEY fails those jobs clearly. Every file steward
writes is 0600 and every folder it creates 0700, wherever they live.
"""

import os
import secrets
import stat
import subprocess
import time

import pytest

from conftest import (JOB_DONE, JOB_FAILURE, OP_CHANGED, OP_FAILED, STEWARD_BIN, Api, Server, clean_env,
                      wait_for)
from executor_client import Executor

KEY_ONE = "11" * 32  # hex
KEY_TWO = "22" * 32


def fresh_secret(label):
    return f"{label}-{secrets.token_hex(12)}"


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def bytes_of(paths):
    out = b""
    for path in paths:
        try:
            out += path.read_bytes()
        except FileNotFoundError:
            pass
    return out


class Layout:
    """Where one server's files live: the store and the log outside the data dir."""

    def __init__(self, root, name):
        self.data_dir = root / f"{name}-data"
        self.store_dir = root / f"{name}-elsewhere"
        self.store_dir.mkdir()
        self.db = self.store_dir / "jobs.db"
        self.log_dir = root / f"{name}-logs" / "steward"  # created by steward
        self.log_file = self.log_dir / "steward.log"

    def args(self, *more):
        return ["--store", f"sqlite:{self.db}", "--log-dir", str(self.log_dir), *more]

    def db_files(self):
        return [self.store_dir / (self.db.name + suffix) for suffix in ("", "-wal", "-shm", "-journal")]

    def everything_written(self, server):
        """Raw bytes of the store, the log file and the server's own output."""
        return bytes_of(self.db_files() + [self.log_file, server.log_path])


def secret_job(marker, values, targets=("localhost",)):
    """An execute job whose command writes the values it sees to `marker` (outside its output)."""
    return {
        "targets": list(targets),
        "cmd": f'printf "%s|%s|%s|%s" "$API_TOKEN" "$DSN" "$PLAIN" "$(cat)" > {marker}; echo ran',
        "env": {"API_TOKEN": values["token"], "PLAIN": values["plain"]},
        "secret_env": {"DSN": values["dsn"]},
        "stdin": values["stdin"],
        "secret_stdin": True,
    }


def new_values():
    return {"token": fresh_secret("tok"), "dsn": fresh_secret("dsn"), "stdin": fresh_secret("pin"),
            "plain": fresh_secret("plain")}


def secret_texts(values):
    return [values[k].encode() for k in ("token", "dsn", "stdin")]


def expected_marker(values):
    return f'{values["token"]}|{values["dsn"]}|{values["plain"]}|{values["stdin"]}'


def assert_shown_as_stars(args, values):
    assert args["env"] == {"API_TOKEN": "***", "PLAIN": values["plain"]}, args
    assert args["secret_env"] == {"DSN": "***"}, args
    assert args["stdin"] == "***", args


def test_secret_values_reach_the_command_and_nothing_else(tmp_root):
    layout = Layout(tmp_root, "plain")
    srv = Server(layout.data_dir, extra_args=layout.args()).start()
    values = new_values()
    marker, action_marker = tmp_root / "plain-marker", tmp_root / "plain-action-marker"
    try:
        api = Api(srv)
        job = api.run("/execute", secret_job(marker, values))
        assert job["state"] == JOB_DONE, job
        assert job["return_data"]["localhost"]["stdout"] == "ran\n", job
        assert marker.read_text() == expected_marker(values)
        assert_shown_as_stars(job["operate_args"], values)
        listed = api.get("/jobs?detail=1")
        assert listed.status == 200
        assert_shown_as_stars(next(j for j in listed.body if j["jid"] == job["jid"])["operate_args"], values)

        action = api.post("/v1/actions", {"name": "steward:execute", "options": secret_job(action_marker, values)})
        assert action.status == 202, action
        record = wait_for(lambda: (lambda r: r if r["state"] in ("succeeded", "failed") else None)(
            api.get(f"/v1/actions/{action.body['id']}").body), 30, what="the action to finish")
        assert record["state"] == "succeeded", record
        assert_shown_as_stars(record["options"], values)
        action_job = api.wait_job(record["result"]["jid"])
        assert action_job["state"] == JOB_DONE, action_job
        assert_shown_as_stars(action_job["operate_args"], values)
        assert action_marker.read_text() == expected_marker(values)

        for bad, field in [({"secret_stdin": "yes"}, "secret_stdin"), ({"secret_env": {"A": 1}}, "secret_env")]:
            r = api.post("/execute", {"targets": ["localhost"], "cmd": "true", **bad})
            assert r.status == 400 and f"'{field}'" in r.body["message"], r

        running_bytes = layout.everything_written(srv)
        assert values["plain"].encode() in running_bytes, "the store holds no job arguments at all?"
    finally:
        assert srv.stop() == 0
    stopped_bytes = layout.everything_written(srv)
    assert values["plain"].encode() in stopped_bytes
    for text in secret_texts(values):
        assert text not in running_bytes, f"{text!r} found in the store or a log while running"
        assert text not in stopped_bytes, f"{text!r} found in the store or a log after the stop"


def test_files_are_owner_only_wherever_they_live(tmp_root):
    layout = Layout(tmp_root, "modes")
    srv = Server(layout.data_dir, token=None, extra_args=layout.args()).start()  # steward writes a token file
    try:
        api = Api(srv, token=(layout.data_dir / "token").read_text().strip())
        api.run("/execute", {"targets": ["localhost"], "cmd": "echo hi"})
        assert srv.stop() == 0
        # As an older version or a looser umask would have left them:
        for path in [layout.db, layout.log_file, layout.data_dir / "token", layout.data_dir / "secret.key"]:
            os.chmod(path, 0o644)
        os.chmod(layout.data_dir, 0o755)
        srv.start()
        api.run("/execute", {"targets": ["localhost"], "cmd": "echo again"})
        files = [p for p in layout.db_files() if p.exists()] + [layout.log_file]
        files += [p for p in layout.data_dir.rglob("*") if p.is_file() and not p.is_symlink()]
        assert layout.db in files and layout.data_dir / "secret.key" in files and layout.data_dir / "token" in files
        wrong = {str(p): oct(mode_of(p)) for p in files if mode_of(p) & 0o077 or not mode_of(p) & 0o600}
        assert not wrong, f"files readable by others or not 0600: {wrong}"
        for p in files:
            if not os.access(p, os.X_OK):
                assert mode_of(p) == 0o600, f"{p}: {oct(mode_of(p))}"
        # A symlink's own mode means nothing on Linux (agent-ca/listener): the folder it names is checked.
        folders = [layout.data_dir, layout.log_dir] + [p for p in layout.data_dir.rglob("*")
                                                       if p.is_dir() and not p.is_symlink()]
        wrong = {str(p): oct(mode_of(p)) for p in folders if mode_of(p) != 0o700}
        assert not wrong, f"folders not 0700: {wrong}"
    finally:
        srv.stop()


def start_blocked_secret_job(api, marker, values, blocker_pid):
    """One slot (--max-connections 1) held by a long command, so the secret job stays pending."""
    blocker = api.submit("/execute", {"targets": ["web1"], "cmd": f"echo $$ > {blocker_pid}; sleep 60"})
    wait_for(lambda: blocker_pid.exists() and blocker_pid.read_text().strip(), 10, what="the blocker to start")
    jid = api.submit("/execute", secret_job(marker, values))
    job = api.job(jid)
    assert job["return_data"]["localhost"]["phase"] == "pending", job
    return blocker, jid


def kill_blocker(blocker_pid):
    try:
        os.killpg(int(blocker_pid.read_text()), 9)
    except (ProcessLookupError, ValueError):
        pass


def test_a_pending_secret_job_runs_with_its_real_values_after_a_restart(tmp_root):
    layout = Layout(tmp_root, "restart")
    srv = Server(layout.data_dir, extra_args=layout.args("--max-connections", "1")).start()
    values = new_values()
    marker, blocker_pid = tmp_root / "restart-marker", tmp_root / "restart-blocker.pid"
    try:
        api = Api(srv)
        blocker, jid = start_blocked_secret_job(api, marker, values, blocker_pid)
        srv.kill9()
        kill_blocker(blocker_pid)
        assert not marker.exists()
        for text in secret_texts(values):
            assert text not in layout.everything_written(srv), f"{text!r} stored in clear"
        srv.start()
        job = api.wait_job(jid)
        assert job["state"] == JOB_DONE, job
        assert job["return_data"]["localhost"]["status"] == OP_CHANGED, job
        assert marker.read_text() == expected_marker(values)
        assert_shown_as_stars(job["operate_args"], values)
        assert api.wait_job(blocker)["return_data"]["web1"]["status"] == OP_FAILED
    finally:
        srv.stop()
    for text in secret_texts(values):
        assert text not in layout.everything_written(srv), f"{text!r} in the store or a log"


def test_another_key_at_restart_fails_those_jobs_clearly(tmp_root):
    layout = Layout(tmp_root, "rekey")
    srv = Server(layout.data_dir, extra_args=layout.args("--max-connections", "1"),
                 env={"STEWARD_SECRET_KEY": KEY_ONE}).start()
    values = new_values()
    marker, blocker_pid = tmp_root / "rekey-marker", tmp_root / "rekey-blocker.pid"
    try:
        api = Api(srv)
        _, jid = start_blocked_secret_job(api, marker, values, blocker_pid)
        srv.kill9()
        kill_blocker(blocker_pid)
        assert not (layout.data_dir / "secret.key").exists(), "the key file is not needed with STEWARD_SECRET_KEY"
        srv.env["STEWARD_SECRET_KEY"] = KEY_TWO
        srv.start()
        job = api.wait_job(jid)
        assert job["state"] == JOB_FAILURE, job
        entry = job["return_data"]["localhost"]
        assert entry["status"] == OP_FAILED, entry
        assert "STEWARD_SECRET_KEY" in entry["error"] and "cannot be decrypted" in entry["error"], entry
        assert not marker.exists(), "the command ran without its secrets"
        assert_shown_as_stars(job["operate_args"], values)
        assert api.get("/healthz").status == 200
        # Jobs without secrets still run under the new key.
        assert api.run("/execute", {"targets": ["localhost"], "cmd": "echo fine"})["state"] == JOB_DONE
    finally:
        srv.stop()
    for text in secret_texts(values):
        assert text not in layout.everything_written(srv), f"{text!r} in the store or a log"


@pytest.mark.parametrize("key", ["short", "zz" * 32, "not base64 at all"])
def test_a_malformed_key_stops_the_server_with_a_clear_message(tmp_root, key):
    data_dir = tmp_root / f"badkey-{len(key)}"
    p = subprocess.run([STEWARD_BIN, "serve", "--http", "127.0.0.1:0", "--grpc", "off", "--data-dir", str(data_dir)],
                       capture_output=True, text=True, timeout=20,
                       env=clean_env(STEWARD_TOKEN="t", STEWARD_SECRET_KEY=key))
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "STEWARD_SECRET_KEY" in p.stderr and "32 bytes" in p.stderr, p.stderr
    assert key not in p.stderr


def test_condition_environment_secrets(tmp_root):
    layout = Layout(tmp_root, "cond")
    srv = Server(layout.data_dir, extra_args=layout.args(), grpc=True).start()
    password, home = fresh_secret("pw"), fresh_secret("home")
    marker = tmp_root / "cond-marker"
    command = f'printf "%s|%s" "$DB_PASSWORD" "$SOME_HOME" > {marker}; echo 1'
    executor = None
    try:
        api = Api(srv)
        executor = Executor(srv.grpc_addr)
        cid = executor.create_condition("localhost", name="c-secret", command=command, interval=1,
                                        environment=[f"DB_PASSWORD={password}", f"SOME_HOME={home}"])

        def first_value():
            stream = executor.stream_condition(cid, timeout=15)
            value = next(iter(stream)).command_return_value
            stream.cancel()
            return value

        assert first_value() == 1.0
        assert marker.read_text() == f"{password}|{home}"
        conditions = api.get("/conditions").body
        record = next(c for c in conditions if c["id"] == cid)
        assert record["environment"] == ["DB_PASSWORD=***", f"SOME_HOME={home}"], record

        executor.close()
        executor = None
        assert srv.stop() == 0
        marker.unlink()
        srv.start()  # the stored record is opened again to run
        executor = Executor(srv.grpc_addr)
        assert first_value() == 1.0
        assert marker.read_text() == f"{password}|{home}"
    finally:
        if executor is not None:
            executor.close()
        srv.stop()
    written = layout.everything_written(srv)
    assert home.encode() in written, "the store holds no condition record at all?"
    assert password.encode() not in written
