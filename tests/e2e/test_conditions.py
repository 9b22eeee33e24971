"""Conditions over the gRPC API: a command (or a condition package's action)
run once per interval on a fixed grid, its value streamed to every subscriber
of one shared runner, and what the REST API shows of them.

Each test uses an inventory host of its own so runners never wait on each
other's target.
"""

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest

from conftest import SANITIZER, Server, free_port, qs, wait_for
from deputy_packages import Shelf, StreamReader, assert_rpc_error, mode_of, rpc_error
from executor_client import Executor, common_pb2
from sshd import SshFleet, Sshd

Code = grpc.StatusCode
OUTAGE_ADDR = "127.0.0.90"
LOCAL_HOSTS = ["c-errors", "c-timing", "c-file", "c-range", "c-unparsable", "c-share", "c-leave", "c-kill",
               "c-delete", "c-chatty", "c-sigterm"]


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def shelf(tmp_root):
    return Shelf(tmp_root / "packages", tmp_root / "targets")


@pytest.fixture(scope="module")
def fleet(tmp_root):
    fleet = SshFleet(tmp_root / "ssh", 1, first=int(OUTAGE_ADDR.rsplit(".", 1)[1])).start()
    holder = {"sshd": fleet.daemons[0]}
    yield fleet, holder
    holder["sshd"].stop()


@pytest.fixture(scope="module")
def server(tmp_root, shelf, fleet):
    ssh, _ = fleet
    inventory = "".join(f"{host} ansible_connection=local\n" for host in LOCAL_HOSTS)
    inventory += ssh.host_line("flaky", OUTAGE_ADDR)
    inventory += ssh.host_line("c-down", "127.0.0.1", ansible_port=free_port())
    srv = Server(tmp_root / "data", inventory=inventory, grpc=True,
                 extra_args=["--packages", str(shelf.root)]).start()
    yield srv
    srv.stop()


@pytest.fixture
def readers():
    """open(identifier) -> StreamReader; every stream still open is cancelled at teardown."""
    opened = []

    def open_stream(executor, identifier):
        reader = StreamReader(executor, identifier)
        opened.append(reader)
        return reader

    yield open_stream
    for reader in opened:
        reader.cancel()


def record(api, identifier):
    r = api.get("/conditions")
    assert r.status == 200, r
    found = [c for c in r.body if c["id"] == identifier]
    assert len(found) == 1, f"condition {identifier} listed {len(found)} times: {r.body!r}"
    return found[0]


def counters(api, identifier):
    return record(api, identifier).get("counters") or {}


def values(api, identifier, limit=1000):
    r = api.get(qs(f"/conditions/{identifier}/values", limit=limit))
    assert r.status == 200, r
    assert r.body["id"] == identifier, r.body
    return [v["value"] for v in r.body["values"]]


def write_atomically(path, text):
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def line_count(path):
    try:
        return len(Path(path).read_text().splitlines())
    except FileNotFoundError:
        return 0


def assert_no_more_runs(path, quiet_for=2.5):
    """The command (which appends a line to path per run) runs no more."""
    before = line_count(path)
    time.sleep(quiet_for)
    after = line_count(path)
    assert after == before, f"the command still runs: {after - before} runs in {quiet_for} s after the stop"


# ---------------------------------------------------------------- errors

