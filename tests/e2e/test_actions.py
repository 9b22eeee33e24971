"""Named actions over REST: the built-in `steward` driver (each call a job),
an external driver from --drivers DIR (a shell script), routing by the
SERVICE: prefix, 202 before completion, the Congress form, and errors.
"""

import http.server
import json
import subprocess
import threading
import time

import pytest

from conftest import OP_CHANGED, STEWARD_BIN, Api, Server, clean_env, free_port, wait_for

# A cloud driver as a user would write it: one slow action, one call at a time.
NOVA = r"""#!/bin/sh
if [ "$1" = --describe ]; then
  echo '{"service": "nova", "description": "cloud servers", "concurrency": 1,
         "actions": [{"name": "disconnectNetwork", "description": "cut a server off",
                      "args": ["server"], "options": ["port"]}]}'
  exit 0
fi
request=$(cat)
sleep 1
case "$request" in
  *'"web1"'*) printf '{"disconnected": true, "request": %s}\n' "$request" ;;
  *) echo "no such server" >&2; exit 4 ;;
esac
"""


@pytest.fixture(scope="module")
def drivers(tmp_root):
    folder = tmp_root / "drivers"
    folder.mkdir()
    script = folder / "nova"
    script.write_text(NOVA)
    script.chmod(0o755)
    return folder


class Hooked(http.server.BaseHTTPRequestHandler):
    """Records each request; /fail answers 500."""
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Hooked.received.append({"path": self.path, "body": body.decode(), "token": self.headers.get("X-Token"),
                                "note": self.headers.get("X-Note"), "evil": self.headers.get("X-Evil")})
        self.send_response(500 if self.path.startswith("/fail") else 200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def hooks():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hooked)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def webhooks(tmp_root, hooks):
    path = tmp_root / "webhooks.toml"
    path.write_text(f"""
[notify]
description = "post to a channel"
args = ["text"]
options = ["channel"]
url = "{hooks}/hook/{{{{channel}}}}"
body = '{{"text": "{{{{text}}}}"}}'
headers = {{ "X-Token" = "hook-secret", "X-Note" = "{{{{text}}}}" }}

[failing]
url = "{hooks}/fail"

[down]
url = "http://127.0.0.1:{free_port()}/hooks/T0/SECRET-PATH"
""")
    return path


@pytest.fixture(scope="module")
def server(tmp_root, drivers, webhooks):
    srv = Server(tmp_root / "data", extra_args=["--drivers", str(drivers), "--webhooks", str(webhooks)]).start()
    yield srv
    assert srv.stop() == 0, srv.log_tail()


def accepted(response):
    assert response.status == 202, response
    assert response.body["id"], response
    return response.body["id"]


def finished(api, action_id, timeout=15):
    def done():
        r = api.get(f"/v1/actions/{action_id}")
        assert r.status == 200, r
        return r.body if r.body["state"] in ("succeeded", "failed") else None
    return wait_for(done, timeout=timeout, what=f"action {action_id} to finish")


def job_of(api, record):
    jid = record["result"]["jid"]
    return wait_for(lambda: (lambda j: j if j["state"] != 1 else None)(api.get(f"/jobs/{jid}?outputs=1").body),
                    timeout=15, what=f"job {jid}")


def test_services_lists_builtin_and_external_drivers(api):
    r = api.get("/v1/services")
    assert r.status == 200, r
    services = {s["service"]: s for s in r.body}
    assert set(services) == {"steward", "nova", "http"}, services.keys()
    steward_actions = {a["name"]: a for a in services["steward"]["actions"]}
    assert {"execute", "ping", "service", "facts", "install", "deploy", "tasks.run"} <= set(steward_actions)
    assert services["http"]["actions"][0] == {"name": "down", "description": "", "args": [], "options": []}
    assert steward_actions["execute"]["args"] == ["targets", "cmd"]
    assert services["nova"]["actions"][0]["args"] == ["server"]
    assert services["nova"]["concurrency"] == 1


