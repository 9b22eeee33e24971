"""`steward cp`, `steward fetch` and `steward conditions` against a real server
with local targets, and the files dir routes they use (PUT/GET/DELETE
/files/PATH)."""

import hashlib
import json
import os
import pty
import re
import select
import signal
import subprocess
import threading

import pytest

from conftest import STEWARD_BIN, TOKEN, Server, assert_error, clean_env, raw_request, request, require_binary

MIB = 1 << 20
HOSTS = ["web1", "web2"]


SERVER_OPTIONS = {"grpc": True}


@pytest.fixture(scope="module")
def files_dir(server):
    return server.data_dir / "files"


@pytest.fixture(scope="module")
def workdir(tmp_root):
    d = tmp_root / "cwd"
    d.mkdir()
    return d


def cli_env(server):
    return clean_env(STEWARD_SERVER=server.url, STEWARD_TOKEN=TOKEN)


@pytest.fixture(scope="module")
def cli(server, workdir):
    require_binary()

    def run(*args, timeout=120):
        return subprocess.run([STEWARD_BIN, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              cwd=workdir, timeout=timeout, env=cli_env(server))
    return run


def ok(p):
    assert p.returncode == 0, f"{p.args} exited {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    return p


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            digest.update(block)
    return digest.hexdigest()


def files_left(files_dir):
    """Regular files in the server's files dir (what cp and fetch staged there)."""
    return sorted(str(p.relative_to(files_dir)) for p in files_dir.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def big_file(tmp_root):
    path = tmp_root / "big.bin"
    path.write_bytes(os.urandom(20 * MIB))
    return path


# ---------------------------------------------------------------- cp and fetch

def test_cp_of_20_mib_to_two_hosts(cli, api, big_file, tmp_root, files_dir):
    dest = tmp_root / "copied" / "big.bin"
    dest.parent.mkdir()
    p = ok(cli("cp", str(big_file), f"web*:{dest}", "--mode", "0640"))
    want = sha256(big_file)
    assert sha256(dest) == want
    assert oct(dest.stat().st_mode & 0o777) == "0o640"
    # Each host checked what it received against the source's SHA-256.
    for host in HOSTS:
        assert f"=== {host}: changed ===" in p.stdout, p.stdout
    assert p.stdout.count(f"{want}  {dest}") == 2, p.stdout
    assert re.search(r"job \S+: 2/2 hosts done", p.stderr), p.stderr
    assert files_left(files_dir) == [], "cp left its upload in the server's files dir"


def test_cp_into_a_folder_keeps_the_name_and_json_gives_the_job(cli, big_file, tmp_root):
    folder = tmp_root / "into"
    folder.mkdir()
    p = ok(cli("--json", "cp", str(big_file), f"web1:{folder}/"))
    job = json.loads(p.stdout)
    assert job["operate"] == "copy" and job["state"] == 0, job
    assert job["return_data"]["web1"]["status"] == 5, job
    assert sha256(folder / "big.bin") == sha256(big_file)


def test_cp_shows_a_byte_progress_bar_on_a_terminal(server, workdir, big_file, tmp_root):
    dest = tmp_root / "tty" / "big.bin"
    dest.parent.mkdir()
    master, slave = pty.openpty()
    proc = subprocess.Popen([STEWARD_BIN, "cp", str(big_file), f"web1:{dest}"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=slave, cwd=workdir, env=cli_env(server))
    os.close(slave)
    seen = bytearray()

    def drain():
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            seen.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    proc.communicate(timeout=120)
    reader.join(10)
    os.close(master)
    text = seen.decode(errors="replace")
    assert proc.returncode == 0, text
    assert "20.0 MiB / 20.0 MiB uploading big.bin" in text, text
    assert "[####" in text, text


def test_cp_refuses_a_missing_file_a_bad_destination_and_an_unknown_host(cli, big_file, files_dir):
    missing = cli("cp", "/nonexistent/file", "web1:/tmp/x")
    assert missing.returncode == 1 and "no such file: /nonexistent/file" in missing.stderr, missing
    no_path = cli("cp", str(big_file), "web1")
    assert no_path.returncode == 2 and "PATTERN:/ABSOLUTE/PATH" in no_path.stderr, no_path
    no_host = cli("cp", str(big_file), "nohost:/tmp/x")
    assert no_host.returncode == 1 and "no such host: nohost" in no_host.stderr, no_host
    assert files_left(files_dir) == []


def test_fetch_brings_each_hosts_file_into_dir_host_name(cli, api, tmp_root, files_dir):
    source = tmp_root / "to-fetch.bin"
    source.write_bytes(os.urandom(3 * MIB))
    out = tmp_root / "fetched"
    p = ok(cli("fetch", f"web*:{source}", str(out)))
    for host in HOSTS:
        local = out / host / "to-fetch.bin"
        assert sha256(local) == sha256(source), host
        assert f"{host}: {local}" in p.stdout, p.stdout
    assert files_left(files_dir) == [], "fetch left files in the server's files dir"


def test_fetch_of_a_missing_file_fails_that_host(cli, tmp_root):
    out = tmp_root / "fetched-missing"
    p = cli("fetch", "web1:/nonexistent/file", str(out))
    assert p.returncode == 1, p
    assert p.stdout.startswith("web1: failed"), p.stdout
    assert not (out / "web1" / "file").exists()


# ---------------------------------------------------------------- the files dir routes

def test_upload_download_and_delete_through_rest(api, files_dir):
    body = os.urandom(300_000)
    r = api.request("PUT", "/files/manual/data.bin", body)
    assert r.status == 201, r
    assert r.body == {"path": "manual/data.bin", "size": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    got = api.get("/files/manual/data.bin")
    assert got.status == 200 and got.headers["content-type"] == "application/octet-stream"
    assert (files_dir / "manual" / "data.bin").read_bytes() == body
    assert api.delete("/files/manual/data.bin").status == 204
    assert api.delete("/files/manual").status == 204
    assert_error(api.get("/files/manual/data.bin"), 404, "no such file")


@pytest.mark.parametrize("path", ["/files/../escaped", "/files/up/../../escaped", "/files/a/%2E%2E/escaped"])
def test_an_upload_path_with_dot_dot_is_refused(api, files_dir, path):
    r = api.request("PUT", path, b"planted")
    assert_error(r, 400, "'..' is not allowed")
    assert not (files_dir.parent / "escaped").exists()
    assert files_left(files_dir) == []


def test_a_symbolic_link_out_of_the_files_dir_is_not_followed(api, files_dir, tmp_root):
    outside = tmp_root / "outside"
    outside.mkdir()
    (outside / "secret").write_text("secret")
    (files_dir / "link").symlink_to(outside)
    try:
        assert_error(api.get("/files/link/secret"), 400, "symbolic link")
        assert_error(api.request("PUT", "/files/link/planted", b"x"), 400, "symbolic link")
        assert not (outside / "planted").exists()
    finally:
        (files_dir / "link").unlink()


def test_files_need_the_operate_role(api):
    created = api.post("/tokens", {"name": "files-reader", "role": "read"})
    assert created.status == 201, created
    reader = created.body["token"]
    assert_error(api.request("PUT", "/files/x", b"x", token=reader), 403, "operate")
    assert_error(api.get("/files/x", token=reader), 403, "operate")


def test_an_upload_over_the_limit_is_413_and_leaves_nothing(tmp_root):
    small = Server(tmp_root / "small-data", extra_args=["--max-upload-mib", "1"]).start()
    try:
        def send(method, path, body):
            head = (f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n").encode()
            status, reply = raw_request(small.addr, head, body)  # the server answers before reading the body
            return status, json.loads(reply)["message"]

        status, message = send("PUT", "/files/too-big.bin", os.urandom(2 * MIB))
        assert status == 413 and "limit 1048576 bytes" in message, (status, message)
        assert files_left(small.data_dir / "files") == []
        # Other routes keep the ordinary body limit (1 MiB).
        status, message = send("POST", "/execute", b"x" * (2 * MIB))
        assert status == 413 and "too large" in message, (status, message)
        # Under the upload limit, an upload goes through.
        assert request(small.addr, "PUT", "/files/fits.bin", os.urandom(MIB // 2)).status == 201
    finally:
        small.stop()


# ---------------------------------------------------------------- conditions

@pytest.fixture(scope="module")
def condition(server):
    from deputy_packages import StreamReader
    from executor_client import Executor
    executor = Executor(server.grpc_addr)
    cid = executor.create_condition("localhost", name="half", command="echo 0.5", interval=1)
    reader = StreamReader(executor, cid)  # a subscriber keeps it running
    reader.next(15)
    yield cid
    reader.cancel()
    executor.close()


def test_conditions_ls_shows_the_condition(cli, condition):
    p = ok(cli("conditions", "ls"))
    header, *rows = p.stdout.splitlines()
    assert header.split()[:3] == ["ID", "NAME", "TARGET"], header
    row = next(line for line in rows if line.startswith(condition))
    fields = row.split()
    assert fields[1:7] == ["half", "localhost", "1s", "running", "1", "0"], row
    assert " 0.5 at " in row, row
    listed = json.loads(ok(cli("conditions", "ls", "--json")).stdout)
    assert any(c["id"] == condition and c["subscribers"] == 1 for c in listed), listed


def test_conditions_watch_prints_one_line_per_value_off_a_terminal(server, workdir, condition):
    proc = subprocess.Popen([STEWARD_BIN, "conditions", "watch", condition, "--every", "0.5"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=workdir, env=cli_env(server))
    lines = []
    try:
        while len(lines) < 3:
            ready, _, _ = select.select([proc.stdout], [], [], 15)
            assert ready, f"no value line within 15 s: {lines}"
            line = proc.stdout.readline()
            assert line, f"watch ended: {proc.stderr.read()}"
            lines.append(line.rstrip("\n"))
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    for line in lines:
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d 0\.5", line), lines


def test_conditions_watch_of_an_unknown_condition_fails(cli):
    p = cli("conditions", "watch", "01900000-0000-7000-8000-000000000000")
    assert p.returncode == 1 and "no condition with identifier" in p.stderr, p
