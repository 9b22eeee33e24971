"""EXEd's HTTP clients against the real server, unchanged: how they spell
query booleans, GET /jobs listing every job, follow mode read as a stream of
concatenated JSON documents, `taskid` and /task, and Ansible's fact names
(EXEd's executor was Ansible) checked against this machine's real values.

Requests are raw http.client calls shaped like an EXEd client's.
"""

import http.client
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import time

import pytest

from conftest import (JOB_DONE, JOB_RUNNING, OP_CHANGED, OP_FAILED, OP_OK, Api, Server, assert_error, qs,
                      wait_for)
from openapi_check import openapi

SPELLINGS = "1/true/yes or 0/false/no"
TRUE_SPELLINGS = ["1", "True", "true", "TRUE", "yes", "Yes"]
FALSE_SPELLINGS = ["0", "False", "false", "FALSE", "no", "No"]
NO_SVC = "steward-exed-compat-no-such-service"


@pytest.fixture(scope="module")
def task_file(tmp_root):
    path = tmp_root / "tasks.yaml"
    path.write_text("""
pipelines:
  hello:
    start:
      - name: say hello
        shell_exec: echo hello
  restart-web:
    start:
      - name: noop
        shell_exec: "true"
""")
    return path


@pytest.fixture(scope="module")
def server(tmp_root, task_file):
    srv = Server(tmp_root / "data", extra_args=["--tasks", str(task_file)]).start()
    yield srv
    assert srv.stop() == 0, srv.log_tail()


@pytest.fixture(scope="module")
def api(server):
    return Api(server)


# ---------------------------------------------------------------- follow reader

class FollowReader:
    """Reads GET /jobs/JID?follow=1 as EXEd's clients do: the raw body,
    chunk by chunk as it arrives, decoded with a streaming JSON decoder over
    the accumulated buffer. Records when each document arrived and whether a
    newline followed it (so line-based NDJSON readers work too)."""

    def __init__(self, addr, path, token, timeout=30):
        self.conn = http.client.HTTPConnection(addr[0], addr[1], timeout=timeout)
        self.t0 = time.monotonic()
        self.conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        headers = {k.lower(): v for k, v in self.resp.getheaders()}
        self.items = openapi().check("GET", path, self.status, headers, None, has_body=False)
        self.raw = b""
        self._text = ""
        self._decoder = json.JSONDecoder()

    def documents(self):
        """Yield (seconds since the request, document) as each one completes."""
        while True:
            data = self.resp.read1(65536)
            if not data:
                break
            self.raw += data
            self._text += data.decode()
            while True:
                self._text = self._text.lstrip(" \t\r")
                try:
                    document, end = self._decoder.raw_decode(self._text)
                except json.JSONDecodeError:
                    break  # incomplete: wait for more bytes
                if end == len(self._text):
                    break  # complete, but its newline has not arrived yet
                assert self._text[end] == "\n", f"document not followed by a newline: {self._text[:end + 10]!r}"
                self._text = self._text[end + 1:]
                self.items.line(document)
                yield time.monotonic() - self.t0, document
        assert not self._text.strip(), f"the stream ended without a newline after: {self._text!r}"

    def ndjson_lines(self):
        """The whole body read the other way: one JSON document per line."""
        return [json.loads(line) for line in self.raw.decode().splitlines() if line.strip()]

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def follow(api, jid, **params):
    params.setdefault("follow", 1)
    with FollowReader(api.addr, qs(f"/jobs/{jid}", **params), api.token) as reader:
        assert reader.status == 200, reader.resp.read()
        documents = list(reader.documents())
        assert [d for _, d in documents] == reader.ndjson_lines(), "NDJSON and streaming readers disagree"
    return documents


def host_document(document):
    """(host, result) of a follow document shaped {"HOST": {...}}."""
    assert isinstance(document, dict) and len(document) == 1, document
    (host, result), = document.items()
    assert isinstance(result, dict) and isinstance(result.get("status"), int), document
    return host, result


# ---------------------------------------------------------------- 1. query booleans

@pytest.mark.parametrize("spelling", TRUE_SPELLINGS)
def test_detail_and_outputs_true_spellings(api, spelling):
    jid = api.run("/execute", {"targets": ["localhost"], "cmd": "echo out"})["jid"]
    r = api.get(qs("/jobs", detail=spelling))
    assert r.status == 200 and all(isinstance(j, dict) for j in r.body), r.body[:3]
    assert jid in [j["jid"] for j in r.body]
    r = api.get(qs(f"/jobs/{jid}", outputs=spelling))
    assert r.status == 200 and r.body["return_data"]["localhost"]["stdout"] == "out\n", r.body


