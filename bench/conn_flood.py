#!/usr/bin/env python3
"""Idle-connection flood plus active /healthz clients against one `steward serve`.

Opens IDLE connections that never send a byte, then runs ACTIVE keep-alive
clients that GET /healthz in a loop for SECONDS, and reports how many idle
connections the server still holds, /healthz latency (p50/p99/max), the
request rate and the server's RSS before and after. Not a test: numbers go
to bench/RESULTS.md.

    python3 bench/conn_flood.py [--idle 10000] [--active 1000] [--seconds 10]
"""

import argparse
import asyncio
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = os.environ.get("STEWARD_BIN", str(REPO / "build" / "steward"))
REQUEST = b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n"


def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_server(data_dir):
    proc = subprocess.Popen([BIN, "serve", "--http", "127.0.0.1:0", "--grpc", "off", "--no-auth",
                             "--data-dir", str(data_dir), "--log-level", "warn"],
                            stdout=subprocess.DEVNULL, stderr=open(data_dir.parent / "server.log", "wb"))
    addr_file = data_dir / "http.addr"
    for _ in range(200):
        if addr_file.exists() and addr_file.read_text().strip().rsplit(":", 1)[-1] not in ("", "0"):
            host, port = addr_file.read_text().strip().rsplit(":", 1)
            return proc, (host, int(port))
        time.sleep(0.05)
    proc.kill()
    sys.exit("the server did not start")


async def read_reply(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)


async def active_client(addr, until, latencies):
    reader, writer = await asyncio.open_connection(*addr)
    try:
        while time.monotonic() < until:
            t0 = time.monotonic()
            writer.write(REQUEST)
            await read_reply(reader)
            latencies.append(time.monotonic() - t0)
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle", type=int, default=10000)
    parser.add_argument("--active", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    root = Path(tempfile.mkdtemp(prefix="steward-flood-"))
    proc, addr = start_server(root / "data")
    try:
        await asyncio.sleep(0.5)
        rss_start = rss_mib(proc.pid)
        idle = []
        for _ in range(args.idle):
            idle.append(await asyncio.open_connection(*addr))
        await asyncio.sleep(1.0)
        held = len(os.listdir(f"/proc/{proc.pid}/fd"))
        rss_idle = rss_mib(proc.pid)
        latencies = []
        until = time.monotonic() + args.seconds
        started = time.monotonic()
        await asyncio.gather(*(active_client(addr, until, latencies) for _ in range(args.active)))
        elapsed = time.monotonic() - started
        rss_end = rss_mib(proc.pid)
        latencies.sort()
        pct = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")
        print(f"idle connections opened: {args.idle}; server descriptors while idle: {held}")
        print(f"active clients: {args.active}; requests: {len(latencies)} in {elapsed:.1f} s "
              f"({len(latencies) / elapsed:.0f} req/s)")
        print(f"/healthz latency: p50 {pct(0.50):.1f} ms, p99 {pct(0.99):.1f} ms, max {latencies[-1] * 1000:.1f} ms")
        print(f"server RSS: {rss_start:.1f} MiB at start, {rss_idle:.1f} MiB with the idle connections, "
              f"{rss_end:.1f} MiB after the active run")
        for _, writer in idle:
            writer.close()
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
