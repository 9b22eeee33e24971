"""The real clients, as they call: Ranger's deployer (plaintext gRPC, no
metadata, ids parsed as UUIDs), EXEd clients (no token), Congress's policy
form, and the servo-exec example file from the format's documentation."""

import concurrent.futures
import http.client
import json
import sqlite3
import subprocess
import time
import uuid

import grpc
import pytest

from conftest import (JOB_DONE, REPO, STEWARD_BIN, TOKEN, Api, Server, assert_error, clean_env, qs, request,
                      wait_for)

SERVO_EXAMPLE = REPO / "tests" / "e2e" / "data" / "servo-exec-example.yaml"
REPLACEMENT = "\ufffd"

# A feature whose action prints bytes that are not UTF-8, as a binary would.
BINARY_FEATURE = """\
[package]
name = "binary-feature"
version = "1.0.0"
description = "prints binary"
assets = [["noise.sh", "{prefix}/noise.sh", "0755"]]

[content]
type = "feature"

[feature]
type = "Service"
action = "{prefix}/noise.sh"
"""
NOISE_SCRIPT = "#!/bin/sh\nprintf 'before \\377\\376 after\\n'\nprintf 'err \\300\\257\\n' >&2\n"


def raw_get(addr, path):
    """The body's bytes, undecoded, as a strict client receives them."""
    conn = http.client.HTTPConnection(addr[0], addr[1], timeout=30)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {TOKEN}"})
        return conn.getresponse().read()
    finally:
        conn.close()


def uuid7(text):
    """What Ranger does with an identifier before it records any value."""
    parsed = uuid.UUID(text)
    assert str(parsed) == text, "hyphenated lower-case form"
    assert parsed.version == 7, text
    return parsed


@pytest.fixture(scope="module")
def packages(tmp_root):
    root = tmp_root / "packages"
    prefix = tmp_root / "target-files"
    folder = root / "binary-feature" / "1.0.0"
    folder.mkdir(parents=True)
    (folder / "package.toml").write_text(BINARY_FEATURE.format(prefix=prefix))
    (folder / "noise.sh").write_text(NOISE_SCRIPT)
    return root


@pytest.fixture(scope="module")
def ranger_server(tmp_root, packages):
    """A server as Ranger's operator starts it: loopback trusted for gRPC and REST."""
    srv = Server(tmp_root / "allowed", grpc=True,
                 extra_args=["--packages", str(packages), "--grpc-allow", "10.9.0.0/16,127.0.0.1/32",
                             "--http-allow", "127.0.0.0/8"]).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def ranger(ranger_server):
    from executor_client import Executor
    client = Executor(ranger_server.grpc_addr, token=None)  # Ranger sends no metadata at all
    yield client
    client.close()


# ---------------------------------------------------------------- Ranger

def test_ranger_starts_without_a_token_from_an_allowed_address(ranger):
    from executor_client import capability_pb2
    wanted = {capability_pb2.Capabilities.Feature, capability_pb2.Capabilities.Condition,
              capability_pb2.Capabilities.Inject}
    assert set(ranger.capabilities()) == wanted  # Ranger asks twice at start
    assert set(ranger.capabilities()) == wanted


def test_feature_identifier_is_a_uuid_and_binary_output_decodes(ranger):
    response = ranger.create_feature("localhost", "binary-feature")
    uuid7(response.identifier.value)
    assert len(response.identifier.value) <= 255  # Ranger's column
    assert response.stdout == f"before {REPLACEMENT}{REPLACEMENT} after\n"
    assert response.stderr == f"err {REPLACEMENT}{REPLACEMENT}\n"


def test_parallel_creates_get_distinct_uuids(ranger):
    """Ranger creates a scenario's features and injects all at once."""
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(lambda _: ranger.create_feature("localhost", "binary-feature"), range(6)))
    identifiers = [uuid7(r.identifier.value) for r in responses]
    assert len(set(identifiers)) == 6


def test_condition_identifier_parses_as_uuid_and_values_stream(ranger):
    identifier = ranger.create_condition("localhost", name="ranger-cond", command="echo 2", interval=1)
    uuid7(identifier)
    stream = ranger.stream_condition(identifier, timeout=20)
    first = next(stream)
    stream.cancel()
    uuid7(first.response)
    assert first.response == identifier
    assert first.command_return_value == 2.0  # raw, not clamped: Ranger judges [0, 1] itself


def test_grpc_refuses_unlisted_clients_naming_the_flag(tmp_root, ranger_server):
    from executor_client import Executor
    stranger = Server(tmp_root / "strict", grpc=True, extra_args=["--grpc-allow", "10.9.0.0/16"]).start()
    try:
        client = Executor(stranger.grpc_addr, token=None)
        with pytest.raises(grpc.RpcError) as refused:
            client.capabilities()
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "--grpc-allow" in refused.value.details()
        client.close()
        with_token = Executor(stranger.grpc_addr)  # the token still works from anywhere
        assert len(with_token.capabilities()) == 3
        with_token.close()
    finally:
        stranger.stop()


def test_a_bad_allow_list_stops_the_server_naming_the_flag(tmp_root):
    result = subprocess.run([STEWARD_BIN, "serve", "--http", "127.0.0.1:0", "--grpc", "off", "--data-dir",
                             str(tmp_root / "bad-allow"), "--grpc-allow", "10.0.0.0/33"],
                            capture_output=True, text=True, timeout=30, env=clean_env(STEWARD_TOKEN="x"))
    assert result.returncode == 2, result  # bad configuration: the usage exit code
    assert "--grpc-allow" in result.stderr and "10.0.0.0/33" in result.stderr


# ---------------------------------------------------------------- REST