@pytest.mark.parametrize("spelling", FALSE_SPELLINGS)
def test_detail_and_outputs_false_spellings(api, spelling):
    jid = api.run("/execute", {"targets": ["localhost"], "cmd": "echo out"})["jid"]
    r = api.get(qs("/jobs", detail=spelling))
    assert r.status == 200 and jid in r.body and all(isinstance(j, str) for j in r.body), r.body[:3]
    r = api.get(qs(f"/jobs/{jid}", outputs=spelling))
    assert r.status == 200 and "stdout" not in r.body["return_data"]["localhost"], r.body


@pytest.mark.parametrize("spelling", ["True", "yes", "TRUE"])
def test_follow_true_spellings_stream(api, spelling):
    jid = api.run("/ping", {"targets": ["localhost"]})["jid"]
    documents = follow(api, jid, follow=spelling)
    assert documents[0][1]["jid"] == jid and len(documents) == 2, documents


@pytest.mark.parametrize("spelling", ["False", "no", "0"])
def test_follow_false_spellings_answer_once(api, spelling):
    jid = api.run("/ping", {"targets": ["localhost"]})["jid"]
    r = api.get(qs(f"/jobs/{jid}", follow=spelling))
    assert r.status == 200 and r.headers["content-type"].startswith("application/json"), r.headers
    assert r.body["jid"] == jid


@pytest.mark.parametrize("spelling", ["True", "1", "yes", "False", "no"])
def test_graceful_spellings_are_accepted(api, spelling):
    r = api.get(qs("/service", target="localhost", name=NO_SVC, state=2, graceful=spelling))
    assert r.status == 200, r
    assert r.body["localhost"]["status"] == OP_FAILED, r.body


@pytest.mark.parametrize("path,param", [
    ("/jobs", "detail"), ("/jobs", "outputs"), ("/jobs/JID", "outputs"), ("/jobs/JID", "follow"),
    ("/service?target=localhost&name=x&state=2", "graceful"),
])
@pytest.mark.parametrize("value", ["maybe", "2", "on"])
def test_other_boolean_values_are_400_naming_the_parameter(api, path, param, value):
    jid = api.run("/ping", {"targets": ["localhost"]})["jid"]
    path = path.replace("JID", jid)
    message = assert_error(api.get(path + ("&" if "?" in path else "?") + f"{param}={value}"), 400)
    assert f"'{param}'" in message and SPELLINGS in message, message


def test_post_body_booleans_use_the_same_spellings(api):
    jid = api.submit("/service", {"targets": ["localhost"], "name": NO_SVC, "state": 2, "graceful": "True"})
    assert api.wait_job(jid)["return_data"]["localhost"]["status"] == OP_FAILED
    r = api.post("/service", {"targets": ["localhost"], "name": NO_SVC, "state": 2, "graceful": "maybe"})
    message = assert_error(r, 400)
    assert "'graceful'" in message and SPELLINGS in message, message


# ---------------------------------------------------------------- 2. GET /jobs lists every job

def test_jobs_lists_every_job_newest_first(api):
    mine = [api.submit("/ping", {"targets": ["localhost"]}) for _ in range(110)]
    listed = api.get("/jobs")
    assert listed.status == 200, listed
    assert len(listed.body) == len(set(listed.body)) >= 110, len(listed.body)
    positions = [listed.body.index(jid) for jid in mine]
    assert positions == sorted(positions, reverse=True), "GET /jobs is not newest first"
    detail = api.get("/jobs?detail=1").body
    assert [j["jid"] for j in detail] == listed.body
    for jid in mine:
        api.wait_job(jid, outputs=False)


def test_jobs_paging(api):
    for _ in range(3):
        api.submit("/ping", {"targets": ["localhost"]})
    everything = api.get("/jobs").body
    assert len(everything) >= 6
    assert api.get("/jobs?limit=2").body == everything[:2]
    assert api.get("/jobs?offset=2&limit=3").body == everything[2:5]
    assert api.get(f"/jobs?offset={len(everything) - 1}").body == everything[-1:]
    assert api.get("/jobs?limit=0").body == []
    assert api.get(f"/jobs?offset={len(everything) + 5}").body == []
    page = api.get("/jobs?detail=1&offset=1&limit=2").body
    assert [j["jid"] for j in page] == everything[1:3]


