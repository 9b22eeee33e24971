#!/usr/bin/env python3
"""The dashboard open on a job of 1,000 targets producing output (issue 16).
Not a test: numbers go to bench/RESULTS.md.

A server with --targets local targets (distinct names, one inventory host
each) runs a job on all of them whose command prints a coloured line every
--interval seconds for --seconds. Twice: once with no browser (the server's
CPU alone), once with the job's page open in headless Chromium. In each run,
from the job's third second on, it measures for --window seconds the
server's CPU (utime+stime from /proc/PID/stat, as a % of one core) and, with
the page, the page's frame rate (requestAnimationFrame callbacks counted in
the page) and the browser's renderer CPU.

    python3 bench/dashboard_bench.py [--targets 1000] [--seconds 20] [--window 10] [--out bench/out]
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_server import REPO, TOKEN, BenchServer  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1400,1000"]


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def browser_pids(driver):
    """The renderer processes of this driver's Chromium (not another session's), and all its processes."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError):
                pass
    ours, grew = {driver.service.process.pid}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in ours} - ours
        ours |= more
        grew = bool(more)
    pids = []
    for pid in ours:
        try:
            if b"--type=renderer" in Path(f"/proc/{pid}/cmdline").read_bytes():
                pids.append(pid)
        except OSError:
            pass
    return pids, sorted(ours - {driver.service.process.pid})


class Server(BenchServer):
    def __init__(self, root, targets):
        inventory = "".join(f"t{i:04d} ansible_connection=local\n" for i in range(targets))
        super().__init__(root, inventory, extra_args=["--grpc", "off"])

    def start_job(self, seconds, interval):
        lines = int(seconds / interval)
        cmd = (f"i=0; while [ $i -lt {lines} ]; do i=$((i+1)); "
               f"printf '\\033[32mline %d of {lines}\\033[0m: some output a command prints\\n' $i; "
               f"sleep {interval}; done")
        return self.request("POST", "/execute", {"targets": ["all"], "cmd": cmd, "timeout": seconds * 10})["jid"]

    def wait_job(self, jid, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.request("GET", f"/jobs/{jid}")["state"] != 1:
                return
            time.sleep(0.5)
        sys.exit(f"job {jid} still running after {timeout} s")


def browser(profile):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver"),
                              options=options)
    driver.set_script_timeout(120)
    return driver


COUNT_FRAMES = """
const [seconds, done] = [arguments[0], arguments[arguments.length - 1]];
let frames = 0, longest = 0, last = performance.now();
const started = last;
function tick(now) {
  frames += 1; longest = Math.max(longest, now - last); last = now;
  if (now - started < seconds * 1000) requestAnimationFrame(tick);
  else done({frames, seconds: (now - started) / 1000, longest_frame_ms: longest,
             rows: document.querySelectorAll('#targets-body tr').length,
             finished: document.querySelectorAll('#targets-body tr[class^=state-]').length});
}
requestAnimationFrame(tick);
"""


def measure(server, window, page=None):
    """Server CPU % over `window` s; with a page, its frame rate and renderer CPU over the same window."""
    renderers, everything = browser_pids(page) if page else ([], [])
    server_before = cpu_seconds(server.proc.pid) if server else 0
    renderer_before = sum(cpu_seconds(pid) for pid in renderers)
    browser_before = sum(cpu_seconds(pid) for pid in everything)
    t0 = time.monotonic()
    frames = page.execute_async_script(COUNT_FRAMES, window) if page else (time.sleep(window) or None)
    elapsed = time.monotonic() - t0
    result = {"window_s": round(elapsed, 1)}
    if server:
        result["server_cpu_percent"] = round(100 * (cpu_seconds(server.proc.pid) - server_before) / elapsed, 1)
    if page:
        result["renderer_cpu_percent"] = round(100 * (sum(cpu_seconds(pid) for pid in renderers) - renderer_before) / elapsed, 1)
        result["browser_cpu_percent"] = round(100 * (sum(cpu_seconds(pid) for pid in everything) - browser_before) / elapsed, 1)
        result["fps"] = round(frames["frames"] / frames["seconds"], 1)
        result["longest_frame_ms"] = round(frames["longest_frame_ms"], 1)
        result["rows"] = frames["rows"]
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--window", type=float, default=10)
    parser.add_argument("--out", default=str(REPO / "bench" / "out"))
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="steward-dashboard-bench-"))
    server = Server(root, args.targets)
    driver = None
    results = {"targets": args.targets, "seconds": args.seconds, "interval": args.interval}
    try:
        jid = server.start_job(args.seconds, args.interval)
        time.sleep(3)
        results["without_page"] = measure(server, args.window)
        server.wait_job(jid, args.seconds * 10)

        driver = browser(root / "chromium")
        driver.get(server.url + "/")
        driver.execute_script("sessionStorage.setItem('steward.token', arguments[0])", TOKEN)
        jid = server.start_job(args.seconds, args.interval)
        driver.get(f"{server.url}/#/job/{jid}")
        time.sleep(3)
        results["with_page"] = measure(server, args.window, driver)
        server.wait_job(jid, args.seconds * 10)
        time.sleep(1)
        results["same_page_job_ended"] = measure(None, 5, driver)
        results["page_after_job"] = driver.execute_script(
            "return {rows: document.querySelectorAll('#targets-body tr').length,"
            " finished: document.querySelectorAll('#targets-body tr[class^=state-]').length,"
            " state: (document.querySelector('#job-state') || {}).textContent}")
    finally:
        if driver:
            driver.quit()
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "dashboard.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    without, with_page = results["without_page"], results["with_page"]
    summary = (f"| dashboard on a job of {args.targets} targets, a line each every {args.interval} s "
               f"| {without['server_cpu_percent']} % | {with_page['server_cpu_percent']} % | {with_page['fps']} "
               f"| {with_page['longest_frame_ms']} ms | {with_page['renderer_cpu_percent']} % / {with_page['browser_cpu_percent']} % "
               f"| {results['same_page_job_ended']['fps']} |\n")
    (Path(args.out) / "dashboard_summary.md").write_text(
        "| test | server CPU, no page | server CPU, page open | page fps | longest frame | renderer / all Chromium CPU "
        "| page fps once the job ended |\n|---|---|---|---|---|---|---|\n" + summary)


if __name__ == "__main__":
    main()
