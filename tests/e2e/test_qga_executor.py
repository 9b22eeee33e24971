"""The Ranger executor's features, injects and conditions on a `qga` target:
Deputy packages installed and run through the real qemu-ga, and a condition
that outlives the guest agent going away (as in a VM reboot).
"""

import time

import grpc
import pytest

from conftest import Api, Server
from deputy_packages import Shelf, StreamReader, assert_rpc_error, mode_of, rpc_error
from qemu_ga import QemuGa

Code = grpc.StatusCode


@pytest.fixture(scope="module")
def agent(tmp_root):
    holder = {"qga": QemuGa(tmp_root / "qga").start()}
    yield holder
    holder["qga"].stop()


@pytest.fixture(scope="module")
def shelf(tmp_root):
    return Shelf(tmp_root / "packages", tmp_root / "targets")


@pytest.fixture(scope="module")
def server(tmp_root, agent, shelf):
    inventory = f"vm ansible_connection=qga steward_qga_socket={agent['qga'].socket}\n"
    srv = Server(tmp_root / "data", inventory=inventory, grpc=True,
                 extra_args=["--packages", str(shelf.root)]).start()
    yield srv
    assert srv.stop() == 0, srv.log_tail()


def test_feature_is_installed_run_and_removed_through_the_guest_agent(executor, shelf):
    prefix = shelf.new_prefix("feature")
    name = shelf.add("hello-feature", prefix)
    reply = executor.create_feature("vm", name, "1.0.0", ["GREETING=qga"])
    assert reply.stdout == "hello from 1.0.0: qga config-ok\n", reply
    assert reply.stderr == "a warning\n", reply
    script = prefix / "feature" / "bin" / "hello.sh"
    assert mode_of(script) == "0o754"
    assert (prefix / "feature" / "etc" / "greeting.conf").read_text() == "config-ok\n"
    assert (prefix / "feature" / "ran").read_text() == "installed\n"
    executor.delete_feature(reply.identifier.value)
    assert not script.exists() and not (prefix / "feature" / "etc" / "greeting.conf").exists()
    assert_rpc_error(rpc_error(executor.delete_feature, reply.identifier.value), Code.NOT_FOUND)


def test_failing_feature_is_rolled_back_on_the_guest(executor, shelf):
    prefix = shelf.new_prefix("failing")
    name = shelf.add("failing-feature", prefix)
    error = rpc_error(executor.create_feature, "vm", name)
    assert_rpc_error(error, Code.INTERNAL, "exit status 3", "cannot configure the payload")
    assert not (prefix / "failing" / "payload.txt").exists(), "the copied asset was not rolled back"


def test_inject_gets_its_environment_through_the_guest_agent(executor, shelf):
    prefix = shelf.new_prefix("inject")
    name = shelf.add("note-inject", prefix)
    reply = executor.create_inject("vm", name, environment=["NOTE=phishing mail at 10:00"])
    assert reply.stdout == "noted\n", reply
    assert (prefix / "inject" / "note.txt").read_text() == "phishing mail at 10:00\n"
    executor.delete_inject(reply.identifier.value)
    assert not (prefix / "inject" / "note.sh").exists()


def test_condition_streams_through_the_guest_agent_and_survives_it_going_away(executor, shelf, server, agent,
                                                                             tmp_root):
    prefix = shelf.new_prefix("condition")
    name = shelf.add("file-condition", prefix)
    value_file = prefix / "condition" / "value"
    cid = executor.create_condition("vm", source=(name, ""), interval=0)
    assert (prefix / "condition" / "check.sh").exists(), "the condition's asset was not installed"
    value_file.write_text("0.4\n")
    reader = StreamReader(executor, cid)
    try:
        reader.wait_for_value(0.4, timeout=5)
        # The guest agent goes away, as in a reboot, for about three intervals.
        agent["qga"].stop(sig=9)
        time.sleep(3.2)
        reader.drain()
        value_file.write_text("0.9\n")
        agent["qga"] = QemuGa(tmp_root / "qga").start()
        t, _, _ = reader.wait_for_value(0.9, timeout=8)
        assert not reader.ended.is_set(), f"the stream ended: {reader.describe_end()}"
        api = Api(server)
        counters = [c for c in api.get("/conditions").body if c["id"] == cid][0]["counters"]
        assert counters["skipped_unreachable"] >= 2, counters
    finally:
        reader.cancel()
    executor.delete_condition(cid)
    assert not (prefix / "condition" / "check.sh").exists(), "delete did not remove the condition's files"
