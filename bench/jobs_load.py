#!/usr/bin/env python3
"""1,000 concurrent keep-alive clients on GET /jobs over a store holding about
1 GB of output (issue 12, item 2). Not a test: numbers go to bench/RESULTS.md.

The store is filled through the real server: jobs on HOSTS local targets
whose command prints 1 MiB (the per-stream cap) on stdout, until the stored
output reaches --output-mib. The server is then restarted on that store (so
"RSS before" is a fresh server over a full store), the clients run for
--seconds, and the script reports requests/s, latency p50/p99/max, the reply
size and the server's RSS before, at its peak during the run (VmHWM) and
after.

    python3 bench/jobs_load.py [--output-mib 1024] [--clients 1000] [--seconds 15] [--path /jobs]

--path may name one stored job as {jid} (the newest), e.g. --path "/jobs/{jid}?outputs=1";
--path can be given several times: each is measured on a freshly restarted server.
--running N starts N jobs that run through the load (a `sleep` on h00, then
deleted), so listings hold live jobs, as on a busy server.
"""

import argparse
import asyncio
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = os.environ.get("STEWARD_BIN", str(REPO / "build" / "steward"))
TOKEN = "bench"
HOSTS = 16
MIB = 1 << 20
# 1 MiB of printable output, made by the target's own tools.
PRINT_ONE_MIB = f"yes steward-bench-output-line | head -c {MIB}"


