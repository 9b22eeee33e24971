"""End-to-end tests of the REST API (EXEd) against a real `steward serve`.

Inventory: localhost, web1, web2 (group web), all with the local transport.
"""

import json
import os
import socket
import time
import uuid

import pytest

from conftest import (ALL_HOSTS, JOB_DONE, JOB_FAILURE, JOB_RUNNING, OP_CHANGED, OP_FAILED,
                      OP_OK, TOKEN, Stream, assert_error, metrics, qs, raw_request, read_pid,
                      wait_process_gone)

PREFIXES = ["", "/v1"]
MiB = 1024 * 1024
JOB_FIELDS = {"jid", "taskid", "state", "error", "startat", "finishat", "operate", "operate_args",
              "targets", "return_data", "progress"}


def unique(name):
    return f"{name}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def scratch(tmp_root):
    """A fresh directory for files a command writes."""
    d = tmp_root / unique("scratch")
    d.mkdir()
    return d


# ---------------------------------------------------------------- auth, health, metrics

def test_healthz_needs_no_token(api):
    r = api.get("/healthz", token=None)
    assert r.status == 200, r


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("token", [None, "wrong", ""])
def test_missing_or_wrong_token_is_401(api, prefix, token):
    r = api.get(f"{prefix}/target?pattern=all", token=token)
    assert_error(r, 401)


def test_401_on_post_and_jobs(api):
    assert_error(api.post("/execute", {"targets": ["localhost"], "cmd": "true"}, token=None), 401)
    assert_error(api.get("/jobs", token="nope"), 401)
    assert_error(api.request("GET", "/jobs", token=None,
                             headers={"Authorization": f"Basic {TOKEN}"}), 401)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_openapi_document_is_served_as_built(api, prefix):
    """GET /openapi.json is the document the replies are checked against
    (openapi_check.py reads the source file; the binary embeds it)."""
    from openapi_check import DOCUMENT
    r = api.get(f"{prefix}/openapi.json")
    assert r.status == 200, r
    assert r.headers["content-type"] == "application/json", r.headers
    assert r.body == json.loads(DOCUMENT.read_text())
    assert r.body["openapi"] == "3.1.0" and "/jobs/{jid}" in r.body["paths"]
    assert_error(api.get(f"{prefix}/openapi.json", token=None), 401)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_root_names_the_server(api, prefix):
    r = api.get(prefix or "/")
    assert r.status == 200 and r.body["name"] == "steward" and r.body["version"], r


def test_metrics(api, scratch, reap):
    assert_error(api.get("/metrics", token=None), 401)
    before = metrics(api)
    wait_count = 'steward_queue_wait_seconds_count{scheduler="jobs"}'
    inf_bucket = 'steward_queue_wait_seconds_bucket{le="+Inf",scheduler="jobs"}'
    assert before[inf_bucket] == before[wait_count], before

    pidfile = scratch / "metrics.pid"
    jid = api.submit("/execute", {"targets": ["web1"], "cmd": f"echo $$ > {pidfile}; exec sleep 100"})
    reap(read_pid(pidfile))
    during = metrics(api)
    assert during["steward_jobs_accepted_total"] == before["steward_jobs_accepted_total"] + 1, during
    assert during["steward_jobs_live"] == before["steward_jobs_live"] + 1, during
    assert during["steward_operations_running"] == before["steward_operations_running"] + 1, during
    assert api.post(f"/jobs/{jid}/cancel").status == 200

    api.run("/execute", {"targets": ["web1", "web2"], "cmd": "true"})
    after = metrics(api)
    assert after["steward_jobs_accepted_total"] == before["steward_jobs_accepted_total"] + 2, after
    assert after["steward_jobs_finished_total"] == before["steward_jobs_finished_total"] + 2, after
    assert after["steward_jobs_live"] == before["steward_jobs_live"], after
    assert after["steward_operations_running"] == before["steward_operations_running"], after
    assert after[wait_count] == before[wait_count] + 3, (before, after)  # one wait per target run
    assert after[inf_bucket] == after[wait_count], after
    wait_sum = 'steward_queue_wait_seconds_sum{scheduler="jobs"}'
    assert after[wait_sum] >= before[wait_sum], after

    def grew(name, by):
        assert after.get(name, 0) == before.get(name, 0) + by, (name, before.get(name), after.get(name))

    grew('steward_jobs_accepted_by_operation_total{operation="execute"}', 2)
    grew('steward_jobs_finished_by_operation_total{operation="execute",state="failure"}', 1)  # the cancelled one
    grew('steward_jobs_finished_by_operation_total{operation="execute",state="done"}', 1)
    grew('steward_http_requests_total{route="POST /execute",status="201"}', 2)
    grew('steward_http_requests_total{route="POST /jobs/:jid/cancel",status="200"}', 1)
    grew('steward_http_request_duration_seconds_count{route="POST /execute"}', 2)
    assert after['steward_http_requests_total{route="GET /metrics",status="401"}'] >= 1, after
    assert not [name for name in after if "/jobs/0" in name], "a job id became a label"