def test_condition_errors(executor, api, server, shelf, readers):
    prefix = shelf.new_prefix("errors")
    condition = shelf.add("file-condition", prefix)
    feature = shelf.add("hello-feature", prefix)
    before = len(api.get("/conditions").body)
    vm = "c-errors"
    cases = [
        (dict(source=(condition, ""), command="echo 1"), Code.INVALID_ARGUMENT, ["source", "command"]),
        (dict(), Code.INVALID_ARGUMENT, ["source", "command"]),
        (dict(command="echo 1", interval=0), Code.INVALID_ARGUMENT, ["interval"]),
        (dict(command="echo 1", interval=-3), Code.INVALID_ARGUMENT, ["interval", "-3"]),
        (dict(command="echo 1", environment=["NOEQUALS"]), Code.INVALID_ARGUMENT, ["NOEQUALS"]),
        (dict(source=("no-such-package", "")), Code.NOT_FOUND, ["no-such-package"]),
        (dict(source=(condition, "9.9.9")), Code.NOT_FOUND, [condition, "9.9.9"]),
        (dict(source=(feature, "1.0.0")), Code.INVALID_ARGUMENT, [feature, "condition"]),
    ]
    for kwargs, code, words in cases:
        error = rpc_error(executor.create_condition, vm, **dict(dict(interval=1), **kwargs))
        assert_rpc_error(error, code, *words)
    assert_rpc_error(rpc_error(executor.create_condition, "no-such-vm", command="echo 1"), Code.NOT_FOUND,
                     "no-such-vm")
    # A package's assets are copied at create: an unreachable target fails it.
    assert_rpc_error(rpc_error(executor.create_condition, "c-down", source=(condition, ""), interval=1),
                     Code.UNAVAILABLE, "c-down")
    assert_rpc_error(rpc_error(executor.delete_condition, "no-such-id"), Code.NOT_FOUND, "no-such-id")
    stream = readers(executor, "no-such-id")
    error = stream.wait_end(10)
    assert error is not None and not stream.values, "streaming an unknown condition did not fail"
    assert_rpc_error(error, Code.NOT_FOUND, "no-such-id")
    r = api.get("/conditions/no-such-id/values")
    assert r.status == 404 and "no-such-id" in r.body["message"], r
    assert len(api.get("/conditions").body) == before, "a refused create left a condition record"
    assert not (prefix / "condition").exists(), "a refused create installed the package"
    # Without a token nothing is created either.
    anonymous = Executor(server.grpc_addr, token=None)
    try:
        assert_rpc_error(rpc_error(anonymous.create_condition, vm, command="echo 1"), Code.UNAUTHENTICATED)
    finally:
        anonymous.close()


# ---------------------------------------------------------------- timing and values

def test_stream_follows_a_fixed_one_second_grid(executor, api, readers):
    # The command takes 0.4 s: "sleep after each run" would space values 1.4 s apart.
    cid = executor.create_condition("c-timing", command="sleep 0.4; echo 0.25", interval=1)
    assert cid
    reader = readers(executor, cid)
    got = [reader.next(3) for _ in range(5)]
    # At most one interval, plus the 0.4 s the command itself takes (and some slack for a loaded machine);
    # test_values_follow_a_file... checks "right away" with a quick command.
    assert got[0][0] < 1.6, f"first value after {got[0][0]:.2f} s"
    gaps = [b[0] - a[0] for a, b in zip(got, got[1:])]
    assert all(0.7 <= gap <= 1.3 for gap in gaps), f"values not 1 s apart: {gaps}"
    assert all(response == cid for _, response, _ in got), got
    assert all(abs(value - 0.25) < 1e-6 for _, _, value in got), got
    stored = api.get(qs(f"/conditions/{cid}/values", limit=4)).body["values"]
    assert len(stored) == 4, stored
    at = [v["at"] for v in stored]
    assert at == sorted(at), "values are not oldest first"
    server_gaps = [b - a for a, b in zip(at, at[1:])]
    assert all(0.8 <= gap <= 1.2 for gap in server_gaps), f"stored values not 1 s apart: {server_gaps}"
    rec = record(api, cid)
    assert rec["running"] is True and rec["subscribers"] == 1 and rec["interval"] == 1, rec
    assert rec["command"] == "sleep 0.4; echo 0.25" and rec["target"] == "c-timing", rec
    assert rec["counters"]["skipped_busy"] == 0, rec
    assert rec["last"]["value"] == 0.25 and rec["last"]["at"] >= stored[-1]["at"], rec


def test_value_on_the_last_line_of_a_long_output(executor, api, readers):
    cid = executor.create_condition("c-chatty", interval=1,
                                    command="head -c 100000 /dev/zero | tr '\\0' x; echo; echo 0.5")
    reader = readers(executor, cid)
    try:
        assert reader.next_value(2.5) == 0.5
    finally:
        reader.cancel()
        assert counters(api, cid)["runs"] >= 1


