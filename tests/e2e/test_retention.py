"""Retention at server level: `--retention-days` deletes finished jobs (their
runs and output included) and `--condition-values-hours` deletes condition
values, both checked once at start and then periodically.

Waiting days is not an option, so the records are aged instead: the server
creates them through the API, is stopped, their timestamps are moved into the
past in its SQLite store, and the restarted server must delete exactly those
past the retention and keep the rest.
"""

import re
import sqlite3
import time

import pytest

from conftest import JOB_DONE, Api, Server, qs, wait_for

HOUR = 3600.0
DAY = 24 * HOUR


def store_path(server):
    return server.data_dir / "steward.db"


def age(server, sql, *params):
    """Runs one UPDATE/INSERT on the stopped server's store."""
    assert not server.alive(), "the store is edited only while the server is stopped"
    with sqlite3.connect(store_path(server)) as db:
        db.execute(sql, params)


def count_rows(server, table, jid):
    with sqlite3.connect(store_path(server)) as db:
        return db.execute(f"SELECT COUNT(*) FROM {table} WHERE jid=?", (jid,)).fetchone()[0]


def all_jids(api):
    r = api.get(qs("/jobs", limit=1000))
    assert r.status == 200, r
    return set(r.body)


def wait_log(server, needle, timeout=10):
    wait_for(lambda: needle in server.log_path.read_text(errors="replace"), timeout,
             what=f"{needle!r} in the server log\n{server.log_tail()}")


@pytest.mark.parametrize("flags, retention_days", [([], 7), (["--retention-days", "1"], 1)])
def test_finished_jobs_past_the_retention_are_deleted_at_start(tmp_root, flags, retention_days):
    server = Server(tmp_root / f"jobs-{retention_days}", extra_args=flags).start()
    api = Api(server)
    names = ["long_gone", "just_past", "just_inside", "fresh"]
    jids = {}
    for name in names:
        job = api.run("/execute", {"targets": ["localhost"], "cmd": f"echo {name}"})
        assert job["state"] == JOB_DONE, job
        jids[name] = job["jid"]
    assert server.stop() == 0
    for jid in jids.values():
        assert count_rows(server, "runs", jid) == 1 and count_rows(server, "chunks", jid) >= 1

    retention = retention_days * DAY
    now = time.time()
    # Finished this long ago; the margins (an hour) dwarf the test's own run time.
    finished_ago = {"long_gone": retention * 3, "just_past": retention + HOUR,
                    "just_inside": retention - HOUR, "fresh": 0}
    for name, ago in finished_ago.items():
        if ago:
            age(server, "UPDATE jobs SET startat=?, finishat=? WHERE jid=?", now - ago - 1, now - ago, jids[name])

    server.start()
    wait_log(server, f"pruned 2 jobs older than {int(retention)} s")
    assert all_jids(api) == {jids["just_inside"], jids["fresh"]}
    for name in ("long_gone", "just_past"):
        r = api.get(f"/jobs/{jids[name]}")
        assert r.status == 404, r
    kept = api.job(jids["just_inside"], outputs=True)
    assert kept["return_data"]["localhost"]["stdout"] == "just_inside\n", kept
    assert server.stop() == 0
    for name in ("long_gone", "just_past"):
        assert count_rows(server, "runs", jids[name]) == 0, "a pruned job's runs go with it"
        assert count_rows(server, "chunks", jids[name]) == 0, "a pruned job's output goes with it"
    assert count_rows(server, "chunks", jids["fresh"]) >= 1


def test_a_running_job_is_never_pruned_however_old(tmp_root):
    server = Server(tmp_root / "running", extra_args=["--retention-days", "1", "--grace", "0"]).start()
    api = Api(server)
    started = tmp_root / "running-started"
    jid = api.submit("/execute", {"targets": ["localhost"], "cmd": f"touch {started}; sleep 30"})
    wait_for(started.exists, 10, what="command running")
    server.kill9()  # the job stays Running in the store
    age(server, "UPDATE jobs SET startat=? WHERE jid=?", time.time() - 30 * DAY, jid)
    server.start()
    # Restart repair finishes it (now, so it is recent); nothing is old enough to prune.
    job = api.wait_job(jid, timeout=20)
    assert re.fullmatch(r"interrupted: server restarted; process group \d+ stopped",
                        job["return_data"]["localhost"]["error"]), job
    assert all_jids(api) == {jid}
    assert "pruned" not in server.log_path.read_text(errors="replace")
    server.stop()


def test_condition_values_past_the_retention_are_deleted_at_start(tmp_root):
    from executor_client import Executor

    server = Server(tmp_root / "values", grpc=True, extra_args=["--condition-values-hours", "2"]).start()
    api = Api(server)
    executor = Executor(server.grpc_addr)
    try:
        # No stream is opened, so no runner produces values of its own.
        identifier = executor.create_condition("localhost", command="echo 7", interval=60)
    finally:
        executor.close()
    r = api.get(f"/conditions/{identifier}/values")
    assert r.status == 200 and r.body["values"] == [], r
    assert server.stop() == 0

    now = time.time()
    aged = {0.1: 50 * HOUR, 0.2: 2 * HOUR + 60, 0.3: 2 * HOUR - 600, 0.4: 60}  # value: seconds ago
    for value, ago in aged.items():
        age(server, "INSERT INTO condition_values(condition, at, value) VALUES (?, ?, ?)",
            identifier, now - ago, value)
    age(server, "INSERT INTO condition_values(condition, at, value) VALUES (?, ?, ?)", "other", now - 3 * HOUR, 0.9)

    server.start()
    wait_log(server, "pruned 3 condition values older than 7200 s")
    r = api.get(qs(f"/conditions/{identifier}/values", limit=100))
    assert r.status == 200, r
    assert [v["value"] for v in r.body["values"] if v["value"] != 7] == [0.3, 0.4], r.body
    assert r.body["values"][0]["at"] == pytest.approx(now - aged[0.3], abs=0.01)
    assert server.stop() == 0
    with sqlite3.connect(store_path(server)) as db:
        assert db.execute("SELECT COUNT(*) FROM condition_values").fetchone()[0] == 2