def proc_status(pid, field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


class Server:
    def __init__(self, root):
        self.data = root / "data"
        self.inventory = root / "inventory.ini"
        self.inventory.write_text("".join(f"h{i:02d} ansible_connection=local\n" for i in range(HOSTS)))
        self.log = open(root / "server.log", "ab")
        self.proc = None

    def start(self):
        addr_file = self.data / "http.addr"
        addr_file.unlink(missing_ok=True)
        self.proc = subprocess.Popen([BIN, "serve", "--http", "127.0.0.1:0", "--grpc", "off", "--data-dir",
                                      str(self.data), "--inventory", str(self.inventory), "--log-level", "warn"],
                                     env=dict(os.environ, STEWARD_TOKEN=TOKEN), stdout=self.log, stderr=self.log)
        for _ in range(200):
            text = addr_file.read_text().strip() if addr_file.exists() else ""
            if text and not text.endswith(":0"):
                host, port = text.rsplit(":", 1)
                self.addr = (host, int(port))
                return self
            time.sleep(0.05)
        sys.exit("the server did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)

    def call(self, method, path, body=None):
        request = urllib.request.Request(f"http://{self.addr[0]}:{self.addr[1]}{path}", method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(request, timeout=300) as reply:
            return json.loads(reply.read())


def fill(server, output_mib):
    """Jobs of HOSTS targets, 1 MiB of stdout each, until output_mib MiB are stored."""
    jobs = -(-output_mib // HOSTS)
    targets = [f"h{i:02d}" for i in range(HOSTS)]
    started = time.monotonic()
    pending = []
    for n in range(jobs):
        pending.append(server.call("POST", "/execute", {"targets": targets, "cmd": PRINT_ONE_MIB})["jid"])
        if len(pending) >= 4 or n == jobs - 1:
            for jid in pending:
                while server.call("GET", f"/jobs/{jid}")["state"] == 1:
                    time.sleep(0.2)
            pending.clear()
    return jobs, time.monotonic() - started


def stored_output_bytes(db_path):
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        chunks = db.execute("SELECT COALESCE(SUM(LENGTH(data)), 0) FROM chunks").fetchone()[0]
        runs = db.execute("SELECT COALESCE(SUM(LENGTH(stdout) + LENGTH(stderr)), 0) FROM runs").fetchone()[0]
    return chunks, runs


async def client(addr, request, until, latencies, sizes, errors):
    try:
        reader, writer = await asyncio.open_connection(*addr)
    except OSError:
        errors.append("connect")
        return
    try:
        while time.monotonic() < until:
            t0 = time.monotonic()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = head.split(b" ", 2)[1]
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.monotonic() - t0)
            if status != b"200":
                errors.append(status.decode())
            sizes.append(length)
    except (ConnectionError, asyncio.IncompleteReadError) as error:
        errors.append(type(error).__name__)
    finally:
        writer.close()


async def load(server, clients, seconds, path):
    request = (f"GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {TOKEN}\r\n\r\n").encode()
    latencies, sizes, errors = [], [], []
    peak = [0.0]

    async def sample_rss(until):
        while time.monotonic() < until:
            peak[0] = max(peak[0], proc_status(server.proc.pid, "VmRSS"))
            await asyncio.sleep(0.1)

    until = time.monotonic() + seconds
    started = time.monotonic()
    await asyncio.gather(sample_rss(until),
                         *(client(server.addr, request, until, latencies, sizes, errors) for _ in range(clients)))
    return latencies, sizes, errors, time.monotonic() - started, peak[0]


def measure(server, path, clients, seconds, running):
    server.start()
    live = [server.call("POST", "/execute", {"targets": ["h00"], "cmd": "sleep 3600"})["jid"] for _ in range(running)]
    time.sleep(0.5)
    if "{jid}" in path:
        path = path.replace("{jid}", server.call("GET", "/jobs?limit=1")[0])
    rss_before = proc_status(server.proc.pid, "VmRSS")
    latencies, sizes, errors, elapsed, rss_peak = asyncio.run(load(server, clients, seconds, path))
    rss_after = proc_status(server.proc.pid, "VmRSS")
    hwm = proc_status(server.proc.pid, "VmHWM")
    for jid in live:
        urllib.request.urlopen(urllib.request.Request(f"http://{server.addr[0]}:{server.addr[1]}/jobs/{jid}",
                                                      method="DELETE", headers={"Authorization": f"Bearer {TOKEN}"}))
    server.stop()
    latencies.sort()
    pct = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0.0
    print(f"GET {path}: {running} running jobs, {clients} keep-alive clients, {len(latencies)} replies in {elapsed:.1f} s "
          f"= {len(latencies) / elapsed:.0f} req/s; reply {sizes[0] if sizes else 0} bytes; "
          f"errors {len(errors)} {sorted(set(errors))[:5]}")
    print(f"latency: p50 {pct(0.50):.1f} ms, p99 {pct(0.99):.1f} ms, max {pct(1.0):.1f} ms")
    print(f"server RSS: {rss_before:.1f} MiB before, {rss_peak:.1f} MiB peak sampled (VmHWM {hwm:.1f} MiB), "
          f"{rss_after:.1f} MiB after", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--output-mib", type=int, default=1024)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--path", action="append", help="default /jobs")
    parser.add_argument("--running", type=int, default=0)
    parser.add_argument("--keep", metavar="DIR", help="fill once into DIR and reuse it on later runs")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="steward-jobs-load-"))
    root.mkdir(parents=True, exist_ok=True)
    server = Server(root)
    try:
        marker = root / "filled"
        if not marker.exists():
            server.start()
            jobs, fill_seconds = fill(server, args.output_mib)
            server.stop()
            marker.write_text(f"{jobs} jobs of {HOSTS} targets filled in {fill_seconds:.0f} s\n")
        chunks, runs = stored_output_bytes(server.data / "steward.db")
        db_size = sum(f.stat().st_size for f in server.data.glob("steward.db*"))
        print(f"store: {marker.read_text().strip()}; output stored: {chunks / MIB:.0f} MiB in chunks, "
              f"{runs / MIB:.0f} MiB in runs; database files {db_size / MIB:.0f} MiB")

        for path in args.path or ["/jobs"]:
            measure(server, path, args.clients, args.seconds, args.running)
    finally:
        if server.proc and server.proc.poll() is None:
            server.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