def test_values_follow_a_file_through_a_condition_package(executor, api, shelf, readers):
    prefix = shelf.new_prefix("file")
    name = shelf.add("file-condition", prefix)
    value_file = prefix / "condition" / "value"
    value_file.parent.mkdir(parents=True)
    write_atomically(value_file, "0.2\n")
    cid = executor.create_condition("c-file", source=(name, ""), interval=0)  # the package's interval
    script = prefix / "condition" / "check.sh"
    assert mode_of(script) == "0o755", "the package's asset was not installed"
    rec = record(api, cid)
    assert rec["interval"] == 1 and rec["command"] == str(script), rec
    assert rec["source"] == {"name": name, "version": "1.0.0"}, rec

    reader = readers(executor, cid)
    first = reader.next(3)
    # Right away, not after the 1 s interval; a sanitizer build beside the full
    # suite starts the command late (seen: 1.0016 s).
    assert first[0] < (1.0 if not SANITIZER else 1.5), f"first value {first[0]:.2f} s after stream was called"
    assert abs(first[2] - 0.2) < 1e-4, first
    write_atomically(value_file, "0.7\n")
    reader.wait_for_value(0.7, 3.5, tolerance=1e-4)
    value_file.unlink()
    reader.wait_for_value(1.0, 3.5)  # check.sh says 1 without the file
    reader.cancel()

    slower = executor.create_condition("c-file", source=(name, "1.0.0"), interval=2)
    assert record(api, slower)["interval"] == 2
    for identifier in (cid, slower):
        executor.delete_condition(identifier)
    assert not script.exists(), "delete left the condition's script"


def test_values_outside_zero_one_are_passed_on_unchanged(executor, api, tmp_root, readers):
    # Ranger judges out-of-range values itself: a 2 must not arrive as 1 ("met").
    value_file = tmp_root / "range-value"
    write_atomically(value_file, "7\n")
    cid = executor.create_condition("c-range", command='cat "$VALUE_FILE"', interval=1,
                                    environment=[f"VALUE_FILE={value_file}"])
    reader = readers(executor, cid)
    assert reader.next_value(3) == 7.0
    write_atomically(value_file, "-3.5\n")
    reader.wait_for_value(-3.5, 3.5)
    write_atomically(value_file, "2\n")
    reader.wait_for_value(2.0, 3.5)
    write_atomically(value_file, "+0.5\n")
    reader.wait_for_value(0.5, 3.5)
    reader.cancel()
    c = counters(api, cid)
    assert c["out_of_range"] >= 3 and c["values"] >= 4, c
    assert "clamped" not in c, c
    def stored_up_to_the_last():  # values reach the store a moment after the stream
        stored = values(api, cid)
        return stored if 0.5 in stored else None

    stored = wait_for(stored_up_to_the_last, 5, what="the last value in the store")
    assert {7.0, -3.5, 2.0, 0.5} <= set(stored), stored
    assert 1.0 not in stored and 0.0 not in stored, f"a value was clamped: {stored}"


def test_unparsable_output_skips_the_tick_and_is_counted(executor, api, tmp_root, readers):
    value_file = tmp_root / "unparsable-value"
    write_atomically(value_file, "not a number\n")
    cid = executor.create_condition("c-unparsable", command=f"cat {value_file}", interval=1)
    reader = readers(executor, cid)
    time.sleep(2.5)
    assert not reader.drain() and not reader.ended.is_set(), reader.values
    c = counters(api, cid)
    assert c["unparsable"] >= 2 and c["values"] == 0 and c["runs"] == c["unparsable"], c
    assert values(api, cid) == []
    assert record(api, cid)["running"] is True, "an unparsable output stopped the runner"

    value_file.unlink()  # cat fails: the tick is skipped and counted as failed
    wait_for(lambda: counters(api, cid)["failed"] >= 1, timeout=4, what="a failed run to be counted")
    assert not reader.drain()
    write_atomically(value_file, "noise first\n\n0.75\n")  # the last non-empty line counts
    reader.wait_for_value(0.75, 3.5)
    c = counters(api, cid)
    assert c["unparsable"] >= 2 and c["failed"] >= 1 and c["values"] >= 1, c
    stored = values(api, cid)  # stored after it is streamed, so it may be empty yet
    assert stored == [0.75] * len(stored)


