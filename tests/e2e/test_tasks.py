"""Staged task pipelines (servo-exec YAML) against the real server: listing,
runs as jobs with stage order proven by a file the tasks write, failure
semantics, HTTP tasks against a loopback server, `target:` tasks, errors,
a bad file refused at start, and the `steward tasks` CLI.
"""

import http.server
import subprocess
import threading
import time

import pytest

from conftest import JOB_DONE, JOB_FAILURE, STEWARD_BIN, TOKEN, Server, clean_env, wait_for


class Quiet(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = int(self.path.strip("/") or 200)
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def web():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def order(tmp_root):
    return tmp_root / "order"


@pytest.fixture(scope="module")
def task_file(tmp_root, order, web):
    path = tmp_root / "tasks.yaml"
    path.write_text(f"""
exec:
  pre:
    - name: prepare
      shell_exec: echo pre >> {order}
  start:
    - name: start
      exec: [/bin/sh, -c, "echo start >> {order}"]
    - name: health
      request:
        url: {web}/204
        success_codes: 200-299
  stop:
    - name: stop
      shell_exec: echo stop >> {order}
  post:
    - name: clean
      shell_exec: echo post >> {order}
pipelines:
  failing:
    start:
      - name: bad status
        request:
          url: {web}/503
          success_codes: [200, "300-399"]
    stop:
      - name: never
        shell_exec: echo stop >> {order}.failing
    post:
      - name: still cleans
        shell_exec: echo post >> {order}.failing
  fleet:
    start:
      - name: on the web hosts
        target: "web*"
        shell_exec: sleep 1; hostname
""")
    return path


@pytest.fixture(scope="module")
def server(tmp_root, task_file):
    srv = Server(tmp_root / "data", extra_args=["--tasks", str(task_file)]).start()
    yield srv
    assert srv.stop() == 0, srv.log_tail()


def run_and_wait(api, body, timeout=20):
    r = api.post("/tasks", body)
    assert r.status == 201, r
    jid = r.body["jid"]

    def ended():
        state = api.post("/tasks", {"jid": jid})
        assert state.status == 200, state
        return state.body if state.body["state"] != 1 else None
    return wait_for(ended, timeout=timeout, what=f"pipeline run {jid}")


def tasks_of(run, stage):
    return {t["name"]: t for t in run["stages"][stage]}


def test_lists_pipelines_and_their_tasks(api, task_file):
    r = api.get("/tasks")
    assert r.status == 200, r
    assert r.body["file"] == str(task_file)
    pipelines = {p["name"]: p for p in r.body["pipelines"]}
    assert set(pipelines) == {"default", "failing", "fleet"}
    start = pipelines["default"]["stages"]["start"]
    assert [(t["name"], t["mode"]) for t in start] == [("start", "exec"), ("health", "request")]


def test_a_run_goes_pre_start_wait_stop_post(api, order):
    t0 = time.monotonic()
    state = run_and_wait(api, {"name": "default", "duration": 1})
    assert time.monotonic() - t0 >= 1.0, "the duration between start and stop was not waited"
    assert state["state"] == JOB_DONE, state
    run = state["run"]
    assert run["state"] == "ok" and run["pipeline"] == "default", run
    assert order.read_text() == "pre\nstart\nstop\npost\n"
    assert tasks_of(run, "start")["health"]["http_status"] == 204
    assert tasks_of(run, "start")["start"]["exit_code"] == 0
    assert all(t["status"] == "ok" and t["attempts"] == 1 for s in run["stages"].values() for t in s), run
    job = api.get(f"/jobs/{state['jid']}?outputs=1").body
    assert job["operate"] == "tasks" and job["operate_args"] == {"name": "default", "duration": 1}
    assert "start/health: ok" in job["return_data"]["steward-server"]["stdout"], job


def test_a_failing_start_jumps_to_post(api, order):
    state = run_and_wait(api, {"name": "failing"})
    assert state["state"] == JOB_FAILURE, state
    run = state["run"]
    assert run["state"] == "failed" and run["failed_stage"] == "start" and run["failed_task"] == "bad status"
    assert tasks_of(run, "start")["bad status"]["http_status"] == 503
    assert tasks_of(run, "stop")["never"]["status"] == "skipped"
    assert tasks_of(run, "post")["still cleans"]["status"] == "ok"
    assert order.with_name("order.failing").read_text() == "post\n"


def test_target_tasks_run_on_inventory_hosts(api):
    state = run_and_wait(api, {"name": "fleet"})
    task = tasks_of(state["run"], "start")["on the web hosts"]
    assert task["status"] == "ok", task
    assert sorted(task["targets"]) == ["web1", "web2"], task
    assert task["duration"] < 1.8, f"the targets ran one after another: {task['duration']} s"


def test_callers_pick_a_pipeline_and_nothing_else(api):
    r = api.post("/tasks", {"name": "nope"})
    assert r.status == 404 and "known: default, failing, fleet" in r.body["message"], r
    r = api.post("/tasks", {"name": "default", "shell_exec": "rm -rf /"})
    assert r.status == 400 and "'shell_exec'" in r.body["message"], r
    r = api.post("/tasks", {"name": "default", "duration": -1})
    assert r.status == 400 and "duration" in r.body["message"], r
    r = api.post("/tasks", {"jid": "20000101000000000000"})
    assert r.status == 404, r
    other = api.post("/execute", {"targets": "localhost", "cmd": "true"}).body["jid"]
    r = api.post("/tasks", {"jid": other})
    assert r.status == 404 and "not a pipeline run" in r.body["message"], r


def test_a_bad_file_stops_the_server_naming_file_line_and_task(tmp_root):
    bad = tmp_root / "bad.yaml"
    bad.write_text("exec:\n  start:\n    - name: warm up\n      exce: true\n")
    p = subprocess.run([STEWARD_BIN, "serve", "--http", "127.0.0.1:0", "--grpc", "off", "--data-dir",
                        str(tmp_root / "bad-data"), "--tasks", str(bad)],
                       capture_output=True, text=True, timeout=30, env=clean_env(STEWARD_TOKEN=TOKEN))
    assert p.returncode == 2, p
    assert f'{bad}:4: pipeline default, stage start, task "warm up": unknown key \'exce\'' in p.stderr, p.stderr


def test_cli_checks_lists_and_runs(server, task_file, tmp_root):
    def cli(*args):
        return subprocess.run([STEWARD_BIN, *args], capture_output=True, text=True, timeout=60,
                              env=clean_env(STEWARD_SERVER=server.url, STEWARD_TOKEN=TOKEN))
    p = cli("tasks", "check", str(task_file))
    assert p.returncode == 0 and "3 pipeline(s) OK" in p.stdout, p
    bad = tmp_root / "bad-cli.yaml"
    bad.write_text("exec:\n  stop:\n    - shell_exec: x\n      exec: y\n")
    p = cli("tasks", "check", str(bad))
    assert p.returncode == 1 and f"{bad}:3:" in p.stderr and "exec" in p.stderr, p
    p = cli("tasks", "ls")
    assert p.returncode == 0 and "failing" in p.stdout and "start: health (request)" in p.stdout, p
    p = cli("tasks", "run", "default", "--duration", "0", "--follow")
    assert p.returncode == 0 and "start/health: ok, HTTP 204" in p.stdout and "pipeline default: ok" in p.stdout, p
    p = cli("tasks", "run", "failing", "--follow")
    assert p.returncode == 1 and "stop/never: skipped" in p.stdout, p
