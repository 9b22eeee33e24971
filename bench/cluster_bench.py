#!/usr/bin/env python3
"""Servers on one Redis against one on SQLite and against Celery (issue 15).
Not a test: numbers go to bench/RESULTS.md.

In one run, on one redis-server (unix socket, appendonly yes, appendfsync
everysec) that this script starts and stops:
- async submit rate (POST /execute answered, so durable) and completion
  rate of `true` (steward runs `/bin/sh -c true`) on --workers local
  targets of one session each (each target's jobs run on the server that
  owns it), for one server on SQLite and for 1, 2 and 3 servers on the
  Redis (jobs submitted round-robin over servers and targets, --clients
  keep-alive connections);
- Redis commands per job (INFO commandstats, all servers together);
- Celery with the same Redis as broker and result backend, --workers
  prefork workers, the same count of tasks: a no-op task, and a task that
  runs `/bin/sh -c true` as steward does; submit and completion rate, Redis
  commands per task;
- failover: two servers on Redis, --failover-jobs queued on the first, whose
  process is killed (SIGKILL): the time until the first of its queued
  commands starts on the other;
- idle cost: Redis commands per second per server, three servers with no
  work, over --idle-seconds.

    /usr/bin/python3 bench/cluster_bench.py [--jobs 2000] [--clients 8] [--workers 8] [--failover-jobs 1000]
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STEWARD = os.environ.get("STEWARD_BIN", str(REPO / "build" / "steward"))
PYTHON = "/usr/bin/python3"
TOKEN = "bench"
SECRET = "ab" * 32  # servers sharing a store share the key that seals stored secrets


class Redis:
    def __init__(self, work):
        self.dir = work / "redis"
        self.dir.mkdir()
        self.socket = str(self.dir / "redis.sock")
        (self.dir / "redis.conf").write_text(
            f"port 0\nunixsocket {self.socket}\nunixsocketperm 700\ndir {self.dir}\n"
            "appendonly yes\nappendfsync everysec\nsave \"\"\n")
        self.proc = subprocess.Popen(["redis-server", str(self.dir / "redis.conf")], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        for _ in range(100):
            if Path(self.socket).exists() and self.cli("PING") == "PONG":
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def cli(self, *args):
        done = subprocess.run(["redis-cli", "-s", self.socket, *args], capture_output=True, text=True)
        return done.stdout.strip()

    def commands(self):
        for line in self.cli("INFO", "stats").splitlines():
            if line.startswith("total_commands_processed:"):
                return int(line.split(":")[1])
        return 0

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)


class Server:
    def __init__(self, work, name, store, workers):
        self.data = work / name
        self.data.mkdir()
        inventory = work / "inventory.ini"
        # One local target per worker, one session each: with several servers each
        # target's jobs run on the server that owns it, as many at once as Celery's workers.
        inventory.write_text("".join(f"box{i} ansible_connection=local steward_max_sessions=1\n"
                                     for i in range(workers)))
        args = [STEWARD, "serve", "--http", "127.0.0.1:0", "--data-dir", str(self.data), "--inventory", str(inventory),
                "--server-id", name, "--log-level", "warn"]
        if store:
            args += ["--store", store]
        self.log = open(work / f"{name}.log", "ab")
        self.proc = subprocess.Popen(args, env=dict(os.environ, STEWARD_TOKEN=TOKEN, STEWARD_SECRET_KEY=SECRET),
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        addr_file = self.data / "http.addr"
        for _ in range(300):
            addr = addr_file.read_text().strip() if addr_file.exists() else ""
            if addr and not addr.endswith(":0"):
                host, port = addr.rsplit(":", 1)
                self.addr = (host, int(port))
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"steward serve {name} did not start: see {work / (name + '.log')}")

    def connection(self):
        return http.client.HTTPConnection(*self.addr, timeout=600)

    def metric(self, name):
        conn = self.connection()
        conn.request("GET", "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        text = conn.getresponse().read().decode()
        conn.close()
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(60)


def submit(servers, jobs, clients, command, targets=1):
    """POSTs `jobs` /execute round-robin over `servers` (and over `targets`
    local targets box0, box1, ...) from `clients` threads; the job ids."""
    ids = [None] * jobs
    errors = []

    def client(index):
        conns = [s.connection() for s in servers]
        for n in range(index, jobs, clients):
            conn = conns[n % len(conns)]
            body = json.dumps({"targets": [f"box{n % targets}"], "cmd": command})
            conn.request("POST", "/execute", body=body,
                         headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
            reply = conn.getresponse()
            data = reply.read()
            if reply.status != 201:
                errors.append(f"{reply.status} {data[:200]!r}")
                return
            ids[n] = json.loads(data)["jid"]

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError("submit failed: " + errors[0])
    return ids


def run_steward(work, name, store, count, args, redis=None):
    servers = [Server(work, f"{name}-{i}", store, args.workers) for i in range(count)]
    try:
        before = sum(s.metric("steward_jobs_finished_total") for s in servers)
        commands_before = redis.commands() if redis else 0
        start = time.monotonic()
        submit(servers, args.jobs, args.clients, "true", targets=args.workers)
        submitted = time.monotonic() - start
        while sum(s.metric("steward_jobs_finished_total") for s in servers) - before < args.jobs:
            time.sleep(0.05)
        finished = time.monotonic() - start
        per_job = (redis.commands() - commands_before) / args.jobs if redis else None
        failed = sum(s.metric('steward_jobs_finished_by_operation_total{operation="execute",state="failure"}')
                     for s in servers)
        if failed:
            raise RuntimeError(f"{failed:.0f} of the {args.jobs} jobs of `true` failed: see {work}/{name}-*.log")
    finally:
        for s in servers:
            s.stop()
    return {"submit": args.jobs / submitted, "complete": args.jobs / finished, "commands": per_job}


CELERY_APP = '''
from celery import Celery
app = Celery("bench", broker="redis+socket://{sock}", backend="redis+socket://{sock}")
app.conf.worker_prefetch_multiplier = 4
app.conf.task_acks_late = False

@app.task
def noop():
    return 0

@app.task
def sh_true():  # what steward runs for `true` on a local target
    import subprocess
    return subprocess.run(["/bin/sh", "-c", "true"]).returncode
'''


def run_celery(work, redis, args, task):
    app_dir = work / f"celery-{task}"
    app_dir.mkdir()
    (app_dir / "bench_app.py").write_text(CELERY_APP.format(sock=redis.socket))
    env = dict(os.environ, PYTHONPATH=str(app_dir))
    worker = subprocess.Popen([PYTHON, "-m", "celery", "-A", "bench_app", "worker", "--concurrency", str(args.workers),
                               "--pool", "prefork", "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
                               "--without-heartbeat"], cwd=app_dir, env=env, stdout=open(work / "celery.log", "ab"),
                              stderr=subprocess.STDOUT)
    driver = f'''
import sys, threading, time
sys.path.insert(0, {str(app_dir)!r})
from bench_app import {task} as task
task.delay().get(timeout=120)  # the worker is up
jobs, clients = {args.jobs}, {args.clients}
results = [None] * jobs
def client(index):
    for n in range(index, jobs, clients):
        results[n] = task.delay()
start = time.monotonic()
threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
submitted = time.monotonic() - start
for r in results: r.get(timeout=600)
finished = time.monotonic() - start
print(jobs / submitted, jobs / finished)
'''
    commands_before = redis.commands()
    try:
        out = subprocess.run([PYTHON, "-c", driver], env=env, capture_output=True, text=True, timeout=1200)
        if out.returncode != 0:
            raise RuntimeError("celery driver failed: " + out.stderr[-2000:])
        submit_rate, complete_rate = (float(x) for x in out.stdout.split())
        commands = (redis.commands() - commands_before) / (args.jobs + 1)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
    return {"submit": submit_rate, "complete": complete_rate, "commands": commands}


def run_failover(work, redis, args):
    """Seconds from SIGKILL of the server holding queued jobs to the first of them starting on the other."""
    store = f"unix://{redis.socket}"
    first = Server(work, "failover-a", store, 1)
    second = None
    started = work / "started"
    try:
        # Queued while the first is alone, so they are its; the target stays
        # its own while busy when the second joins.
        submit([first], args.failover_jobs, args.clients, f"date +%s.%N >> {started}")
        while not started.exists() or not started.read_text().strip():
            time.sleep(0.01)
        second = Server(work, "failover-b", store, 1)
        first.stop(signal.SIGKILL)
        killed = time.time()
        while True:
            lines = started.read_text().split()
            after = [float(x) for x in lines if float(x) > killed]
            if after:
                return min(after) - killed, len(lines)
            time.sleep(0.01)
    finally:
        first.stop()
        if second:
            second.stop()


def run_idle(work, redis, args, count=3):
    """Redis commands per second per server while nothing runs."""
    servers = [Server(work, f"idle-{i}", f"unix://{redis.socket}", 1) for i in range(count)]
    try:
        time.sleep(2)  # past start-up (lease, recovery, first reads)
        before = redis.commands()
        time.sleep(args.idle_seconds)
        return (redis.commands() - before) / args.idle_seconds / count
    finally:
        for s in servers:
            s.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--failover-jobs", type=int, default=1000)
    parser.add_argument("--idle-seconds", type=float, default=10)
    parser.add_argument("--only", default="", help="comma list of: sqlite,redis1,redis2,redis3,celery,failover,idle")
    parser.add_argument("--out", default=str(REPO / "bench" / "out"))
    args = parser.parse_args()
    wanted = set(args.only.split(",")) if args.only else {"sqlite", "redis1", "redis2", "redis3", "celery", "failover", "idle"}
    work = Path(tempfile.mkdtemp(prefix="steward-cluster-bench-"))
    redis = Redis(work)
    rows = []
    try:
        if "sqlite" in wanted:
            rows.append(("steward, 1 server, SQLite", run_steward(work, "sqlite", "", 1, args)))
        for count in (1, 2, 3):
            if f"redis{count}" in wanted:
                redis.cli("FLUSHALL")
                rows.append((f"steward, {count} server{'s' if count > 1 else ''}, Redis",
                             run_steward(work, f"redis{count}", f"unix://{redis.socket}", count, args, redis)))
        if "celery" in wanted:
            for task, what in (("noop", "a no-op task"), ("sh_true", "a task running sh -c true")):
                redis.cli("FLUSHALL")
                rows.append((f"Celery 5.2, {what} (Redis broker and backend)", run_celery(work, redis, args, task)))
        failover = None
        if "failover" in wanted:
            redis.cli("FLUSHALL")
            failover = run_failover(work, redis, args)
        idle = None
        if "idle" in wanted:
            redis.cli("FLUSHALL")
            idle = run_idle(work, redis, args)
    finally:
        redis.stop()
    lines = [f"| {args.jobs} no-op jobs, {args.clients} clients, {args.workers} workers | submitted/s | completed/s "
             "| Redis commands per job |", "|---|---|---|---|"]
    for name, row in rows:
        commands = f"{row['commands']:.1f}" if row["commands"] is not None else "-"
        lines.append(f"| {name} | {row['submit']:.0f} | {row['complete']:.0f} | {commands} |")
    if failover:
        lines.append("")
        lines.append(f"failover: {failover[0]:.2f} s from SIGKILL of the server holding {args.failover_jobs} queued "
                     f"jobs to the first of them starting on the other ({failover[1]} had started)")
    if idle is not None:
        lines.append("")
        lines.append(f"idle: {idle:.1f} Redis commands per second per server (3 servers, {args.idle_seconds:g} s)")
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "cluster_summary.md").write_text(text)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