def test_steward_execute_with_args_and_with_options_creates_jobs(api):
    record = finished(api, accepted(api.post("/v1/actions", {"name": "steward:execute",
                                                             "args": ["localhost", "echo from-args"]})))
    assert record["state"] == "succeeded", record
    job = job_of(api, record)
    assert job["operate"] == "execute"
    assert job["return_data"]["localhost"]["stdout"] == "from-args\n", job
    record = finished(api, accepted(api.post("/v1/actions", {"name": "steward:execute", "options": {
        "targets": ["web*"], "cmd": "echo from-options"}})))
    job = job_of(api, record)
    assert sorted(job["targets"]) == ["web1", "web2"], job
    assert all(r["status"] == OP_CHANGED and r["stdout"] == "from-options\n" for r in job["return_data"].values())


def test_external_action_is_accepted_before_it_completes(api):
    t0 = time.monotonic()
    first = accepted(api.post("/v1/actions", {"name": "nova:disconnectNetwork", "args": ["web1"],
                                              "options": {"port": "eth0"}}))
    second = accepted(api.post("/v1/services/nova/actions", {"name": "disconnectNetwork", "args": ["web1"]}))
    assert time.monotonic() - t0 < 0.9, "202 came only after the 1 s action"
    assert api.get(f"/v1/actions/{first}").body["state"] == "running"
    assert api.get(f"/v1/actions/{second}").body["state"] == "pending", "concurrency 1 was not kept"
    record = finished(api, first)
    assert record["state"] == "succeeded", record
    assert record["result"]["disconnected"] is True
    assert record["result"]["request"] == {"action": "disconnectNetwork", "args": ["web1"],
                                           "options": {"port": "eth0"}}
    assert record["name"] == "nova:disconnectNetwork"
    assert finished(api, second)["started"] >= record["finished"] - 0.01


def test_failing_external_action_reports_why(api):
    record = finished(api, accepted(api.post("/v1/cloud-services/nova?action=execute",
                                             {"name": "disconnectNetwork", "args": ["db9"]})))
    assert record["state"] == "failed", record
    assert "exited with 4" in record["error"] and "no such server" in record["error"], record


def test_bad_calls_are_refused_naming_what_is_known(api):
    r = api.post("/v1/actions", {"name": "neutron:detach", "args": []})
    assert r.status == 404 and "known: http, nova, steward" in r.body["message"], r
    r = api.post("/v1/actions", {"name": "steward:tasks.run", "args": ["no-pipeline"]})
    assert r.status == 404 and "no-pipeline" in r.body["message"], r
    r = api.post("/v1/actions", {"name": "nova:reboot"})
    assert r.status == 400 and "disconnectNetwork" in r.body["message"], r
    r = api.post("/v1/actions", {"name": "steward:execute", "options": {"cmd": "true"}})
    assert r.status == 400 and "targets" in r.body["message"], r
    r = api.post("/v1/actions", {"name": "steward:execute", "args": ["no-such-host", "true"]})
    assert r.status == 404 and "no-such-host" in r.body["message"], r
    r = api.post("/v1/actions", {"name": "steward:execute", "args": "localhost"})
    assert r.status == 400 and "'args'" in r.body["message"], r
    r = api.post("/v1/services/nova/actions", {"name": "steward:ping"})
    assert r.status == 400, r
    r = api.post("/v1/cloud-services/nova?action=delete", {"name": "disconnectNetwork"})
    assert r.status == 400 and "execute" in r.body["message"], r
    r = api.get("/v1/actions/no-such-id")
    assert r.status == 404, r


def test_a_broken_driver_stops_the_server_from_starting(tmp_root):
    folder = tmp_root / "broken-drivers"
    folder.mkdir()
    (folder / "broken").write_text("#!/bin/sh\necho 'not json'\n")
    (folder / "broken").chmod(0o755)
    p = subprocess.run([STEWARD_BIN, "serve", "--http", "127.0.0.1:0", "--grpc", "off", "--data-dir",
                        str(tmp_root / "broken-data"), "--drivers", str(folder)],
                       capture_output=True, text=True, timeout=30, env=clean_env(STEWARD_TOKEN="secret"))
    assert p.returncode == 2, p
    assert str(folder / "broken") in p.stderr and "JSON" in p.stderr, p.stderr


def test_webhooks_fill_their_templates_safely(api):
    Hooked.received.clear()
    text = 'he said "hi" \\ bye'
    record = finished(api, accepted(api.post("/v1/actions", {"name": "http:notify", "args": [text],
                                                             "options": {"channel": "ops room/1"}})))
    assert record["state"] == "succeeded", record
    assert record["result"]["status"] == 200, record
    sent = Hooked.received[-1]
    assert sent["path"] == "/hook/ops%20room%2F1", sent
    assert json.loads(sent["body"]) == {"text": text}, sent
    assert sent["token"] == "hook-secret"
    record = finished(api, accepted(api.post("/v1/actions", {"name": "http:failing"})))
    assert record["state"] == "failed" and "HTTP 500" in record["error"], record


