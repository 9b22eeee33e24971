"""Many agents on one server: `steward agent --simulate N` (N identities and
streams in one process) against one `steward serve`, and beside it, in the
same run, the SSH transport's warm fan-out over the same server.

Measures, per N: enrolment of N new agents, time until all N are connected
(first start, and again with saved identities), server RSS per connected
agent, server and simulator CPU while idle, `ping` of all N as one job,
`true` on 1,000 of them; and on 100 targets: `hostname` over agents against
`hostname` over warm SSH connections.

usage: /usr/bin/python3 bench/agent_fleet.py [--sizes 1000,10000] [--ssh 100] [--repeat 3] [--out DIR]
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))
from sshd import SshFleet  # noqa: E402
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_server import STEWARD, BenchServer  # noqa: E402

IDLE_SECONDS = 30  # covers three rounds of gRPC keepalive pings (10 s, both ends)


def proc_usage(pid):
    """(CPU seconds, RSS MiB) of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return cpu, int(line.split()[1]) / 1024
    return cpu, 0.0


class Server(BenchServer):
    def __init__(self, work, inventory):
        super().__init__(work, inventory, "--agent-listen", "agent.addr")
        self.agent_addr = self.listener_addr

    def timed(self, path):
        t0 = time.monotonic()
        result = self.request("GET", path)
        return time.monotonic() - t0, result

    def connected(self):
        return [a for a in self.request("GET", "/agents") if a.get("connected")]


class Simulator:
    def __init__(self, work, server, count, join, pin):
        self.log = open(work / f"simulator-{count}.log", "ab")
        self.argv = [STEWARD, "agent", "--server", server.agent_addr, "--state-dir", str(work / "agents"),
                     "--simulate", str(count), "--join", join, "--ca-pin", pin]
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_connected(server, count, simulator, limit=900):
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if simulator.proc.poll() is not None:
            raise RuntimeError(f"the simulator exited ({simulator.proc.returncode}); see its log")
        if len(server.connected()) >= count:
            return time.monotonic() - t0
        time.sleep(0.25)
    raise RuntimeError(f"not all {count} agents connected within {limit} s")


def check(result, n, status, what):
    good = [r for r in result.values() if r.get("status") == status]
    if len(good) != n or len(result) != n:
        bad = [(k, v) for k, v in result.items() if v.get("status") != status][:3]
        raise RuntimeError(f"{what}: {len(good)}/{n} targets as expected, e.g. {bad}")


def median_of(repeat, run):
    return statistics.median(run() for _ in range(repeat))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--ssh", type=int, default=100, help="targets for the side-by-side with SSH")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=str(REPO / "bench" / "out"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="steward-agentbench-"))
    fleet = SshFleet(work / "fleet", args.ssh).start()
    inventory = "[ssh]\n" + "".join(fleet.host_line(f"s{i}", a) for i, a in enumerate(fleet.addresses))
    server = Server(work, inventory)
    rows = []

    def row(what, n, value, unit):
        rows.append((what, n, value, unit))
        print(f"{what:48s} N={n:6d} {value:10.3f} {unit}", flush=True)

    simulator = None
    try:
        join = server.request("POST", "/agents/join-tokens", {"ttl": 86400})
        time.sleep(2)
        _, rss_before = proc_usage(server.proc.pid)
        for n in sizes:
            simulator = Simulator(work, server, n, join["token"], join["ca_pin"]).start()
            row("enrol new + connect all (first start)", n, wait_connected(server, n, simulator), "s")
            simulator.stop()
            while server.connected():
                time.sleep(0.25)
            simulator.start()
            row("connect all (saved identities)", n, wait_connected(server, n, simulator), "s")
            time.sleep(5)
            server_cpu0, rss = proc_usage(server.proc.pid)
            sim_cpu0, sim_rss = proc_usage(simulator.proc.pid)
            row("server RSS per connected agent", n, (rss - rss_before) * 1024 / n, "KiB")
            row("simulator RSS per agent", n, sim_rss * 1024 / n, "KiB")
            time.sleep(IDLE_SECONDS)
            server_cpu1, _ = proc_usage(server.proc.pid)
            sim_cpu1, _ = proc_usage(simulator.proc.pid)
            row("server CPU while idle", n, 100 * (server_cpu1 - server_cpu0) / IDLE_SECONDS, "% of a core")
            row("simulator CPU while idle", n, 100 * (sim_cpu1 - sim_cpu0) / IDLE_SECONDS, "% of a core")

            ping_cpu = {"server": [], "simulator": []}

            def ping_all():
                server_before, _ = proc_usage(server.proc.pid)
                sim_before, _ = proc_usage(simulator.proc.pid)
                seconds, result = server.timed("/ping?target=agents")
                ping_cpu["server"].append(proc_usage(server.proc.pid)[0] - server_before)
                ping_cpu["simulator"].append(proc_usage(simulator.proc.pid)[0] - sim_before)
                check(result, n, 1, "ping")
                return seconds
            row("ping all as one job", n, median_of(args.repeat, ping_all), "s")
            row("  server CPU during that ping", n, statistics.median(ping_cpu["server"]), "CPU-s")
            row("  simulator CPU during that ping", n, statistics.median(ping_cpu["simulator"]), "CPU-s")
            if n >= 1000:
                def true_on_1000():
                    seconds, result = server.timed("/execute?target=label_sim_block_0&cmd=true")
                    check(result, 1000, 5, "true")
                    return seconds
                row("`true` on 1,000 agents", 1000, median_of(args.repeat, true_on_1000), "s")
            if n == sizes[-1]:
                ids = ",".join(sorted(a["id"] for a in server.connected())[:args.ssh])

                def agents_hostname():
                    seconds, result = server.timed(f"/execute?target={ids}&cmd=hostname")
                    check(result, args.ssh, 5, "hostname on agents")
                    return seconds

                def ssh_hostname():
                    seconds, result = server.timed("/execute?target=ssh&cmd=hostname")
                    check(result, args.ssh, 5, "hostname over ssh")
                    return seconds

                def ssh_ping():
                    seconds, result = server.timed("/ping?target=ssh")
                    check(result, args.ssh, 1, "ping over ssh")
                    return seconds

                ssh_hostname()  # opens the pooled connections: what follows is warm
                row(f"`hostname` on {args.ssh} agents", args.ssh, median_of(args.repeat, agents_hostname), "s")
                row(f"`hostname` on {args.ssh} ssh targets (warm)", args.ssh, median_of(args.repeat, ssh_hostname), "s")
                row(f"ping {args.ssh} ssh targets (warm)", args.ssh, median_of(args.repeat, ssh_ping), "s")
            simulator.stop()
            simulator = None
            while server.connected():
                time.sleep(0.25)
    finally:
        if simulator:
            simulator.stop()
        server.stop()
        fleet.stop()

    lines = ["| agents: measure | N | value | unit |", "|---|---|---|---|"]
    lines += [f"| {what} | {n:,} | {value:.3f} | {unit} |" for what, n, value, unit in rows]
    by_name = {(what, n): value for what, n, value, _ in rows}
    agent_100 = by_name.get((f"`hostname` on {args.ssh} agents", args.ssh))
    ssh_100 = by_name.get((f"`hostname` on {args.ssh} ssh targets (warm)", args.ssh))
    if agent_100 and ssh_100:
        lines.append("")
        lines.append(f"`hostname` on {args.ssh}: agents take {agent_100 / ssh_100:.2f}x the time of warm SSH")
    (out / "agent_summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
