"""1,000 conditions at a 1 s interval over 100 local targets, streamed over
gRPC, with Feature `create` calls made during the load. Run once with
steward's time-grid pacing and once with "sleep an interval after each run"
(how other executors pace conditions), in the same run, and compare:
observed interval mean / p99, cumulative drift, Feature create latency.

usage: /usr/bin/python3 bench/conditions_bench.py [--duration 300] [--conditions 1000]
                                                  [--targets 100] [--out DIR]
"""

import argparse
import asyncio
import http.client
import json
import resource
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))
from executor_client import common_pb2, condition_grpc, condition_pb2, feature_grpc, feature_pb2  # noqa: E402

STEWARD = str(REPO / "build" / "steward")
TOKEN = "bench"
METADATA = (("authorization", f"Bearer {TOKEN}"),)
INTERVAL = 1.0


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


class Server:
    def __init__(self, workdir, pacing, targets, max_connections):
        self.data = Path(workdir) / f"data-{pacing}"
        self.data.mkdir(parents=True)
        inventory = Path(workdir) / "inventory.ini"
        inventory.write_text("".join(f"t{i:03d} ansible_connection=local steward_max_sessions=1\n"
                                     for i in range(targets)))
        self.argv = [STEWARD, "serve", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--data-dir",
                     str(self.data), "--inventory", str(inventory), "--packages", str(REPO / "bench" / "packages"),
                     "--max-connections", str(max_connections), "--condition-pacing", pacing,
                     "--log-level", "warn"]
        self.log = open(Path(workdir) / f"server-{pacing}.log", "wb")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.argv, env=dict(os.environ, STEWARD_TOKEN=TOKEN),
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        addr_file = self.data / "grpc.addr"
        for _ in range(200):
            if (self.data / "http.addr").exists() and addr_file.exists():
                self.grpc_addr = addr_file.read_text().strip()
                return self
            time.sleep(0.05)
        raise RuntimeError("steward did not start")

    def rest(self, path):
        host, port = (self.data / "http.addr").read_text().strip().rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        connection.request("GET", path, headers={"Authorization": f"Bearer {TOKEN}"})
        body = json.loads(connection.getresponse().read())
        connection.close()
        return body

    def cpu_seconds(self):
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mib(self):
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()


async def create_conditions(stub, count, targets):
    ids = []
    for start in range(0, count, 50):
        batch = [stub.create(condition_pb2.Condition(name=f"c{i}", virtual_machine_id=f"t{i % targets:03d}",
                                                     command="echo 0.5", interval=int(INTERVAL)),
                             metadata=METADATA, timeout=60)
                 for i in range(start, min(count, start + 50))]
        ids += [reply.value for reply in await asyncio.gather(*batch)]
    return ids


async def follow(stub, identifier, arrivals, stop):
    call = stub.stream(common_pb2.Identifier(value=identifier), metadata=METADATA)
    try:
        async for _ in call:
            arrivals.append(time.monotonic())
            if stop.is_set():
                break
    except grpc.aio.AioRpcError as error:
        if error.code() != grpc.StatusCode.CANCELLED:
            raise
    finally:
        call.cancel()


async def create_features(stub, targets, latencies, stop):
    rng = random.Random(7)
    while not stop.is_set():
        request = feature_pb2.Feature(name="bench-feature", virtual_machine_id=f"t{rng.randrange(targets):03d}",
                                      source=common_pb2.Source(name="bench-feature", version="1.0.0"))
        t0 = time.monotonic()
        await stub.create(request, metadata=METADATA, timeout=60)
        latencies.append(time.monotonic() - t0)
        await asyncio.sleep(0.5)


def server_side_stats(server, ids, since):
    """Intervals between the values the server recorded (its clock, no client in between)."""
    intervals = []
    for identifier in ids:
        values = [v["at"] for v in server.rest(f"/conditions/{identifier}/values?limit=100000")["values"]
                  if v["at"] >= since]
        intervals += [b - a for a, b in zip(values, values[1:])]
    counters = [c.get("counters", {}) for c in server.rest("/conditions")]
    return {
        "server_interval_mean": statistics.fmean(intervals),
        "server_interval_p99": percentile(intervals, 0.99),
        "skipped_busy": sum(c.get("skipped_busy", 0) for c in counters),
        "failed": sum(c.get("failed", 0) for c in counters),
    }


