"""Every kind of work on an agent target, end to end (issue 13): the real
`steward serve --agent-listen` and one real `steward agent`, shared by the
whole module.

The agent runs on this machine, so the files its commands write are visible
here. To tell the agent's commands from the server's, the agent (and so
every command it runs) has STEWARD_E2E_WHERE=agent in its environment, and
a PATH whose `systemctl` and `service` record their arguments.

Covered: ping, facts, service, execute (shell and argv, env, cwd, stdin),
copy and fetch, deploy of a Deputy feature role, a Deputy feature created
and deleted over the Ranger gRPC API, a condition streamed over gRPC, a task
pipeline, a named action, and (last) the server killed with -9 while a
command runs on the agent: stopped after the restart, or, when it ended
while the server was down, reported with its real exit status.
"""

import os
import re
import socket
import time
import types
import uuid

import pytest

from agent_process import Agent, agent_addr
from conftest import (JOB_DONE, JOB_FAILURE, OP_CHANGED, OP_FAILED, OP_OK, Api, Server, free_port, qs, read_pid,
                      wait_for, wait_process_gone)
from deputy_packages import Shelf, StreamReader, mode_of
from transport_contract import one

WHERE = "agent"  # STEWARD_E2E_WHERE of the agent's commands


def write_atomically(path, text):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def fake_service_tools(folder):
    """`systemctl` and `service` that append their arguments to folder/calls;
    a unit named `broken` fails with exit 5."""
    folder.mkdir()
    calls = folder / "calls"
    for tool in ("systemctl", "service"):
        script = folder / tool
        script.write_text(f'#!/bin/sh\necho "{tool} $*" >> {calls}\n'
                          'case " $* " in *" broken "*) echo "unit broken not found" >&2; exit 5;; esac\n')
        script.chmod(0o755)
    return calls


def pipeline_file(path, order):
    """One pipeline whose tasks run on the agent, found through its label group."""
    path.write_text(f"""
pipelines:
  on-agent:
    pre:
      - name: prepare
        target: label_role_ops
        shell_exec: echo pre:$STEWARD_E2E_WHERE >> {order}
    start:
      - name: start
        target: label_role_ops
        exec: [/bin/sh, -c, "echo start:$STEWARD_E2E_WHERE >> {order}"]
    stop:
      - name: stop
        target: agents
        shell_exec: echo stop:$STEWARD_E2E_WHERE >> {order}
    post:
      - name: clean up
        target: label_role_ops
        shell_exec: echo post:$STEWARD_E2E_WHERE >> {order}
""")
    return path


@pytest.fixture(scope="module")
def rig(tmp_root):
    """A server with gRPC, packages and pipelines, and one agent enrolled with a
    join token. The agent is in no inventory: it is the host named by its id,
    in the groups `agents` and `label_role_ops`."""
    shelf = Shelf(tmp_root / "packages", tmp_root / "targets")
    order = tmp_root / "pipeline-order"
    tasks = pipeline_file(tmp_root / "tasks.yaml", order)
    args = ["--agent-listen", f"127.0.0.1:{free_port()}", "--agent-wait", "10",
            "--packages", str(shelf.root), "--tasks", str(tasks)]

    def start_server():
        return Server(tmp_root / "data", inventory="", grpc=True, extra_args=args).start()

    server = start_server()
    api = Api(server)
    join = api.post("/agents/join-tokens", {"ttl": 600, "one_shot": True})
    assert join.status == 201, join
    service_calls = fake_service_tools(tmp_root / "fake-bin")
    state = tmp_root / "agent-state"
    agent = Agent(agent_addr(server), state, tmp_root / "agent.log",
                  env={"STEWARD_E2E_WHERE": WHERE, "PATH": f"{service_calls.parent}:{os.environ['PATH']}"})
    agent.start("--join", join.body["token"], "--ca-pin", join.body["ca_pin"], "--label", "role=ops")
    host = wait_for(lambda: (state / "agent.id").exists() and (state / "agent.id").read_text().strip(),
                    timeout=20, what="enrolment\n" + agent.log_tail())
    wait_for(lambda: answers(api, host), timeout=20, what="the agent to answer\n" + agent.log_tail())
    from executor_client import Executor  # imports grpc, which only these tests need
    rig = types.SimpleNamespace(server=server, api=api, executor=Executor(server.grpc_addr), agent=agent,
                                host=host, shelf=shelf, order=order, service_calls=service_calls,
                                work=tmp_root, start_server=start_server)
    yield rig
    rig.executor.close()
    agent.stop()
    assert rig.server.stop() == 0, rig.server.log_tail()


