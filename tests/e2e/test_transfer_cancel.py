"""File transfers to a real sshd that do not finish: a copy cancelled while its
bytes are on the wire, and copies and fetches whose SHA-256 check fails.

The README's promise: files are written under a temporary name beside the
destination, checked against the source's SHA-256 (`sha256sum` on the
target), then renamed into place, so a failed or cancelled transfer leaves
the destination as it was. The mismatch is provoked with a second sshd whose
sessions find a lying `sha256sum` first on their PATH.
"""

import time

import pytest

from conftest import JOB_DONE, JOB_FAILURE, OP_CHANGED, OP_FAILED, Api, Server, wait_for
from sshd import Sshd, SshFleet
from transport_contract import one, sha256_of, write_random_file

XFER_ADDR, LIAR_ADDR = "127.0.0.72", "127.0.0.73"
WRONG_DIGEST = "0" * 64
BIG = 4 << 30  # sparse: costs nothing to read, far more than a copy moves in the seconds before the cancel


@pytest.fixture(scope="module")
def fleet(tmp_root):
    fleet = SshFleet(tmp_root / "ssh", 2, first=int(XFER_ADDR.rsplit(".", 1)[1]))
    fake_bin = fleet.workdir / "fake-bin"
    fake_bin.mkdir()
    liar = fake_bin / "sha256sum"
    liar.write_text(f'#!/bin/sh\n# as sha256sum -- FILE prints it, with a wrong digest\necho "{WRONG_DIGEST}  $2"\n')
    liar.chmod(0o755)
    fleet.daemons = [
        Sshd(fleet.workdir, "honest", [XFER_ADDR], fleet.port, fleet.host_key, fleet.authorized_keys, fleet.home),
        Sshd(fleet.workdir, "liar", [LIAR_ADDR], fleet.port, fleet.host_key, fleet.authorized_keys, fleet.home,
             session_env={"PATH": f"{fake_bin}:/usr/local/bin:/usr/bin:/bin"})]
    fleet.start()
    yield fleet
    fleet.stop()


@pytest.fixture(scope="module")
def server(tmp_root, fleet):
    inventory = fleet.host_line("xfer", XFER_ADDR) + fleet.host_line("liar", LIAR_ADDR)
    srv = Server(tmp_root / "data", inventory=inventory).start()
    yield srv
    assert srv.stop() == 0, srv.log_tail()


@pytest.fixture(scope="module")
def api(server):
    return Api(server)


@pytest.fixture(scope="module")
def files_dir(server):
    return server.data_dir / "files"


def names_in(folder):
    return sorted(p.name for p in folder.iterdir())


def test_the_liar_lies(api):
    """The mismatch tests below mean something only if the liar's sha256sum is the fake one."""
    job = api.run("/execute", {"targets": ["liar", "xfer"], "argv": ["sha256sum", "--", "/dev/null"]})
    assert one(job, "liar")["stdout"] == f"{WRONG_DIGEST}  /dev/null\n", job
    assert one(job, "xfer")["stdout"].split()[0] == sha256_of("/dev/null"), job


def test_cancel_during_a_copy_removes_the_partial_file_and_keeps_the_destination(api, files_dir, tmp_root):
    source = files_dir / "huge.bin"
    with open(source, "wb") as f:
        f.truncate(BIG)
    remote = tmp_root / "remote-cancel"
    remote.mkdir()
    dest = remote / "huge.bin"
    dest.write_text("the old content\n")
    jid = api.submit("/copy", {"targets": ["xfer"], "src": "huge.bin", "dest": str(dest)})

    def growing_partial():
        partial = [p for p in remote.iterdir() if p.name != "huge.bin"]
        return len(partial) == 1 and partial[0].stat().st_size >= 8 << 20 and partial[0]
    temporary = wait_for(growing_partial, 30, what="the temporary file to grow past 8 MiB")
    assert temporary.name.startswith(".huge.bin.steward-"), temporary

    cancelled_at = time.monotonic()
    r = api.post(f"/jobs/{jid}/cancel")
    assert r.status == 200, r
    job = api.wait_job(jid, timeout=20)
    assert time.monotonic() - cancelled_at < 10, "a cancel ends the transfer promptly"
    assert job["state"] == JOB_FAILURE, job
    e = one(job, "xfer")
    assert e["status"] == OP_FAILED and "cancelled" in e["error"], e
    assert names_in(remote) == ["huge.bin"], "the partial file is removed"
    assert dest.read_text() == "the old content\n"
    source.unlink()

    # The connection the cancel interrupted, or its replacement, still serves.
    job = api.run("/execute", {"targets": ["xfer"], "cmd": "echo still here"})
    assert job["state"] == JOB_DONE and one(job, "xfer")["stdout"] == "still here\n", job


def test_copy_with_a_checksum_mismatch_fails_and_keeps_the_destination(api, files_dir, tmp_root):
    digest = write_random_file(files_dir / "small.bin", 1)
    job_dests = {}
    for host in ("liar", "xfer"):
        remote = tmp_root / f"remote-copy-{host}"
        remote.mkdir()
        job_dests[host] = remote / "small.bin"
        job_dests[host].write_text("the old content\n")
    jobs = {host: api.run("/copy", {"targets": [host], "src": "small.bin", "dest": str(dest)})
            for host, dest in job_dests.items()}

    e = one(jobs["liar"], "liar")
    assert jobs["liar"]["state"] == JOB_FAILURE and e["status"] == OP_FAILED, jobs["liar"]
    assert (f"checksum mismatch for {job_dests['liar']}: sent {digest}, received {WRONG_DIGEST}"
            in e["error"]), e
    assert "liar" in e["error"] or LIAR_ADDR in e["error"], e
    assert names_in(job_dests["liar"].parent) == ["small.bin"], "no temporary file left"
    assert job_dests["liar"].read_text() == "the old content\n"

    # The same copy through the honest sshd replaces the file: only the check differs.
    assert one(jobs["xfer"], "xfer")["status"] == OP_CHANGED, jobs["xfer"]
    assert sha256_of(job_dests["xfer"]) == digest


def test_fetch_with_a_checksum_mismatch_fails_and_leaves_nothing(api, files_dir, tmp_root):
    source = tmp_root / "remote-fetch.bin"
    digest = write_random_file(source, 1)
    job = api.run("/fetch", {"targets": ["liar"], "src": str(source), "dest": "fetched"})
    e = one(job, "liar")
    assert job["state"] == JOB_FAILURE and e["status"] == OP_FAILED, job
    assert f"checksum mismatch for {source}: sent {WRONG_DIGEST}, received {digest}" in e["error"], e
    host_dir = files_dir / "fetched" / "liar"
    assert not host_dir.exists() or names_in(host_dir) == [], "no file, final or temporary, is left"
