"""The store several servers share in a test (README "Servers and leases"):
a SQLite file, or Debian's redis-server of the test's own."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import INVENTORY, Server, wait_for

# Servers sharing a store share the key that seals secret arguments.
SECRET_KEY = "5e" * 32

REDIS_SERVER = "/usr/bin/redis-server"


class RedisServer:
    """Debian's redis-server on a unix socket with its own config: AOF on,
    no snapshots, no TCP port. start() again replays the AOF."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        # A socket path is at most 108 bytes: a short folder of its own.
        self.socket_dir = Path(tempfile.mkdtemp(prefix="stw-redis-"))
        self.socket = self.socket_dir / "redis.sock"
        self.proc = None

    @property
    def url(self):
        return f"unix://{self.socket}"

    def start(self, timeout=10.0):
        config = self.folder / "redis.conf"
        config.write_text(f"port 0\nunixsocket {self.socket}\nunixsocketperm 700\nappendonly yes\n"
                          f"appendfsync always\nsave \"\"\ndir {self.folder}\n"
                          f"logfile {self.folder / 'redis.log'}\n")
        self.proc = subprocess.Popen([REDIS_SERVER, str(config)], stdin=subprocess.DEVNULL)
        wait_for(self._answers, timeout=timeout, what="redis-server to answer PING")

    def _answers(self):
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(str(self.socket))
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        shutil.rmtree(self.socket_dir, ignore_errors=True)


@pytest.fixture(params=["sqlite", "redis"])
def store(request, tmp_root):
    """The --store URL both servers share, and the redis-server behind it."""
    root = tmp_root / f"{request.node.name[:20]}-{request.param}"
    root.mkdir()
    if request.param == "sqlite":
        yield root, f"sqlite:{root / 'shared.db'}", None
        return
    if not os.access(REDIS_SERVER, os.X_OK):
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    redis = RedisServer(root / "redis")
    redis.start()
    yield root, redis.url, redis
    redis.stop()




def shared_server(root, store_url, server_id, inventory=INVENTORY, grpc=False):
    """A server with its own data folder on the shared store (not started)."""
    return Server(root / f"data-{server_id}", inventory=inventory, grpc=grpc,
                  extra_args=["--store", store_url, "--server-id", server_id],
                  env={"STEWARD_SECRET_KEY": SECRET_KEY})
