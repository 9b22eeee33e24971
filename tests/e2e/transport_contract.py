"""Checks every transport must pass, shared by the ssh and qga end-to-end
tests. The targets there are this machine itself (sshd and qemu-ga run
here), so processes a command left behind are visible to pgrep.
"""

import subprocess
import threading
import time
import uuid

from conftest import OP_CHANGED, OP_FAILED, wait_for


def one(job, host):
    return job["return_data"][host]


def pids_with(tag):
    """Pids of processes whose command line holds tag."""
    out = subprocess.run(["pgrep", "-f", tag], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def check_output_cap(api, host, size):
    job = api.run("/execute", {"targets": [host], "cmd": f"head -c {size} /dev/zero | tr '\\0' x; echo done >&2"},
                  timeout=60)
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
