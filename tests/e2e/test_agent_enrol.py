"""Agent enrolment over the wire and an agent behind NAT (issue 13): the real
`steward serve --agent-listen` and real `steward agent` processes.

- a wrong --ca-pin, an expired join token and a used one-shot token are
  refused, and the agent keeps no certificate; refusals are rate-limited per
  source address;
- without a token the agent waits until an administrator approves it;
- behind NAT for real (netns.py): the agent in a namespace that reaches the
  server but that the server cannot reach runs work; a direct SSH to it
  fails; cutting its link mid-command neither loses the result nor runs the
  command twice.
"""

import time
import uuid

import pytest

from agent_process import ERROR_INVALID_ARGUMENT, ERROR_UNAVAILABLE, Agent, agent_addr, enrol_raw
from conftest import OP_CHANGED, OP_OK, OP_UNREACHABLE, Api, Server, free_port, qs, wait_for
from netns import nat_target_or_skip
from transport_contract import one

WRONG_PIN = "sha256:" + "0" * 64


@pytest.fixture(scope="module")
def server(tmp_root):
    srv = Server(tmp_root / "data", inventory="",
                 extra_args=["--agent-listen", f"127.0.0.1:{free_port()}"]).start()
    yield srv
    assert srv.stop() == 0, srv.log_tail()


@pytest.fixture(scope="module")
def api(server):
    return Api(server)


def join_token(api, **body):
    reply = api.post("/agents/join-tokens", {"ttl": 600, **body})
    assert reply.status == 201, reply
    return reply.body


def new_agent(server, tmp_root, name):
    return Agent(agent_addr(server), tmp_root / f"{name}-state", tmp_root / f"{name}.log")


def refused(agent, *args):
    """Starts the agent, which must give up with an error; returns its log."""
    agent.start(*args)
    assert agent.proc.wait(30) != 0, agent.log_tail()
    assert not (agent.state_dir / "agent.pem").exists(), "a refused agent kept a certificate"
    return agent.log_path.read_text(errors="replace")


def enrolled_id(agent):
    path = agent.state_dir / "agent.id"
    return wait_for(lambda: path.exists() and path.read_text().strip(), timeout=30,
                    what="enrolment\n" + agent.log_tail())


def answers(api, agent_id):
    return api.get(qs("/ping", target=agent_id)).body.get(agent_id, {}).get("status") == OP_OK


def test_a_wrong_ca_pin_is_refused_before_anything_is_sent(server, api, tmp_root):
    token = join_token(api)["token"]
    log = refused(new_agent(server, tmp_root, "wrong-pin"), "--join", token, "--ca-pin", WRONG_PIN)
    assert "pin" in log.lower(), log
    assert token not in log, "the join token was logged"
    assert not api.get("/agents").body, "an agent with the wrong pin enrolled"


def test_an_expired_join_token_is_refused(server, api, tmp_root):
    join = join_token(api, ttl=1)
    time.sleep(2)
    log = refused(new_agent(server, tmp_root, "expired"), "--join", join["token"], "--ca-pin", join["ca_pin"])
    assert "expired" in log.lower() or "refused" in log.lower() or "denied" in log.lower(), log
    assert join["token"] not in log, "the join token was logged"


def test_a_one_shot_token_lets_one_agent_in(server, api, tmp_root):
    join = join_token(api, one_shot=True)
    first = new_agent(server, tmp_root, "first").start("--join", join["token"], "--ca-pin", join["ca_pin"])
    try:
        agent_id = enrolled_id(first)
        wait_for(lambda: answers(api, agent_id), timeout=30, what="the first agent to answer")
        refused(new_agent(server, tmp_root, "second"), "--join", join["token"], "--ca-pin", join["ca_pin"])
    finally:
        first.stop()


def test_without_a_token_an_agent_waits_for_approval(server, api, tmp_root):
    pin = join_token(api)["ca_pin"]
    agent = new_agent(server, tmp_root, "pending").start("--ca-pin", pin)
    try:
        pending = wait_for(lambda: [a for a in api.get("/agents").body if a["state"] == "pending"], timeout=30,
                           what="the agent to ask for approval\n" + agent.log_tail())
        agent_id = pending[0]["id"]
        assert not answers(api, agent_id), "an agent ran work before approval"
        assert api.post(f"/agents/{agent_id}/approve").status == 200
        wait_for(lambda: answers(api, agent_id), timeout=40, what="the approved agent to connect\n" + agent.log_tail())
        assert enrolled_id(agent) == agent_id
    finally:
        agent.stop()


