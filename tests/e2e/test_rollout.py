"""Rolling batches and failure thresholds (issue 16) on the real server and
CLI: 10 local hosts, "batch": 3, "max_failures": 1, and a command that fails
on its 2nd and 5th run. The first batch has one failure (allowed), the
second a second one: exactly the first six hosts run, batch after batch, and
the other four end Skipped (2) with the reason."""

import subprocess

import pytest

from conftest import JOB_FAILURE, STEWARD_BIN, TOKEN, Server, assert_error, clean_env

OP_SKIPPED = 2
HOSTS = [f"r{i}" for i in range(10)]

# Numbers each run (under a lock), logs its start and end, and fails runs 2 and 5.
COUNTING_SCRIPT = """\
d="$1"
n=$(flock "$d/lock" sh -c 'n=$(( $(cat "$1/n" 2>/dev/null || echo 0) + 1 )); echo $n > "$1/n"; echo $n' _ "$d")
echo "start $n $(date +%s.%N)" >> "$d/log"
sleep 0.3
echo "end $n $(date +%s.%N)" >> "$d/log"
[ "$n" -ne 2 ] && [ "$n" -ne 5 ]
"""


@pytest.fixture(scope="module")
def server(tmp_root):
    inventory = "[ten]\n" + "".join(f"{h} ansible_connection=local\n" for h in HOSTS)
    srv = Server(tmp_root / "data", inventory=inventory).start()
    yield srv
    srv.stop()


@pytest.fixture
def counter(tmp_path):
    (tmp_path / "count.sh").write_text(COUNTING_SCRIPT)
    return tmp_path


def runs(counter):
    """{run number: (start, end)} from the script's log."""
    times = {}
    for line in (counter / "log").read_text().split("\n"):
        if line:
            what, n, at = line.split()
            times.setdefault(int(n), {})[what] = float(at)
    return {n: (t["start"], t["end"]) for n, t in times.items()}


def test_batches_run_in_turn_and_the_threshold_skips_the_rest(api, counter):
    job = api.run("/execute", {"targets": "ten", "cmd": f"sh {counter}/count.sh {counter}",
                               "batch": 3, "max_failures": 1}, timeout=60)
    order = job["targets"]
    assert sorted(order) == HOSTS, order
    ran, skipped = order[:6], order[6:]
    for host in ran:
        assert job["return_data"][host]["status"] != OP_SKIPPED, job["return_data"][host]
    for host in skipped:
        result = job["return_data"][host]
        assert result["status"] == OP_SKIPPED, result
        assert result["error"] == "skipped: 2 of 10 targets failed, more than max_failures 1", result
    assert job["state"] == JOB_FAILURE, job
    times = runs(counter)
    assert sorted(times) == [1, 2, 3, 4, 5, 6], f"runs {sorted(times)}: exactly six hosts run"
    first_batch_end = max(times[n][1] for n in (1, 2, 3))
    assert min(times[n][0] for n in (4, 5, 6)) >= first_batch_end, f"the second batch overlapped the first: {times}"
    assert max(times[n][0] for n in (1, 2, 3)) < min(times[n][1] for n in (1, 2, 3)), \
        f"a batch's hosts run at once: {times}"


def test_percentages_and_bad_values(api):
    job = api.run("/execute", {"targets": "ten", "cmd": "false", "batch": "20%", "max_failures": "10%"})
    statuses = [job["return_data"][h]["status"] for h in job["targets"]]
    assert statuses.count(OP_SKIPPED) == 8, statuses  # batches of 2; more than 1 failed after the first
    assert_error(api.post("/execute", {"targets": "ten", "cmd": "true", "batch": 0}), 400, "'batch'")
    assert_error(api.post("/execute", {"targets": "ten", "cmd": "true", "max_failures": "x"}), 400, "'max_failures'")
    assert_error(api.get("/ping?target=ten&batch=150%25"), 400, "'batch'")


def test_cli_batch_and_max_failures(server, counter):
    p = subprocess.run([STEWARD_BIN, "run", "ten", "--batch", "3", "--max-failures", "1", "--",
                        "sh", f"{counter}/count.sh", str(counter)],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                       env=clean_env(STEWARD_SERVER=server.url, STEWARD_TOKEN=TOKEN))
    assert p.returncode == 1, p.stdout + p.stderr
    assert p.stdout.count("more than max_failures 1") == 4, p.stdout
    assert sorted(runs(counter)) == [1, 2, 3, 4, 5, 6]
