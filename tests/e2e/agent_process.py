"""One `steward agent` process for the end-to-end tests, run on this machine
or (with `prefix`, e.g. `ip netns exec NS`) inside a network namespace."""

import signal
import subprocess
from pathlib import Path

from conftest import STEWARD_BIN, clean_env


def agent_addr(server):
    """Where the server's agent listener took its port (--agent-listen ...:0)."""
    return (server.data_dir / "agent.addr").read_text().strip()


class Agent:
    """One `steward agent` process."""

    def __init__(self, server_addr, state_dir, log_path, extra_args=(), prefix=(), env=None):
        self.server_addr, self.state_dir, self.log_path = server_addr, Path(state_dir), Path(log_path)
        self.extra_args = list(extra_args)
        self.prefix = list(prefix)
        self.env = dict(env or {})  # added to the agent's environment, which its commands inherit
        self.proc = None

    def start(self, *args):
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([*self.prefix, STEWARD_BIN, "agent", "--server", self.server_addr, "--state-dir",
                                      str(self.state_dir), *self.extra_args, *args],
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=clean_env(**self.env), start_new_session=True)
        log.close()
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def log_tail(self, n=30):
        try:
            return "agent log tail:\n" + "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except FileNotFoundError:
            return "(no agent log)"


# ------------------------------------------------- the agent link by hand
# proto/agent.proto's framing (a 4-byte big-endian length, then a message),
# spoken directly, for tests that send what no real agent would.

AGENT_MESSAGE_ENROL = 9       # AgentMessage.enrol
SERVER_MESSAGE_GOODBYE = 11   # ServerMessage.goodbye
ERROR_INVALID_ARGUMENT, ERROR_UNAVAILABLE = 0, 8  # steward's ErrorCode numbers


def _varint(value):
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _read_varint(data, at):
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def protobuf_fields(data):
    """{field number: [values]} of a serialized message (varints as ints,
    length-delimited fields as bytes)."""
    fields, at = {}, 0
    while at < len(data):
        key, at = _read_varint(data, at)
        number, kind = key >> 3, key & 7
        if kind == 0:
            value, at = _read_varint(data, at)
        elif kind == 2:
            size, at = _read_varint(data, at)
            value, at = data[at:at + size], at + size
        else:
            raise ValueError(f"wire type {kind} is not used by the agent protocol")
        fields.setdefault(number, []).append(value)
    return fields


def enrol_raw(server, enrol_request):
    """One Enrol link carrying `enrol_request` (bytes, meant as an
    EnrolRequest) in an AgentMessage; returns the server's Goodbye as
    (error code, message), or None when it answered otherwise."""
    import socket
    import ssl
    import struct
    context = ssl.create_default_context(cafile=str(server.data_dir / "agent-ca" / "ca.pem"))
    host, port = agent_addr(server).rsplit(":", 1)
    message = _varint(AGENT_MESSAGE_ENROL << 3 | 2) + _varint(len(enrol_request)) + enrol_request
    with socket.create_connection((host, int(port)), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="steward-server") as link:
        link.sendall(struct.pack(">I", len(message)) + message)
        answer = b""
        while True:
            chunk = link.recv(65536)
            if not chunk:
                break
            answer += chunk
    size = struct.unpack(">I", answer[:4])[0]
    goodbye = protobuf_fields(answer[4:4 + size]).get(SERVER_MESSAGE_GOODBYE)
    if not goodbye:
        return None
    fields = protobuf_fields(goodbye[0])
    return fields.get(1, [0])[0], fields.get(2, [b""])[0].decode()