def test_exed_client_without_token_from_an_allowed_address(ranger_server):
    resp = request(ranger_server.addr, "POST", "/ping", {"targets": ["localhost"]}, token=None)
    assert resp.status == 201, resp.body
    uuid7(resp.body["jid"])
    listed = request(ranger_server.addr, "GET", "/jobs", token=None)
    assert listed.status == 200 and resp.body["jid"] in json.dumps(listed.body)


def test_rest_without_token_elsewhere_names_the_flag(server):
    resp = request(server.addr, "GET", "/jobs", token=None)
    assert_error(resp, 401, "--http-allow")


def test_job_ids_are_time_ordered_uuids(api):
    jids = [api.submit("/ping", {"targets": ["localhost"]}) for _ in range(3)]
    assert [uuid7(j) for j in jids] == sorted(uuid7(j) for j in jids)
    assert jids == sorted(jids)
    millis = uuid7(jids[0]).int >> 80
    assert abs(millis / 1000 - time.time()) < 60


def test_binary_output_is_valid_json_everywhere(api):
    jid = api.submit("/execute", {"targets": ["localhost"], "cmd": "printf 'a\\377b'; printf '\\351t\\351' >&2"})
    job = api.wait_job(jid)
    result = job["return_data"]["localhost"]
    assert result["stdout"] == f"a{REPLACEMENT}b"
    assert result["stderr"] == f"{REPLACEMENT}t{REPLACEMENT}"
    blocking = api.get(qs("/execute", target="localhost", cmd="printf '\\377'"))
    assert blocking.status == 200
    assert blocking.body["localhost"]["stdout"] == REPLACEMENT
    events = raw_get(api.addr, f"/jobs/{jid}/events").decode("utf-8")  # strict: raises on invalid bytes
    assert f"a{REPLACEMENT}b" in json.dumps(events, ensure_ascii=False)


def test_a_character_split_between_two_writes_arrives_whole(api):
    """Live output comes in the chunks the command wrote; readers repair each
    chunk on its own, so a chunk must never end inside a character."""
    jid = api.submit("/execute", {"targets": ["localhost"],
                                  "cmd": "printf 'caf\\303'; sleep 0.5; printf '\\251 \\342\\202'; sleep 0.5; "
                                         "printf '\\254\\n'"})
    api.wait_job(jid)
    frames = raw_get(api.addr, f"/jobs/{jid}/events").decode("utf-8")
    outputs = [json.loads(line[len("data: "):]) for block in frames.split("\n\n")
               if "event: output" in block for line in block.splitlines() if line.startswith("data: ")]
    assert len(outputs) >= 2, frames  # the writes really arrived apart
    assert "".join(o["data"] for o in outputs) == "caf\u00e9 \u20ac\n"


def test_old_ids_in_an_existing_store_keep_working(tmp_root):
    data = tmp_root / "old-store"
    srv = Server(data).start()
    srv.stop()
    old = "20251126101010123456"
    with sqlite3.connect(data / "steward.db") as db:
        db.execute("INSERT INTO jobs(jid, state, error, startat, finishat, operate, operate_args, targets) "
                   "VALUES (?, 0, '', ?, ?, 'ping', '{}', '[\"localhost\"]')",
                   (old, time.time() - 3600, time.time() - 3599))
        db.execute("INSERT INTO runs(jid, target, position, phase, status, rtc, signal, stdout, stderr, "
                   "stdout_truncated, stderr_truncated, facts, error, startat, finishat, queue_wait) "
                   "VALUES (?, 'localhost', 0, 2, 1, NULL, NULL, x'', x'', 0, 0, '', '', ?, ?, 0)",
                   (old, time.time() - 3600, time.time() - 3599))
    srv = Server(data).start()
    try:
        api = Api(srv)
        new = api.submit("/ping", {"targets": ["localhost"]})
        api.wait_job(new)
        job = api.job(old)
        assert job["jid"] == old and job["state"] == JOB_DONE
        listed = api.get("/jobs").body
        assert listed.index(new) < listed.index(old)  # newest first across both id formats
        assert api.delete(f"/jobs/{old}").status == 204
    finally:
        srv.stop()


# ---------------------------------------------------------------- Congress

def test_congress_policy_form_routes_by_name_and_records_the_policy(api):
    resp = api.post("/v1/policies/classification?action=execute",
                    {"name": "steward:ping", "args": [], "options": {"targets": "localhost"}})
    assert resp.status == 202, resp.body
    action_id = resp.body["id"]
    record = wait_for(lambda: (lambda r: r if r["state"] in ("succeeded", "failed") else None)(
        api.get(f"/v1/actions/{action_id}").body), timeout=30, what="the action to end")
    assert record["state"] == "succeeded", record
    assert record["policy"] == "classification"
    assert record["name"] == "steward:ping"


def test_congress_policy_form_errors(api):
    assert_error(api.post("/v1/policies/p?action=simulate", {"name": "steward:ping"}), 400, "?action=execute")
    assert_error(api.post("/v1/policies/p?action=execute", {"name": "nosuch:thing"}), 404, "no service 'nosuch'")


# ---------------------------------------------------------------- servo-exec

def test_servo_exec_documented_example_is_accepted(tmp_root):
    assert "876" in SERVO_EXAMPLE.read_text()
    check = subprocess.run([STEWARD_BIN, "tasks", "check", str(SERVO_EXAMPLE)], capture_output=True, text=True,
                           timeout=30, env=clean_env())
    assert check.returncode == 0, check.stdout + check.stderr
    srv = Server(tmp_root / "servo", extra_args=["--tasks", str(SERVO_EXAMPLE)]).start()
    try:
        pipelines = Api(srv).get("/tasks").body
        assert '"default"' in json.dumps(pipelines)  # the example's stages form the pipeline "default"
    finally:
        srv.stop()