# ---------------------------------------------------------------- targets

@pytest.mark.parametrize("prefix", PREFIXES)
def test_target_patterns(api, prefix):
    r = api.get(qs(f"{prefix}/target", pattern="web*"))
    assert r.status == 200, r
    assert r.headers.get("content-type", "").startswith("application/json")
    assert r.body == ["web1", "web2"]
    r = api.get(qs(f"{prefix}/target", pattern="all"))
    assert r.status == 200 and sorted(r.body) == sorted(ALL_HOSTS), r


def test_target_default_and_set_operators(api):
    r = api.get("/target")
    assert r.status == 200 and sorted(r.body) == sorted(ALL_HOSTS), r
    r = api.get(qs("/target", pattern="web"))
    assert r.status == 200 and r.body == ["web1", "web2"], r
    r = api.get(qs("/target", pattern="all:!web1"))
    assert r.status == 200 and sorted(r.body) == ["localhost", "web2"], r
    r = api.get(qs("/target", pattern="web:&web2"))
    assert r.status == 200 and r.body == ["web2"], r
    r = api.get(qs("/target", pattern="localhost:web2"))
    assert r.status == 200 and sorted(r.body) == ["localhost", "web2"], r


def test_target_no_match_is_empty_list(api):
    r = api.get(qs("/target", pattern="nomatch*"))
    assert r.status == 200 and r.body == [], r


# ---------------------------------------------------------------- ping

@pytest.mark.parametrize("prefix", PREFIXES)
def test_ping_blocking(api, prefix):
    r = api.get(qs(f"{prefix}/ping", target="localhost"))
    assert r.status == 200, r
    assert list(r.body) == ["localhost"] and r.body["localhost"]["status"] == OP_OK, r.body


def test_ping_blocking_several_targets(api):
    r = api.get(qs("/ping", target="web1,web2"))
    assert r.status == 200, r
    assert set(r.body) == {"web1", "web2"}
    assert all(v["status"] == OP_OK for v in r.body.values()), r.body
    r = api.get(qs("/ping", targets="web*"))  # `targets` accepted too, patterns allowed
    assert r.status == 200 and set(r.body) == {"web1", "web2"}, r


@pytest.mark.parametrize("prefix", PREFIXES)
def test_ping_async(api, prefix):
    r = api.post(f"{prefix}/ping", {"targets": ["localhost", "web1"]})
    assert r.status == 201, r
    jid = r.body["jid"]
    job = api.wait_job(jid)
    assert job["state"] == JOB_DONE, job
    assert set(job["return_data"]) == {"localhost", "web1"}
    assert all(v["status"] == OP_OK for v in job["return_data"].values()), job


def test_ping_unknown_host(api):
    assert_error(api.get(qs("/ping", target="nosuchhost")), 404, "no such host: nosuchhost")
    assert_error(api.post("/ping", {"targets": ["localhost", "nosuchhost"]}), 404,
                 "no such host: nosuchhost")
    assert_error(api.post("/ping", {"targets": ["zz*"]}), 404, "no such host: zz*")


# ---------------------------------------------------------------- facter

def machine_uptime():
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


def mem_total_mib():
    with open("/proc/meminfo") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
    return kib // 1024


def check_facts(facts, uptime_before, uptime_after):
    """The facts of this machine (every test host is local), read between the two uptimes."""
    for key in ("hostname", "fqdn", "os", "kernel", "arch", "cpus", "memory_mb",
                "uptime_seconds", "ip_addresses"):
        assert key in facts, f"fact {key!r} missing: {facts!r}"
    assert facts["hostname"] == socket.gethostname(), facts
    assert isinstance(facts["cpus"], int) and not isinstance(facts["cpus"], bool), facts
    assert facts["cpus"] == os.cpu_count(), facts
    assert isinstance(facts["os"], dict) and facts["os"], facts
    assert facts["kernel"] == os.uname().release and facts["arch"] == os.uname().machine, facts
    assert facts["memory_mb"] == mem_total_mib(), facts
    # Whole seconds of the same clock, read while the request ran.
    assert int(uptime_before) <= facts["uptime_seconds"] <= uptime_after, (uptime_before, facts, uptime_after)
    assert isinstance(facts["ip_addresses"], list), facts


