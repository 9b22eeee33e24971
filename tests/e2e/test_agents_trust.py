"""Agent identity and trust (issue 13) on a running server: the agent CA in the
data dir, `steward agents join-command | ls | approve | revoke` with the real
CLI and the REST routes behind them, roles, and input checks. Enrolment over
the wire is tested with the agent listener (test_agents_*.py)."""

import base64
import hashlib
import json
import re
import sqlite3
import stat
import subprocess
import time

import pytest

from conftest import STEWARD_BIN, TOKEN, Api, Server, assert_error, clean_env, request, require_binary, serve_help

JOIN_LINE = re.compile(r"steward agent --server (\S+) --join ([0-9a-f]{64}) --ca-pin (sha256:[0-9a-f]{64})")
PENDING_ID = "agent-00000000000000aa"


def pending_record(agent_id, hostname):
    return {"id": agent_id, "hostname": hostname, "labels": {"zone": "a"}, "state": "pending",
            "public_key_sha256": hashlib.sha256(agent_id.encode()).hexdigest(), "certificate_fingerprint": "",
            "certificate_pem": "", "certificate_expires_at": 0, "enrolled_at": 0, "enrolled_by": "",
            "requested_at": time.time(), "revoked_at": 0, "revoked_by": "", "version": "0.9",
            "address": "192.0.2.10:40000"}


def agent_listener_args():
    """The agent listener on an ephemeral port, where this build has one."""
    return ["--agent-listen", "127.0.0.1:0"] if "--agent-listen" in serve_help() else []


def add_pending_agents(data_dir, *agents):
    """Agents waiting for approval, written as the server's Enrol writes them (the listener is tested elsewhere)."""
    db = sqlite3.connect(data_dir / "steward.db")
    with db:
        for agent_id, hostname in agents:
            db.execute("INSERT INTO records(kind, id, body, created) VALUES('agent', ?, ?, "
                       "(SELECT COALESCE(MAX(created), 0) + 1 FROM records))",
                       (agent_id, json.dumps(pending_record(agent_id, hostname))))
    db.close()