# ---------------------------------------------------------------- subscribers and the runner

def test_two_subscribers_share_one_runner(executor, api, tmp_root, readers):
    runs = tmp_root / "share-runs"
    cid = executor.create_condition("c-share", command=f"echo run >> {runs}; echo 0.5", interval=1)
    first = readers(executor, cid)
    first.next(3)
    second = readers(executor, cid)
    second.next(3)
    rec = record(api, cid)
    assert rec["subscribers"] == 2 and rec["running"] is True, rec
    lines, runs_before, t0 = line_count(runs), rec["counters"]["runs"], time.monotonic()
    time.sleep(3)
    elapsed = time.monotonic() - t0
    ran = line_count(runs) - lines
    counted = counters(api, cid)["runs"] - runs_before
    assert elapsed - 1.5 <= ran <= elapsed + 1.5, f"{ran} runs in {elapsed:.1f} s with two subscribers"
    assert abs(counted - ran) <= 1, (counted, ran)
    # Both streams see the same ticks. The newest tick may have reached one
    # reader thread and not yet the other, so only ticks the first stream has
    # had time to see are compared.
    ticks_first = [first.t0 + t for t, _, _ in list(first.values)]
    for t, _, _ in list(second.values):
        moment = second.t0 + t
        if moment > ticks_first[-1] + 0.5:
            continue
        assert min(abs(moment - other) for other in ticks_first) < 0.25, "the second stream has a runner of its own"


def test_runner_stops_when_the_last_subscriber_leaves(executor, api, tmp_root, readers):
    runs = tmp_root / "leave-runs"
    cid = executor.create_condition("c-leave", command=f"echo run >> {runs}; echo 0.5", interval=1)
    first, second = readers(executor, cid), readers(executor, cid)
    first.next(3)
    second.next(3)
    first.cancel()
    wait_for(lambda: record(api, cid)["subscribers"] == 1, timeout=3, what="one subscriber left")
    lines = line_count(runs)
    second.next(3)
    second.next(3)
    assert line_count(runs) > lines, "the runner stopped while a subscriber was left"
    assert record(api, cid)["running"] is True

    second.cancel()
    left = time.monotonic()
    wait_for(lambda: not record(api, cid)["running"], timeout=3, what="the runner to stop")
    assert time.monotonic() - left < 1.5, "the runner outlived its last subscriber by more than an interval"
    rec = record(api, cid)
    assert rec["subscribers"] == 0, rec
    time.sleep(1.0)  # a run already under way may finish
    assert_no_more_runs(runs)
    stored = values(api, cid)
    assert len(stored) == counters(api, cid)["values"] >= 3, "values did not stay readable"


CLIENT = """
import sys
sys.path.insert(0, sys.argv[1])
import grpc, common_pb2, condition_pb2_grpc
stub = condition_pb2_grpc.ConditionServiceStub(grpc.insecure_channel(sys.argv[2]))
for message in stub.stream(common_pb2.Identifier(value=sys.argv[3]),
                           metadata=[("authorization", "Bearer " + sys.argv[4])]):
    print(message.command_return_value, flush=True)
"""