@pytest.mark.parametrize("prefix", PREFIXES)
def test_facter_blocking(api, prefix):
    before = machine_uptime()
    r = api.get(qs(f"{prefix}/facter", target="localhost"))
    after = machine_uptime()
    assert r.status == 200, r
    entry = r.body["localhost"]
    assert entry["status"] == OP_OK, entry
    check_facts(entry["facts"], before, after)


def test_facter_async(api):
    before = machine_uptime()
    job = api.run("/facter", {"targets": ["web1", "web2"]})
    after = machine_uptime()
    assert job["state"] == JOB_DONE, job
    for host in ("web1", "web2"):
        assert job["return_data"][host]["status"] == OP_OK, job
        check_facts(job["return_data"][host]["facts"], before, after)


# ---------------------------------------------------------------- service

NO_SVC = "steward-e2e-no-such-service"


@pytest.mark.parametrize("state", [0, 1, 2])
def test_service_nonexistent_fails(api, state):
    r = api.get(qs("/service", target="localhost", name=NO_SVC, state=state, graceful="false"))
    assert r.status == 200, r
    entry = r.body["localhost"]
    assert entry["status"] == OP_FAILED, entry
    assert isinstance(entry.get("rtc"), int) and entry["rtc"] != 0, entry


def test_service_graceful_restart_nonexistent_fails(api):
    r = api.get(qs("/v1/service", target="localhost", name=NO_SVC, state=2, graceful="true"))
    assert r.status == 200, r
    assert r.body["localhost"]["status"] == OP_FAILED, r.body


def test_service_async(api):
    job = api.run("/service", {"targets": ["web1"], "name": NO_SVC, "state": 0,
                               "graceful": False})
    assert job["state"] == JOB_FAILURE, job
    entry = job["return_data"]["web1"]
    assert entry["status"] == OP_FAILED and entry.get("rtc") not in (None, 0), job


@pytest.mark.parametrize("template", [
    "x;touch {f}", "x && touch {f}", "x|touch {f}", "$(touch {f})", "`touch {f}`",
    "x\ntouch {f}", "x' ; touch {f}; '", "x\" ; touch {f}; \"",
])
def test_service_name_injection(api, tmp_root, template):
    pwned = tmp_root / unique("pwned")
    name = template.format(f=pwned)
    # Refused before anything runs: a unit name never holds shell syntax.
    assert_error(api.get(qs("/service", target="localhost", name=name, state=0)), 400,
                 "not a valid service name")
    assert_error(api.post("/service", {"targets": ["localhost"], "name": name, "state": 1}), 400,
                 "not a valid service name")
    time.sleep(0.2)
    assert not pwned.exists(), f"service name {name!r} ran an injected command"


def test_service_bad_arguments(api):
    assert_error(api.get(qs("/service", target="localhost", name=NO_SVC, state="start")), 400)
    assert_error(api.get(qs("/service", target="localhost", name=NO_SVC, state=9)), 400)
    assert_error(api.post("/service", {"targets": ["localhost"], "state": 0}), 400)  # no name
    assert_error(api.post("/service", {"targets": ["localhost"], "name": 5, "state": 0}), 400)


# ---------------------------------------------------------------- execute (blocking)

@pytest.mark.parametrize("prefix", PREFIXES)
def test_execute_blocking(api, prefix):
    r = api.get(qs(f"{prefix}/execute", target="localhost", cmd="echo hello"))
    assert r.status == 200, r
    assert list(r.body) == ["localhost"], r.body
    e = r.body["localhost"]
    expected = {"status": OP_CHANGED, "rtc": 0, "stdout": "hello\n", "stderr": ""}
    assert {k: e.get(k) for k in expected} == expected, e
    assert not e.get("error") and not e.get("stdout_truncated"), e


def test_execute_blocking_nonzero_exit(api):
    r = api.get(qs("/execute", target="localhost", cmd="echo out; echo err >&2; exit 3"))
    assert r.status == 200, r
    e = r.body["localhost"]
    assert e["status"] == OP_FAILED and e["rtc"] == 3, e
    assert e["stdout"] == "out\n" and e["stderr"] == "err\n", e


