"""The agent transport end to end (issue 13): the real `steward serve` with
--agent-listen and the real `steward agent` on loopback.

The agent dials the server through a small TCP proxy the test controls, so
the link can be cut mid-command (the agent reconnects by itself). Targets
run on this machine, so the contract checks shared with ssh and qga
(transport_contract.py) see the processes a command starts.
"""

import os
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

from agent_process import Agent, agent_addr
from conftest import (OP_CHANGED, OP_FAILED, OP_OK, OP_UNREACHABLE, SANITIZER, Api, Server, free_port, qs, read_pid,
                      wait_for, wait_process_gone)
from transport_contract import (check_cancel_kills_the_process_tree, check_output_cap,
                                check_timeout_kills_the_process_tree, one, sha256_of, write_sparse_marked_file)

AGENT_WAIT = 8  # --agent-wait: long enough to ride out a cut link, short for the away test


class Proxy(threading.Thread):
    """TCP forwarder from 127.0.0.1:port to the agent listener; cut() drops
    every open connection, refuse(s) turns new ones away for a while."""

    def __init__(self, upstream):
        super().__init__(daemon=True)
        self.upstream = upstream
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.open = []
        self.refuse_until = 0.0
        self.connections = 0

    def run(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if time.monotonic() < self.refuse_until:
                client.close()
                continue
            host, port = self.upstream.rsplit(":", 1)
            try:
                server = socket.create_connection((host, int(port)))
            except OSError:
                client.close()
                continue
            with self.lock:
                self.open += [client, server]
                self.connections += 1
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self, refuse_seconds=0.0):
        self.refuse_until = time.monotonic() + refuse_seconds
        with self.lock:
            sockets, self.open = self.open, []
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self):
        self.listener.close()
        self.cut()


