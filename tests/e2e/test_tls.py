"""TLS: REST over HTTPS and gRPC over TLS with a given certificate or a
self-signed one (`--tls auto`), mutual TLS on gRPC (`--grpc-client-ca`), the
CLI's `--ca` / `--insecure`, and clients that speak plain HTTP to the TLS port
or never finish their handshake.

The certificates are made by the `openssl` command line, as the README shows.
"""

import http.client
import json
import re
import socket
import ssl
import stat
import subprocess
import time
from pathlib import Path

import grpc
import pytest

from conftest import STEWARD_BIN, TOKEN, Server, clean_env, request, wait_for
from executor_client import capability_grpc, common_pb2, condition_grpc
from openapi_check import openapi
from google.protobuf import empty_pb2

HEADER_TIMEOUT = 2
FINGERPRINT = re.compile(r"sha256:((?:[0-9A-F]{2}:){31}[0-9A-F]{2})")
SERVER_EXTENSIONS = ("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                     "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")
CLIENT_EXTENSIONS = "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n"


# ---------------------------------------------------------------- certificates

def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def make_ca(folder, name):
    """NAME.key and NAME.pem: a self-signed CA (EC P-256)."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "30", "-subj", f"/CN={name}", cwd=folder)
    return folder / f"{name}.pem"


def make_signed(folder, name, ca, extensions):
    """NAME.key and NAME.pem, signed by the CA named `ca`."""
    (folder / f"{name}.ext").write_text(extensions)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=folder)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "30", "-extfile", f"{name}.ext", cwd=folder)
    return folder / f"{name}.pem", folder / f"{name}.key"


@pytest.fixture(scope="module")
def pki(tmp_root):
    folder = tmp_root / "pki"
    folder.mkdir()
    ca = make_ca(folder, "ca")
    cert, key = make_signed(folder, "server", "ca", SERVER_EXTENSIONS)
    client_ca = make_ca(folder, "clients")
    client_cert, client_key = make_signed(folder, "agent", "clients", CLIENT_EXTENSIONS)
    make_ca(folder, "stranger")
    stranger_cert, stranger_key = make_signed(folder, "intruder", "stranger", CLIENT_EXTENSIONS)
    misnamed = make_signed(folder, "misnamed", "ca", SERVER_EXTENSIONS.replace(
        "IP:127.0.0.1,DNS:localhost", "DNS:elsewhere.example"))
    return {"misnamed": misnamed, "ca": ca, "cert": cert, "key": key, "client_ca": client_ca,
            "client": (client_cert, client_key), "stranger": (stranger_cert, stranger_key)}


def fingerprint_by_openssl(cert):
    out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", str(cert)],
                         check=True, capture_output=True, text=True).stdout
    return out.strip().split("=", 1)[1].upper()


# ---------------------------------------------------------------- clients

def https_request(addr, method, path, ca, body=None, token=TOKEN, timeout=15):
    """(status, parsed JSON body) over HTTPS, verifying the server against `ca`."""
    context = ssl.create_default_context(cafile=str(ca))
    conn = http.client.HTTPSConnection(addr[0], addr[1], context=context, timeout=timeout)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        reply = json.loads(raw) if raw else None
        openapi().check(method, path, resp.status, {k.lower(): v for k, v in resp.getheaders()},
                        "" if reply is None else reply)
        return resp.status, reply
    finally:
        conn.close()


def capabilities(channel, token=TOKEN):
    stub = capability_grpc.CapabilityStub(channel)
    metadata = [("authorization", f"Bearer {token}")] if token else []
    return list(stub.GetCapabilities(empty_pb2.Empty(), metadata=metadata, timeout=10).values)


def tls_channel(server, ca, client=None):
    key = client[1].read_bytes() if client else None
    chain = client[0].read_bytes() if client else None
    credentials = grpc.ssl_channel_credentials(root_certificates=ca.read_bytes(), private_key=key,
                                               certificate_chain=chain)
    return grpc.secure_channel(server.grpc_addr, credentials)


def cli(server, *args, ca=None):
    argv = [STEWARD_BIN, "ping", "localhost", "--server", f"https://127.0.0.1:{server.addr[1]}", *args]
    if ca:
        argv += ["--ca", str(ca)]
    return subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30,
                          env=clean_env(STEWARD_TOKEN=TOKEN))


# ---------------------------------------------------------------- servers

@pytest.fixture(scope="module")
def tls_server(tmp_root, pki):
    srv = Server(tmp_root / "given", grpc=True,
                 extra_args=["--tls-cert", str(pki["cert"]), "--tls-key", str(pki["key"]),
                             "--header-timeout", str(HEADER_TIMEOUT)]).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def mtls_server(tmp_root, pki):
    # Certificate and key from the environment this time.
    srv = Server(tmp_root / "mutual", grpc=True, extra_args=["--grpc-client-ca", str(pki["client_ca"])],
                 env={"STEWARD_TLS_CERT": str(pki["cert"]), "STEWARD_TLS_KEY": str(pki["key"])}).start()
    yield srv
    srv.stop()


# ---------------------------------------------------------------- REST

def test_https_serves_healthz_and_an_authenticated_job(tls_server, pki):
    assert https_request(tls_server.addr, "GET", "/healthz", pki["ca"], token=None)[0] == 200
    status, body = https_request(tls_server.addr, "GET", "/jobs", pki["ca"], token=None)
    assert status == 401, body
    status, body = https_request(tls_server.addr, "POST", "/execute", pki["ca"],
                                 body={"targets": "localhost", "cmd": "echo over-tls"})
    assert status == 201, body
    jid = body["jid"]

    def finished():
        status, job = https_request(tls_server.addr, "GET", f"/jobs/{jid}?outputs=1", pki["ca"])
        assert status == 200, job
        return job if job["state"] != 1 else None
    job = wait_for(finished, timeout=30, what="the job over https")
    assert job["state"] == 0, job
    assert job["return_data"]["localhost"]["stdout"].strip() == "over-tls", job


def test_https_client_without_the_ca_refuses_the_server(tls_server):
    conn = http.client.HTTPSConnection(*tls_server.addr, context=ssl.create_default_context(), timeout=10)
    with pytest.raises(ssl.SSLCertVerificationError):
        conn.request("GET", "/healthz")
    conn.close()
    assert tls_server.alive()


def test_plain_http_to_the_tls_port_gets_a_clear_400_and_the_server_stays_up(tls_server, pki):
    for _ in range(3):
        r = request(tls_server.addr, "GET", "/healthz", timeout=10)
        assert r.status == 400, r
        assert "https://" in r.body["message"], r.body
    assert tls_server.alive()
    assert https_request(tls_server.addr, "GET", "/healthz", pki["ca"], token=None)[0] == 200


@pytest.mark.parametrize("first_bytes", [b"", b"\x16\x03\x01\x02\x00\x01"], ids=["silent", "partial-hello"])
def test_a_stalled_handshake_blocks_nobody_and_is_dropped_after_the_header_timeout(tls_server, pki, first_bytes):
    stalled = socket.create_connection(tls_server.addr, timeout=HEADER_TIMEOUT + 8)
    try:
        t0 = time.monotonic()
        stalled.sendall(first_bytes)
        # Others are served meanwhile.
        for _ in range(3):
            assert https_request(tls_server.addr, "GET", "/healthz", pki["ca"], token=None)[0] == 200
        assert time.monotonic() - t0 < HEADER_TIMEOUT, "healthz waited for the stalled handshake"
        try:
            data = stalled.recv(1024)
        except ConnectionResetError:
            data = b""
        closed_after = time.monotonic() - t0
    finally:
        stalled.close()
    assert data == b"", data
    assert HEADER_TIMEOUT - 0.5 <= closed_after <= HEADER_TIMEOUT + 3, closed_after


def open_fds(server):
    return len(list((Path("/proc") / str(server.proc.pid) / "fd").iterdir()))


def test_a_tls_follow_client_that_leaves_is_released_while_the_job_is_quiet(tls_server, pki):
    status, body = https_request(tls_server.addr, "POST", "/execute", pki["ca"],
                                 body={"targets": "localhost", "cmd": "sleep 60"})
    assert status == 201, body
    jid = body["jid"]
    try:
        time.sleep(0.5)  # the command's pipes are open
        baseline = open_fds(tls_server)
        context = ssl.create_default_context(cafile=str(pki["ca"]))
        s = context.wrap_socket(socket.create_connection(tls_server.addr, timeout=10), server_hostname="127.0.0.1")
        s.sendall(f"GET /jobs/{jid}?follow=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
                  .encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(4096)
        assert head.startswith(b"HTTP/1.1 200"), head
        # Bytes the server never reads (a later TLS record) sit in front of the FIN.
        s.sendall(b"x")
        s.close()
        wait_for(lambda: open_fds(tls_server) <= baseline, timeout=6, what="the stream's descriptor to be released")
    finally:
        https_request(tls_server.addr, "DELETE", f"/jobs/{jid}", pki["ca"])


# ---------------------------------------------------------------- CLI

def test_cli_with_ca_verifies_the_server(tls_server, pki):
    p = cli(tls_server, ca=pki["ca"])
    assert p.returncode == 0, p.stderr
    assert "localhost" in p.stdout
    assert "warning" not in p.stderr


def test_cli_without_ca_fails_with_a_verification_error(tls_server):
    p = cli(tls_server)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "cannot verify the TLS certificate" in p.stderr, p.stderr
    assert "--ca" in p.stderr and "--insecure" in p.stderr, p.stderr


def test_cli_checks_the_host_name_in_the_certificate(tmp_root, pki):
    # Signed by the trusted CA, but for another name than the address the CLI dials.
    srv = Server(tmp_root / "misnamed", extra_args=["--tls-cert", str(pki["misnamed"][0]),
                                                    "--tls-key", str(pki["misnamed"][1])]).start()
    try:
        p = cli(srv, ca=pki["ca"])
    finally:
        srv.stop()
    assert p.returncode == 1, p.stderr
    assert "cannot verify the TLS certificate" in p.stderr and "mismatch" in p.stderr, p.stderr


def test_cli_fingerprint_pins_the_certificate_instead_of_a_ca(tls_server, pki):
    fingerprint = fingerprint_by_openssl(pki["cert"])
    for pin in ("sha256:" + fingerprint, fingerprint.replace(":", "").lower()):
        p = cli(tls_server, "--fingerprint", pin)
        assert p.returncode == 0, p.stderr
        assert "localhost" in p.stdout
    p = cli(tls_server, "--fingerprint", "sha256:" + ":".join(["00"] * 32))
    assert p.returncode == 1, p.stderr
    assert "its fingerprint is not the one --fingerprint gives" in p.stderr, p.stderr
    p = cli(tls_server, "--fingerprint", "sha256:12:34")
    assert p.returncode == 2, p.stderr
    assert "fingerprint must be" in p.stderr, p.stderr


def test_cli_insecure_works_and_warns(tls_server):
    p = cli(tls_server, "--insecure")
    assert p.returncode == 0, p.stderr
    assert "localhost" in p.stdout
    assert "warning" in p.stderr and "--insecure" in p.stderr, p.stderr


def test_cli_speaking_http_to_the_tls_port_is_told_to_use_https(tls_server):
    argv = [STEWARD_BIN, "ping", "--server", f"http://127.0.0.1:{tls_server.addr[1]}"]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=clean_env(STEWARD_TOKEN=TOKEN))
    assert p.returncode == 2, (p.returncode, p.stderr)  # a wrong URL is bad usage
    assert "https://" in p.stderr, p.stderr


# ---------------------------------------------------------------- gRPC

def test_grpc_over_tls_with_the_root_ca(tls_server, pki):
    with tls_channel(tls_server, pki["ca"]) as channel:
        assert sorted(capabilities(channel)) == [3, 4, 5]
        with pytest.raises(grpc.RpcError) as refused:
            capabilities(channel, token="wrong")
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_grpc_plaintext_client_cannot_talk_to_the_tls_port(tls_server):
    with grpc.insecure_channel(tls_server.grpc_addr) as channel:
        with pytest.raises(grpc.RpcError) as refused:
            capabilities(channel)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_refuses_clients_without_a_certificate_of_the_client_ca(mtls_server, pki):
    for client in (None, pki["stranger"]):
        with tls_channel(mtls_server, pki["ca"], client) as channel:
            with pytest.raises(grpc.RpcError) as refused:
                capabilities(channel)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    with tls_channel(mtls_server, pki["ca"], pki["client"]) as channel:
        assert sorted(capabilities(channel)) == [3, 4, 5]
    # REST on the same server needs no client certificate.
    assert https_request(mtls_server.addr, "GET", "/healthz", pki["ca"], token=None)[0] == 200


def test_the_audit_trail_names_a_client_by_its_certificate_subject(mtls_server, pki):
    # No token: refused, and recorded under the subject mutual TLS verified.
    with tls_channel(mtls_server, pki["ca"], pki["client"]) as channel:
        stub = condition_grpc.ConditionServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.delete(common_pb2.Identifier(value="0190"), timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED

    def entries():
        status, body = https_request(mtls_server.addr, "GET", "/audit?action=/ConditionService/delete", pki["ca"])
        assert status == 200, body
        return body["entries"]
    entry = wait_for(entries, what="the refused call's audit entry")[0]
    assert entry["who"] == "CN=agent", entry
    assert entry["status"] == grpc.StatusCode.UNAUTHENTICATED.value[0]


# ---------------------------------------------------------------- --tls auto

def logged_fingerprints(server):
    return FINGERPRINT.findall(server.log_path.read_text(errors="replace"))


def test_tls_auto_creates_a_certificate_once_and_reuses_it(tmp_root):
    data = tmp_root / "auto"
    # The allow lists keep working over TLS: no token from 127.0.0.1.
    args = ["--tls", "auto", "--http-allow", "127.0.0.1/32", "--grpc-allow", "127.0.0.1/32"]
    srv = Server(data, grpc=True, extra_args=args).start()
    try:
        cert, key = data / "tls" / "cert.pem", data / "tls" / "key.pem"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert stat.S_IMODE((data / "tls").stat().st_mode) == 0o700
        expected = fingerprint_by_openssl(cert)
        assert logged_fingerprints(srv) == [expected]
        log = srv.log_path.read_text(errors="replace")
        assert "created now" in log
        key_body = key.read_text().splitlines()[1]
        assert "PRIVATE KEY" not in log and key_body not in log
        text = subprocess.run(["openssl", "x509", "-noout", "-text", "-in", str(cert)],
                              check=True, capture_output=True, text=True).stdout
        assert "IP Address:127.0.0.1" in text and "DNS:localhost" in text and "IP Address:0:0:0:0:0:0:0:1" in text
        assert "ASN1 OID: prime256v1" in text, text
        status, jobs = https_request(srv.addr, "GET", "/jobs", cert, token=None)
        assert status == 200, jobs
        with tls_channel(srv, cert) as channel:
            assert sorted(capabilities(channel, token=None)) == [3, 4, 5]
        before = (cert.read_bytes(), key.read_bytes())
    finally:
        srv.stop()

    again = Server(data, grpc=True, extra_args=args).start()
    try:
        assert (cert.read_bytes(), key.read_bytes()) == before
        assert logged_fingerprints(again) == [expected, expected]
        assert "self-signed, reused" in again.log_path.read_text(errors="replace")
        assert https_request(again.addr, "GET", "/healthz", cert, token=None)[0] == 200
    finally:
        again.stop()


# ---------------------------------------------------------------- bad settings

def test_tls_settings_come_from_the_config_file_too(tmp_root, pki):
    config = tmp_root / "tls.toml"
    config.write_text(f'tls_cert = "{pki["cert"]}"\ngrpc-client-ca = "{pki["client_ca"]}"\n')
    argv = [STEWARD_BIN, "serve", "--http", "127.0.0.1:0", "--grpc", "off", "--data-dir", str(tmp_root / "refused"),
            "--config", str(config)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=clean_env(STEWARD_TOKEN=TOKEN))
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "tls-cert and tls-key go together" in p.stderr, p.stderr


def test_a_key_readable_by_others_is_served_with_a_warning(tmp_root, pki):
    loose = tmp_root / "loose.key"
    loose.write_bytes(pki["key"].read_bytes())
    loose.chmod(0o644)
    srv = Server(tmp_root / "loose", extra_args=["--tls-cert", str(pki["cert"]), "--tls-key", str(loose)]).start()
    try:
        assert https_request(srv.addr, "GET", "/healthz", pki["ca"], token=None)[0] == 200
        assert f"TLS key {loose} is readable by other users" in srv.log_path.read_text(errors="replace")
    finally:
        srv.stop()


@pytest.mark.parametrize("args, message", [
    (["--tls-cert", "{cert}"], "tls-cert and tls-key go together"),
    (["--grpc-client-ca", "{ca}"], "grpc-client-ca needs TLS"),
    (["--tls", "sometimes"], "tls must be auto or off"),
    (["--tls", "auto", "--tls-cert", "{cert}", "--tls-key", "{key}"], "tls auto creates its own"),
    (["--tls-cert", "{cert}", "--tls-key", "{other_key}"], "does not belong to the certificate"),
    (["--tls-cert", "{key}", "--tls-key", "{key}"], "no PEM certificate"),
    (["--tls-cert", "{cert}", "--tls-key", "{missing}"], "no such file"),
])
def test_bad_tls_settings_are_refused_at_start(tmp_root, pki, args, message):
    values = {"cert": pki["cert"], "key": pki["key"], "ca": pki["ca"], "other_key": pki["client"][1],
              "missing": tmp_root / "missing.pem"}
    argv = [STEWARD_BIN, "serve", "--http", "127.0.0.1:0", "--grpc", "off", "--data-dir", str(tmp_root / "refused"),
            *[a.format(**values) for a in args]]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=clean_env(STEWARD_TOKEN=TOKEN))
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert message in p.stderr, p.stderr
    assert "BEGIN" not in p.stderr
