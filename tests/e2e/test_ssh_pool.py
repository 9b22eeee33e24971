"""The ssh connection pool against a real sshd: at most 9 commands at once on
one connection (and no more connections than that needs), keepalives while a
connection is idle, and the connection closed after the idle timeout.

The sshd logs at DEBUG, which names every accepted connection and every
keepalive request it answers; `ss` shows the server's open connections.
"""

import getpass
import re
import subprocess
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import JOB_DONE, OP_CHANGED, Api, Server, wait_for
from sshd import Sshd, free_port_on, keygen

POOL_ADDR = "127.0.0.70"
KEEPALIVE_S = 1
IDLE_S = 4


@pytest.fixture(scope="module")
def sshd(tmp_root):
    workdir = tmp_root / "ssh"
    workdir.mkdir()
    home = workdir / "home"
    home.mkdir()
    client_key = keygen(workdir / "client_ed25519")
    authorized = workdir / "authorized_keys"
    authorized.write_text(client_key.with_suffix(".pub").read_text())
    daemon = Sshd(workdir, "pool", [POOL_ADDR], free_port_on([POOL_ADDR]), keygen(workdir / "host_ed25519"),
                  authorized, home, log_level="DEBUG").start()
    daemon.client_key = client_key
    yield daemon
    daemon.stop()


def host_line(sshd, name, **variables):
    values = {"ansible_connection": "ssh", "ansible_host": POOL_ADDR, "ansible_port": sshd.port,
              "ansible_user": getpass.getuser(), "ansible_ssh_private_key_file": sshd.client_key}
    values.update(variables)
    return name + "".join(f" {k}={v}" for k, v in values.items()) + "\n"


@pytest.fixture(scope="module")
def server(tmp_root, sshd):
    inventory = host_line(sshd, "pooled", steward_max_sessions=20) + host_line(sshd, "idler")
    srv = Server(tmp_root / "data", inventory=inventory,
                 extra_args=["--ssh-keepalive", str(KEEPALIVE_S), "--ssh-idle-timeout", str(IDLE_S)]).start()
    yield srv
    assert srv.stop() == 0, srv.log_tail()


@pytest.fixture(scope="module")
def api(server):
    return Api(server)


def sshd_log(sshd):
    return sshd.log.read_text(errors="replace")


def accepted_connections(sshd):
    return sshd_log(sshd).count("Accepted publickey for")


def open_connections(server, sshd):
    """Established TCP connections of the steward process to the sshd."""
    out = subprocess.run(["ss", "-Htnp", "state", "established", "dst", f"{POOL_ADDR}:{sshd.port}"],
                         capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if f"pid={server.proc.pid}," in line]


def test_twenty_concurrent_commands_share_three_connections_of_at_most_nine(api, sshd):
    before = accepted_connections(sshd)
    body = {"targets": ["pooled"], "cmd": "echo $SSH_CONNECTION; sleep 3"}
    with ThreadPoolExecutor(20) as pool:
        jids = list(pool.map(lambda _: api.submit("/execute", body), range(20)))
    jobs = [api.wait_job(jid, timeout=30) for jid in jids]
    client_ports = []
    for job in jobs:
        entry = job["return_data"]["pooled"]
        assert job["state"] == JOB_DONE and entry["status"] == OP_CHANGED, job
        client_ports.append(entry["stdout"].split()[1])
    per_connection = sorted(Counter(client_ports).values(), reverse=True)
    # ceil(20 / 9) connections, the first two full, as the sshd saw them too.
    assert per_connection == [9, 9, 2], per_connection
    assert accepted_connections(sshd) - before == 3, sshd_log(sshd)[-3000:]


def test_an_idle_connection_gets_keepalives_then_is_closed(api, server, sshd):
    before = sshd_log(sshd).count("keepalive@openssh.com")
    job = api.run("/execute", {"targets": ["idler"], "cmd": "echo $SSH_CONNECTION"})
    assert job["return_data"]["idler"]["status"] == OP_CHANGED, job
    client_port = job["return_data"]["idler"]["stdout"].split()[1]
    wait_for(lambda: any(f":{client_port} " in line for line in open_connections(server, sshd)), 5,
             what="the pooled connection")
    # Keepalives every KEEPALIVE_S while idle: several before the idle timeout.
    wait_for(lambda: sshd_log(sshd).count("keepalive@openssh.com") - before >= 2, IDLE_S,
             what=f"two keepalives within {IDLE_S} s")
    # Closed after IDLE_S idle (checked every IDLE_S / 4): generous bound.
    wait_for(lambda: not any(f":{client_port} " in line for line in open_connections(server, sshd)), IDLE_S + 10,
             what="the idle connection closed")
    # steward says goodbye (SSH_MSG_DISCONNECT), it does not just drop the socket.
    ended = re.compile(rf"Received disconnect from \S+ port {client_port}:11: ")
    wait_for(lambda: ended.search(sshd_log(sshd)), 5,
             what=f"the sshd to log the end of port {client_port}:\n{sshd_log(sshd)[-3000:]}")


def test_a_connection_in_use_is_not_closed_as_idle(api, server, sshd):
    before = accepted_connections(sshd)
    job = api.run("/execute", {"targets": ["idler"], "cmd": f"sleep {IDLE_S + 3}; echo $SSH_CONNECTION"},
                  timeout=30)
    assert job["return_data"]["idler"]["status"] == OP_CHANGED, job
    again = api.run("/execute", {"targets": ["idler"], "cmd": "echo $SSH_CONNECTION"})
    assert again["return_data"]["idler"]["stdout"] == job["return_data"]["idler"]["stdout"], \
        "a command that outlasts the idle timeout keeps its connection, reused right after"
    assert accepted_connections(sshd) - before == 1
