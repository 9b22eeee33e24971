"""ssh authentication a README promise names and no other test covers: key
text in the inventory variable `steward_ssh_private_key` (right key, wrong
key, not a key), and ssh-agent (`SSH_AUTH_SOCK` in the server's environment,
no key configured). Secrets never appear in errors, job records or the log.
"""

import getpass
import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import JOB_DONE, JOB_FAILURE, OP_CHANGED, OP_UNREACHABLE, Api, Server, wait_for
from sshd import SshFleet, keygen
from transport_contract import one

AUTH_ADDR = "127.0.0.74"


@pytest.fixture(scope="module")
def fleet(tmp_root):
    fleet = SshFleet(tmp_root / "ssh", 1, first=int(AUTH_ADDR.rsplit(".", 1)[1]))
    fleet.agent_key = keygen(fleet.workdir / "agent_ed25519")
    with open(fleet.authorized_keys, "a") as keys:
        keys.write(Path(str(fleet.agent_key) + ".pub").read_text())
    fleet.start()
    yield fleet
    fleet.stop()


@pytest.fixture(scope="module")
def agent(tmp_root, fleet):
    """A real ssh-agent holding only the agent key; yields its socket."""
    socket_path = tmp_root / "agent.sock"
    proc = subprocess.Popen(["ssh-agent", "-D", "-a", str(socket_path)], stdout=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)
    try:
        wait_for(socket_path.exists, 10, what="the ssh-agent socket")
        subprocess.run(["ssh-add", str(fleet.agent_key)], env=dict(os.environ, SSH_AUTH_SOCK=str(socket_path)),
                       check=True, capture_output=True)
        yield socket_path
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


def key_lines(path):
    """The base64 body lines of a private key file (what must never leak)."""
    return [line for line in Path(path).read_text().splitlines() if line and not line.startswith("-----")]


def inventory(fleet, tmp_root):
    """YAML (written as JSON, which YAML reads): key text needs newlines."""
    wrong_key = keygen(tmp_root / "unauthorized_ed25519")
    common = {"ansible_connection": "ssh", "ansible_host": AUTH_ADDR, "ansible_port": fleet.port,
              "ansible_user": getpass.getuser()}
    hosts = {
        "keytext": dict(common, steward_ssh_private_key=Path(fleet.client_key).read_text()),
        "wrongtext": dict(common, steward_ssh_private_key=wrong_key.read_text()),
        "notakey": dict(common, steward_ssh_private_key="-----BEGIN OPENSSH PRIVATE KEY-----\n"
                                                        "bm90LWEta2V5LWF0LWFsbC1zZWNyZXQ=\n"
                                                        "-----END OPENSSH PRIVATE KEY-----\n"),
        "agent": dict(common),
    }
    return json.dumps({"all": {"hosts": hosts}}, indent=1), wrong_key


@pytest.fixture(scope="module")
def home(tmp_root):
    """The server's HOME: no ~/.ssh default keys that could log in instead of the agent."""
    path = tmp_root / "server-home"
    path.mkdir()
    return path


def start_server(tmp_root, name, text, home, agent_socket):
    env = {"HOME": str(home), "SSH_AUTH_SOCK": str(agent_socket)}
    return Server(tmp_root / name, inventory=text, env=env).start()


@pytest.fixture(scope="module")
def server(tmp_root, fleet, agent, home):
    text, wrong_key = inventory(fleet, tmp_root)
    srv = start_server(tmp_root, "data", text, home, agent)
    srv.wrong_key = wrong_key
    yield srv
    assert srv.stop() == 0, srv.log_tail()


@pytest.fixture(scope="module")
def api(server):
    return Api(server)


def assert_no_key_material(text, *key_paths):
    for path in key_paths:
        for line in key_lines(path):
            assert line not in text, f"key material of {path} leaked"
    assert "bm90LWEta2V5LWF0LWFsbC1zZWNyZXQ=" not in text


def test_key_text_in_the_inventory_logs_in(api):
    job = api.run("/execute", {"targets": ["keytext"], "cmd": "id -un"})
    assert job["state"] == JOB_DONE, job
    e = one(job, "keytext")
    assert e["status"] == OP_CHANGED and e["stdout"] == getpass.getuser() + "\n", e


@pytest.mark.parametrize("host, words", [
    ("wrongtext", f"authentication failed for user {getpass.getuser()} (tried publickey)"),
    ("notakey", "the private key given is not a readable unencrypted key"),
])
def test_a_wrong_key_is_unreachable_with_a_clear_message_and_no_key_material(api, server, fleet, host, words):
    r = api.post("/execute", {"targets": [host], "cmd": "id -un"})
    assert r.status == 201, r
    job = api.wait_job(r.body["jid"])
    e = one(job, host)
    assert job["state"] == JOB_FAILURE and e["status"] == OP_UNREACHABLE, job
    assert words in e["error"] and AUTH_ADDR in e["error"], e
    record = json.dumps(api.job(r.body["jid"], outputs=True))
    assert_no_key_material(record, fleet.client_key, server.wrong_key)
    assert_no_key_material(server.log_path.read_text(errors="replace"), fleet.client_key, server.wrong_key)


def test_with_no_key_configured_the_agent_logs_in(api):
    job = api.run("/execute", {"targets": ["agent"], "cmd": "id -un"})
    e = one(job, "agent")
    assert job["state"] == JOB_DONE and e["status"] == OP_CHANGED, job
    assert e["stdout"] == getpass.getuser() + "\n"


def test_without_the_agent_the_same_host_is_unreachable(tmp_root, fleet, home):
    """The control: nothing else (no default key in HOME) lets the agent host in."""
    text, _ = inventory(fleet, tmp_root)
    srv = start_server(tmp_root, "no-agent", text, home, tmp_root / "no-agent.sock")
    try:
        job = Api(srv).run("/execute", {"targets": ["agent"], "cmd": "id -un"})
        e = one(job, "agent")
        assert e["status"] == OP_UNREACHABLE, job
        assert "authentication failed" in e["error"] and "ssh-agent and default keys" in e["error"], e
    finally:
        assert srv.stop() == 0, srv.log_tail()
