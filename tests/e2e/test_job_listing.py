"""GET /jobs?detail=1 with bounded replies (issue 12, item 2).

Listings are built from kept texts of finished jobs and shared between
clients (src/api/http/job_replies.hpp), so these tests check that what they
embed stays within the caps, and that a listing never shows a job as it was:
a running job that finishes, a new job and a deleted one.
"""

import pytest

from conftest import ALL_HOSTS, JOB_DONE, JOB_RUNNING, assert_error, qs, wait_for

LIST_CAP = 4096  # bytes of each stream per host in a listing
JOB_CAP = 64 * 1024  # in a job object
# Multi-byte characters (3 bytes), so a cut may fall inside one.
STDOUT = "".join(f"{i:05d} \u20ac\n" for i in range(3000))  # 30000 bytes
STDERR = "e" * 5000


@pytest.fixture(scope="module")
def jobs(api):
    """Two finished jobs over every host: one with long streams, one short."""
    long_job = api.run("/execute", {"targets": ALL_HOSTS, "argv": [
        "/usr/bin/python3", "-c", f"import sys; sys.stdout.write({STDOUT!r}); sys.stderr.write({STDERR!r})"]})
    short_job = api.run("/execute", {"targets": ALL_HOSTS, "cmd": "echo short"})
    return {"long": long_job["jid"], "short": short_job["jid"]}


def listed(api, **params):
    r = api.get(qs("/jobs", detail=1, **params))
    assert r.status == 200, r.body
    return {job["jid"]: job for job in r.body}


def check_stream(entry, stream, whole, cap):
    embedded = entry[stream].encode()
    assert len(embedded) <= cap, f"{stream}: {len(embedded)} bytes embedded, cap {cap}"
    if len(whole) > cap:
        assert embedded and whole.endswith(embedded), "the tail is embedded"
        assert entry[f"{stream}_embedded_truncated"] is True and entry[f"{stream}_size"] == len(whole)
    else:
        assert embedded == whole
        assert f"{stream}_embedded_truncated" not in entry and f"{stream}_size" not in entry


@pytest.mark.parametrize("attempt", ["first", "kept"])
def test_a_listing_embeds_at_most_the_cap_of_each_stream(api, jobs, attempt):
    everything = listed(api, outputs=1)
    expected = {jobs["long"]: (STDOUT.encode(), STDERR.encode()), jobs["short"]: (b"short\n", b"")}
    for jid, (out, err) in expected.items():
        for host in ALL_HOSTS:
            entry = everything[jid]["return_data"][host]
            check_stream(entry, "stdout", out, LIST_CAP)
            check_stream(entry, "stderr", err, LIST_CAP)
    for job in everything.values():  # whatever else the module ran
        for entry in job["return_data"].values():
            for stream in ("stdout", "stderr"):
                assert len(entry[stream].encode()) <= LIST_CAP

    lower = listed(api, outputs=1, max_output=100)[jobs["long"]]["return_data"]["web1"]
    check_stream(lower, "stdout", STDOUT.encode(), 100)
    bare = listed(api)[jobs["long"]]["return_data"]["web1"]
    assert "stdout" not in bare and "stdout_embedded_truncated" not in bare


def test_a_listed_job_is_the_job_object_with_the_list_cap(api, jobs):
    everything = listed(api, outputs=1)
    for jid in jobs.values():
        alone = api.get(qs(f"/jobs/{jid}", outputs=1, max_output=LIST_CAP)).body
        assert everything[jid] == alone
        whole = api.job(jid, outputs=True)["return_data"]["localhost"]
        check_stream(whole, "stdout", STDOUT.encode() if jid == jobs["long"] else b"short\n", JOB_CAP)


def test_a_listing_shows_jobs_as_they_are_now(api, jobs, tmp_root):
    gate = tmp_root / "listing-gate"
    for _ in range(2):
        listed(api)  # a listing of finished jobs only, kept
    jid = api.submit("/execute", {"targets": ["web1"], "cmd": f"while [ ! -e {gate} ]; do sleep 0.05; done; echo out"})
    running = listed(api, outputs=1)[jid]
    assert running["state"] == JOB_RUNNING and running["return_data"]["web1"]["phase"] != "finished"
    gate.touch()
    wait_for(lambda: api.job(jid)["state"] != JOB_RUNNING, timeout=30, what="the gated job to finish")
    # The same ids as while it ran: the listing must not be the one made then.
    finished = listed(api, outputs=1)[jid]
    assert finished["state"] == JOB_DONE
    assert finished["return_data"]["web1"]["phase"] == "finished" and finished["return_data"]["web1"]["stdout"] == "out\n"

    assert api.delete(f"/jobs/{jobs['short']}").status == 204
    after = listed(api)
    assert jobs["short"] not in after and jid in after and jobs["long"] in after
    assert jobs["short"] not in listed(api, outputs=1)
    assert_error(api.get(f"/jobs/{jobs['short']}"), 404)
    page = api.get("/jobs?detail=1&offset=1&limit=1").body
    assert [job["jid"] for job in page] == [api.get("/jobs").body[1]]
