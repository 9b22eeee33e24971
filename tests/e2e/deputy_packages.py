"""Helpers shared by the gRPC (Ranger executor) end-to-end tests.

The Deputy test packages in tests/packages/ install their assets under
/var/tmp/steward-e2e. `Shelf.add` copies one of them into the server's
--packages folder under a name of its own, with that prefix rewritten to a
folder of the test's, so tests (and parallel runs) never share files on the
target. The catalog reads the disk on every request, so packages can be added
while the server runs.
"""

import itertools
import os
import queue
import re
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES_SRC = REPO / "tests" / "packages"
PREFIX = "/var/tmp/steward-e2e"

_counter = itertools.count(1)


class Shelf:
    """The server's --packages folder and a folder for the targets' files."""

    def __init__(self, root, targets_root):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.targets_root = Path(targets_root)
        self.targets_root.mkdir(parents=True, exist_ok=True)

    def new_prefix(self, tag="t"):
        """A fresh folder standing in for /var/tmp/steward-e2e on the target."""
        prefix = self.targets_root / f"{tag}-{next(_counter)}"
        prefix.mkdir(parents=True)
        return prefix

    def add(self, package, prefix, as_name=None):
        """Copy tests/packages/<package> (every version) as <as_name>, assets under prefix.

        Returns the name the package has on the server.
        """
        as_name = as_name or f"{package}-{next(_counter)}"
        dest = self.root / as_name
        shutil.copytree(PACKAGES_SRC / package, dest)
        for path in dest.rglob("*"):
            if not path.is_file():
                continue
            text = path.read_text()
            new = text.replace(PREFIX, str(prefix))
            if path.name == "package.toml":
                new, count = re.subn(r'(?m)^name\s*=\s*"[^"]*"', f'name = "{as_name}"', new, count=1)
                assert count == 1, f"no [package] name in {path}"
            if new != text:
                mode = path.stat().st_mode
                path.write_text(new)
                os.chmod(path, mode)
        return as_name

    def write(self, name, version, manifest, files=None):
        """An ad-hoc package: DIR/<name>/<version>/package.toml plus files {relative: text}."""
        folder = self.root / name / version
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "package.toml").write_text(manifest)
        for relative, text in (files or {}).items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return folder / "package.toml"


@contextmanager
def environment(**variables):
    """os.environ with `variables` set (a Server passes its environment on)."""
    saved = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def start_with(server, **env):
    """server.start() with these environment variables (HYPERVISOR_WAIT_TIMEOUT...)."""
    with environment(**env):
        return server.start()


def rpc_error(call, *args, **kwargs):
    """Run a gRPC call that must fail; return the grpc.RpcError."""
    with pytest.raises(grpc.RpcError) as info:
        call(*args, **kwargs)
    return info.value


def assert_rpc_error(error, code, *words):
    assert error.code() == code, f"expected {code}, got {error.code()}: {error.details()!r}"
    details = error.details() or ""
    for word in words:
        assert str(word) in details, f"{code} message {details!r} does not mention {word!r}"
    return details


def mode_of(path):
    return oct(Path(path).stat().st_mode & 0o7777)


class StreamReader:
    """Reads a ConditionService/stream call on a thread: (t, response, value) per message.

    t is seconds since the stream was opened. The call's end is kept in
    `error` (a grpc.RpcError; None when it ended with OK).
    """

    def __init__(self, executor, identifier):
        self.identifier = identifier
        self.t0 = time.monotonic()
        self.call = executor.stream_condition(identifier)
        self.values = []
        self.error = None
        self.ended = threading.Event()
        self._queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        try:
            for message in self.call:
                item = (time.monotonic() - self.t0, message.response, message.command_return_value)
                self.values.append(item)
                self._queue.put(item)
        except grpc.RpcError as error:
            self.error = error
        finally:
            self.ended.set()
            self._queue.put(None)

    def next(self, timeout):
        """The next message; AssertionError if none comes within timeout or the stream ends."""
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no value from condition {self.identifier} within {timeout} s") from None
        if item is None:
            self._queue.put(None)
            raise AssertionError(f"stream of {self.identifier} ended: {self.describe_end()}")
        return item

    def next_value(self, timeout):
        return self.next(timeout)[2]

    def wait_for_value(self, wanted, timeout, tolerance=1e-6):
        """Skip messages until one carries `wanted`; return its (t, response, value)."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"value {wanted} not streamed within {timeout} s; got {seen}")
            try:
                item = self.next(left)
            except AssertionError:
                raise AssertionError(f"value {wanted} not streamed within {timeout} s; got {seen}") from None
            seen.append(item[2])
            if abs(item[2] - wanted) <= tolerance:
                return item

    def drain(self):
        """Messages already received and not yet taken."""
        items = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return items
            if item is None:
                self._queue.put(None)
                return items
            items.append(item)

    def wait_end(self, timeout):
        assert self.ended.wait(timeout), f"stream of {self.identifier} still open after {timeout} s"
        return self.error

    def describe_end(self):
        if self.error is None:
            return "OK"
        return f"{self.error.code()}: {self.error.details()}"

    def cancel(self):
        self.call.cancel()
        self.ended.wait(10)