def test_execute_blocking_pattern_target(api):
    r = api.get(qs("/execute", target="web*", cmd="echo hi"))
    assert r.status == 200, r
    assert set(r.body) == {"web1", "web2"}, r.body
    assert all(v["status"] == OP_CHANGED and v["stdout"] == "hi\n" for v in r.body.values())


def test_execute_blocking_timeout_is_504_and_job_continues(api):
    t0 = time.monotonic()
    r = api.get(qs("/execute", target="web2", cmd="sleep 2; echo finished", timeout=1))
    elapsed = time.monotonic() - t0
    assert r.status == 504, r
    assert elapsed < 1.9, f"504 came after {elapsed:.2f} s, the timeout was 1 s"
    assert isinstance(r.body, dict) and r.body.get("jid") and r.body.get("message"), r.body
    job = api.wait_job(r.body["jid"], timeout=20)
    assert job["state"] == JOB_DONE, job
    e = job["return_data"]["web2"]
    assert e["status"] == OP_CHANGED and e["rtc"] == 0 and e["stdout"] == "finished\n", job


# ---------------------------------------------------------------- execute (async)

@pytest.mark.parametrize("prefix", PREFIXES)
def test_execute_async_shell(api, prefix):
    r = api.post(f"{prefix}/execute", {"targets": ["localhost", "web1"], "cmd": "echo $((6*7))"})
    assert r.status == 201, r
    job = api.wait_job(r.body["jid"])
    assert job["state"] == JOB_DONE, job
    assert sorted(job["targets"]) == ["localhost", "web1"], job
    for host in ("localhost", "web1"):
        e = job["return_data"][host]
        assert e["status"] == OP_CHANGED and e["rtc"] == 0 and e["stdout"] == "42\n", job


def test_execute_targets_as_comma_string(api):
    job = api.run("/execute", {"targets": "web1,web2", "cmd": "echo ok"})
    assert set(job["return_data"]) == {"web1", "web2"}, job
    assert sorted(job["targets"]) == ["web1", "web2"], job


def test_execute_target_key_and_pattern(api):
    job = api.run("/execute", {"target": "web*", "cmd": "echo ok"})
    assert set(job["return_data"]) == {"web1", "web2"}, job


def test_execute_argv_no_shell(api):
    job = api.run("/execute", {"targets": ["localhost"], "argv": ["printf", "%s|", "a b", "$HOME;x"]})
    e = job["return_data"]["localhost"]
    assert e["status"] == OP_CHANGED and e["stdout"] == "a b|$HOME;x|", job


def test_execute_argv_missing_program_fails(api):
    job = api.run("/execute", {"targets": ["localhost"], "argv": ["/nonexistent/steward-e2e"]})
    e = job["return_data"]["localhost"]
    assert e["status"] == OP_FAILED, job


def test_execute_env_and_cwd(api, scratch):
    job = api.run("/execute", {"targets": ["localhost"], "cmd": 'echo "$E2E_FOO"; pwd',
                               "env": {"E2E_FOO": "bar baz"}, "cwd": str(scratch)})
    e = job["return_data"]["localhost"]
    assert e["status"] == OP_CHANGED, job
    assert e["stdout"] == f"bar baz\n{os.path.realpath(scratch)}\n", job


def test_execute_nonzero_exit_async(api):
    job = api.run("/execute", {"targets": ["localhost"], "cmd": "exit 7"})
    assert job["state"] == JOB_FAILURE, job
    e = job["return_data"]["localhost"]
    assert e["status"] == OP_FAILED and e["rtc"] == 7, job


def test_execute_timeout_kills_process_group(api, scratch, reap):
    pidfile = scratch / "bg.pid"
    t0 = time.monotonic()
    jid = api.submit("/execute", {"targets": ["web1"], "timeout": 1,
                                  "cmd": f"sleep 100 & echo $! > {pidfile}; wait"})
    job = api.wait_job(jid, timeout=20)
    assert time.monotonic() - t0 < 10, "timeout of 1 s not enforced"
    e = job["return_data"]["web1"]
    assert e["status"] == OP_FAILED, job
    assert "time" in (e.get("error") or "").lower(), f"error should say it timed out: {e!r}"
    pid = read_pid(pidfile)
    reap(pid)
    wait_process_gone(pid, timeout=5)


