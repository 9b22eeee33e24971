"""End-to-end tests of the `steward` command line against a real server."""

import json
import os
import re
import socket
import stat
import subprocess
import time

import pytest

from conftest import (JOB_DONE, JOB_FAILURE, JOB_RUNNING, STEWARD_BIN, TOKEN, Api, Server, assert_error,
                      clean_env, free_port, read_pid, require_binary, wait_process_gone)

COMMANDS = ["run", "ping", "facts", "service", "jobs", "targets"]


@pytest.fixture(scope="module")
def workdir(tmp_root):
    """cwd for the CLI: empty, so no ./.steward is picked up by accident."""
    d = tmp_root / "cwd"
    d.mkdir()
    return d


@pytest.fixture(scope="module")
def cli(server, workdir):
    """cli(*args, env=..., timeout=...) -> CompletedProcess with .out = stdout + stderr."""
    require_binary()

    def run(*args, env=None, server_url="default", token=TOKEN, timeout=30):
        env_vars = {"STEWARD_SERVER": server.url if server_url == "default" else server_url,
                    "STEWARD_TOKEN": token}
        env_vars.update(env or {})
        p = subprocess.run([STEWARD_BIN, *args], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, cwd=workdir, timeout=timeout,
                           env=clean_env(**env_vars))
        p.out = p.stdout + p.stderr
        return p
    return run


def ok(p):
    assert p.returncode == 0, f"{p.args} exited {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    return p


# The README's exit codes.
EXIT_FAILED, EXIT_USAGE = 1, 2


def failed(p, code=EXIT_FAILED):
    """p exited with exactly `code` (a crash, a signal or CLI11's own codes do not count)."""
    assert p.returncode >= 0, f"{p.args} died of signal {-p.returncode}\nstderr: {p.stderr}"
    assert p.returncode == code, (f"{p.args} exited {p.returncode}, not {code}\n"
                                  f"stdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def usage_error(p, *words):
    """Bad usage: exit 2, CLI11's message (naming `words`) on stderr, nothing on stdout."""
    failed(p, EXIT_USAGE)
    assert p.stderr.strip() and not p.stdout.strip(), (p.stdout, p.stderr)
    for word in words:
        assert word in p.stderr, f"{word!r} not in {p.stderr!r}"
    return p


# ---------------------------------------------------------------- help and version

def test_version(cli):
    p = ok(cli("--version"))
    assert re.search(r"\d+\.\d+\.\d+", p.stdout), p.stdout


def test_help(cli):
    p = ok(cli("--help"))
    for cmd in COMMANDS:
        assert cmd in p.stdout, f"`steward --help` does not mention {cmd}: {p.stdout}"


@pytest.mark.parametrize("cmd", COMMANDS + ["serve"])
def test_command_help(cli, cmd):
    p = ok(cli(cmd, "--help"))
    assert "usage" in p.stdout.lower() and cmd in p.stdout, p.stdout


def test_unknown_command_fails(cli):
    usage_error(cli("no-such-command"), "subcommand")


@pytest.mark.parametrize("args, words", [
    (["run", "--no-such-flag", "localhost", "--", "true"], ["--no-such-flag"]),
    (["targets", "--bogus"], ["--bogus"]),
    (["run"], ["pattern"]),                                   # missing argument
    (["facts"], ["host"]),
    (["jobs", "show"], ["jid"]),
    (["run", "--timeout", "soon", "localhost", "--", "true"], ["--timeout", "soon"]),  # bad value
    (["jobs", "ls", "--limit", "0"], ["--limit"]),
    (["service", "localhost", "sshd", "explode"], ["explode"]),
    ([], ["subcommand"]),                                     # no command at all
])
def test_usage_errors_exit_2_with_the_parsers_message(cli, args, words):
    usage_error(cli(*args), *words)


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["jobs", "cancel", "--help"], ["--version"]])
def test_help_and_version_exit_0_on_stdout(cli, args):
    p = ok(cli(*args))
    assert p.stdout.strip() and not p.stderr.strip(), (p.stdout, p.stderr)


# ---------------------------------------------------------------- run

def test_run_echo(cli):
    p = ok(cli("run", "localhost", "--", "echo", "hello"))
    assert "localhost" in p.stdout and "hello" in p.stdout, p.stdout
    assert p.stdout.index("localhost") < p.stdout.index("hello"), "no header before the output"


def test_run_failure_exits_nonzero(cli):
    failed(cli("run", "localhost", "--", "false"))
    failed(cli("run", "localhost", "--", "sh", "-c", "exit 3"))


def test_run_pattern(cli):
    p = ok(cli("run", "web*", "--", "hostname"))
    assert "web1" in p.stdout and "web2" in p.stdout, p.stdout
    assert "localhost" not in p.stdout.replace(socket.gethostname(), ""), p.stdout
    assert p.stdout.count(socket.gethostname()) >= 2, p.stdout


def test_run_keeps_arguments(cli):
    p = ok(cli("run", "localhost", "--", "printf", "%s|", "a b", "$HOME;c"))
    assert "a b|$HOME;c|" in p.stdout, p.stdout


