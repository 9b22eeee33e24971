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