@pytest.mark.parametrize("query", ["limit=-1", "limit=abc", "offset=-3", "offset=1.5", "limit="])
def test_jobs_paging_bad_values_are_400(api, query):
    name = query.split("=")[0]
    message = assert_error(api.get(f"/jobs?{query}"), 400)
    assert f"'{name}'" in message, message


def test_jobs_order_by_start_time_not_by_id(api, server):
    """Old stored ids (20 digits) and new ones must interleave by start time."""
    newest = api.run("/ping", {"targets": ["localhost"]})["jid"]
    db = sqlite3.connect(server.data_dir / "steward.db", timeout=10)
    now = time.time()
    rows = [("99991231235959999999", now - 10 * 365 * 86400),  # sorts first as a string, started long ago
            ("00000000000000000001", now + 3600)]  # sorts last as a string, started latest
    with db:
        for jid, startat in rows:
            db.execute("INSERT INTO jobs(jid, state, error, startat, finishat, operate, operate_args, targets) "
                       "VALUES(?, 0, '', ?, ?, 'ping', '{}', '[\"localhost\"]')", (jid, startat, startat))
    db.close()
    try:
        listed = api.get("/jobs").body
        assert listed[0] == "00000000000000000001", listed[:3]
        assert listed[1] == newest, listed[:3]
        assert listed[-1] == "99991231235959999999", listed[-3:]
        detail = api.get("/jobs?detail=1").body
        assert [j["jid"] for j in detail] == listed
    finally:
        for jid, _ in rows:
            api.delete(f"/jobs/{jid}")


def test_jobs_list_without_detail_carries_no_output(api):
    jid = api.run("/execute", {"targets": ["localhost"], "cmd": "head -c 200000 /dev/zero | tr '\\0' x"})["jid"]
    detail = api.get("/jobs?detail=1&limit=5").body
    mine = next(j for j in detail if j["jid"] == jid)
    assert "stdout" not in mine["return_data"]["localhost"], "output without outputs=1"
    with_output = api.get("/jobs?detail=1&outputs=1&limit=5").body
    entry = next(j for j in with_output if j["jid"] == jid)["return_data"]["localhost"]
    assert entry["stdout"] == "x" * 4096, "a listing embeds the last 4 KiB per stream"
    assert entry["stdout_embedded_truncated"] is True and entry["stdout_size"] == 200000
    whole = api.get("/jobs?detail=1&outputs=1&limit=5&max_output=200000").body
    entry = next(j for j in whole if j["jid"] == jid)["return_data"]["localhost"]
    assert entry["stdout"] == "x" * 200000 and "stdout_embedded_truncated" not in entry


# ---------------------------------------------------------------- 3. follow

def test_follow_documents_per_target_as_they_finish(api, tmp_root):
    lock = tmp_root / "follow-lock"
    cmd = f"if mkdir {lock} 2>/dev/null; then echo first; else sleep 2; echo second; fi"
    jid = api.submit("/execute", {"targets": ["web1", "web2"], "cmd": cmd})
    with FollowReader(api.addr, f"/jobs/{jid}?follow=1", api.token) as reader:
        assert reader.status == 200
        documents = []
        for t, document in reader.documents():
            documents.append((t, document))
            if len(documents) == 2:
                assert api.job(jid)["state"] == JOB_RUNNING, "the first target's document came late"
        ndjson = reader.ndjson_lines()
    assert [d for _, d in documents] == ndjson
    assert len(documents) == 3, documents  # the job, one per target, no trailing job
    job = documents[0][1]
    assert job["jid"] == jid and job["taskid"] == jid and job["state"] == JOB_RUNNING, job
    first_host, first = host_document(documents[1][1])
    second_host, second = host_document(documents[2][1])
    assert {first_host, second_host} == {"web1", "web2"}
    assert first == {"status": OP_CHANGED, "rtc": 0, "stdout": "first\n", "stderr": ""}, first
    assert second == {"status": OP_CHANGED, "rtc": 0, "stdout": "second\n", "stderr": ""}, second
    assert documents[2][0] > 1.5, "the stream ended before the job could have"
    assert api.job(jid)["state"] == JOB_DONE


