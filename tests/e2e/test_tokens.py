"""Named API tokens with roles (read, operate, admin), managed with the real
CLI (`steward tokens add | ls | revoke`) on a running server, and enforced by
REST (403 naming the missing role and the token) and gRPC (PERMISSION_DENIED).
"""

import hashlib
import json
import re
import subprocess

import grpc
import pytest

from conftest import (STEWARD_BIN, TOKEN, Api, Server, assert_error, clean_env, qs, request,
                      require_binary)
from deputy_packages import assert_rpc_error, rpc_error
from executor_client import Executor

Code = grpc.StatusCode
HEX_TOKEN = re.compile(r"[0-9a-f]{64}")


SERVER_OPTIONS = {"grpc": True}


@pytest.fixture(scope="module")
def cli(server, tmp_root):
    """cli(*args, token=...) -> CompletedProcess of the real CLI against `server`."""
    require_binary()
    workdir = tmp_root / "cwd"
    workdir.mkdir(exist_ok=True)

    def run(*args, token=TOKEN, data_dir=None, target=None):
        env = {"STEWARD_SERVER": (target or server).url, "STEWARD_TOKEN": token}
        argv = [STEWARD_BIN, *args] + (["--data-dir", str(data_dir)] if data_dir else [])
        return subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=workdir,
                              timeout=30, env=clean_env(**env))
    return run


def ok(p):
    assert p.returncode == 0, f"{p.args} exited {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    return p


def refused(p, *words):
    """A command the server refused: exit 1 (not bad usage, not a crash), the reason on stderr."""
    assert p.returncode == 1, f"{p.args} exited {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    for word in words:
        assert word in p.stderr, f"{word!r} not in {p.stderr!r}"
    return p


def add_token(cli, name, role, **kw):
    """`steward tokens add` (kw: cli's); stdout is the token and nothing else."""
    p = ok(cli("tokens", "add", name, "--role", role, **kw))
    value = p.stdout.strip()
    assert HEX_TOKEN.fullmatch(value), f"stdout is not just a token: {p.stdout!r}"
    assert value not in p.stderr
    return value


@pytest.fixture(scope="module")
def tokens(cli):
    return {role: add_token(cli, f"{role}-bot", role) for role in ("read", "operate", "admin")}


# ---------------------------------------------------------------- REST and CLI

def test_ls_shows_names_and_roles_never_tokens(cli, tokens):
    p = ok(cli("tokens", "ls"))
    for role in ("read", "operate", "admin"):
        assert re.search(rf"^{role}-bot\s+{role}\s+\d{{4}}-\d\d-\d\d", p.stdout, re.M), p.stdout
    assert re.search(r"^default\s+admin\s+\(server token\)", p.stdout, re.M), p.stdout
    listed = json.loads(ok(cli("tokens", "ls", "--json")).stdout)
    assert {entry["name"]: entry["role"] for entry in listed} == {
        "default": "admin", "read-bot": "read", "operate-bot": "operate", "admin-bot": "admin"}
    for entry in listed:
        assert set(entry) == {"name", "role", "created", "last_used", "server_token"}, entry
    for text in (p.stdout + p.stderr, json.dumps(listed)):
        for value in list(tokens.values()) + [TOKEN]:
            assert value not in text


def test_read_token_gets_but_cannot_run(server, cli, tokens):
    reader = Api(server, tokens["read"])
    assert reader.get("/jobs").status == 200
    assert reader.get("/v1/jobs").status == 200
    assert reader.get("/target").status == 200
    r = reader.post("/execute", {"targets": ["localhost"], "cmd": "true"})
    msg = assert_error(r, 403, "operate")
    assert "'read-bot'" in msg and "POST /execute" in msg, msg
    # EXEd's blocking GET runs the command: it needs operate too.
    assert_error(reader.get(qs("/execute", target="localhost", cmd="true")), 403, "operate")
    assert_error(reader.get(qs("/ping", target="localhost")), 403, "operate")
    assert_error(reader.post("/tasks", {"jid": "x"}), 403, "operate")
    refused(cli("run", "localhost", "--", "true", token=tokens["read"]), "operate", "read-bot")
    # It reads the jobs others ran.
    jid = Api(server, tokens["operate"]).submit("/execute", {"targets": ["localhost"], "cmd": "echo hi"})
    assert reader.get(f"/jobs/{jid}").status == 200
    assert_error(reader.delete(f"/jobs/{jid}"), 403, "operate")


def test_operate_runs_work_but_cannot_manage_tokens(server, cli, tokens):
    operator = Api(server, tokens["operate"])
    job = operator.run("/execute", {"targets": ["localhost"], "cmd": "echo operated"})
    assert job["return_data"]["localhost"]["stdout"].strip() == "operated", job
    refused(cli("tokens", "add", "sneaky", "--role", "admin", token=tokens["operate"]), "admin", "operate-bot")
    refused(cli("tokens", "ls", token=tokens["operate"]), "admin")
    refused(cli("tokens", "revoke", "read-bot", token=tokens["operate"]), "admin")
    assert_error(operator.get("/tokens"), 403, "admin")
    assert "sneaky" not in json.dumps(Api(server).get("/tokens").body)
    assert Api(server, tokens["read"]).get("/jobs").status == 200, "the revoke was refused"