def test_refused_enrolments_are_rate_limited_per_address(tmp_root):
    """Guessing tokens or sending junk costs a token of a bucket per source address
    (burst 20, then 10 a minute): past it, Unavailable before any work."""
    srv = Server(tmp_root / "limit-data", inventory="",
                 extra_args=["--agent-listen", f"127.0.0.1:{free_port()}"]).start()
    try:
        bad_token_no_csr = b"\x0a\x09not-a-key"  # EnrolRequest{join_token: "not-a-key"}
        codes = [enrol_raw(srv, bad_token_no_csr)[0] for _ in range(20)]
        assert codes == [ERROR_INVALID_ARGUMENT] * 20, codes
        code, message = enrol_raw(srv, bad_token_no_csr)
        assert code == ERROR_UNAVAILABLE, (code, message)
        assert "too many refused enrolments from 127.0.0.1" in message, message
        assert enrol_raw(srv, b"\xff")[0] == ERROR_UNAVAILABLE, "junk is turned away too"
        assert "agent enrolments from 127.0.0.1 are refused for a while" in srv.log_tail(200)
    finally:
        assert srv.stop() == 0, srv.log_tail()


# ---------------------------------------------------------------- behind NAT

@pytest.fixture(scope="module")
def nat():
    target = nat_target_or_skip("agent", "NAT test")
    yield target
    target.stop()


@pytest.fixture(scope="module")
def behind_nat(tmp_root, nat):
    """A server listening for agents on the address the NAT lets through,
    and an agent inside the target namespace, enrolled with a join token."""
    inventory = f"direct ansible_connection=ssh ansible_host={nat.target_address} ansible_port=22\n"
    srv = Server(tmp_root / "nat-data", inventory=inventory,
                 extra_args=["--agent-listen", f"{nat.server_address}:{free_port()}", "--agent-wait", "30"]).start()
    api = Api(srv)
    join = join_token(api)
    agent = Agent(agent_addr(srv), tmp_root / "nat-agent-state", tmp_root / "nat-agent.log",
                  prefix=nat.command([]))
    agent.start("--join", join["token"], "--ca-pin", join["ca_pin"])
    agent_id = enrolled_id(agent)
    wait_for(lambda: answers(api, agent_id), timeout=40, what="the agent behind NAT to connect\n" + agent.log_tail())
    yield api, agent, agent_id
    agent.stop()
    assert srv.stop() == 0, srv.log_tail()


def test_an_agent_behind_nat_runs_work_the_server_could_not_send_over_ssh(behind_nat, nat):
    api, agent, agent_id = behind_nat
    job = api.run("/execute", {"targets": [agent_id], "cmd": "ip -o -4 addr show"})
    e = one(job, agent_id)
    assert e["status"] == OP_CHANGED, e
    assert nat.target_address in e["stdout"], "the command did not run inside the target namespace"
    listed = {a["id"]: a for a in api.get("/agents").body}[agent_id]
    assert listed["address"].rsplit(":", 1)[0] == nat.router_address, listed

    direct = api.get(qs("/ping", target="direct")).body["direct"]
    assert direct["status"] == OP_UNREACHABLE, direct


def test_cutting_the_link_mid_command_neither_loses_the_result_nor_runs_it_twice(behind_nat, nat, tmp_root):
    api, agent, agent_id = behind_nat
    marker = tmp_root / f"nat-ran-{uuid.uuid4().hex[:6]}"
    jid = api.submit("/execute", {"targets": [agent_id],
                                  "cmd": f"echo started >> {marker}; echo before; sleep 4; echo after"})
    wait_for(lambda: marker.exists(), timeout=15, what="the command to start")
    nat.set_link(False)
    time.sleep(2)
    nat.set_link(True)
    job = api.wait_job(jid, timeout=90)
    e = one(job, agent_id)
    assert e["status"] == OP_CHANGED and e["stdout"] == "before\nafter\n", e
    assert marker.read_text() == "started\n", "the command ran more than once"
    again = api.run("/execute", {"targets": [agent_id], "cmd": "echo still here"}, timeout=60)
    assert one(again, agent_id)["stdout"] == "still here\n", again
