"""Checks every transport must pass, shared by the ssh and qga end-to-end
tests. The targets there are this machine itself (sshd and qemu-ga run
here), so processes a command left behind are visible to pgrep.
"""

import hashlib
import os
import subprocess
import threading
import time
import uuid

from conftest import OP_CHANGED, OP_FAILED, OP_UNREACHABLE, wait_for

MiB = 1 << 20


def one(job, host):
    return job["return_data"][host]


def pids_with(tag):
    """Pids of processes whose command line holds tag."""
    out = subprocess.run(["pgrep", "-f", tag], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def check_output_cap(api, host, size):
    job = api.run("/execute", {"targets": [host], "cmd": f"head -c {size} /dev/zero | tr '\\0' x; echo done >&2"},
                  timeout=60)
    # A job object embeds 64 KiB per stream unless asked for more.
    job = api.get(f"/jobs/{job['jid']}?outputs=1&max_output={1 << 20}").body
    e = one(job, host)
    assert e["status"] == OP_CHANGED, {k: v for k, v in e.items() if k != "stdout"}
    assert len(e["stdout"]) == 1 << 20 and e.get("stdout_truncated") is True
    assert e["stderr"] == "done\n"


def check_timeout_kills_the_process_tree(api, host):
    tag = f"steward-e2e-{uuid.uuid4().hex[:8]}"
    t0 = time.monotonic()
    job = api.run("/execute", {"targets": [host], "timeout": 1,
                               "cmd": f"sh -c 'sleep 100; echo {tag}' & sleep 101; echo {tag}"})
    assert time.monotonic() - t0 < 10, "timeout of 1 s not enforced"
    e = one(job, host)
    assert e["status"] == OP_FAILED and "time" in (e.get("error") or "").lower(), e
    wait_for(lambda: not pids_with(tag), timeout=5, what=f"processes with {tag} gone")


def check_cancel_kills_the_process_tree(api, host):
    tag = f"steward-e2e-{uuid.uuid4().hex[:8]}"
    jid = api.submit("/execute", {"targets": [host], "cmd": f"sh -c 'sleep 100; echo {tag}' & wait"})
    wait_for(lambda: pids_with(tag), timeout=10, what="the command to start")
    r = api.post(f"/jobs/{jid}/cancel")
    assert r.status == 200, r
    e = one(r.body, host)
    assert e["status"] == OP_FAILED and "cancel" in (e.get("error") or "").lower(), r.body
    wait_for(lambda: not pids_with(tag), timeout=5, what=f"processes with {tag} gone")
    # The target stays usable after a cancel.
    job = api.run("/execute", {"targets": [host], "cmd": "echo again"})
    assert one(job, host)["stdout"] == "again\n", job


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class RssPeak(threading.Thread):
    """Highest VmRSS (KiB) of a process while in the with-block."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0, threading.Event()

    def run(self):
        while not self.done.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.02)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.join()


def write_random_file(path, mib):
    """`mib` MiB of random bytes at path; returns their SHA-256."""
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(MiB))
    return sha256_of(path)


def write_sparse_marked_file(path, mib):
    """A `mib` MiB file made in a moment: holes, with 16 bytes of its own every
    64 KiB (the offset and random bytes), so a chunk lost, repeated or out of
    order changes its SHA-256. Returns that SHA-256."""
    with open(path, "wb") as f:
        f.truncate(mib * MiB)
        for offset in range(0, mib * MiB, 64 << 10):
            f.seek(offset)
            f.write(offset.to_bytes(8, "little") + os.urandom(8))
    return sha256_of(path)


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MiB), b""):
            digest.update(block)
    return digest.hexdigest()


def check_file_errors(api, files_dir, host, unreachable_host):
    """A missing target folder or file is Failed naming it; an unreachable target is Unreachable."""
    (files_dir / "small.txt").write_text("small\n")
    job = api.run("/copy", {"targets": [host], "src": "small.txt", "dest": "/nonexistent-dir/x"})
    e = one(job, host)
    assert e["status"] == OP_FAILED and "no such file" in e["error"].lower(), e
    job = api.run("/fetch", {"targets": [host], "src": "/nonexistent/file"})
    e = one(job, host)
    assert e["status"] == OP_FAILED and "no such file" in e["error"].lower(), e
    job = api.run("/copy", {"targets": [unreachable_host], "src": "small.txt", "dest": "/tmp/x"})
    assert one(job, unreachable_host)["status"] == OP_UNREACHABLE, job
