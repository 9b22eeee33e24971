"""The audit trail: every state-changing REST request and gRPC call appends
one entry (who, peer, action, targets, subject, time, outcome) to the store,
which GET /audit lists with filters, and one JSON line to <data-dir>/audit.jsonl
(--audit-log). Secrets in request bodies are never recorded.
"""

import json
import sqlite3
import time

import grpc
import pytest

from conftest import Api, Server, qs, assert_error, wait_for
from executor_client import Executor, common_pb2

PASSWORD = "hunter2-very-secret-password"
PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUtest\n-----END OPENSSH PRIVATE KEY-----"
BODY_TOKEN = "tok-3f9a2c71e5d84b06"
GRPC_PASSWORD = "grpc-pass-7c1d9e"
ENTRY_KEYS = {"at", "who", "peer", "api", "action", "path", "targets", "subject", "status", "error"}


SERVER_OPTIONS = {"grpc": True}


@pytest.fixture(scope="module")
def admin(server):
    return Api(server)


@pytest.fixture(scope="module")
def bot(admin):
    """An operate token named ci-bot, and a client using it."""
    r = admin.post("/tokens", {"name": "ci-bot", "role": "operate"})
    assert r.status == 201, r.body
    return Api(admin.server, r.body["token"])


def audit(api, **filters):
    r = api.get(qs("/audit", **filters))
    assert r.status == 200, r.body
    return r.body["entries"]


def file_lines(server):
    path = server.data_dir / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def wait_entry(api, what, match=lambda entry: True, **filters):
    """The entries the filters select, once one of them matches (writes to the store are not awaited)."""
    return wait_for(lambda: [e for e in audit(api, **filters) if match(e)], timeout=10, what=what)


def test_a_job_submitted_with_a_named_token_is_recorded(admin, bot):
    before = time.time()
    jid = bot.submit("/execute", {"targets": ["web1", "web2"], "cmd": "true"})
    entries = wait_entry(admin, "the job's entry", who="ci-bot", action="POST /execute")
    entry = entries[0]
    assert set(entry) == ENTRY_KEYS
    assert entry["api"] == "rest"
    assert entry["path"] == "/execute"
    assert entry["targets"] == ["web1", "web2"]
    assert entry["subject"] == jid
    assert entry["status"] == 201 and entry["error"] == ""
    assert entry["peer"] == "127.0.0.1"
    assert before - 1 <= entry["at"] <= time.time() + 1
    # The admin's own POST /tokens that made ci-bot was recorded as the default token's.
    assert audit(admin, who="default", action="POST /tokens")


def test_a_cancel_records_the_route_pattern_and_the_job(admin, bot):
    jid = bot.submit("/execute", {"targets": ["localhost"], "cmd": "sleep 30"})
    r = bot.post(f"/jobs/{jid}/cancel")
    assert r.status in (200, 202, 204), r.body
    entry = wait_entry(admin, "the cancel", action="POST /jobs/:jid/cancel")[0]
    assert entry["path"] == f"/jobs/{jid}/cancel"
    assert entry["subject"] == jid
    assert entry["who"] == "ci-bot"
    assert entry["status"] == r.status


def test_failing_requests_record_status_and_message(admin, bot):
    missing = "01900000-0000-7000-8000-000000000000"
    r = bot.delete(f"/jobs/{missing}")
    message = assert_error(r, 404)
    entry = wait_entry(admin, "the 404", action="DELETE /jobs/:jid")[0]
    assert entry["path"] == f"/jobs/{missing}" and entry["subject"] == missing
    assert entry["status"] == 404 and entry["error"] == message

    assert_error(bot.post("/execute", {"cmd": "true"}), 400)
    bad = wait_entry(admin, "the 400", lambda e: e["status"] == 400, action="POST /execute", who="ci-bot")[0]
    assert bad["status"] == 400 and "targets" in bad["error"] and bad["targets"] == []

    # Refused before any handler: no token (401) and a role too low (403).
    assert_error(admin.post("/execute", {"targets": ["web1"], "cmd": "true"}, token="wrong"), 401)
    refused = wait_entry(admin, "the 401", who="anonymous", action="POST /execute")[0]
    assert refused["status"] == 401 and refused["targets"] == ["web1"]
    assert_error(bot.post("/tokens", {"name": "x", "role": "read"}), 403)
    assert wait_entry(admin, "the 403", who="ci-bot", action="POST /tokens")[0]["status"] == 403


def test_reads_are_not_recorded(admin, bot):
    bot.get("/jobs")
    bot.get("/targets")
    time.sleep(0.3)
    assert not audit(admin, action="GET /jobs")
    assert not audit(admin, action="GET /targets")


def test_grpc_calls_are_recorded(server, admin):
    executor = Executor(server.grpc_addr)
    try:
        identifier = executor.create_condition("localhost", name="audited", command="echo 1", interval=60)
        executor.delete_condition(identifier)
        account = common_pb2.Account(username="root", password=GRPC_PASSWORD, private_key=PRIVATE_KEY)
        with pytest.raises(grpc.RpcError) as failed:
            executor.create_feature("web1", "no-such-package", account=account)
        assert executor.capabilities()
    finally:
        executor.close()

    created = wait_entry(admin, "the condition's creation", action="/ConditionService/create")[0]
    assert created["api"] == "grpc" and created["who"] == "default"
    assert created["targets"] == ["localhost"] and created["subject"] == identifier
    assert created["status"] == 0 and created["error"] == "" and created["path"] == ""
    assert created["peer"].startswith("127.0.0.1:")
    deleted = wait_entry(admin, "the condition's deletion", action="/ConditionService/delete")[0]
    assert deleted["subject"] == identifier and deleted["status"] == 0
    feature = wait_entry(admin, "the failed feature", action="/FeatureService/create")[0]
    assert feature["status"] == failed.value.code().value[0] and feature["status"] != 0
    assert feature["error"] == failed.value.details() and feature["targets"] == ["web1"]
    assert not audit(admin, action="/Capability/GetCapabilities"), "capabilities change nothing"


