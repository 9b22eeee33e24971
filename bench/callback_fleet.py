"""SSH callback targets at scale (issue 14): N `ssh -N -R` callback clients on
loopback dial one `steward serve --callback`, each forwarding one of the
sshds of an SshFleet; the same sshds are also in the inventory as direct
SSH hosts. In one run:

- time from starting a target's callback client to the first command
  (`true`) succeeding on it, one target after the other (median, p95);
- warm fan-out of `true` over the N callback tunnels against direct SSH to
  the same sshds (median of --repeat, and the ratio; the goal is 1.5x).

usage: /usr/bin/python3 bench/callback_fleet.py [--targets 100] [--repeat 5] [--out DIR]
"""

import argparse
import os
import shutil
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
from bench_server import BenchServer  # noqa: E402



class Server(BenchServer):
    def __init__(self, work, inventory):
        super().__init__(work, inventory, "--callback", "callback.addr")
        self.callback_addr = self.listener_addr

    def true_on(self, pattern, count):
        t0 = time.monotonic()
        result = self.request("GET", f"/execute?target={pattern}&cmd=true")
        seconds = time.monotonic() - t0
        good = [name for name, r in result.items() if r.get("status") == 5]
        if len(good) != count or len(result) != count:
            bad = [(k, v) for k, v in result.items() if v.get("status") != 5][:3]
            raise RuntimeError(f"true on {pattern}: {len(good)}/{count} succeeded, e.g. {bad}")
        return seconds


def callback_client(key, endpoint, forward_to, log):
    """What steward-callback.sh runs, minus the retry loop and the pinned key."""
    host, port = endpoint.rsplit(":", 1)
    return subprocess.Popen(
        ["ssh", "-F", "/dev/null", "-N", "-R", f"127.0.0.1:22:{forward_to}", "-o", "ExitOnForwardFailure=yes",
         "-o", "ServerAliveInterval=10", "-o", "ServerAliveCountMax=3", "-o", "BatchMode=yes",
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
         "-o", "IdentitiesOnly=yes", "-i", str(key), "-p", port, f"callback@{host}"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def machine():
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "unknown CPU")
    memory = int(Path("/proc/meminfo").read_text().split()[1]) // 1024 // 1024
    return f"{os.cpu_count()} CPUs ({model}), {memory} GiB, Linux {os.uname().release}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--targets", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", default=str(REPO / "bench" / "out"))
    args = parser.parse_args()
    n = args.targets
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="steward-callbackbench-"))
    fleet = SshFleet(work / "fleet", n).start()
    inventory = "[direct]\n" + "".join(fleet.host_line(f"d{i}", a) for i, a in enumerate(fleet.addresses))
    server = Server(work, inventory)
    clients = []
    client_log = open(work / "callback-clients.log", "ab")
    try:
        keys = []
        for i in range(n):
            key = work / f"callback_{i}"
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"c{i}", "-f", str(key)], check=True)
            reply = server.request("POST", "/callbacks", {"name": f"c{i}", "user": fleet.user,
                                                          "public_key": Path(f"{key}.pub").read_text().strip()})
            keys.append(key)
        # steward logs in to the "VMs" with its controller key.
        with fleet.authorized_keys.open("a") as authorized:
            authorized.write(reply["controller_public_key"] + "\n")

        first_command = []
        for i, key in enumerate(keys):
            t0 = time.monotonic()
            clients.append(callback_client(key, server.callback_addr, f"{fleet.addresses[i]}:{fleet.port}",
                                           client_log))
            server.true_on(f"c{i}", 1)  # waits (--callback-wait) for the callback, then runs
            first_command.append(time.monotonic() - t0)

        server.true_on("direct", n)  # opens the direct pooled connections; the tunnels' are open already
        callback_runs, direct_runs = [], []
        for _ in range(args.repeat):
            callback_runs.append(server.true_on("callback", n))
            direct_runs.append(server.true_on("direct", n))
    finally:
        for client in clients:
            client.terminate()
        for client in clients:
            client.wait(10)
        server.stop()
        fleet.stop()
        client_log.close()
        shutil.rmtree(work, ignore_errors=True)

    callback_median = statistics.median(callback_runs)
    direct_median = statistics.median(direct_runs)
    lines = [
        f"| callback targets: measure (N={n}) | value |",
        "|---|---|",
        f"| callback client start -> first `true` done, median | {statistics.median(first_command):.3f} s |",
        f"| callback client start -> first `true` done, p95 | {percentile(first_command, 0.95):.3f} s |",
        f"| warm `true` on {n} callback targets (median of {args.repeat}) | {callback_median:.3f} s |",
        f"| warm `true` on the same {n} sshds directly (median of {args.repeat}) | {direct_median:.3f} s |",
        "",
        f"warm fan-out over callback tunnels: {callback_median / direct_median:.2f}x direct SSH (goal: within 1.5x);"
        f" machine: {machine()}",
    ]
    (out / "callback_summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