def status_kib(pid, field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def setup(tmp_root):
    """An agent `edge` enrolled with a join token and listed in the
    inventory. Its id is known only after enrolment, so the server starts
    again on the same data dir and listener port: the agent comes back to
    the restarted server by itself."""
    data = tmp_root / "data"
    args = ["--agent-listen", f"127.0.0.1:{free_port()}", "--agent-wait", str(AGENT_WAIT)]
    first = Server(data, inventory="", extra_args=args).start()
    proxy = Proxy(agent_addr(first))
    proxy.start()
    join = Api(first).post("/agents/join-tokens", {"ttl": 600, "one_shot": True})
    assert join.status == 201, join
    state = tmp_root / "agent-state"
    agent = Agent(f"127.0.0.1:{proxy.port}", state, tmp_root / "agent.log")
    agent.start("--join", join.body["token"], "--ca-pin", join.body["ca_pin"], "--label", "role=edge")
    agent_id = wait_for(lambda: (state / "agent.id").exists() and (state / "agent.id").read_text().strip(),
                        timeout=20, what="enrolment")
    first.stop()
    inventory = (f"edge ansible_connection=agent steward_agent_id={agent_id}\n"
                 "ghost ansible_connection=agent steward_agent_id=agent-0000000000000000\n")
    server = Server(data, inventory=inventory, extra_args=args).start()
    api = Api(server)
    wait_for(lambda: api.get(qs("/ping", target="edge")).body.get("edge", {}).get("status") == OP_OK, timeout=40,
             what="the agent to come back to the restarted server\n" + agent.log_tail())
    yield api, server, agent, proxy, agent_id
    agent.stop()
    proxy.close()
    assert server.stop() == 0, server.log_tail()


# ---------------------------------------------------------------- tests

def test_execute_streams_output_and_exit_code(setup):
    api, *_ = setup
    job = api.run("/execute", {"targets": ["edge"], "cmd": "echo out; echo err >&2; exit 3"})
    e = one(job, "edge")
    assert e["status"] == OP_FAILED and e["rtc"] == 3, e
    assert e["stdout"] == "out\n" and e["stderr"] == "err\n", e
    job = api.run("/execute", {"targets": ["edge"], "argv": ["printf", "%s|", "a b", "$HOME"], "stdin": ""})
    assert one(job, "edge")["stdout"] == "a b|$HOME|", job


def test_ping_and_unreachable_for_an_agent_that_never_connected(setup):
    api, *_ = setup
    r = api.get(qs("/ping", target="edge"))
    assert r.body["edge"]["status"] == OP_OK, r.body
    job = api.run("/execute", {"targets": ["ghost"], "cmd": "true"}, timeout=AGENT_WAIT + 20)
    e = one(job, "ghost")
    assert e["status"] == OP_UNREACHABLE, e
    assert "agent agent-0000000000000000 not connected since" in e["error"], e


def test_output_cap_timeout_and_cancel_end_the_process_group(setup):
    api, *_ = setup
    check_output_cap(api, "edge", 3 << 20)
    check_timeout_kills_the_process_tree(api, "edge")
    check_cancel_kills_the_process_tree(api, "edge")


def reset_peak_rss(pid):
    """Sets VmHWM back to the current VmRSS (Linux clear_refs 5); returns it."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return status_kib(pid, "VmHWM")


def test_copy_and_fetch_200_mib_with_bounded_memory(setup, tmp_root):
    api, server, agent, *_ = setup
    files = server.data_dir / "files"
    files.mkdir(exist_ok=True)
    digest = write_sparse_marked_file(files / "big.bin", 200)
    dest = tmp_root / "on-agent" / "big.bin"
    dest.parent.mkdir(exist_ok=True)
    ends = {"server": server.proc.pid, "agent": agent.proc.pid}
    before = {name: reset_peak_rss(pid) for name, pid in ends.items()}
    job = api.run("/copy", {"targets": ["edge"], "src": "big.bin", "dest": str(dest), "mode": "0600"}, timeout=120)
    assert one(job, "edge")["status"] == OP_CHANGED, job
    assert sha256_of(dest) == digest and (dest.stat().st_mode & 0o777) == 0o600
    job = api.run("/fetch", {"targets": ["edge"], "src": str(dest), "dest": "back"}, timeout=120)
    assert one(job, "edge")["status"] == OP_CHANGED, job
    fetched = files / "back" / "edge" / "big.bin"
    assert sha256_of(fetched) == digest
    # Neither end's resident memory grows by anything near the file's 200 MiB.
    for name, pid in ends.items():
        growth = status_kib(pid, "VmHWM") - before[name]
        print(f"{name}: VmHWM {before[name]} KiB before, grew {growth} KiB during a 200 MiB copy and fetch")
        # An ASan build's quarantine holds freed chunks, so its RSS says nothing about ours.
        if not SANITIZER:
            assert growth < 24 * 1024, f"{name} peak RSS grew {growth} KiB during a 200 MiB copy and fetch"
    for path in (files / "big.bin", dest, fetched):
        path.unlink()
    missing = api.run("/fetch", {"targets": ["edge"], "src": str(tmp_root / "no-such-file")})
    e = one(missing, "edge")
    assert e["status"] == OP_FAILED and "no such file" in e["error"].lower(), e


def test_a_cut_link_mid_command_runs_it_once_and_delivers_its_result(setup, tmp_root):
    api, server, agent, proxy, _ = setup
    marker = tmp_root / f"ran-{uuid.uuid4().hex[:6]}"
    jid = api.submit("/execute", {"targets": ["edge"],
                                  "cmd": f"echo started >> {marker}; echo before; sleep 3; echo after"})
    wait_for(lambda: marker.exists(), timeout=10, what="the command to start")
    connections = proxy.connections
    proxy.cut(refuse_seconds=1.5)
    job = api.wait_job(jid, timeout=30)
    e = one(job, "edge")
    assert e["status"] == OP_CHANGED and e["stdout"] == "before\nafter\n", e
    assert marker.read_text() == "started\n", "the command ran more than once"
    assert proxy.connections > connections, "the agent did not reconnect"


def test_an_agent_killed_mid_command_is_not_run_twice(setup, tmp_root):
    api, server, agent, proxy, _ = setup
    marker = tmp_root / f"ran-{uuid.uuid4().hex[:6]}"
    pidfile = tmp_root / f"pid-{uuid.uuid4().hex[:6]}"
    jid = api.submit("/execute", {"targets": ["edge"],
                                  "cmd": f"echo started >> {marker}; echo $$ > {pidfile}; exec sleep 2"})
    pid = read_pid(pidfile)
    agent.kill9()
    agent.start()
    job = api.wait_job(jid, timeout=30)
    e = one(job, "edge")
    assert e["status"] == OP_UNREACHABLE and "result is lost" in e["error"], e
    wait_process_gone(pid, timeout=10)
    assert marker.read_text() == "started\n", "the command ran more than once"
    again = api.run("/execute", {"targets": ["edge"], "cmd": "echo back"}, timeout=30)
    assert one(again, "edge")["stdout"] == "back\n", again


def test_an_agent_away_past_agent_wait_ends_unreachable(setup):
    api, server, agent, proxy, agent_id = setup
    agent.stop()
    t0 = time.monotonic()
    job = api.run("/execute", {"targets": ["edge"], "cmd": "true"}, timeout=AGENT_WAIT + 20)
    e = one(job, "edge")
    assert e["status"] == OP_UNREACHABLE, e
    assert f"agent {agent_id} not connected since" in e["error"], e
    assert time.monotonic() - t0 >= AGENT_WAIT - 1
    agent.start()
    wait_for(lambda: api.get(qs("/ping", target="edge")).body.get("edge", {}).get("status") == OP_OK, timeout=20,
             what="the agent to come back")


def test_an_idle_agent_is_small_and_quiet(setup):
    api, server, agent, *_ = setup
    time.sleep(7)  # past the agent's first memory trim
    pid = agent.proc.pid
    ticks = lambda: sum(int(x) for x in open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[11:13])
    before = ticks()
    time.sleep(5)
    cpu_seconds = (ticks() - before) / os.sysconf("SC_CLK_TCK")
    assert cpu_seconds < 0.1, f"idle agent used {cpu_seconds} s of CPU in 5 s"
    private = status_kib(pid, "RssAnon")
    print(f"idle agent: VmRSS {status_kib(pid, 'VmRSS')} KiB, RssAnon {private} KiB, RssFile {status_kib(pid, 'RssFile')} KiB")
    if not SANITIZER:  # ASan's shadow memory and quarantine are private memory too
        assert private < 10 * 1024, f"idle agent holds {private} KiB of private memory"


def test_agents_show_live_state_and_unlisted_agents_join_group_agents(setup):
    api, server, agent, proxy, agent_id = setup
    listed = {a["id"]: a for a in api.get("/agents").body}
    me = listed[agent_id]
    assert me["connected"] is True and me["state"] == "approved", me
    assert me["version"] and me["address"] and me["connected_since"], me
    # `edge` names this agent, so it is not added again: group agents is empty.
    r = api.get(qs("/ping", target="agents"))
    assert r.status == 404, r


def test_revoking_an_agent_closes_its_stream_at_once(setup):
    """Last: the agent stays locked out."""
    api, server, agent, proxy, agent_id = setup
    r = api.post(f"/agents/{agent_id}/revoke")
    assert r.status == 200, r
    wait_for(lambda: not {a["id"]: a for a in api.get("/agents").body}[agent_id]["connected"], timeout=5,
             what="the revoked agent's stream to close")
    job = api.run("/execute", {"targets": ["edge"], "cmd": "true"}, timeout=AGENT_WAIT + 20)
    assert one(job, "edge")["status"] == OP_UNREACHABLE, job
    assert agent.proc.poll() is None, "the agent keeps trying (and is refused) rather than exiting"