def test_runner_stops_when_its_client_is_killed(executor, api, server, tmp_root):
    runs = tmp_root / "kill-runs"
    cid = executor.create_condition("c-kill", command=f"echo run >> {runs}; echo 0.5", interval=1)
    stubs = os.path.dirname(common_pb2.__file__)
    client = subprocess.Popen([sys.executable, "-c", CLIENT, stubs, server.grpc_addr, cid, server.token],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([client.stdout], [], [], 20)
        assert ready, "the client printed no value within 20 s"
        line = client.stdout.readline()  # the first value: the client is subscribed
        assert line.strip() == "0.5", f"client printed {line!r}: {client.stderr.read() if client.poll() else ''}"
        assert record(api, cid)["subscribers"] == 1
    finally:
        client.send_signal(signal.SIGKILL)
        client.wait(10)
        client.stdout.close()
        client.stderr.close()
    killed = time.monotonic()
    wait_for(lambda: not record(api, cid)["running"], timeout=5, what="the runner to stop after the kill")
    assert time.monotonic() - killed < 2.0, "the runner outlived its killed client by more than an interval"
    assert record(api, cid)["subscribers"] == 0
    time.sleep(1.0)
    assert_no_more_runs(runs)


def test_delete_ends_streams_removes_files_and_keeps_values(executor, api, shelf, readers):
    prefix = shelf.new_prefix("delete")
    name = shelf.add("file-condition", prefix)
    (prefix / "condition").mkdir(parents=True)
    write_atomically(prefix / "condition" / "value", "0.4\n")
    cid = executor.create_condition("c-delete", source=(name, ""), interval=1)
    script = prefix / "condition" / "check.sh"
    assert script.exists()
    first, second = readers(executor, cid), readers(executor, cid)
    first.next(3)
    second.next(3)
    first.next(3)
    executor.delete_condition(cid)
    for reader in (first, second):
        error = reader.wait_end(3)
        assert error is not None, "a stream ended with OK after delete"
        assert_rpc_error(error, Code.NOT_FOUND, cid, "was deleted")
    assert not script.exists(), "delete left the condition's script"
    rec = record(api, cid)
    assert rec["running"] is False and rec["subscribers"] == 0, rec

    stored = values(api, cid)
    assert len(stored) >= len(first.values) >= 2 and all(abs(v - 0.4) < 1e-6 for v in stored), stored
    newest = api.get(qs(f"/conditions/{cid}/values", limit=2)).body["values"]
    everything = api.get(qs(f"/conditions/{cid}/values", limit=1000)).body["values"]
    assert newest == everything[-2:], (newest, everything)
    assert api.get(qs(f"/conditions/{cid}/values", limit=0)).status == 400

    late = StreamReader(executor, cid)
    assert_rpc_error(late.wait_end(10), Code.NOT_FOUND, cid)
    assert_rpc_error(rpc_error(executor.delete_condition, cid), Code.NOT_FOUND, cid)


def test_runner_survives_an_ssh_target_outage(executor, api, fleet, readers):
    ssh, holder = fleet
    cid = executor.create_condition("flaky", command="echo 0.5", interval=1)
    reader = readers(executor, cid)
    reader.next(5)
    reader.next(3)
    skipped = counters(api, cid)["skipped_unreachable"]
    sshd = holder["sshd"]
    sshd.stop()
    reader.drain()
    time.sleep(3.3)  # about three intervals without the target
    during = reader.drain()
    assert len(during) <= 1, f"values while the target was down: {during}"
    assert not reader.ended.is_set(), f"the stream ended with the outage: {reader.describe_end()}"
    rec = record(api, cid)
    assert rec["running"] is True and rec["subscribers"] == 1, rec
    assert rec["counters"]["skipped_unreachable"] - skipped >= 2, rec["counters"]

    holder["sshd"] = Sshd(ssh.workdir, "sshd-back", sshd.addresses, sshd.port, ssh.host_key, ssh.authorized_keys,
                          ssh.home).start()
    back = time.monotonic()
    reader.next(4)
    assert time.monotonic() - back < 4
    reader.next(3)  # and then on the grid again
    assert not reader.ended.is_set()
    c = counters(api, cid)
    assert c["values"] >= 4, c


def test_sigterm_ends_open_streams(tmp_root, shelf):
    srv = Server(tmp_root / "data-sigterm", inventory="c-sigterm ansible_connection=local\n", grpc=True,
                 extra_args=["--packages", str(shelf.root)]).start()
    client = Executor(srv.grpc_addr)
    try:
        cid = client.create_condition("c-sigterm", command="echo 0.5", interval=1)
        reader = StreamReader(client, cid)
        reader.next(3)
        srv.proc.send_signal(signal.SIGTERM)
        error = reader.wait_end(5)
        assert error is not None, "a stream ended with OK at shutdown"
        assert_rpc_error(error, Code.UNAVAILABLE, "shutting down")
        client.close()  # an idle connection would hold the server's gRPC shutdown for its 5 s grace
        assert srv.proc.wait(10) == 0, srv.log_tail()
    finally:
        client.close()
        srv.stop()