def test_admin_token_manages_tokens(cli, tokens):
    made = add_token(cli, "made-by-admin-bot", "read", token=tokens["admin"])
    assert made not in ok(cli("tokens", "ls", token=tokens["admin"])).stdout
    ok(cli("tokens", "revoke", "made-by-admin-bot", token=tokens["admin"]))


def test_revoke_refuses_the_token_at_once_on_the_running_server(server, cli):
    value = add_token(cli, "short-lived", "operate")
    assert request(server.addr, "GET", "/jobs", token=value).status == 200
    ok(cli("tokens", "revoke", "short-lived"))
    assert_error(request(server.addr, "GET", "/jobs", token=value), 401)
    assert "short-lived" not in ok(cli("tokens", "ls")).stdout
    refused(cli("tokens", "revoke", "short-lived"), "short-lived")  # 404: no such token


def test_bad_requests(server, cli):
    api = Api(server)
    assert_error(api.post("/tokens", {"name": "x", "role": "root"}), 400, "read, operate or admin")
    assert_error(api.post("/tokens", {"name": "a/b", "role": "read"}), 400, "token name")
    assert_error(api.post("/tokens", {"name": "default", "role": "read"}), 409, "server token")
    assert_error(api.delete("/tokens/default"), 400, "STEWARD_TOKEN")
    add_token(cli, "twice", "read")
    assert_error(api.post("/tokens", {"name": "twice", "role": "admin"}), 409, "twice")
    p = cli("tokens", "add", "x", "--role", "root")
    assert p.returncode == 2 and "root" in p.stderr, p  # the CLI refuses it itself
    assert_error(request(server.addr, "GET", "/tokens", token="not-a-token"), 401)
    assert_error(request(server.addr, "GET", "/tokens", token=None), 401)


def test_tokens_are_hashed_at_rest_and_never_logged(server, cli):
    value = add_token(cli, "at-rest", "read")
    assert request(server.addr, "GET", "/jobs", token=value).status == 200
    digest = hashlib.sha256(value.encode()).hexdigest().encode()
    files = [p for p in server.data_dir.iterdir() if p.is_file()]
    assert any(p.name.startswith("steward.db") for p in files), files
    blobs = b"".join(p.read_bytes() for p in files)
    assert value.encode() not in blobs, "the token is in the data dir"
    assert digest in blobs, "the token's hash is not where the test looks"
    log = server.log_path.read_bytes()
    assert value.encode() not in log
    assert b"at-rest" in log, "adding a token is logged by name"


# ---------------------------------------------------------------- gRPC

def test_grpc_uses_the_same_tokens_and_roles(server, cli, tokens):
    reader = Executor(server.grpc_addr, token=tokens["read"])
    operator = Executor(server.grpc_addr, token=tokens["operate"])
    try:
        assert reader.capabilities(), "capabilities are read"
        error = rpc_error(reader.create_feature, "localhost", "no-such-package")
        assert_rpc_error(error, Code.PERMISSION_DENIED, "operate", "read-bot", "/FeatureService/create")
        assert_rpc_error(rpc_error(reader.delete_condition, "x"), Code.PERMISSION_DENIED, "operate")
        # Past the role check, the request itself is judged.
        assert_rpc_error(rpc_error(operator.create_feature, "localhost", "no-such-package"), Code.NOT_FOUND)
    finally:
        reader.close()
        operator.close()
    value = add_token(cli, "grpc-revoked", "operate")
    client = Executor(server.grpc_addr, token=value)
    try:
        assert client.capabilities()
        ok(cli("tokens", "revoke", "grpc-revoked"))
        assert_rpc_error(rpc_error(client.capabilities), Code.UNAUTHENTICATED)
    finally:
        client.close()


# ---------------------------------------------------------------- the server token, restarts, allow lists

def test_token_file_is_admin_and_tokens_survive_a_restart(tmp_root, cli):
    srv = Server(tmp_root / "filetoken", token=None).start()  # no STEWARD_TOKEN: <data-dir>/token
    try:
        as_owner = {"token": None, "data_dir": srv.data_dir, "target": srv}  # the CLI reads the token file
        assert "default" in ok(cli("tokens", "ls", **as_owner)).stdout
        kept = add_token(cli, "kept", "read", **as_owner)
        srv.stop()
        srv.start()
        assert request(srv.addr, "GET", "/jobs", token=kept).status == 200
        assert_error(request(srv.addr, "POST", "/execute", {"targets": "localhost", "cmd": "true"}, token=kept),
                     403, "kept")
    finally:
        srv.stop()


def test_allow_listed_clients_operate_but_do_not_administer(tmp_root):
    srv = Server(tmp_root / "allowed", extra_args=["--http-allow", "127.0.0.0/8"]).start()
    try:
        jid = Api(srv, token=None).submit("/execute", {"targets": ["localhost"], "cmd": "true"})
        assert request(srv.addr, "GET", f"/jobs/{jid}", token=None).status == 200
        msg = assert_error(request(srv.addr, "GET", "/tokens", token=None), 403, "admin")
        assert "--http-allow" in msg, msg
        # A token still counts from an allowed address: the admin token administers.
        assert request(srv.addr, "GET", "/tokens").status == 200
    finally:
        srv.stop()