def test_webhook_arguments_cannot_add_headers_or_leak_the_url(api, server):
    Hooked.received.clear()
    record = finished(api, accepted(api.post("/v1/actions", {"name": "http:notify",
                                                             "args": ["a\r\nX-Evil: 1"]})))
    assert record["state"] == "succeeded", record
    sent = Hooked.received[-1]
    assert sent["evil"] is None and sent["note"].startswith("a") and "X-Evil" in sent["note"], sent
    record = finished(api, accepted(api.post("/v1/actions", {"name": "http:down"})))
    assert record["state"] == "failed" and "127.0.0.1" in record["error"], record
    assert "SECRET-PATH" not in record["error"], record
    assert "SECRET-PATH" not in server.log_path.read_text(), "the webhook's URL path reached the log"


def test_a_webhook_with_an_unknown_placeholder_stops_the_server(tmp_root):
    bad = tmp_root / "bad-webhooks.toml"
    bad.write_text('[page]\nurl = "http://127.0.0.1:9/{{who}}"\n')
    p = subprocess.run([STEWARD_BIN, "serve", "--http", "127.0.0.1:0", "--grpc", "off", "--data-dir",
                        str(tmp_root / "bad-hooks-data"), "--webhooks", str(bad)],
                       capture_output=True, text=True, timeout=30, env=clean_env(STEWARD_TOKEN="secret"))
    assert p.returncode == 2, p
    assert f"{bad}: webhook 'page': {{{{who}}}}" in p.stderr, p.stderr


def test_cli_lists_and_runs_actions(server):
    def cli(*args):
        return subprocess.run([STEWARD_BIN, *args], capture_output=True, text=True, timeout=60,
                              env=clean_env(STEWARD_SERVER=server.url, STEWARD_TOKEN="secret"))
    p = cli("actions", "ls")
    assert p.returncode == 0, p
    assert "nova:disconnectNetwork server [--opt port=...]" in p.stdout and "steward:execute targets cmd" in p.stdout
    p = cli("actions", "exec", "nova:disconnectNetwork", "web1", "--opt", "port=eth1")
    assert p.returncode == 0, p
    assert json.loads(p.stdout)["request"]["options"] == {"port": "eth1"}, p.stdout
    p = cli("actions", "exec", "steward:execute", "localhost", "true")
    assert p.returncode == 0 and '"jid"' in p.stdout, p
    p = cli("actions", "exec", "nova:disconnectNetwork", "db9")
    assert p.returncode == 1 and "no such server" in p.stderr, p
    p = cli("actions", "exec", "nova:reboot")
    assert p.returncode == 2 and "disconnectNetwork" in p.stderr, p  # the server refused the call: bad usage
    p = cli("actions", "exec", "nova:disconnectNetwork", "--opt", "noequals")
    assert p.returncode == 2 and "KEY=VALUE" in p.stderr, p


def test_actions_outlive_a_restart(tmp_root, drivers):
    data = tmp_root / "restart-data"
    srv = Server(data, extra_args=["--drivers", str(drivers)]).start()
    api = Api(srv)
    done = finished(api, accepted(api.post("/v1/actions", {"name": "nova:disconnectNetwork", "args": ["web1"]})))
    assert done["state"] == "succeeded", done
    interrupted = accepted(api.post("/v1/actions", {"name": "nova:disconnectNetwork", "args": ["web1"]}))
    srv.kill9()  # while the 1 s action runs
    srv = Server(data, extra_args=["--drivers", str(drivers)]).start()
    try:
        api = Api(srv)
        again = api.get(f"/v1/actions/{done['id']}")
        assert again.status == 200 and again.body["state"] == "succeeded", again
        assert again.body["result"]["disconnected"] is True, again
        lost = api.get(f"/v1/actions/{interrupted}")
        assert lost.status == 200, lost
        assert lost.body["state"] == "failed" and "interrupted" in lost.body["error"], lost.body
    finally:
        assert srv.stop() == 0, srv.log_tail()