def test_run_one_host_fails_exit_nonzero(cli, tmp_root):
    lock = tmp_root / "cli-run-lock"
    # The first host to take the lock succeeds, the other fails.
    p = failed(cli("run", "web1:web2", "--", "sh", "-c", f"mkdir {lock} 2>/dev/null"))
    assert "web1" in p.out and "web2" in p.out, p.out


def test_run_json(cli):
    p = ok(cli("run", "--json", "localhost", "--", "echo", "hello"))
    data = json.loads(p.stdout)
    text = json.dumps(data)
    assert "localhost" in text and "hello" in text, p.stdout


def test_run_timeout_env_cwd(cli, tmp_root, workdir):
    target_dir = tmp_root / "run-cwd"
    target_dir.mkdir()
    # Each --env takes one value: the pattern right after it stays the pattern.
    p = ok(cli("run", "--cwd", str(target_dir), "--env", "E2E_A=1", "--env", "E2E_B=x y=z",
               "localhost", "--", 'echo "$E2E_A|$E2E_B"; pwd'))
    assert f"1|x y=z\n{os.path.realpath(target_dir)}\n" in p.stdout, p.stdout
    t0 = time.monotonic()
    p = failed(cli("run", "--timeout", "1", "localhost", "--", "sleep 30"))
    assert time.monotonic() - t0 < 20, "--timeout 1 did not stop the command"
    assert "time" in p.out.lower(), p.out


def test_run_env_without_equals_is_bad_usage(cli):
    p = failed(cli("run", "--env", "NOEQUALS", "localhost", "--", "true"), EXIT_USAGE)
    assert "KEY=VALUE" in p.stderr, p.stderr


def test_run_unknown_host(cli):
    p = failed(cli("run", "nosuchhost", "--", "true"))
    assert "no such host" in p.out, p.out


# ---------------------------------------------------------------- ping, facts, service, targets

def test_ping_all(cli):
    p = ok(cli("ping", "all"))
    for host in ("localhost", "web1", "web2"):
        assert host in p.stdout, p.stdout


def test_ping_json(cli):
    p = ok(cli("ping", "--json", "web*"))
    text = json.dumps(json.loads(p.stdout))
    assert "web1" in text and "web2" in text, p.stdout


def test_facts(cli):
    p = ok(cli("facts", "localhost"))
    assert socket.gethostname() in p.stdout, p.stdout


def test_facts_json(cli):
    p = ok(cli("facts", "--json", "localhost"))
    text = json.dumps(json.loads(p.stdout))
    assert socket.gethostname() in text and "cpus" in text, p.stdout


def test_service_nonexistent_fails(cli):
    p = failed(cli("service", "localhost", "steward-e2e-no-such-service", "start"))
    assert "localhost" in p.out, p.out


def test_service_bad_action_fails(cli):
    usage_error(cli("service", "localhost", "whatever", "explode"), "explode")


def test_targets(cli):
    p = ok(cli("targets"))
    assert sorted(p.stdout.split()) == ["localhost", "web1", "web2"], p.stdout


def test_targets_pattern(cli):
    p = ok(cli("targets", "web*"))
    assert sorted(p.stdout.split()) == ["web1", "web2"], p.stdout


# ---------------------------------------------------------------- jobs

def test_jobs_ls_show(cli, api):
    jid = api.run("/execute", {"targets": ["localhost"], "cmd": "echo from-jobs"})["jid"]
    p = ok(cli("jobs", "ls"))
    assert jid in p.stdout, p.stdout
    p = ok(cli("jobs"))  # `ls` is the default
    assert jid in p.stdout, p.stdout
    p = ok(cli("jobs", "show", jid))
    assert jid in p.stdout and "localhost" in p.stdout, p.stdout
    p = ok(cli("jobs", "show", "--json", jid))
    assert json.loads(p.stdout)["jid"] == jid, p.stdout


def test_jobs_follow(cli, api):
    jid = api.submit("/execute", {"targets": ["web1"], "cmd": "echo begin; sleep 1.5; echo finish"})
    p = ok(cli("jobs", "follow", jid))
    assert api.job(jid)["state"] == JOB_DONE, "follow returned before the job finished"
    assert "web1" in p.stdout and "finish" in p.stdout, p.stdout


def test_jobs_follow_json_prints_the_final_job(cli, api):
    jid = api.submit("/execute", {"targets": ["web1", "web2"], "cmd": "sleep 0.5; echo finished"})
    p = ok(cli("jobs", "follow", "--json", jid))
    job = json.loads(p.stdout)
    assert job["jid"] == jid and job["state"] == JOB_DONE, job
    assert {h: e["stdout"] for h, e in job["return_data"].items()} == {"web1": "finished\n", "web2": "finished\n"}, job


def test_jobs_follow_failed_job_nonzero(cli, api):
    jid = api.run("/execute", {"targets": ["web2"], "cmd": "exit 4"})["jid"]
    failed(cli("jobs", "follow", jid))