def test_follow_target_finished_before_the_follow_still_gets_its_document(api, tmp_root):
    lock = tmp_root / "early-lock"
    cmd = f"if mkdir {lock} 2>/dev/null; then echo early; else sleep 4; echo late; fi"
    jid = api.submit("/execute", {"targets": ["web1", "web2"], "cmd": cmd})
    wait_for(lambda: api.job(jid)["progress"]["done"] >= 1, timeout=10, what="the first target to finish")
    documents = [d for _, d in follow(api, jid)]
    assert len(documents) == 3, documents
    assert documents[0]["state"] == JOB_RUNNING and documents[0]["progress"]["done"] == 1, documents[0]
    results = dict(host_document(d) for d in documents[1:])
    assert sorted(r["stdout"] for r in results.values()) == ["early\n", "late\n"], results


def test_follow_finished_job_gives_every_target_then_ends(api):
    jid = api.run("/ping", {"targets": ["web1", "web2", "localhost"]})["jid"]
    t0 = time.monotonic()
    documents = [d for _, d in follow(api, jid)]
    assert time.monotonic() - t0 < 5
    assert documents[0]["jid"] == jid and documents[0]["state"] == JOB_DONE
    results = dict(host_document(d) for d in documents[1:])
    assert results == {h: {"status": OP_OK} for h in ("web1", "web2", "localhost")}, results


def test_follow_documents_have_the_blocking_shape(api):
    """A follow document is what the blocking GET answers for that host."""
    blocking = api.get(qs("/facter", target="localhost")).body["localhost"]
    jid = api.run("/facter", {"targets": ["localhost"]})["jid"]
    (_, job), (_, document) = follow(api, jid)
    host, result = host_document(document)
    assert host == "localhost" and set(result) == set(blocking) == {"status", "facts"}, (result, blocking)
    stored = job["return_data"]["localhost"]
    assert {k: stored[k] for k in result} == result, "return_data disagrees with the follow document"


def test_follow_with_outputs_carries_output_of_any_operation(api):
    jid = api.run("/ping", {"targets": ["localhost"]})["jid"]
    (_, job), (_, document) = follow(api, jid, outputs=1)
    _, result = host_document(document)
    assert "stdout" in result and "stderr" in result, result
    assert "stdout" in job["return_data"]["localhost"], job


def test_follow_unknown_job_is_404(api):
    assert_error(api.get("/jobs/nosuchjob?follow=True"), 404, "no such job: nosuchjob")


# ---------------------------------------------------------------- 4. taskid and /task

def test_job_objects_carry_taskid(api):
    jid = api.run("/ping", {"targets": ["localhost"]})["jid"]
    assert api.job(jid)["taskid"] == jid
    listed = api.get("/jobs?detail=1").body
    assert all(j["taskid"] == j["jid"] for j in listed)


@pytest.mark.parametrize("prefix", ["", "/v1"])
def test_get_task_lists_pipelines_as_name_and_type(api, prefix):
    r = api.get(f"{prefix}/task")
    assert r.status == 200, r
    assert sorted(r.body, key=lambda t: t["name"]) == [
        {"name": "hello", "type": "hello"}, {"name": "restart-web", "type": "restart-web"}], r.body
    tasks = api.get(f"{prefix}/tasks").body  # steward's own listing is unchanged
    assert sorted(p["name"] for p in tasks["pipelines"]) == ["hello", "restart-web"], tasks


@pytest.mark.parametrize("prefix", ["", "/v1"])
def test_post_task_runs_and_reads_like_tasks(api, prefix):
    r = api.post(f"{prefix}/task", {"name": "hello"})
    assert r.status == 201, r
    jid = r.body["jid"]

    def ended():
        state = api.post(f"{prefix}/task", {"jid": jid})
        assert state.status == 200, state
        return state.body if state.body["state"] != JOB_RUNNING else None
    state = wait_for(ended, timeout=20, what="the pipeline run")
    assert state["state"] == JOB_DONE and state["jid"] == jid, state
    assert_error(api.post(f"{prefix}/task", {"name": "nope"}), 404)


# ---------------------------------------------------------------- 5. Ansible's fact names

ANSIBLE_KEYS = {"ansible_hostname", "ansible_fqdn", "ansible_kernel", "ansible_architecture", "ansible_system",
                "ansible_distribution", "ansible_distribution_version", "ansible_os_family",
                "ansible_processor_vcpus", "ansible_memtotal_mb", "ansible_all_ipv4_addresses",
                "ansible_default_ipv4"}


def os_release():
    values = {}
    try:
        with open("/etc/os-release") as f:
            for line in f:
                key, sep, value = line.strip().partition("=")
                if sep:
                    values[key] = value.strip('"\'')
    except FileNotFoundError:
        pass
    return values


def memtotal_mb():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    raise AssertionError("no MemTotal in /proc/meminfo")