def test_outputs_only_with_outputs_param(api):
    jid = api.submit("/execute", {"targets": ["localhost"], "cmd": "echo visible"})
    api.wait_job(jid)
    plain = api.job(jid)
    e = plain["return_data"]["localhost"]
    assert e["status"] == OP_CHANGED and e["rtc"] == 0, plain
    assert "stdout" not in e and "stderr" not in e, plain
    full = api.job(jid, outputs=True)
    assert full["return_data"]["localhost"]["stdout"] == "visible\n", full
    assert full["return_data"]["localhost"]["stderr"] == "", full


def test_output_cap_one_mib_stdout(api):
    r = api.get(qs("/execute", target="localhost",
                   cmd="head -c 3000000 /dev/zero | tr '\\0' a"))
    assert r.status == 200, r.status
    e = r.body["localhost"]
    assert e["status"] == OP_CHANGED and e["rtc"] == 0, {k: v for k, v in e.items() if k != "stdout"}
    assert len(e["stdout"]) == MiB, len(e["stdout"])
    assert e.get("stdout_truncated") is True, {k: v for k, v in e.items() if k != "stdout"}
    assert not e.get("stderr_truncated"), e.get("stderr_truncated")


def test_output_cap_stderr_10_mib(api):
    job = api.run("/execute", {"targets": ["localhost"],
                               "cmd": "head -c 10485760 /dev/zero | tr '\\0' b >&2; echo done"})
    # A job object embeds 64 KiB per stream unless asked for more.
    e = api.get(qs(f"/jobs/{job['jid']}", outputs=1, max_output=MiB)).body["return_data"]["localhost"]
    assert e["status"] == OP_CHANGED and e["rtc"] == 0, e.get("status")
    assert len(e["stderr"]) == MiB and set(e["stderr"]) == {"b"}, len(e["stderr"])
    assert e.get("stderr_truncated") is True
    assert e["stdout"] == "done\n" and not e.get("stdout_truncated")


def test_10_mib_output_server_stays_responsive(api):
    cmd = ("for i in 1 2 3 4 5 6 7 8 9 10; do head -c 1048576 /dev/zero | tr '\\0' a;"
           " sleep 0.25; done")
    jid = api.submit("/execute", {"targets": ["web1"], "cmd": cmd})
    checks = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if api.job(jid)["state"] != JOB_RUNNING:
            break
        for path in ("/healthz", qs("/ping", target="localhost")):
            t0 = time.monotonic()
            r = api.get(path, timeout=10)
            took = time.monotonic() - t0
            assert r.status == 200, (path, r)
            assert took < 2.0, f"GET {path} took {took:.2f} s during a 10 MiB output job"
        checks += 1
        time.sleep(0.1)
    assert checks >= 2, "the 10 MiB job finished before responsiveness could be checked"
    api.wait_job(jid, timeout=30)
    e = api.get(qs(f"/jobs/{jid}", outputs=1, max_output=MiB)).body["return_data"]["web1"]
    assert e["status"] == OP_CHANGED and e["rtc"] == 0, e.get("status")
    assert len(e["stdout"]) == MiB and e.get("stdout_truncated") is True, len(e["stdout"])


# ---------------------------------------------------------------- jobs

def test_job_object_shape(api):
    jid = api.submit("/execute", {"targets": ["web1", "web2"], "cmd": "echo x"})
    job = api.wait_job(jid, outputs=False)
    missing = JOB_FIELDS - set(job)
    assert not missing, f"job object lacks {missing}: {job!r}"
    assert job["jid"] == jid and job["state"] == JOB_DONE, job
    assert sorted(job["targets"]) == ["web1", "web2"], job
    assert job["progress"]["done"] == 2 and job["progress"]["total"] == 2, job
    assert job["startat"] and job["finishat"], job
    assert isinstance(job["return_data"], dict) and set(job["return_data"]) == {"web1", "web2"}


@pytest.mark.parametrize("prefix", PREFIXES)
def test_jobs_list_newest_first(api, prefix):
    first = api.run("/execute", {"targets": ["localhost"], "cmd": "true"})["jid"]
    second = api.run("/ping", {"targets": ["localhost"]})["jid"]
    r = api.get(f"{prefix}/jobs")
    assert r.status == 200 and isinstance(r.body, list), r
    assert all(isinstance(j, str) for j in r.body), r.body[:5]
    assert first in r.body and second in r.body
    assert r.body.index(second) < r.body.index(first), "GET /jobs is not newest first"


