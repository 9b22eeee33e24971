"""One `steward serve` for a bench: REST on an ephemeral port, maybe one more
listener (agents, callbacks, gRPC), a bench token, warnings-only logs."""

import http.client
import json
import os
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STEWARD = os.environ.get("STEWARD_BIN", str(REPO / "build" / "steward"))
TOKEN = "bench"


class BenchServer:
    def __init__(self, work, inventory, listener_flag=None, addr_file=None, extra_args=()):
        """listener_flag: e.g. "--agent-listen"; its address is read from data/addr_file into listener_addr.
        Without one the server has REST only (and whatever extra_args configure)."""
        self.data = work / "server"
        self.data.mkdir()
        (work / "inventory.ini").write_text(inventory)
        self.log = open(work / "server.log", "ab")
        listener = [listener_flag, "127.0.0.1:0"] if listener_flag else []
        self.proc = subprocess.Popen(
            [STEWARD, "serve", "--http", "127.0.0.1:0", *listener, "--data-dir", str(self.data),
             "--inventory", str(work / "inventory.ini"), "--max-connections", "1024", "--log-level", "warn",
             *extra_args],
            env=dict(os.environ, STEWARD_TOKEN=TOKEN), stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT)
        for _ in range(300):
            addr = (self.data / "http.addr").read_text().strip() if (self.data / "http.addr").exists() else ""
            if addr and not addr.endswith(":0") and (not addr_file or (self.data / addr_file).exists()):
                host, port = addr.rsplit(":", 1)
                self.addr = (host, int(port))
                self.url = f"http://{addr}"
                if addr_file:
                    self.listener_addr = (self.data / addr_file).read_text().strip()
                return
            time.sleep(0.05)
        raise RuntimeError("steward serve did not start")

    def request(self, method, path, body=None):
        conn = http.client.HTTPConnection(*self.addr, timeout=600)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        reply = conn.getresponse()
        data = reply.read()
        conn.close()
        if reply.status >= 300:
            raise RuntimeError(f"{method} {path}: {reply.status} {data[:300]!r}")
        return json.loads(data) if data else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(60)