def ipv4_addresses():
    """Non-loopback IPv4 addresses by interface, from `ip` (what Ansible reads too)."""
    out = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True, check=True).stdout
    by_address = {}
    for line in out.splitlines():
        fields = line.split()
        address, prefix = fields[3].split("/")
        if not address.startswith("127."):
            by_address[address] = (fields[1], int(prefix))
    return by_address


def default_route():
    """(interface, gateway) of the IPv4 default route from /proc/net/route, or None."""
    with open("/proc/net/route") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1] == "00000000":
                gateway = socket.inet_ntoa(int(fields[2], 16).to_bytes(4, "little"))
                return fields[0], gateway
    return None


def check_ansible_facts(facts):
    missing = ANSIBLE_KEYS - set(facts)
    assert not missing, f"facts lack {missing}: {facts!r}"
    uname = os.uname()
    assert facts["ansible_hostname"] == socket.gethostname().split(".")[0], facts
    fqdn = subprocess.run(["hostname", "-f"], capture_output=True, text=True)
    assert facts["ansible_fqdn"] == (fqdn.stdout.strip() if fqdn.returncode == 0 else socket.gethostname())
    assert facts["ansible_kernel"] == uname.release
    assert facts["ansible_architecture"] == uname.machine
    assert facts["ansible_system"] == uname.sysname
    release = os_release()
    assert facts["ansible_distribution_version"] == release.get("VERSION_ID", ""), facts
    known = {"debian": "Debian", "ubuntu": "Ubuntu", "centos": "CentOS", "rhel": "RedHat", "fedora": "Fedora"}
    if release.get("ID") in known:
        assert facts["ansible_distribution"] == known[release["ID"]], facts
    else:
        assert facts["ansible_distribution"], facts
    family_words = {release.get("ID", "")} | set(release.get("ID_LIKE", "").split())
    if family_words & {"debian", "ubuntu"}:
        assert facts["ansible_os_family"] == "Debian", facts
    elif family_words & {"rhel", "fedora", "centos"}:
        assert facts["ansible_os_family"] == "RedHat", facts
    for key in ("ansible_processor_vcpus", "ansible_memtotal_mb"):
        assert type(facts[key]) is int, f"{key} is not an int: {facts[key]!r}"
    assert facts["ansible_processor_vcpus"] == os.cpu_count()
    assert facts["ansible_memtotal_mb"] == memtotal_mb()

    assert isinstance(facts["ansible_all_ipv4_addresses"], list)
    assert isinstance(facts["ansible_default_ipv4"], dict)
    if shutil.which("ip"):
        addresses = ipv4_addresses()
        assert sorted(facts["ansible_all_ipv4_addresses"]) == sorted(addresses), facts
    route = default_route()
    default = facts["ansible_default_ipv4"]
    if route is None:
        assert default == {}, default
    else:
        interface, gateway = route
        assert default["interface"] == interface and default["gateway"] == gateway, default
        if shutil.which("ip"):
            assert addresses[default["address"]][0] == interface, (default, addresses)
            assert default["prefix"] == str(addresses[default["address"]][1]), default
    # steward's own names stay beside Ansible's
    assert facts["hostname"] == socket.gethostname() and facts["cpus"] == os.cpu_count()


def test_facts_carry_ansible_names_with_this_machines_values(api):
    r = api.get(qs("/facter", target="localhost"))
    assert r.status == 200 and r.body["localhost"]["status"] == OP_OK, r
    check_ansible_facts(r.body["localhost"]["facts"])


def test_facts_over_ssh_carry_the_same_ansible_names(tmp_root):
    from sshd import SshFleet
    fleet = SshFleet(tmp_root / "ssh", 1, first=200).start()
    srv = None
    try:
        inventory = "localhost ansible_connection=local\n" + fleet.host_line("remote", fleet.addresses[0])
        srv = Server(tmp_root / "data-ssh", inventory=inventory).start()
        ssh_api = Api(srv)
        r = ssh_api.get(qs("/facter", target="remote,localhost"))
        assert r.status == 200, r
        assert r.body["remote"]["status"] == OP_OK, r.body["remote"]
        remote, local = r.body["remote"]["facts"], r.body["localhost"]["facts"]
        check_ansible_facts(remote)
        assert {k: remote[k] for k in ANSIBLE_KEYS} == {k: local[k] for k in ANSIBLE_KEYS}
    finally:
        if srv is not None:
            srv.stop()
        fleet.stop()