def test_jobs_detail(api):
    jid = api.run("/ping", {"targets": ["web2"]})["jid"]
    r = api.get("/jobs?detail=1")
    assert r.status == 200 and isinstance(r.body, list), r
    assert all(isinstance(j, dict) for j in r.body)
    mine = [j for j in r.body if j.get("jid") == jid]
    assert len(mine) == 1, f"{jid} not in detail list"
    assert not (JOB_FIELDS - set(mine[0])), f"detail job lacks {JOB_FIELDS - set(mine[0])}"
    assert mine[0]["state"] == JOB_DONE


@pytest.mark.parametrize("prefix", PREFIXES)
def test_unknown_job_404(api, prefix):
    assert_error(api.get(f"{prefix}/jobs/nosuchjob"), 404, "no such job: nosuchjob")
    assert_error(api.delete(f"{prefix}/jobs/nosuchjob"), 404, "no such job: nosuchjob")
    assert_error(api.post(f"{prefix}/jobs/nosuchjob/cancel"), 404, "no such job: nosuchjob")
    assert_error(api.get(f"{prefix}/jobs/nosuchjob/events"), 404, "no such job: nosuchjob")


@pytest.mark.parametrize("prefix", PREFIXES)
def test_delete_finished_job(api, prefix):
    jid = api.run("/ping", {"targets": ["localhost"]})["jid"]
    r = api.delete(f"{prefix}/jobs/{jid}")
    assert r.status == 204, r
    assert_error(api.get(f"/jobs/{jid}"), 404, f"no such job: {jid}")
    assert jid not in api.get("/jobs").body
    assert_error(api.delete(f"/jobs/{jid}"), 404)


def test_delete_running_job_kills_process(api, scratch, reap):
    pidfile = scratch / "pid"
    jid = api.submit("/execute", {"targets": ["web2"], "cmd": f"echo $$ > {pidfile}; exec sleep 100"})
    pid = read_pid(pidfile)
    reap(pid)
    assert api.job(jid)["state"] == JOB_RUNNING
    r = api.delete(f"/jobs/{jid}")
    assert r.status == 204, r
    wait_process_gone(pid, timeout=5)
    assert_error(api.get(f"/jobs/{jid}"), 404, f"no such job: {jid}")


@pytest.mark.parametrize("prefix", PREFIXES)
def test_cancel_running_job(api, scratch, reap, prefix):
    pidfile = scratch / "pid"
    jid = api.submit("/execute", {"targets": ["localhost"],
                                  "cmd": f"echo $$ > {pidfile}; exec sleep 100"})
    pid = read_pid(pidfile)
    reap(pid)
    t0 = time.monotonic()
    r = api.post(f"{prefix}/jobs/{jid}/cancel")
    assert r.status == 200, r
    assert time.monotonic() - t0 < 10
    job = r.body
    assert job["jid"] == jid and job["state"] == JOB_FAILURE, job
    e = job["return_data"]["localhost"]
    assert e["status"] == OP_FAILED, job
    assert "cancel" in (e.get("error") or "").lower(), job
    wait_process_gone(pid, timeout=5)
    again = api.job(jid)  # still readable
    assert again["state"] == JOB_FAILURE and again["return_data"]["localhost"]["status"] == OP_FAILED


def test_cancel_finished_job_keeps_result(api):
    jid = api.run("/execute", {"targets": ["web1"], "cmd": "true"})["jid"]
    r = api.post(f"/jobs/{jid}/cancel")
    assert r.status == 200, r  # cancelling is idempotent: the job as it ended
    assert r.body["jid"] == jid and r.body["state"] == JOB_DONE and r.body["error"] == "", r.body
    job = api.job(jid)
    assert job["state"] == JOB_DONE and job["return_data"]["web1"]["status"] == OP_CHANGED, job


# ---------------------------------------------------------------- follow (NDJSON)

def test_follow_streams_before_job_ends(api):
    jid = api.submit("/execute", {"targets": ["localhost"], "cmd": "echo start; sleep 2; echo end"})
    with Stream(api.addr, f"/jobs/{jid}?follow=1") as s:
        assert s.status == 200
        assert s.headers.get("content-type", "").startswith("application/x-ndjson"), s.headers
        lines = list(s.ndjson())
    assert len(lines) == 2, lines
    t_first, first = lines[0]
    assert first["jid"] == jid and first["state"] == JOB_RUNNING, first
    assert first["progress"]["done"] == 0 and first["progress"]["total"] == 1, first
    assert t_first < 1.2, f"first line arrived after {t_first:.2f} s: not streamed"
    t_last, last = lines[1]
    assert last == {"localhost": {"status": OP_CHANGED, "rtc": 0, "stdout": "start\nend\n", "stderr": ""}}, last
    assert t_last > 1.5, "stream ended before the job could have"
    assert api.job(jid)["state"] == JOB_DONE