def test_jobs_rm(cli, api):
    jid = api.run("/ping", {"targets": ["localhost"]})["jid"]
    ok(cli("jobs", "rm", jid))
    assert_error(api.get(f"/jobs/{jid}"), 404, "no such job")


def test_jobs_rm_running_job(cli, api, tmp_root, reap):
    pidfile = tmp_root / "cli-rm.pid"
    jid = api.submit("/execute", {"targets": ["web2"],
                                  "cmd": f"echo $$ > {pidfile}; exec sleep 100"})
    pid = read_pid(pidfile)
    reap(pid)
    assert api.job(jid)["state"] == JOB_RUNNING
    ok(cli("jobs", "rm", jid))
    assert_error(api.get(f"/jobs/{jid}"), 404, "no such job")
    wait_process_gone(pid, timeout=5)


def test_jobs_cancel(cli, api, tmp_root, reap):
    pidfile = tmp_root / "cli-cancel.pid"
    jid = api.submit("/execute", {"targets": ["web1"], "cmd": f"echo $$ > {pidfile}; exec sleep 100"})
    pid = read_pid(pidfile)
    reap(pid)
    p = ok(cli("jobs", "cancel", jid))
    assert p.stdout == f"job {jid}: failure\n", p.stdout
    wait_process_gone(pid, timeout=5)
    job = api.job(jid)
    assert job["state"] == JOB_FAILURE and "cancel" in job["return_data"]["web1"]["error"], job
    p = ok(cli("jobs", "cancel", "--json", jid))  # again: the job as it ended
    assert json.loads(p.stdout)["state"] == JOB_FAILURE, p.stdout


@pytest.mark.parametrize("sub", ["show", "follow", "cancel", "rm"])
def test_jobs_unknown(cli, sub):
    p = failed(cli("jobs", sub, "nosuchjob"))
    assert "no such job" in p.out, p.out


# ---------------------------------------------------------------- server address and token

# Client options (--server, --data-dir, --json) belong to each command, as
# `steward COMMAND --help` documents: `steward targets --server URL`.

def test_server_flag(cli, server):
    p = ok(cli("targets", "--server", server.url, server_url=None))
    assert "localhost" in p.stdout, p.stdout
    p = ok(cli("run", "--server", server.url, "localhost", "--", "echo", "flag",
               server_url=None))
    assert "flag" in p.stdout, p.stdout


def test_server_flag_overrides_env(cli, server):
    bad = f"http://127.0.0.1:{free_port()}"
    p = ok(cli("targets", "--server", server.url, server_url=bad))
    assert "localhost" in p.stdout, p.stdout


@pytest.mark.parametrize("how", ["env", "flag"])
def test_connection_refused(cli, how):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    if how == "env":
        p = failed(cli("targets", server_url=url, timeout=30))
    else:
        p = failed(cli("ping", "--server", url, "all", server_url=None, timeout=30))
    assert f"127.0.0.1:{port}" in p.out, p.out


def test_wrong_token(cli):
    p = failed(cli("targets", token="wrong-token"))
    assert "401" in p.out or "token" in p.out.lower(), p.out


def test_wrong_token_run(cli):
    p = failed(cli("run", "localhost", "--", "true", token="wrong-token"))
    assert "401" in p.out or "token" in p.out.lower(), p.out


# ---------------------------------------------------------------- token from the data dir

@pytest.fixture(scope="module")
def tokenless_server(tmp_root):
    srv = Server(tmp_root / "data-generated-token", token=None).start()
    yield srv
    srv.stop()


def test_generated_token_file(tokenless_server):
    token_file = tokenless_server.data_dir / "token"
    assert token_file.is_file()
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600, oct(token_file.stat().st_mode)
    token = token_file.read_text().strip()
    assert len(token) >= 16, "generated token is too short to be a secret"
    api = Api(tokenless_server, token=token)
    assert api.get("/target").status == 200
    assert_error(api.get("/target", token=TOKEN), 401)
    assert_error(api.get("/target", token=None), 401)


def test_generated_token_survives_restart(tmp_root):
    srv = Server(tmp_root / "data-token-restart", token=None).start()
    try:
        first = (srv.data_dir / "token").read_text()
        srv.stop()
        srv.start()
        assert (srv.data_dir / "token").read_text() == first
        assert Api(srv, token=first.strip()).get("/target").status == 200
    finally:
        srv.stop()


def test_cli_reads_token_from_data_dir_flag(cli, tokenless_server):
    p = ok(cli("targets", "--data-dir", str(tokenless_server.data_dir),
               server_url=tokenless_server.url, token=None))
    assert "localhost" in p.stdout, p.stdout


def test_cli_reads_token_from_data_dir_env(cli, tokenless_server):
    p = ok(cli("run", "localhost", "--", "echo", "via-env",
               server_url=tokenless_server.url, token=None,
               env={"STEWARD_DATA_DIR": str(tokenless_server.data_dir)}))
    assert "via-env" in p.stdout, p.stdout


def test_cli_without_token_fails(cli, tokenless_server):
    p = failed(cli("targets", server_url=tokenless_server.url, token=None))
    assert "401" in p.out or "token" in p.out.lower(), p.out
