"""`hostname` on N SSH targets: steward (cold and warm) against pdsh,
parallel-ssh, clush, ansible and plain ssh loops, all against the same sshds
on loopback, in one run. Prints a markdown table of medians and ratios.

usage: /usr/bin/python3 bench/ssh_fanout.py [--sizes 10,50,100] [--repeat 3] [--out DIR]
"""

import argparse
import http.client
import json
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

STEWARD = str(REPO / "build" / "steward")
BLOCKING_POOL = str(REPO / "build" / "bench" / "ssh_blocking_pool")
TOKEN = "bench"


def timed(argv, env=None, shell=False):
    t0 = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, shell=shell,
                          executable="/bin/bash" if shell else None)
    elapsed = time.monotonic() - t0
    return elapsed, proc


class Steward:
    def __init__(self, workdir, inventory):
        self.data = Path(workdir) / "steward-data"
        self.inventory = Path(workdir) / "steward.ini"
        self.inventory.write_text(inventory)
        self.proc = None

    def start(self):
        self.data.mkdir(exist_ok=True)
        (self.data / "http.addr").unlink(missing_ok=True)
        env = dict(os.environ, STEWARD_TOKEN=TOKEN)
        self.proc = subprocess.Popen([STEWARD, "serve", "--http", "127.0.0.1:0", "--data-dir", str(self.data),
                                      "--inventory", str(self.inventory), "--max-connections", "256",
                                      "--log-level", "warn"], env=env, stdin=subprocess.DEVNULL)
        for _ in range(200):
            text = (self.data / "http.addr").read_text().strip() if (self.data / "http.addr").exists() else ""
            if text and not text.endswith(":0"):
                host, port = text.rsplit(":", 1)
                self.addr = (host, int(port))
                return self
            time.sleep(0.05)
        raise RuntimeError("steward did not start")

    def execute(self, pattern):
        """One blocking GET /execute; returns (seconds, per-target result)."""
        conn = http.client.HTTPConnection(*self.addr, timeout=300)
        t0 = time.monotonic()
        conn.request("GET", f"/execute?target={pattern}&cmd=hostname",
                     headers={"Authorization": f"Bearer {TOKEN}"})
        body = conn.getresponse().read()
        elapsed = time.monotonic() - t0
        conn.close()
        return elapsed, json.loads(body)

    def usage(self):
        """(CPU seconds, RSS MiB) of the server so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        cpu = (int(fields[11]) + int(fields[12])) / ticks
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return cpu, int(line.split()[1]) / 1024
        return cpu, 0.0

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


def check_steward(result, n):
    good = [r for r in result.values() if r.get("status") == 5 and r.get("rtc") == 0]
    if len(good) != n:
        bad = {k: v for k, v in result.items() if v.get("status") != 5}
        raise RuntimeError(f"steward: {len(good)}/{n} targets succeeded: {list(bad.items())[:3]}")


def check_proc(name, proc):
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed ({proc.returncode}): {proc.stderr[-800:]}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,50,100")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=str(REPO / "bench" / "out"))
    parser.add_argument("--only", default="", help="comma-separated tool names to run")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    only = set(filter(None, args.only.split(",")))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    work = Path(tempfile.mkdtemp(prefix="steward-sshbench-"))
    fleet = SshFleet(work / "fleet", max(sizes)).start()
    ssh_config = work / "ssh_config"
    ssh_config.write_text(f"Host *\n  Port {fleet.port}\n  User {fleet.user}\n  IdentityFile {fleet.client_key}\n"
                          "  IdentitiesOnly yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n"
                          "  LogLevel ERROR\n  BatchMode yes\n")
    control = work / "cm"
    control.mkdir()
    (work / "ansible").mkdir()
    steward_inventory = "".join(f"[n{n}]\n" + "".join(fleet.host_line(f"h{i}", a) for i, a in
                                                     enumerate(fleet.addresses[:n])) for n in sizes)
    steward = Steward(work, steward_inventory)
    results = {}  # (tool, n) -> [seconds]
    notes = []

    def record(tool, n, seconds):
        results.setdefault((tool, n), []).append(seconds)
        print(f"{tool:28s} N={n:3d} {seconds:7.3f} s", flush=True)

    def wanted(tool):
        return not only or tool in only

    try:
        for n in sizes:
            hosts = fleet.addresses[:n]
            hostfile = work / f"hosts{n}"
            hostfile.write_text("\n".join(hosts) + "\n")
            ansible_inventory = work / f"ansible{n}.ini"
            ansible_inventory.write_text(
                "[all]\n" + "\n".join(hosts) + "\n[all:vars]\nansible_python_interpreter=/usr/bin/python3\n"
                f"ansible_ssh_common_args='-F {ssh_config}'\n")
            loop = " ".join(hosts)
            first, last = hosts[0].rsplit(".", 1)[1], hosts[-1].rsplit(".", 1)[1]
            host_range = f"127.0.0.[{first}-{last}]"
            commands = {
                "pdsh -R ssh": (f"PDSH_SSH_ARGS_APPEND='-F {ssh_config}' pdsh -R ssh -f {n} -w '{host_range}' hostname",
                                None),
                "parallel-ssh": (f"parallel-ssh -p {n} -t 0 -h {hostfile} -x '-F {ssh_config}' hostname", None),
                "clush": (f"clush -f {n} -w '{host_range}' -o '-F {ssh_config}' hostname", None),
                "ssh loop (cold)": (f"for h in {loop}; do ssh -F {ssh_config} $h hostname >/dev/null & done; wait",
                                    None),
                "ssh loop curve25519 (cold)": (f"for h in {loop}; do ssh -F {ssh_config} -o KexAlgorithms=curve25519-sha256"
                                               f" $h hostname >/dev/null & done; wait", None),
                "ssh ControlMaster (warm)": (f"for h in {loop}; do ssh -F {ssh_config} -o ControlPath={control}/%h"
                                             f" $h hostname >/dev/null & done; wait", None),
                "ansible -m command": (f"ansible all -i {ansible_inventory} -f {n} -m command -a hostname", "ansible"),
                "ansible -m raw": (f"ansible all -i {ansible_inventory} -f {n} -m raw -a hostname", "ansible"),
            }
            if wanted("ssh ControlMaster (warm)"):
                new_hosts = " ".join(h for h in hosts if not (control / h).exists())
                subprocess.run(f"for h in {new_hosts}; do ssh -F {ssh_config} -o ControlMaster=yes -o ControlPath={control}/%h"
                               f" -o ControlPersist=yes -N -f $h & done; wait", shell=True, check=True,
                               executable="/bin/bash")
            ansible_env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="False",
                               ANSIBLE_SSH_CONTROL_PATH_DIR=str(work / "ansible"), ANSIBLE_NOCOLOR="1",
                               ANSIBLE_LOCAL_TEMP=str(work / "ansible"), ANSIBLE_REMOTE_TEMP="/tmp/.ansible-bench")
            for rep in range(args.repeat):
                for tool, (command, kind) in commands.items():
                    if not wanted(tool):
                        continue
                    if kind == "ansible":
                        # Ansible's default ControlPersist would make later repeats warm: start each cold.
                        subprocess.run(f"rm -rf {work}/ansible/cp* {work}/ansible/*", shell=True)
                    seconds, proc = timed(command, env=ansible_env if kind else None, shell=True)
                    check_proc(tool, proc)
                    record(tool, n, seconds)
                for threads in (8, n):
                    if not wanted("blocking pool"):
                        break
                    seconds, proc = timed([BLOCKING_POOL, str(threads), str(fleet.port), fleet.user,
                                           str(fleet.client_key)] + hosts)
                    check_proc("ssh_blocking_pool", proc)
                    measured = json.loads(proc.stdout)
                    record(f"blocking pool {'N' if threads == n else threads} threads (cold)", n,
                           measured["cold_seconds"])
                    record(f"blocking pool {'N' if threads == n else threads} threads (warm)", n,
                           measured["warm_seconds"])
                if wanted("steward"):
                    steward.start()
                    cold, result = steward.execute(f"n{n}")
                    check_steward(result, n)
                    record("steward (cold)", n, cold)
                    warm, result = steward.execute(f"n{n}")
                    check_steward(result, n)
                    record("steward (warm)", n, warm)
                    if n == max(sizes) and rep == args.repeat - 1:
                        cpu, rss = steward.usage()
                        notes.append(f"steward server after cold+warm runs on {n} targets, {n} pooled "
                                     f"connections open: {cpu:.2f} CPU s in all, RSS {rss:.1f} MiB")
                    steward.stop()
    finally:
        steward.stop()
        subprocess.run(f"for s in {control}/*; do ssh -o ControlPath=$s -O exit x 2>/dev/null; done", shell=True,
                       executable="/bin/bash")
        fleet.stop()
        shutil.rmtree(work, ignore_errors=True)

    table = render(results, sizes, notes)
    (out / "ssh_summary.md").write_text(table)
    print(table)


def render(results, sizes, notes):
    medians = {key: statistics.median(values) for key, values in results.items()}
    tools = list(dict.fromkeys(tool for tool, _ in results))
    lines = ["| tool | " + " | ".join(f"N={n} (s)" for n in sizes) + " |",
             "|---|" + "---|" * len(sizes)]
    for tool in tools:
        lines.append(f"| {tool} | " + " | ".join(f"{medians[(tool, n)]:.3f}" if (tool, n) in medians else "-"
                                                  for n in sizes) + " |")
    n = max(sizes)
    lines += ["", f"Ratios at N={n} (tool time / steward time; above 1 means steward is faster):", ""]
    for mode in ("cold", "warm"):
        base = medians.get((f"steward ({mode})", n))
        if not base:
            continue
        parts = [f"{tool} {medians[(tool, n)] / base:.1f}x" for tool in tools
                 if not tool.startswith("steward") and (tool, n) in medians]
        lines.append(f"- steward {mode} ({base:.3f} s): " + ", ".join(parts))
    return "\n".join(lines + [""] + [f"- {note}" for note in notes]) + "\n"


if __name__ == "__main__":
    main()