def test_follow_target_lines_as_targets_finish(api, scratch):
    lock = scratch / "lock"
    cmd = f"if mkdir {lock} 2>/dev/null; then echo first; else sleep 2; echo second; fi"
    jid = api.submit("/execute", {"targets": ["web1", "web2"], "cmd": cmd})
    with Stream(api.addr, f"/v1/jobs/{jid}?follow=1") as s:
        assert s.status == 200
        lines = []
        for t, obj in s.ndjson():
            lines.append((t, obj))
            if len(lines) == 2:
                # The first target has finished, the other sleeps: job still running.
                (entry,) = obj.values()
                assert entry["stdout"] == "first\n", obj
                assert api.job(jid)["state"] == JOB_RUNNING, "first target line came late"
    assert len(lines) == 3, lines
    assert set(lines[1][1]) | set(lines[2][1]) == {"web1", "web2"}
    (entry,) = lines[2][1].values()
    assert entry["stdout"] == "second\n"


def test_follow_finished_job_ends(api):
    jid = api.run("/ping", {"targets": ["web1", "web2"]})["jid"]
    t0 = time.monotonic()
    with Stream(api.addr, f"/jobs/{jid}?follow=1", timeout=10) as s:
        assert s.status == 200
        lines = [obj for _, obj in s.ndjson()]
    assert time.monotonic() - t0 < 5
    assert lines and lines[0]["jid"] == jid and lines[0]["state"] == JOB_DONE, lines
    assert lines[1:] in ([{"web1": {"status": OP_OK}}, {"web2": {"status": OP_OK}}],
                         [{"web2": {"status": OP_OK}}, {"web1": {"status": OP_OK}}]), lines


def test_follow_unknown_job_404(api):
    assert_error(api.get("/jobs/nosuchjob?follow=1"), 404, "no such job: nosuchjob")


# ---------------------------------------------------------------- events (SSE)

def collect_sse(api, jid, check_running=True):
    """Read the whole event stream; returns (events, job state seen at the first output)."""
    events, state_at_first = [], None
    with Stream(api.addr, f"/jobs/{jid}/events") as s:
        assert s.status == 200
        assert s.headers.get("content-type", "").startswith("text/event-stream"), s.headers
        for t, event, data in s.sse():
            if event == "output" and state_at_first is None and check_running:
                state_at_first = api.job(jid)["state"]
            events.append((t, event, data))
    return events, state_at_first


def test_events_stream_live(api):
    jid = api.submit("/execute", {"targets": ["localhost"],
                                  "cmd": "for i in 1 2 3; do echo $i; sleep 0.5; done"})
    events, state_at_first = collect_sse(api, jid)
    kinds = [e for _, e, _ in events]
    assert "output" in kinds, events
    assert state_at_first == JOB_RUNNING, "first output event arrived after the job finished"
    assert kinds[-1] == "done", events
    assert kinds.index("result") < kinds.index("done")
    for _, event, data in events:
        if event == "output":
            assert data["target"] == "localhost" and data["stream"] in ("stdout", "stderr"), data
    out = "".join(d["data"] for _, e, d in events if e == "output" and d["stream"] == "stdout")
    assert out.endswith("3\n"), out
    result = [d for _, e, d in events if e == "result"]
    assert len(result) == 1 and result[0]["target"] == "localhost", result
    assert result[0]["result"]["status"] == OP_CHANGED
    done = events[-1][2]
    assert done["jid"] == jid and done["state"] == JOB_DONE, done


def test_events_include_output_produced_before_subscribing(api):
    jid = api.submit("/execute", {"targets": ["web2"],
                                  "cmd": "echo one; echo two >&2; sleep 1; echo three"})
    time.sleep(0.5)  # deliberately subscribe after the first output was produced
    events, _ = collect_sse(api, jid, check_running=False)
    out = "".join(d["data"] for _, e, d in events if e == "output" and d["stream"] == "stdout")
    err = "".join(d["data"] for _, e, d in events if e == "output" and d["stream"] == "stderr")
    assert out == "one\nthree\n" and err == "two\n", events


