"""Two real servers on one store, a SQLite file or a Redis (README "Servers
and leases", "Redis"): any server cancels or follows a job the other runs,
and a server killed with -9 has its work taken over once its lease expires,
each pending target run once. With Redis, a redis-server killed mid-use
makes requests fail with 503 until it is back, with every acknowledged job."""

import json
import time

import pytest

from conftest import (JOB_DONE, JOB_FAILURE, JOB_RUNNING, OP_CHANGED, OP_FAILED, Api,
                      read_pid, request, wait_for, wait_process_gone)
from shared_store import shared_server, store  # noqa: F401 (store is a fixture)

LEASE_SECONDS = 10


@pytest.fixture
def pair(store):
    root, store_url, _ = store
    a = shared_server(root, store_url, "a")
    b = shared_server(root, store_url, "b")
    a.start()
    b.start()
    yield a, b
    for srv in (a, b):
        if srv.proc and srv.proc.poll() is None:
            srv.stop()


def test_a_job_run_by_one_server_is_cancelled_through_the_other(pair, store, reap):
    a, b = pair
    pidfile = store[0] / "cancel.pid"
    jid = Api(a).submit("/execute", {"targets": ["localhost"], "cmd": f"echo $$ > {pidfile}; exec sleep 60"})
    pid = read_pid(pidfile)
    reap(pid)
    seen = Api(b).job(jid)
    assert seen["state"] == JOB_RUNNING, seen

    r = Api(b).post(f"/jobs/{jid}/cancel")
    assert r.status == 200, r
    assert r.body["state"] == JOB_FAILURE, r.body
    assert "cancelled by request" in r.body["error"], r.body
    wait_process_gone(pid, timeout=10)  # the owner killed its process
    assert Api(a).job(jid)["state"] == JOB_FAILURE


def test_a_follower_on_the_other_server_sees_each_result_and_the_end(pair):
    a, b = pair
    jid = Api(a).submit("/execute", {"targets": ["localhost", "web1"], "cmd": "sleep 1; echo from-a"})
    r = request(b.addr, "GET", f"/jobs/{jid}?follow=1&outputs=1", timeout=30)
    assert r.status == 200, r
    lines = [json.loads(line) for line in r.body.splitlines() if line.strip()]
    assert lines[0]["state"] == JOB_RUNNING, lines[0]
    results = {host: entry for line in lines[1:] for host, entry in line.items()}
    assert set(results) == {"localhost", "web1"}, lines
    for entry in results.values():
        assert entry["status"] == OP_CHANGED, entry
        assert "from-a" in entry["stdout"], entry
    assert Api(b).job(jid)["state"] == JOB_DONE


def test_a_killed_servers_work_is_taken_over_and_each_pending_target_runs_once(pair, store, reap):
    a, b = pair
    pidfile = store[0] / "takeover.pid"
    ran = store[0] / "ran-once"
    api_a = Api(a)
    running = api_a.submit("/execute", {"targets": ["localhost"], "cmd": f"echo $$ > {pidfile}; exec sleep 60"})
    reap(read_pid(pidfile))
    # localhost runs one session at a time: this job waits on a for the first.
    pending = api_a.submit("/execute", {"targets": ["localhost"], "cmd": f"echo ran >> {ran}"})
    assert api_a.job(pending)["state"] == JOB_RUNNING

    a.kill9()
    api_b = Api(b)
    done = wait_for(lambda: api_b.job(pending)["state"] == JOB_DONE and api_b.job(pending),
                    timeout=LEASE_SECONDS * 3, what="b to run a's pending target")
    assert done["return_data"]["localhost"]["status"] == OP_CHANGED, done
    interrupted = api_b.job(running)
    assert interrupted["state"] == JOB_FAILURE, interrupted
    entry = interrupted["return_data"]["localhost"]
    assert entry["status"] == OP_FAILED, interrupted
    assert entry["error"] == "interrupted: server a lost", interrupted

    a.start()  # a comes back: it does not run anything a second time
    wait_for(lambda: "holds its lease" in a.log_path.read_text(), what="a's new lease")
    assert ran.read_text() == "ran\n"
    assert Api(a).job(pending)["state"] == JOB_DONE


def test_a_killed_redis_is_503_and_after_its_restart_keeps_every_acknowledged_job(pair, store):
    _, _, redis = store
    if redis is None:
        pytest.skip("Redis only")
    a, b = pair
    jid = Api(a).submit("/execute", {"targets": ["localhost"], "cmd": "echo kept"})
    before = Api(a).wait_job(jid)
    assert before["state"] == JOB_DONE, before

    redis.kill9()
    r = request(b.addr, "GET", f"/jobs/{jid}")
    assert r.status == 503, r
    assert "store unavailable" in r.body["message"], r.body
    r = request(a.addr, "POST", "/execute", {"targets": ["localhost"], "cmd": "true"})
    assert r.status == 503, r

    redis.start()
    wait_for(lambda: request(b.addr, "GET", f"/jobs/{jid}").status == 200, what="b to read the store again")
    assert Api(b).job(jid, outputs=True) == before
    again = Api(a).run("/execute", {"targets": ["localhost"], "cmd": "echo back"})
    assert again["return_data"]["localhost"]["status"] == OP_CHANGED, again


def test_work_that_runs_while_redis_is_away_is_recorded_once_it_is_back(pair, store):
    root, _, redis = store
    if redis is None:
        pytest.skip("Redis only")
    a, b = pair
    started = root / "through.started"
    jid = Api(a).submit("/execute", {"targets": ["localhost"], "cmd": f"touch {started}; sleep 2; echo through"})
    wait_for(started.exists, what="the command to start")
    redis.kill9()
    time.sleep(3)  # the command ends, and its result waits, while Redis is away
    redis.start()
    job = Api(b).wait_job(jid, timeout=30)
    assert job["state"] == JOB_DONE, job
    entry = job["return_data"]["localhost"]
    assert entry["status"] == OP_CHANGED and "through" in entry["stdout"], job