@pytest.fixture(scope="module")
def server(tmp_root):
    srv = Server(tmp_root / "data", extra_args=agent_listener_args()).start()
    srv.stop()  # the first start made the store and the CA
    add_pending_agents(srv.data_dir, (PENDING_ID, "pending-box"), ("agent-00000000000000bb", "second-box"),
                       ("agent-00000000000000cc", "third-box"))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def cli(server, tmp_root):
    require_binary()
    workdir = tmp_root / "cwd"
    workdir.mkdir(exist_ok=True)

    def run(*args, token=TOKEN):
        return subprocess.run([STEWARD_BIN, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              cwd=workdir, timeout=30, env=clean_env(STEWARD_SERVER=server.url, STEWARD_TOKEN=token))
    return run


@pytest.fixture(scope="module")
def roles(cli):
    tokens = {}
    for role in ("read", "operate"):
        p = cli("tokens", "add", f"{role}-bot", "--role", role)
        assert p.returncode == 0, p.stderr
        tokens[role] = p.stdout.strip()
    return tokens


def ok(p):
    assert p.returncode == 0, f"{p.args} exited {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    return p


def failed(p, code, *words):
    assert p.returncode == code, f"{p.args} exited {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    for word in words:
        assert word in p.stderr, f"{word!r} not in {p.stderr!r}"
    return p


def ca_pin_of(data_dir):
    pem = (data_dir / "agent-ca" / "ca.pem").read_text()
    body = "".join(line for line in pem.splitlines() if line and not line.startswith("-----"))
    return "sha256:" + hashlib.sha256(base64.b64decode(body)).hexdigest()


def stored_bodies(data_dir, kind):
    db = sqlite3.connect(data_dir / "steward.db")
    try:
        return [row[0] for row in db.execute("SELECT body FROM records WHERE kind = ?", (kind,))]
    finally:
        db.close()


# ---------------------------------------------------------------- the CA

def test_the_first_start_makes_a_private_agent_ca(server):
    ca = server.data_dir / "agent-ca"
    assert stat.S_IMODE(ca.stat().st_mode) == 0o700
    assert stat.S_IMODE((ca / "ca.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((ca / "server.key").stat().st_mode) == 0o600
    assert "BEGIN CERTIFICATE" in (ca / "ca.pem").read_text()
    key_body = "".join(l for l in (ca / "ca.key").read_text().splitlines() if not l.startswith("-----"))
    assert key_body[:40] not in server.log_path.read_text()


def test_a_corrupt_ca_key_stops_the_start_naming_the_file(tmp_root):
    srv = Server(tmp_root / "corrupt", extra_args=agent_listener_args()).start()
    srv.stop()
    key = srv.data_dir / "agent-ca" / "ca.key"
    pem = (srv.data_dir / "agent-ca" / "ca.pem").read_text()
    key.write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    p = subprocess.run(srv.argv(), capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30,
                       env=clean_env(STEWARD_TOKEN=TOKEN))
    assert p.returncode != 0
    assert str(key) in p.stdout + p.stderr, p.stdout + p.stderr
    assert (srv.data_dir / "agent-ca" / "ca.pem").read_text() == pem, "an existing CA is never replaced"


# ---------------------------------------------------------------- join-command

def test_join_command_prints_exactly_one_runnable_line(server, cli):
    p = ok(cli("agents", "join-command", "--agent-server", "10.1.2.3:7443", "--name", "rack-1"))
    lines = p.stdout.splitlines()
    assert len(lines) == 1, p.stdout
    m = JOIN_LINE.fullmatch(lines[0])
    assert m, lines[0]
    assert m.group(1) == "10.1.2.3:7443"
    assert m.group(3) == ca_pin_of(server.data_dir)
    token = m.group(2)
    assert "rack-1" in p.stderr and token not in p.stderr
    assert token not in server.log_path.read_text()
    assert all(token not in body for body in stored_bodies(server.data_dir, "agent_join"))
    assert any('"rack-1"' in body for body in stored_bodies(server.data_dir, "agent_join"))


def test_join_command_defaults_to_the_published_listener(server, cli):
    published = server.data_dir / "agent.addr"
    p = cli("agents", "join-command", "--one-shot")
    if not published.exists():
        failed(p, 1, "--agent-server", "--agent-listen")
        assert p.stdout == ""
        return
    m = JOIN_LINE.fullmatch(ok(p).stdout.strip())
    assert m and m.group(1).endswith(":" + published.read_text().strip().rsplit(":", 1)[1]), p.stdout


def test_join_token_reply_over_rest(server):
    before = time.time()
    r = Api(server).post("/agents/join-tokens", {"ttl": 3600, "one_shot": True, "name": "once"})
    assert r.status == 201, r.body
    body = r.body
    assert set(body) == {"name", "token", "expires_at", "one_shot", "ca_pin", "agent_address", "command"}, body
    assert body["name"] == "once" and body["one_shot"] is True
    assert before + 3600 - 5 <= body["expires_at"] <= time.time() + 3600 + 5
    assert body["ca_pin"] == ca_pin_of(server.data_dir)
    assert body["token"] in body["command"] and body["command"].startswith("steward agent --server ")
    default = Api(server).post("/agents/join-tokens", "")
    assert default.status == 201, default.body
    assert default.body["one_shot"] is False
    assert abs(default.body["expires_at"] - (time.time() + 86400)) < 10, "24 hours by default"
    assert default.body["name"].startswith("join-")


@pytest.mark.parametrize("ttl", ["0", "abc", "400d", "-5", "1w"])
def test_bad_ttls_are_bad_usage(cli, ttl):
    failed(cli("agents", "join-command", "--agent-server", "h:1", "--ttl", ttl), 2, "ttl")


@pytest.mark.parametrize("body", [{"ttl": -5}, {"ttl": 0}, {"ttl": "1w"}, {"ttl": 1.5}, {"ttl": True},
                                  {"one_shot": "yes"}, {"name": 7}, {"bogus": 1}, {"name": "bad name"}, [1]])
def test_bad_join_token_requests_are_400(server, body):
    assert_error(Api(server).post("/agents/join-tokens", body), 400)


def test_a_taken_join_token_name_is_a_conflict(server):
    assert Api(server).post("/agents/join-tokens", {"name": "twice"}).status == 201
    assert_error(Api(server).post("/agents/join-tokens", {"name": "twice"}), 409, "twice")


# ---------------------------------------------------------------- roles

def test_a_read_token_lists_but_cannot_let_agents_in(server, cli, roles):
    reader, operator = Api(server, roles["read"]), Api(server, roles["operate"])
    assert reader.get("/agents").status == 200
    for api in (reader, operator):
        assert_error(api.post("/agents/join-tokens", {}), 403, "admin")
        assert_error(api.post(f"/agents/{PENDING_ID}/approve"), 403, "admin")
        assert_error(api.post(f"/agents/{PENDING_ID}/revoke"), 403, "admin")
    failed(cli("agents", "join-command", "--agent-server", "h:1", token=roles["read"]), 1, "admin")
    failed(cli("agents", "approve", PENDING_ID, token=roles["operate"]), 1, "admin")
    assert_error(request(server.addr, "GET", "/agents", token=None), 401)
    listed = Api(server).get("/agents").body
    assert next(a for a in listed if a["id"] == PENDING_ID)["state"] == "pending", "the refusals changed nothing"


# ---------------------------------------------------------------- ls, approve, revoke

def test_ls_shows_agents_waiting_for_approval(cli):
    p = ok(cli("agents", "ls"))
    assert re.search(rf"^{PENDING_ID}\s+pending-box\s+pending\s+-\s+-\s+192\.0\.2\.10:40000\s+0\.9$", p.stdout,
                     re.M), p.stdout
    listed = json.loads(ok(cli("agents", "ls", "--json")).stdout)
    agent = next(a for a in listed if a["id"] == PENDING_ID)
    assert set(agent) == {"id", "hostname", "state", "labels", "connected", "connected_since", "last_seen",
                          "address", "version", "enrolled_at", "enrolled_by", "certificate_fingerprint"}, agent
    assert agent["labels"] == {"zone": "a"}
    assert agent["connected"] is False and agent["connected_since"] is None and agent["enrolled_at"] is None


def test_approve_then_revoke(server, cli):
    agent_id = "agent-00000000000000bb"
    p = ok(cli("agents", "approve", agent_id))
    assert agent_id in p.stderr and "approved" in p.stderr
    agent = next(a for a in Api(server).get("/agents").body if a["id"] == agent_id)
    assert agent["state"] == "approved" and agent["enrolled_by"] == "approved by default", agent
    assert abs(agent["enrolled_at"] - time.time()) < 30
    ok(cli("agents", "approve", agent_id))  # again: no change, no error
    r = Api(server).post(f"/agents/{agent_id}/revoke")
    assert r.status == 200 and r.body["state"] == "revoked", r.body
    failed(cli("agents", "approve", agent_id), 1, "revoked")
    ok(cli("agents", "revoke", agent_id))  # again: no error


def test_unknown_agents_are_404(server, cli):
    for action in ("approve", "revoke"):
        assert_error(Api(server).post(f"/agents/agent-ffffffffffffffff/{action}"), 404, "agent-ffffffffffffffff")
        failed(cli("agents", action, "agent-ffffffffffffffff"), 1, "no agent")


def test_the_directory_and_the_ca_survive_a_restart(server, cli):
    pin = ca_pin_of(server.data_dir)
    ok(cli("agents", "revoke", "agent-00000000000000cc"))
    server.stop()
    server.start()
    states = {a["id"]: a["state"] for a in Api(server).get("/agents").body}
    assert states["agent-00000000000000cc"] == "revoked"
    assert states[PENDING_ID] == "pending"
    assert ca_pin_of(server.data_dir) == pin
    m = JOIN_LINE.fullmatch(ok(cli("agents", "join-command", "--agent-server", "h:1")).stdout.strip())
    assert m and m.group(3) == pin