def test_filters(admin, bot):
    bot.submit("/ping", {"targets": ["web2"]})
    wait_entry(admin, "the ping", action="POST /ping")
    everything = audit(admin, limit=1000)
    times = [e["at"] for e in everything]
    assert times == sorted(times, reverse=True), "newest first"

    assert {e["who"] for e in audit(admin, who="ci-bot")} == {"ci-bot"}
    by_target = audit(admin, target="web2")
    assert by_target and all("web2" in e["targets"] for e in by_target)
    assert {e["action"] for e in audit(admin, action="POST /ping")} == {"POST /ping"}
    assert len(audit(admin, limit=2)) == 2
    middle = everything[len(everything) // 2]["at"]
    assert all(e["at"] >= middle for e in audit(admin, since=middle, limit=1000))
    assert all(e["at"] <= middle for e in audit(admin, until=middle, limit=1000))
    assert audit(admin, since=time.time() + 3600) == []

    for bad in ({"limit": 0}, {"limit": 1001}, {"limit": "ten"}, {"since": "yesterday"}, {"until": "nan"},
                {"who": ""}):
        assert_error(admin.get(qs("/audit", **bad)), 400, next(iter(bad)))
    assert_error(bot.get("/audit"), 403, "admin")


def test_the_file_has_one_json_line_per_entry(server, admin):
    stored = audit(admin, limit=1000)
    lines = wait_for(lambda: (lambda got: got if len(got) >= len(stored) else None)(file_lines(server)),
                     what="every entry in audit.jsonl")
    assert all(set(line) == ENTRY_KEYS for line in lines)
    assert (server.data_dir / "audit.jsonl").stat().st_mode & 0o777 == 0o600
    key = lambda e: (e["at"], e["action"], e["path"], e["status"])
    assert {key(e) for e in stored} <= {key(line) for line in lines}


def test_secrets_are_never_recorded(server, admin, bot):
    body = {"targets": ["localhost"], "cmd": "true", "password": PASSWORD, "private_key": PRIVATE_KEY,
            "token": BODY_TOKEN, "extra_vars": {"ansible_password": PASSWORD}}
    bot.post("/execute", body)
    bot.post("/deploy", body)
    r = admin.post("/tokens", {"name": "shown-once", "role": "read"})
    issued = r.body["token"]
    wait_entry(admin, "the deploy", action="POST /deploy")
    wait_for(lambda: any(line["action"] == "POST /deploy" for line in file_lines(server)), what="the file")
    listed = json.dumps(admin.get("/audit?limit=1000").body)
    written = (server.data_dir / "audit.jsonl").read_text()
    for secret in (PASSWORD, "BEGIN OPENSSH", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUtest", BODY_TOKEN, GRPC_PASSWORD,
                   issued, bot.token):
        assert secret not in listed, f"{secret!r} in GET /audit"
        assert secret not in written, f"{secret!r} in audit.jsonl"


def test_audit_log_path_and_off(tmp_root):
    path = tmp_root / "elsewhere.jsonl"
    moved = Server(tmp_root / "moved", extra_args=["--audit-log", str(path)]).start()
    off = Server(tmp_root / "off", extra_args=["--audit-log", "off"]).start()
    try:
        for srv in (moved, off):
            Api(srv).submit("/ping", {"targets": ["localhost"]})
            wait_entry(Api(srv), "the ping in the store", action="POST /ping")
        wait_for(lambda: path.exists() and "POST /ping" in path.read_text(), what="the moved file")
        assert not (tmp_root / "moved" / "audit.jsonl").exists()
        assert not (tmp_root / "off" / "audit.jsonl").exists()
    finally:
        moved.stop()
        off.stop()


def test_entries_older_than_audit_days_are_pruned_from_the_store(tmp_root):
    data = tmp_root / "pruned"
    srv = Server(data).start()
    try:
        Api(srv).submit("/ping", {"targets": ["localhost"]})
        wait_entry(Api(srv), "the ping in the store", action="POST /ping")
    finally:
        srv.stop()
    with sqlite3.connect(data / "steward.db") as db:  # the ping was made two days ago
        assert db.execute("UPDATE audit SET at = at - 2 * 86400 WHERE action = 'POST /ping'").rowcount == 1

    kept = Server(data, extra_args=["--log-level", "debug"]).start()  # the default keeps 90 days
    try:
        wait_for(lambda: "pruned 0 audit entries" in kept.log_path.read_text(), what="the first prune")
        assert audit(Api(kept), action="POST /ping")
    finally:
        kept.stop()
    pruned = Server(data, extra_args=["--audit-days", "1"]).start()
    try:
        wait_for(lambda: not audit(Api(pruned), action="POST /ping"), timeout=10, what="the old entry pruned")
        assert len(file_lines(pruned)) >= 1, "the file is never cut"
    finally:
        pruned.stop()