def answers(api, host):
    return api.get(qs("/ping", target=host)).body.get(host, {}).get("status") == OP_OK


def fresh_dir(rig, tag):
    path = rig.work / f"{tag}-{uuid.uuid4().hex[:6]}"
    path.mkdir()
    return path


# ---------------------------------------------------------------- operations

def test_ping_and_facts(rig):
    api, host = rig.api, rig.host
    r = api.get(qs("/ping", target=host))
    assert r.status == 200 and r.body == {host: {"status": OP_OK}}, r
    r = api.get(qs("/facter", target=host))
    assert r.status == 200, r
    entry = r.body[host]
    assert entry["status"] == OP_OK, entry
    facts = entry["facts"]
    assert facts["hostname"] == socket.gethostname(), facts
    assert facts["kernel"] == os.uname().release and facts["arch"] == os.uname().machine, facts
    assert facts["cpus"] == os.cpu_count(), facts
    assert facts["ansible_hostname"] == socket.gethostname().split(".")[0], facts


def test_service_runs_the_targets_service_manager(rig):
    api, host = rig.api, rig.host
    r = api.get(qs("/service", target=host, name="web-app", state=2, graceful="true"))
    assert r.status == 200 and r.body[host]["status"] == OP_CHANGED, r
    job = api.run("/service", {"targets": [host], "name": "web-app", "state": 1})
    assert job["state"] == JOB_DONE and one(job, host)["status"] == OP_CHANGED, job
    job = api.run("/service", {"targets": [host], "name": "broken", "state": 0})
    failed = one(job, host)
    assert failed["status"] == OP_FAILED and failed["rtc"] == 5, failed
    assert failed["stderr"] == "unit broken not found\n", failed
    systemd = os.path.isdir("/run/systemd/system")
    expected = (["systemctl reload web-app", "systemctl stop web-app", "systemctl start broken"] if systemd else
                ["service web-app reload", "service web-app stop", "service broken start"])
    assert rig.service_calls.read_text().splitlines() == expected


def test_execute_shell_and_argv_with_env_cwd_and_stdin(rig):
    api, host = rig.api, rig.host
    cwd = fresh_dir(rig, "cwd")
    job = api.run("/execute", {"targets": [host], "cmd": 'pwd; echo "$STEWARD_E2E_WHERE $GREETING"; cat; exit 3',
                               "env": {"GREETING": "hello there"}, "cwd": str(cwd), "stdin": "fed in\n"})
    e = one(job, host)
    assert e["status"] == OP_FAILED and e["rtc"] == 3, e
    assert e["stdout"] == f"{cwd}\n{WHERE} hello there\nfed in\n", e
    job = api.run("/execute", {"targets": [host], "argv": ["sh", "-c", 'echo "$0|$1|$GREETING" >&2', "a b", "$HOME"],
                               "env": {"GREETING": "argv"}})
    e = one(job, host)
    assert e["status"] == OP_CHANGED and e["rtc"] == 0, e
    assert e["stdout"] == "" and e["stderr"] == "a b|$HOME|argv\n", e