def stream_stats(arrivals_by_stream, started, duration):
    intervals, drifts, missing = [], [], 0
    for arrivals in arrivals_by_stream:
        if len(arrivals) < 2:
            missing += 1
            continue
        intervals += [b - a for a, b in zip(arrivals, arrivals[1:])]
        # How far the last value is from where a perfect 1 s grid from the first one puts it.
        drifts.append((arrivals[-1] - arrivals[0]) - (len(arrivals) - 1) * INTERVAL)
    values = sum(len(a) for a in arrivals_by_stream)
    return {
        "values": values,
        "values_per_second": values / duration,
        "streams_without_values": missing,
        "interval_mean": statistics.fmean(intervals),
        "interval_p50": percentile(intervals, 0.50),
        "interval_p99": percentile(intervals, 0.99),
        "interval_max": max(intervals),
        "drift_mean": statistics.fmean(drifts),
        "drift_max": max(drifts),
    }


async def run_mode(workdir, pacing, args):
    server = Server(workdir, pacing, args.targets, args.max_connections).start()
    channel = grpc.aio.insecure_channel(server.grpc_addr, options=[("grpc.max_concurrent_streams", 2000)])
    conditions = condition_grpc.ConditionServiceStub(channel)
    features = feature_grpc.FeatureServiceStub(channel)
    ids = await create_conditions(conditions, args.conditions, args.targets)
    arrivals = [[] for _ in ids]
    stop = asyncio.Event()
    cpu_before = server.cpu_seconds()
    started = time.monotonic()
    streams = [asyncio.create_task(follow(conditions, i, a, stop)) for i, a in zip(ids, arrivals)]
    await asyncio.sleep(args.warmup)
    latencies = []
    load_started_unix = time.time()
    client_cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    feature_task = asyncio.create_task(create_features(features, args.targets, latencies, stop))
    await asyncio.sleep(args.duration)
    stop.set()
    elapsed = time.monotonic() - started
    cpu = server.cpu_seconds() - cpu_before
    rss = server.rss_mib()
    client_cpu = resource.getrusage(resource.RUSAGE_SELF)
    client_share = ((client_cpu.ru_utime + client_cpu.ru_stime) -
                    (client_cpu_before.ru_utime + client_cpu_before.ru_stime)) / args.duration
    for task in streams:
        task.cancel()
    await asyncio.gather(feature_task, *streams, return_exceptions=True)
    await channel.close()
    server_side = server_side_stats(server, ids, load_started_unix)
    server.stop()
    result = stream_stats(arrivals, started, elapsed)
    result.update(server_side)
    result["client_cpu_share"] = client_share
    result.update({
        "pacing": pacing,
        "duration": elapsed,
        "feature_creates": len(latencies),
        "feature_create_p50_ms": percentile(latencies, 0.50) * 1000,
        "feature_create_p99_ms": percentile(latencies, 0.99) * 1000,
        "feature_create_max_ms": max(latencies) * 1000 if latencies else float("nan"),
        "server_cpu_share": cpu / elapsed,
        "server_rss_mib": rss,
    })
    return result


def markdown(results, args):
    lines = [f"{args.conditions} conditions, interval 1 s, {args.targets} local targets (steward_max_sessions=1), "
             f"--max-connections {args.max_connections}, {args.duration:.0f} s of load after a {args.warmup:.0f} s "
             "warm-up; a Feature create every 0.5 s during the load.", "",
             "| pacing | values/s | interval mean | p50 | p99 | max | drift mean | drift max | "
             "Feature create p50 | p99 | max | server-side interval mean | p99 | skipped slots "
             "| server CPU | client CPU | RSS |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(
            f"| {r['pacing']} | {r['values_per_second']:.1f} | {r['interval_mean']:.4f} s | {r['interval_p50']:.4f} s "
            f"| {r['interval_p99']:.4f} s | {r['interval_max']:.3f} s | {r['drift_mean']:+.3f} s "
            f"| {r['drift_max']:+.3f} s | {r['feature_create_p50_ms']:.1f} ms | {r['feature_create_p99_ms']:.1f} ms "
            f"| {r['feature_create_max_ms']:.1f} ms | {r['server_interval_mean']:.4f} s "
            f"| {r['server_interval_p99']:.4f} s | {r['skipped_busy']} | {r['server_cpu_share'] * 100:.0f}% "
            f"| {r['client_cpu_share'] * 100:.0f}% "
            f"| {r['server_rss_mib']:.0f} MiB |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=300)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--conditions", type=int, default=1000)
    parser.add_argument("--targets", type=int, default=100)
    parser.add_argument("--max-connections", type=int, default=32)
    parser.add_argument("--out", default=str(REPO / "bench" / "out"))
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="steward-conditions-bench-")
    try:
        results = [asyncio.run(run_mode(workdir, pacing, args)) for pacing in ("grid", "sleep")]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree("/tmp/steward-bench-feature", ignore_errors=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "conditions.json").write_text(json.dumps(results, indent=2))
    (out / "conditions_summary.md").write_text(markdown(results, args))
    print(markdown(results, args))


if __name__ == "__main__":
    main()
