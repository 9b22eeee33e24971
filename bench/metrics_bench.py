#!/usr/bin/env python3
"""What a Prometheus scrape of GET /metrics costs while the server works
(issue 16: under 5 ms).

Load, all at once: a steady stream of async `POST /execute` jobs over 50
`local` targets (each job 5 random targets, `echo; sleep`), two clients
following long jobs that print a line every 50 ms (`?follow=1`), 20
conditions streamed over gRPC (interval 1 s) and GetCapabilities calls, so
every metric family has series. Meanwhile one client scrapes /metrics N
times, each on a fresh connection as Prometheus' first scrape does, and the
time from sending the request to the last byte read is reported, next to
a GET /healthz sent right after each scrape (the event loop's own latency
under that load). The same is timed on the idle server first.

    /usr/bin/python3 bench/metrics_bench.py --scrapes 1000 --out bench/out
"""

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tests" / "e2e"))
from bench_server import TOKEN, BenchServer  # noqa: E402
from executor_client import Executor  # noqa: E402

TARGETS = [f"t{i}" for i in range(50)]
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def post(addr, path, body):
    conn = http.client.HTTPConnection(*addr, timeout=60)
    conn.request("POST", path, body=json.dumps(body), headers=HEADERS)
    reply = conn.getresponse()
    data = reply.read()
    conn.close()
    if reply.status != 201:
        raise RuntimeError(f"POST {path}: {reply.status} {data[:200]!r}")
    return json.loads(data)["jid"]


def timed_get(addr, path):
    """(seconds from request to last byte, body)."""
    conn = http.client.HTTPConnection(*addr, timeout=60)
    started = time.perf_counter()
    conn.request("GET", path, headers=HEADERS)
    reply = conn.getresponse()
    body = reply.read()
    elapsed = time.perf_counter() - started
    conn.close()
    if reply.status != 200:
        raise RuntimeError(f"GET {path}: {reply.status}")
    return elapsed, body


def scrape_many(addr, count, pause):
    """Times of GET /metrics and, right after each, of GET /healthz (the event
    loop's own latency, to tell the scrape's cost from waiting for the loop);
    the last scrape's size and series."""
    scrapes, health, body = [], [], b""
    for _ in range(count):
        elapsed, body = timed_get(addr, "/metrics")
        scrapes.append(elapsed)
        health.append(timed_get(addr, "/healthz")[0])
        time.sleep(pause)
    series = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    return {"metrics": scrapes, "healthz": health, "size": len(body), "series": series,
            "server_mean": server_side_means(body.decode())}


