"""The e2e harness itself: what makes a sanitizer build's report fail the run, and the
namespaces that put a target behind NAT (netns.py)."""

import errno
import socket
import subprocess

import pytest

import conftest
from netns import NamespacesUnavailable, NatTarget


def scan(tmp_path, text, offset=0):
    log = tmp_path / "server.log"
    log.write_bytes(text.encode())
    end = conftest._scan_sanitizer_reports(log, offset)
    return end, conftest._take_sanitizer_reports()


ASAN = ("==123==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000010\n"
        "    #0 0x55 in steward::f() src/core/x.cpp:10\n")
UBSAN = "src/transport/ssh/sftp.cpp:167:52: runtime error: load of value 190, which is not a valid value\n"
LSAN = "==9==ERROR: LeakSanitizer: detected memory leaks\n"
TSAN = "WARNING: ThreadSanitizer: data race (pid=77)\n"
NORMAL = ("[2026-11-30 08:00:00.000] [info] steward listening on 127.0.0.1:4000\n"
          "[warning] job 1: command printed 'runtime error: boom'\n")


def test_each_sanitizer_report_is_found(tmp_path):
    for report in (ASAN, UBSAN, LSAN, TSAN):
        _, found = scan(tmp_path, NORMAL + report)
        assert report.strip().splitlines()[0] in found


def test_an_ordinary_log_is_not_a_report(tmp_path):
    end, found = scan(tmp_path, NORMAL)
    assert found == ""
    assert end == len(NORMAL.encode())


def test_a_restarted_server_is_scanned_only_past_what_was_read(tmp_path):
    end, found = scan(tmp_path, ASAN + NORMAL, offset=len(ASAN))
    assert found == ""
    assert end == len((ASAN + NORMAL).encode())


# ---------------------------------------------------------------- the NAT namespaces (netns.py)

def test_a_target_behind_nat_reaches_the_server_and_the_server_cannot_reach_it():
    nat = NatTarget("h")
    try:
        nat.start()
    except NamespacesUnavailable as why:
        pytest.skip(f"network namespaces cannot be made here: {why}")
    try:
        with socket.socket() as listener:
            listener.bind((nat.server_address, 0))
            listener.listen()
            listener.settimeout(10)
            port = listener.getsockname()[1]
            dial = ("import socket; c = socket.create_connection(('%s', %d), timeout=5); "
                    "print(c.getsockname()[0])" % (nat.server_address, port))
            client = nat.popen(["/usr/bin/python3", "-c", dial], stdout=subprocess.PIPE, text=True)
            accepted, peer = listener.accept()
            accepted.close()
            out, _ = client.communicate(timeout=10)
        assert out.strip() == nat.target_address
        assert peer[0] == nat.router_address, "the router did not masquerade the target's address"

        with socket.socket() as direct:
            direct.settimeout(5)
            code = direct.connect_ex((nat.target_address, 22))
        assert code in (errno.EHOSTUNREACH, errno.ENETUNREACH), f"the server reached the target ({code})"

        nat.set_link(False)
        dial_again = nat.popen(["/usr/bin/python3", "-c",
                                "import socket; socket.create_connection(('%s', %d), timeout=2)"
                                % (nat.server_address, port)], stderr=subprocess.DEVNULL)
        assert dial_again.wait(timeout=10) != 0, "the link was cut but the target still connected"
    finally:
        nat.stop()
    assert nat.router not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