def test_copy_and_fetch_keep_content_and_mode(rig):
    api, host = rig.api, rig.host
    files = rig.server.data_dir / "files"
    files.mkdir(exist_ok=True)
    (files / "small.conf").write_bytes(b"key = value\n\x00binary\xff\n")
    dest = fresh_dir(rig, "copied") / "small.conf"
    job = api.run("/copy", {"targets": [host], "src": "small.conf", "dest": str(dest), "mode": "0640"})
    assert one(job, host)["status"] == OP_CHANGED, job
    assert dest.read_bytes() == b"key = value\n\x00binary\xff\n" and mode_of(dest) == "0o640"
    dest.write_text("changed on the target\n")
    job = api.run("/fetch", {"targets": [host], "src": str(dest), "dest": "fetched"})
    assert one(job, host)["status"] == OP_CHANGED, job
    assert (files / "fetched" / host / "small.conf").read_text() == "changed on the target\n"


def test_deploy_installs_a_deputy_feature_role(rig):
    api, host, shelf = rig.api, rig.host, rig.shelf
    prefix = shelf.new_prefix("deploy")
    shelf.write("greeter", "1.0.0", '[package]\nname = "greeter"\nversion = "1.0.0"\n'
                'assets = [["greet.sh", "' + str(prefix) + '/bin/", "0750"]]\n'
                '[content]\ntype = "feature"\n[feature]\ntype = "Service"\n'
                f'action = "{prefix}/bin/greet.sh"\n',
                files={"greet.sh": f'#!/bin/sh\necho "$GREETING from $STEWARD_E2E_WHERE" > {prefix}/greeting\n'
                                   'echo greeted\n'})
    job = api.run("/deploy", {"targets": [host], "role": "greeter", "extra_vars": {"GREETING": "deployed"}},
                  timeout=60)
    entry = one(job, host)
    assert job["state"] == JOB_DONE and entry["status"] == OP_CHANGED, job
    assert mode_of(prefix / "bin" / "greet.sh") == "0o750"
    assert (prefix / "greeting").read_text() == f"deployed from {WHERE}\n"
    assert entry["stdout"] == "greeted\n", entry


def test_grpc_feature_is_deployed_and_deleted(rig):
    executor, shelf = rig.executor, rig.shelf
    prefix = shelf.new_prefix("feature")
    name = shelf.add("hello-feature", prefix)
    reply = executor.create_feature(rig.host, name, "1.0.0", environment=["GREETING=an agent"])
    assert reply.stdout == "hello from 1.0.0: an agent config-ok\n" and reply.stderr == "a warning\n", reply
    script = prefix / "feature" / "bin" / "hello.sh"
    conf = prefix / "feature" / "etc" / "greeting.conf"
    assert mode_of(script) == "0o754" and conf.read_text() == "config-ok\n"
    assert (prefix / "feature" / "ran").read_text() == "installed\n", "the action did not run"
    executor.delete_feature(reply.identifier.value)
    assert not script.exists() and not conf.exists(), "delete left installed files"
    assert (prefix / "feature" / "ran").exists(), "delete removed a file it did not install"


def test_condition_streams_values_from_the_agent(rig):
    executor = rig.executor
    value_file = fresh_dir(rig, "condition") / "value"
    write_atomically(value_file, "0.25\n")
    # Only the agent's commands have STEWARD_E2E_WHERE=agent: run anywhere else, no value comes.
    command = f'[ "$STEWARD_E2E_WHERE" = {WHERE} ] && cat {value_file}'
    cid = executor.create_condition(rig.host, name="on-agent", command=command, interval=1)
    reader = StreamReader(executor, cid)
    try:
        assert abs(reader.next_value(5) - 0.25) < 1e-6
        write_atomically(value_file, "1\n")
        reader.wait_for_value(1.0, 5)
    finally:
        reader.cancel()

    def stored():  # values are written to the store a moment after they are streamed
        values = [v["value"] for v in rig.api.get(f"/conditions/{cid}/values").body["values"]]
        return values if values and values[-1] == pytest.approx(1.0) else None
    assert wait_for(stored, timeout=5, what="the streamed values to be stored")[0] == pytest.approx(0.25)
    executor.delete_condition(cid)


