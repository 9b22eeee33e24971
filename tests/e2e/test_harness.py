"""The e2e harness itself: what makes a sanitizer build's report fail the run."""

import conftest


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