def server_side_means(text):
    """{route: mean seconds} of the server's own request histogram (request's last byte to reply's end)."""
    from prometheus_client.parser import text_string_to_metric_families
    sums, counts = {}, {}
    for family in text_string_to_metric_families(text):
        if family.name != "steward_http_request_duration_seconds":
            continue
        for sample in family.samples:
            route = sample.labels.get("route")
            if sample.name.endswith("_sum"):
                sums[route] = sample.value
            elif sample.name.endswith("_count"):
                counts[route] = sample.value
    return {route: sums[route] / counts[route] for route in sums if counts.get(route)}


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Load:
    """The background work; stop() ends it and reports how many jobs it submitted."""

    def __init__(self, server, jobs_per_second):
        self.server = server
        self.stopping = threading.Event()
        self.jobs = 0
        self.threads = [threading.Thread(target=self.submit_jobs, args=(jobs_per_second,), daemon=True),
                        threading.Thread(target=self.follow, args=("t0",), daemon=True),
                        threading.Thread(target=self.follow, args=("t1",), daemon=True),
                        threading.Thread(target=self.conditions, daemon=True)]

    def start(self):
        for thread in self.threads:
            thread.start()

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join(30)
        return self.jobs

    def submit_jobs(self, per_second):
        period = 1 / per_second
        next_at = time.monotonic()
        while not self.stopping.is_set():
            post(self.server.addr, "/execute",
                 {"targets": random.sample(TARGETS[2:], 5), "cmd": "echo working; sleep 0.1"})
            self.jobs += 1
            next_at += period
            time.sleep(max(0.0, next_at - time.monotonic()))

    def follow(self, target):
        """Follows one job after another, each printing a line every 50 ms for 10 s."""
        while not self.stopping.is_set():
            jid = post(self.server.addr, "/execute",
                       {"targets": [target], "cmd": "for i in $(seq 200); do echo line $i; sleep 0.05; done"})
            conn = http.client.HTTPConnection(*self.server.addr, timeout=60)
            conn.request("GET", f"/jobs/{jid}?follow=1", headers=HEADERS)
            reply = conn.getresponse()
            while not self.stopping.is_set() and reply.readline():
                pass
            conn.close()

    def conditions(self):
        client = Executor(self.server.listener_addr, token=TOKEN)
        streams = []
        for i in range(20):
            cid = client.create_condition(TARGETS[10 + i], name=f"bench{i}", command="echo 0.5", interval=1)
            streams.append(client.stream_condition(cid))
        readers = [threading.Thread(target=self.drain, args=(stream,), daemon=True) for stream in streams]
        for reader in readers:
            reader.start()
        while not self.stopping.wait(0.2):
            client.capabilities()
        for stream in streams:
            stream.cancel()
        client.close()

    @staticmethod
    def drain(stream):
        try:
            for _ in stream:
                pass
        except grpc.RpcError:
            pass


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scrapes", type=int, default=1000)
    parser.add_argument("--pause", type=float, default=0.01, help="seconds between scrapes")
    parser.add_argument("--jobs-per-second", type=float, default=20)
    parser.add_argument("--out", default=str(REPO / "bench" / "out"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="steward-metrics-bench-") as work:
        inventory = "".join(f"{t} ansible_connection=local steward_max_sessions=4\n" for t in TARGETS)
        server = BenchServer(Path(work), inventory, "--grpc", "grpc.addr")
        try:
            idle = scrape_many(server.addr, min(200, args.scrapes), args.pause)
            load = Load(server, args.jobs_per_second)
            load.start()
            time.sleep(3)  # the streams and the job stream settle
            cpu_before, jobs_before = server_cpu(server), load.jobs
            started = time.monotonic()
            busy = scrape_many(server.addr, args.scrapes, args.pause)
            elapsed = time.monotonic() - started
            cpu = (server_cpu(server) - cpu_before) / elapsed
            jobs = load.jobs - jobs_before
            load.stop()
        finally:
            server.stop()

    ms = lambda seconds: f"{seconds * 1000:.2f} ms"  # noqa: E731
    lines = ["| server | request | count | p50 | p99 | max | server-side mean | series | body |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, run in (("idle", idle), ("under load", busy)):
        for path in ("metrics", "healthz"):
            times = run[path]
            server_mean = run["server_mean"].get(f"GET /{path}")
            server_mean = ms(server_mean) if server_mean is not None else "-"
            size = f"{run['series']} | {run['size'] / 1024:.1f} KiB" if path == "metrics" else "- | -"
            lines.append(f"| {name} | GET /{path} | {len(times)} | {ms(statistics.median(times))} | "
                         f"{ms(percentile(times, 99))} | {ms(max(times))} | {server_mean} | {size} |")
    lines.append("")
    lines.append(f"Load during the scrapes: {jobs} jobs submitted ({jobs / elapsed:.1f}/s, 5 targets each), "
                 f"2 follow streams, 20 condition streams; server CPU {cpu * 100:.0f}% of one core.")
    summary = "\n".join(lines)
    (out / "metrics_summary.md").write_text(summary + "\n")
    (out / "metrics_scrapes.json").write_text(json.dumps({"idle": idle, "under_load": busy}))
    print(summary)


def server_cpu(server):
    """Seconds of CPU the server process used so far (utime + stime)."""
    fields = Path(f"/proc/{server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