def test_task_pipeline_runs_its_stages_on_the_agent(rig):
    api = rig.api
    r = api.post("/tasks", {"name": "on-agent"})
    assert r.status == 201, r
    jid = r.body["jid"]

    def ended():
        state = api.post("/tasks", {"jid": jid})
        assert state.status == 200, state
        return state.body if state.body["state"] != 1 else None
    state = wait_for(ended, timeout=30, what=f"pipeline run {jid}")
    assert state["state"] == JOB_DONE and state["run"]["state"] == "ok", state
    assert rig.order.read_text().split() == [f"{stage}:{WHERE}" for stage in ("pre", "start", "stop", "post")]
    tasks = [task for stage in state["run"]["stages"].values() for task in stage]
    assert all(list(task["targets"]) == [rig.host] and task["exit_code"] == 0 for task in tasks), tasks


def test_named_action_runs_on_the_agent(rig):
    api, host = rig.api, rig.host
    r = api.post("/v1/actions", {"name": "steward:execute", "args": [host, "echo action on $STEWARD_E2E_WHERE"]})
    assert r.status == 202, r

    def finished():
        record = api.get(f"/v1/actions/{r.body['id']}").body
        return record if record["state"] in ("succeeded", "failed") else None
    record = wait_for(finished, timeout=20, what="the action to finish")
    assert record["state"] == "succeeded", record
    job = api.wait_job(record["result"]["jid"])
    assert one(job, host)["stdout"] == f"action on {WHERE}\n", job


# ---------------------------------------------------------------- last: the server dies

def kill9_and_restart(rig, while_down=lambda: None):
    rig.server.kill9()
    while_down()
    rig.server = rig.start_server()
    rig.api = Api(rig.server)


def test_a_server_killed_mid_command_has_the_agent_stop_it_and_never_start_it_again(rig):
    """README "After a crash": the restarted server asks the agent, once it is
    back by itself, about the operation it recorded; still running, the agent
    stops it: Failed, "interrupted: ...", and nothing runs twice."""
    host, agent = rig.host, rig.agent
    work = fresh_dir(rig, "crash")
    marker, pidfile = work / "ran", work / "pid"
    jid = rig.api.submit("/execute", {"targets": [host], "cmd": f"echo started >> {marker}; echo $$ > {pidfile}; "
                                                                f"sleep 30; echo finished >> {marker}"})
    pid = read_pid(pidfile)
    kill9_and_restart(rig)
    job = rig.api.wait_job(jid, timeout=20)
    e = one(job, host)
    assert job["state"] == JOB_FAILURE and e["status"] == OP_FAILED, job
    assert re.fullmatch(r"interrupted: server restarted; its agent stopped operation op-[0-9a-f]{24}", e["error"]), e
    assert agent.proc.poll() is None, "the agent was restarted, not reconnected"
    wait_process_gone(pid, timeout=10)
    journal = agent.state_dir / "journal"
    wait_for(lambda: not any(journal.iterdir()), timeout=10, what="the agent's journal to empty")
    time.sleep(1)
    assert marker.read_text() == "started\n", "the command ran again, or ran to its end"
    again = rig.api.run("/execute", {"targets": [host], "cmd": "echo after the crash"})
    assert one(again, host)["stdout"] == "after the crash\n", again


def test_a_command_that_ends_while_the_server_is_down_reports_its_real_exit_status(rig):
    host = rig.host
    marker = fresh_dir(rig, "crash") / "ran"
    jid = rig.api.submit("/execute", {"targets": [host], "cmd": f"echo started >> {marker}; sleep 1; "
                                                                f"echo ended >> {marker}; exit 3"})
    wait_for(lambda: marker.exists(), timeout=10, what="the command to start")
    kill9_and_restart(rig, lambda: wait_for(lambda: marker.read_text() == "started\nended\n", timeout=10,
                                            what="the command to end"))
    job = rig.api.wait_job(jid, timeout=20)
    e = one(job, host)
    assert e["status"] == OP_FAILED and e["rtc"] == 3, e
    assert e["error"] == "exit status 3 (finished while the server was down)", e
    time.sleep(1)
    assert marker.read_text() == "started\nended\n", "the command ran again"