def test_events_finished_job_replays_and_ends(api):
    jid = api.run("/execute", {"targets": ["localhost"], "cmd": "echo replay"})["jid"]
    t0 = time.monotonic()
    events, _ = collect_sse(api, jid, check_running=False)
    assert time.monotonic() - t0 < 5, "event stream of a finished job did not end"
    assert events and events[-1][1] == "done" and events[-1][2]["state"] == JOB_DONE, events
    assert any(e == "result" for _, e, _ in events), events
    out = "".join(d["data"] for _, e, d in events if e == "output")
    assert out == "replay\n", events


# ---------------------------------------------------------------- bad requests

def test_unknown_host_404(api):
    assert_error(api.get(qs("/execute", target="nosuchhost", cmd="true")), 404,
                 "no such host: nosuchhost")
    assert_error(api.post("/execute", {"targets": ["localhost", "nosuchhost"], "cmd": "true"}),
                 404, "no such host: nosuchhost")
    assert_error(api.post("/v1/execute", {"targets": "web1,nosuchhost", "cmd": "true"}),
                 404, "no such host: nosuchhost")
    assert_error(api.post("/facter", {"targets": ["nosuchhost"]}), 404, "no such host: nosuchhost")


@pytest.mark.parametrize("body", [
    b"{not json", b'{"targets": ["localhost"], "cmd": "true"', b"", b"\xff\xfe",
])
def test_malformed_json_400(api, body):
    r = api.post("/execute", body, headers={"Content-Type": "application/json"})
    assert_error(r, 400)


@pytest.mark.parametrize("body", [
    {"targets": ["localhost"], "cmd": 5},
    {"targets": 7, "cmd": "true"},
    {"targets": [7], "cmd": "true"},
    {"targets": ["localhost"]},
    {"cmd": "true"},
    {"targets": ["localhost"], "argv": "echo hi"},
    {"targets": ["localhost"], "argv": ["echo", 1]},
    {"targets": ["localhost"], "argv": []},
    {"targets": ["localhost"], "cmd": "true", "env": ["A=B"]},
    {"targets": ["localhost"], "cmd": "true", "env": {"A": 1}},
    {"targets": ["localhost"], "cmd": "true", "cwd": 3},
    {"targets": ["localhost"], "cmd": "true", "timeout": "soon"},
    {"targets": ["localhost"], "cmd": "true", "timeout": -1},
    [1, 2],
    "just a string",
])
def test_invalid_execute_body_400(api, body):
    assert_error(api.post("/execute", body), 400)


def test_invalid_ping_body_400(api):
    assert_error(api.post("/ping", {"targets": 7}), 400)
    assert_error(api.post("/ping", {}), 400)
    assert_error(api.post("/facter", {"targets": [None]}), 400)


def test_blocking_get_missing_params_400(api):
    assert_error(api.get(qs("/execute", target="localhost")), 400)  # no cmd
    assert_error(api.get(qs("/execute", cmd="true")), 400)  # no target
    assert_error(api.get(qs("/execute", target="localhost", cmd="true", timeout="abc")), 400)
    assert_error(api.get(qs("/service", target="localhost", state=0)), 400)  # no name


@pytest.mark.parametrize("path", ["/nosuch", "/v1/nosuch", "/v2/execute", "/jobs/x/y/z"])
def test_unknown_endpoint_404(api, path):
    assert_error(api.get(path), 404)


def test_wrong_method(api):
    r = api.request("PUT", "/execute", {"targets": ["localhost"], "cmd": "true"})
    assert_error(r, 405, "PUT is not allowed on /execute")
    assert r.headers["allow"] == "GET, POST"  # RFC 9110: a 405 says what is allowed
    target = api.delete("/target")
    assert_error(target, 405, "DELETE is not allowed on /target")
    assert target.headers["allow"] == "GET"


def test_body_too_large_413(api):
    body = ('{"targets": ["localhost"], "cmd": "echo ' + "a" * (2 * 1024 * 1024) + '"}').encode()
    head = (f"POST /execute HTTP/1.1\r\nHost: {api.addr[0]}:{api.addr[1]}\r\n"
            f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    status, rest = raw_request(api.addr, head, body)
    assert status == 413, (status, rest[:200])
    assert json.loads(rest).get("message"), rest[:200]
    assert api.get("/healthz").status == 200


def test_error_content_type_is_json(api):
    r = api.get("/jobs/nosuchjob")
    assert r.status == 404
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
