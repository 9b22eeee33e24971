"""The Ranger executor's gRPC API: capabilities, authentication, features and
injects (Deputy packages) on local and ssh targets, their errors, what the REST
API shows of them, and a feature whose action takes its target down itself.

Every test installs its own copy of a package from tests/packages/ (see
deputy_packages.Shelf), with the assets under a folder of its own.
"""

import os
import pwd
import socket
import subprocess
import threading
import time

import grpc
import pytest

from conftest import JOB_DONE, JOB_FAILURE, OP_CHANGED, Server, free_port, qs, wait_for
from deputy_packages import Shelf, assert_rpc_error, mode_of, rpc_error, start_with
from executor_client import Executor, capability_pb2, common_pb2
from sshd import SshFleet, Sshd, ensure_test_user, free_port_on, keygen

Code = grpc.StatusCode
SSH_ADDR, REBOOT_ADDR, GIVEUP_ADDR = "127.0.0.80", "127.0.0.81", "127.0.0.82"
WAIT_ENV = {"HYPERVISOR_WAIT_TIMEOUT": "20", "HYPERVISOR_WAIT_INTERVAL": "1"}


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def root(tmp_root):
    # The password test's user must reach its folder below tmp_root.
    os.chmod(tmp_root, 0o755)
    return tmp_root


@pytest.fixture(scope="module")
def shelf(root):
    return Shelf(root / "packages", root / "targets")


@pytest.fixture(scope="module")
def fleet(root):
    fleet = SshFleet(root / "ssh", 1, first=int(SSH_ADDR.rsplit(".", 1)[1])).start()
    yield fleet
    fleet.stop()


def own_sshd(fleet, name, address):
    """An sshd of its own (the reboot tests kill theirs), with the fleet's keys."""
    return Sshd(fleet.workdir, name, [address], free_port_on([address]), fleet.host_key,
                fleet.authorized_keys, fleet.home)


@pytest.fixture(scope="module")
def reboot_sshd(fleet):
    holder = {"sshd": own_sshd(fleet, "reboot", REBOOT_ADDR).start()}
    yield holder
    holder["sshd"].stop()


@pytest.fixture(scope="module")
def password_user():
    try:
        return ensure_test_user()
    except subprocess.CalledProcessError:
        # test_ssh may be creating the user (or holding /etc/shadow's lock) at this very moment.
        time.sleep(2)
        return ensure_test_user()


@pytest.fixture(scope="module")
def inventory(fleet, reboot_sshd, root):
    wrong_key = keygen(root / "unauthorized_ed25519")
    return ("localhost ansible_connection=local\n"
            "[ssh]\n"
            + fleet.host_line("sshhost", SSH_ADDR)
            # Reachable, but only with credentials a request brings.
            + fleet.host_line("keyless", SSH_ADDR, ansible_ssh_private_key_file=wrong_key)
            + fleet.host_line("rebooter", REBOOT_ADDR, ansible_port=reboot_sshd["sshd"].port)
            + fleet.host_line("down", "127.0.0.1", ansible_port=free_port()))


@pytest.fixture(scope="module")
def server(root, inventory, shelf):
    srv = start_with(Server(root / "data", inventory=inventory, grpc=True,
                            extra_args=["--packages", str(shelf.root)]), **WAIT_ENV)
    yield srv
    srv.stop()


def count_probes(address, port, seconds):
    """Listen where a down target was for `seconds`, closing every connection at
    once (the target still looks down); return the times the server knocked."""
    knocks = []
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((address, port))
        listener.listen(16)
        listener.settimeout(0.1)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            knocks.append(time.monotonic())
            conn.close()
    return knocks


def job_of(api, identifier):
    job = api.job(identifier, outputs=True)
    assert job["jid"] == identifier, job
    return job


# ---------------------------------------------------------------- capabilities and auth

def test_capabilities_are_feature_condition_inject(executor):
    values = executor.capabilities()
    assert sorted(values) == [3, 4, 5], values
    names = {capability_pb2.Capabilities.DeployerType.Name(v) for v in values}
    assert names == {"Feature", "Condition", "Inject"}


def test_unknown_method_and_garbage_request(executor):
    bogus = executor.channel.unary_unary("/FeatureService/bogus")
    assert_rpc_error(rpc_error(bogus, b"", metadata=executor.metadata, timeout=10), Code.UNIMPLEMENTED,
                     "/FeatureService/bogus")
    create = executor.channel.unary_unary("/FeatureService/create")
    assert_rpc_error(rpc_error(create, b"\xff\xff\xff", metadata=executor.metadata, timeout=10),
                     Code.INVALID_ARGUMENT, "Feature")


def test_missing_or_wrong_token_is_unauthenticated(server, shelf):
    prefix = shelf.new_prefix("auth")
    name = shelf.add("hello-feature", prefix)
    for token in (None, "wrong", ""):
        client = Executor(server.grpc_addr, token=token)
        try:
            assert_rpc_error(rpc_error(client.capabilities), Code.UNAUTHENTICATED)
            assert_rpc_error(rpc_error(client.create_feature, "localhost", name), Code.UNAUTHENTICATED)
            assert_rpc_error(rpc_error(client.create_condition, "localhost", command="echo 1"),
                             Code.UNAUTHENTICATED)
        finally:
            client.close()
    assert not (prefix / "feature").exists(), "a refused call deployed the feature"
    # The token must be sent as "Bearer TOKEN", not bare.
    channel = grpc.insecure_channel(server.grpc_addr)
    try:
        from executor_client import capability_grpc
        from google.protobuf import empty_pb2
        stub = capability_grpc.CapabilityStub(channel)
        error = rpc_error(stub.GetCapabilities, empty_pb2.Empty(), metadata=[("authorization", server.token)],
                          timeout=10)
        assert_rpc_error(error, Code.UNAUTHENTICATED)
    finally:
        channel.close()


def test_no_auth_server_needs_no_token(root, shelf):
    srv = Server(root / "data-noauth", grpc=True,
                 extra_args=["--no-auth", "--packages", str(shelf.root)]).start()
    try:
        prefix = shelf.new_prefix("noauth")
        name = shelf.add("note-inject", prefix)
        client = Executor(srv.grpc_addr, token=None)
        try:
            assert sorted(client.capabilities()) == [3, 4, 5]
            reply = client.create_inject("localhost", name, environment=["NOTE=open"])
            assert reply.stdout == "noted\n", reply
        finally:
            client.close()
        assert (prefix / "inject" / "note.txt").read_text() == "open\n"
    finally:
        srv.stop()


# ---------------------------------------------------------------- features and injects

def test_feature_copies_assets_runs_action_and_delete_removes_them(executor, shelf):
    prefix = shelf.new_prefix("feature")
    name = shelf.add("hello-feature", prefix)
    reply = executor.create_feature("localhost", name, "1.0.0", environment=["GREETING=Ada Lovelace"])
    assert reply.identifier.value, reply
    assert reply.stdout == "hello from 1.0.0: Ada Lovelace config-ok\n", reply
    assert reply.stderr == "a warning\n", reply
    script = prefix / "feature" / "bin" / "hello.sh"
    conf = prefix / "feature" / "etc" / "greeting.conf"
    assert mode_of(script) == "0o754"
    assert conf.read_text() == "config-ok\n"
    assert (prefix / "feature" / "ran").read_text() == "installed\n", "the action did not run"

    assert executor.delete_feature(reply.identifier.value) is not None
    assert not script.exists() and not conf.exists(), "delete left installed files"
    assert (prefix / "feature" / "ran").exists(), "delete removed a file it did not install"
    error = rpc_error(executor.delete_feature, reply.identifier.value)
    assert_rpc_error(error, Code.NOT_FOUND, reply.identifier.value)


@pytest.mark.parametrize("version, expected", [("", "2.0.0"), ("*", "2.0.0"), ("1.0.0", "1.0.0"),
                                               ("2.0.0", "2.0.0")])
def test_version_empty_or_star_is_the_newest(executor, shelf, version, expected):
    prefix = shelf.new_prefix("version")
    name = shelf.add("hello-feature", prefix)
    reply = executor.create_feature("localhost", name, version)
    assert reply.stdout.startswith(f"hello from {expected}"), reply
    if expected == "2.0.0":
        script = prefix / "feature" / "bin" / "hello2.sh"
        assert mode_of(script) == "0o755", "mode written as \"755\""
        assert not (prefix / "feature" / "bin" / "hello.sh").exists()


def test_newest_version_compares_numerically(executor, shelf):
    prefix = shelf.new_prefix("numeric")
    name = f"numeric-{prefix.name}"
    for version in ("1.9.2", "1.10.0", "1.2.30"):
        shelf.write(name, version, f"""
[package]
name = "{name}"
version = "{version}"
[content]
type = "feature"
[feature]
action = "echo {version}"
""")
    assert executor.create_feature("localhost", name).stdout == "1.10.0\n"


def test_inject_with_environment_and_delete(executor, shelf):
    prefix = shelf.new_prefix("inject")
    name = shelf.add("note-inject", prefix)
    reply = executor.create_inject("localhost", name, environment=["NOTE=two words, 'quoted' = $HOME",
                                                                  "OTHER=x=y"])
    assert reply.stdout == "noted\n" and reply.stderr == "", reply
    note, script = prefix / "inject" / "note.txt", prefix / "inject" / "note.sh"
    assert note.read_text() == "two words, 'quoted' = $HOME\n"
    assert mode_of(script) == "0o700"
    executor.delete_inject(reply.identifier.value)
    assert not script.exists(), "delete left the installed script"
    assert_rpc_error(rpc_error(executor.delete_inject, reply.identifier.value), Code.NOT_FOUND)


def test_failing_action_is_internal_and_rolls_back(executor, shelf, api):
    prefix = shelf.new_prefix("failing")
    name = shelf.add("failing-feature", prefix)
    before = set(api.get("/jobs").body)
    error = rpc_error(executor.create_feature, "localhost", name)
    assert_rpc_error(error, Code.INTERNAL, "3", "cannot configure the payload", name)
    assert "exit" in error.details().lower(), error.details()
    assert not (prefix / "failing" / "payload.txt").exists(), "the copied asset was not rolled back"
    new = [jid for jid in api.get("/jobs").body if jid not in before]
    jobs = [api.job(jid, outputs=True) for jid in new]
    installs = [j for j in jobs if j["operate"] == "install"]
    assert len(installs) == 1, jobs
    assert installs[0]["state"] == JOB_FAILURE, installs[0]


def test_feature_and_inject_packages_are_not_interchangeable(executor, shelf):
    prefix = shelf.new_prefix("kinds")
    inject = shelf.add("note-inject", prefix)
    feature = shelf.add("hello-feature", prefix)
    assert_rpc_error(rpc_error(executor.create_feature, "localhost", inject), Code.INVALID_ARGUMENT, inject, "inject")
    assert_rpc_error(rpc_error(executor.create_inject, "localhost", feature), Code.INVALID_ARGUMENT, feature,
                     "feature")
    assert not (prefix / "inject").exists() and not (prefix / "feature").exists()


# ---------------------------------------------------------------- errors

def test_unknown_host_package_or_version_is_not_found(executor, shelf):
    prefix = shelf.new_prefix("notfound")
    name = shelf.add("hello-feature", prefix)
    assert_rpc_error(rpc_error(executor.create_feature, "no-such-vm", name), Code.NOT_FOUND, "no-such-vm")
    assert_rpc_error(rpc_error(executor.create_inject, "no-such-vm", name), Code.NOT_FOUND, "no-such-vm")
    assert_rpc_error(rpc_error(executor.create_feature, "localhost", "no-such-package"), Code.NOT_FOUND,
                     "no-such-package")
    assert_rpc_error(rpc_error(executor.create_feature, "localhost", name, "9.9.9"), Code.NOT_FOUND, name, "9.9.9")
    assert_rpc_error(rpc_error(executor.delete_feature, "no-such-id"), Code.NOT_FOUND, "no-such-id")
    assert_rpc_error(rpc_error(executor.delete_inject, "no-such-id"), Code.NOT_FOUND, "no-such-id")
    assert not (prefix / "feature").exists()


@pytest.mark.parametrize("entry", ["NOEQUALS", "=value", ""])
def test_malformed_environment_is_invalid_argument(executor, shelf, entry):
    prefix = shelf.new_prefix("env")
    name = shelf.add("hello-feature", prefix)
    error = rpc_error(executor.create_feature, "localhost", name, environment=["GOOD=1", entry])
    assert_rpc_error(error, Code.INVALID_ARGUMENT, "environment", entry)
    assert not (prefix / "feature").exists(), "a rejected request deployed the feature"


BROKEN_MANIFESTS = {
    "type": ('[package]\nname = "N"\nversion = "1.0.0"\n[content]\ntype = "feature"\n'
             '[feature]\ntype = "Daemon"\naction = "true"\n', "feature.type"),
    "content": ('[package]\nname = "N"\nversion = "1.0.0"\n[feature]\naction = "true"\n', "content.type"),
    "asset": ('[package]\nname = "N"\nversion = "1.0.0"\nassets = [["missing.sh", "/tmp/x"]]\n'
              '[content]\ntype = "feature"\n[feature]\naction = "true"\n', "package.assets[0]"),
    "restarts": ('[package]\nname = "N"\nversion = "1.0.0"\n[content]\ntype = "feature"\n'
                 '[feature]\naction = "true"\nrestarts = "yes"\n', "feature.restarts"),
    "version": ('[package]\nname = "N"\n[content]\ntype = "inject"\n[inject]\naction = "true"\n',
                "package.version"),
    "syntax": ('[package]\nname = "N"\nversion = "1.0.0\n', ":3"),
}


@pytest.mark.parametrize("problem", sorted(BROKEN_MANIFESTS))
def test_malformed_package_is_invalid_argument_naming_file_and_key(executor, shelf, problem):
    text, key = BROKEN_MANIFESTS[problem]
    name = f"broken-{problem}-{shelf.new_prefix('broken').name}"
    manifest = shelf.write(name, "1.0.0", text.replace('"N"', f'"{name}"'))
    error = rpc_error(executor.create_feature, "localhost", name, "1.0.0")
    assert_rpc_error(error, Code.INVALID_ARGUMENT, str(manifest), key)


def test_unreachable_target_is_unavailable(executor, shelf):
    prefix = shelf.new_prefix("down")
    name = shelf.add("hello-feature", prefix)
    t0 = time.monotonic()
    error = rpc_error(executor.create_feature, "down", name)
    assert_rpc_error(error, Code.UNAVAILABLE, "down")
    assert time.monotonic() - t0 < 30


# ---------------------------------------------------------------- ssh targets and accounts

def test_feature_over_ssh_and_delete(executor, shelf):
    prefix = shelf.new_prefix("ssh")
    name = shelf.add("hello-feature", prefix)
    reply = executor.create_feature("sshhost", name, "1.0.0", environment=["GREETING=over ssh"])
    assert reply.stdout == "hello from 1.0.0: over ssh config-ok\n" and reply.stderr == "a warning\n", reply
    script = prefix / "feature" / "bin" / "hello.sh"
    assert mode_of(script) == "0o754"
    executor.delete_feature(reply.identifier.value)
    assert not script.exists() and not (prefix / "feature" / "etc" / "greeting.conf").exists()


def test_failing_action_over_ssh_rolls_back(executor, shelf):
    prefix = shelf.new_prefix("sshfail")
    name = shelf.add("failing-feature", prefix)
    error = rpc_error(executor.create_feature, "sshhost", name)
    assert_rpc_error(error, Code.INTERNAL, "sshhost", "3", "cannot configure the payload")
    assert (prefix / "failing").is_dir(), "the asset folder was never made"
    assert not (prefix / "failing" / "payload.txt").exists(), "the copied asset was not rolled back"


def test_account_private_key_overrides_the_inventory(executor, shelf, fleet):
    prefix = shelf.new_prefix("key")
    name = shelf.add("note-inject", prefix)
    error = rpc_error(executor.create_inject, "keyless", name, environment=["NOTE=no"])
    assert_rpc_error(error, Code.UNAVAILABLE, "keyless")
    account = common_pb2.Account(username=fleet.user, private_key=fleet.client_key.read_text())
    reply = executor.create_inject("keyless", name, environment=["NOTE=with key"], account=account)
    assert reply.stdout == "noted\n", reply
    assert (prefix / "inject" / "note.txt").read_text() == "with key\n"
    executor.delete_inject(reply.identifier.value)  # with the same account
    assert not (prefix / "inject" / "note.sh").exists()


def test_the_account_outlives_a_restart_sealed_in_the_store(root, inventory, shelf, fleet):
    from executor_client import Executor
    prefix = shelf.new_prefix("restart")
    name = shelf.add("note-inject", prefix)
    key = fleet.client_key.read_text()
    srv = start_with(Server(root / "data-restart", inventory=inventory, grpc=True,
                            extra_args=["--packages", str(shelf.root)]), **WAIT_ENV)
    try:
        client = Executor(srv.grpc_addr)
        account = common_pb2.Account(username=fleet.user, private_key=key)
        reply = client.create_inject("keyless", name, environment=["NOTE=kept"], account=account)
        client.close()
        srv.stop()
        stored = b"".join(p.read_bytes() for p in (root / "data-restart").glob("steward.db*"))
        key_lines = [line for line in key.splitlines() if line and not line.startswith("-----")]
        assert key_lines and not any(line.encode() in stored for line in key_lines), "the key is stored in clear"
        srv.start()
        client = Executor(srv.grpc_addr)
        client.delete_inject(reply.identifier.value)  # over "keyless": only the kept account gets in
        client.close()
        assert not (prefix / "inject" / "note.sh").exists()
    finally:
        srv.stop()


def test_account_password_overrides_the_inventory_and_never_shows(executor, shelf, server, api, password_user):
    if not password_user:
        pytest.skip("needs root to create the password test user")
    user, password = password_user
    prefix = shelf.new_prefix("password")
    os.chown(prefix, pwd.getpwnam(user).pw_uid, -1)
    name = shelf.add("note-inject", prefix)
    wrong = common_pb2.Account(username=user, password="wrong-" + password)
    assert_rpc_error(rpc_error(executor.create_inject, "keyless", name, account=wrong), Code.UNAVAILABLE, "keyless")

    account = common_pb2.Account(username=user, password=password)
    reply = executor.create_inject("keyless", name, environment=["NOTE=as the test user"], account=account)
    assert reply.stdout == "noted\n", reply
    note, script = prefix / "inject" / "note.txt", prefix / "inject" / "note.sh"
    assert note.read_text() == "as the test user\n"
    for path in (note, script):
        assert pwd.getpwuid(path.stat().st_uid).pw_name == user, f"{path} not written as {user}"

    identifier = reply.identifier.value
    job = api.job(identifier, outputs=True)
    assert job["operate"] == "install" and job["targets"] == ["keyless"], job
    shown = repr(job) + repr(api.get(qs("/jobs", detail=1)).body)
    executor.delete_inject(identifier)  # the account is used again for the delete
    assert not script.exists(), "delete left the installed script"
    shown += server.log_path.read_text(errors="replace")
    assert password not in shown, "the account's password shows in a job or the server log"


# ---------------------------------------------------------------- REST parity

def test_grpc_deployment_is_a_rest_job(executor, shelf, api):
    prefix = shelf.new_prefix("rest")
    name = shelf.add("hello-feature", prefix)
    reply = executor.create_feature("localhost", name, "1.0.0", environment=["GREETING=rest"])
    job = job_of(api, reply.identifier.value)
    assert job["operate"] == "install" and job["targets"] == ["localhost"], job
    assert job["state"] == JOB_DONE, job
    assert job["operate_args"]["source"] == {"name": name, "version": "1.0.0"}, job
    entry = job["return_data"]["localhost"]
    assert entry["status"] == OP_CHANGED and entry["stdout"] == reply.stdout and entry["stderr"] == reply.stderr
    facts = entry["facts"]
    assert facts["package"] == name and facts["version"] == "1.0.0" and facts["type"] == "feature", facts
    assert sorted(facts["installed"]) == sorted([str(prefix / "feature" / "bin" / "hello.sh"),
                                                 str(prefix / "feature" / "etc" / "greeting.conf")]), facts
    executor.delete_feature(reply.identifier.value)
    assert api.get(f"/jobs/{reply.identifier.value}").status == 200, "the install job itself stays"


def test_rest_lists_packages(api, shelf):
    prefix = shelf.new_prefix("list")
    feature = shelf.add("hello-feature", prefix)
    condition = shelf.add("file-condition", prefix)
    r = api.get("/packages")
    assert r.status == 200, r
    mine = {(p["name"], p["version"]): p for p in r.body if p["name"] in (feature, condition)}
    assert set(mine) == {(feature, "1.0.0"), (feature, "2.0.0"), (condition, "1.0.0")}, r.body
    assert mine[(feature, "1.0.0")]["type"] == "feature"
    assert sorted(mine[(feature, "1.0.0")]["assets"]) == sorted([str(prefix / "feature" / "bin" / "hello.sh"),
                                                                 str(prefix / "feature" / "etc" / "greeting.conf")])
    assert mine[(condition, "1.0.0")]["type"] == "condition"
    assert mine[(condition, "1.0.0")]["action"] == str(prefix / "condition" / "check.sh")


def test_rest_install_is_a_job_like_grpc(api, shelf):
    prefix = shelf.new_prefix("restinstall")
    name = shelf.add("hello-feature", prefix)
    jid = api.submit("/packages/install", {"targets": ["localhost"], "source": {"name": name, "version": "1.0.0"},
                                           "environment": ["GREETING=from rest"]})
    job = api.wait_job(jid)
    assert job["operate"] == "install" and job["state"] == JOB_DONE, job
    entry = job["return_data"]["localhost"]
    assert entry["stdout"] == "hello from 1.0.0: from rest config-ok\n", entry
    assert entry["facts"]["package"] == name and entry["facts"]["type"] == "feature", entry
    assert (prefix / "feature" / "ran").exists()
    r = api.post("/packages/install", {"targets": ["localhost"], "source": {"name": "no-such-package"}})
    assert r.status == 404 and "no-such-package" in r.body["message"], r


# ---------------------------------------------------------------- a feature whose action reboots its target itself
# (steward's own reboot for `restarts = true`: test_ranger_compat.py)

def test_action_that_takes_the_target_down_counts_as_the_reboot(executor, shelf, api, fleet, reboot_sshd):
    prefix = shelf.new_prefix("reboot")
    name = shelf.add("reboot-feature", prefix)
    (prefix / "reboot").mkdir()
    sshd = reboot_sshd["sshd"]
    (prefix / "reboot" / "sshd.pid").write_text(f"{sshd.proc.pid}\n")
    outcome = {}

    def create():
        try:
            outcome["reply"] = executor.create_feature("rebooter", name, timeout=60)
        except grpc.RpcError as error:
            outcome["error"] = error
        outcome["at"] = time.monotonic()

    caller = threading.Thread(target=create, daemon=True)
    caller.start()
    wait_for(lambda: (prefix / "reboot" / "rebooting").exists() or "error" in outcome, timeout=20,
             what="the reboot action to start")
    assert "error" not in outcome, outcome["error"].details()
    assert sshd.proc.wait(10) is not None, "the action did not kill the target's sshd"
    knocks = count_probes(REBOOT_ADDR, sshd.port, 4.5)
    assert caller.is_alive(), f"create returned while the target was down: {outcome}"
    # HYPERVISOR_WAIT_INTERVAL=1 (the default, 5, would knock once at most).
    gaps = [later - earlier for earlier, later in zip(knocks, knocks[1:])]
    assert len(knocks) >= 3 and all(0.9 <= gap < 2.5 for gap in gaps), \
        f"the down target was not probed every second: gaps {gaps}"
    reboot_sshd["sshd"] = own_sshd(fleet, "reboot-again", REBOOT_ADDR)
    reboot_sshd["sshd"].port = sshd.port
    reboot_sshd["sshd"].start()
    back = time.monotonic()
    caller.join(45)
    assert not caller.is_alive(), "create still waiting 45 s after the target came back"
    assert "error" not in outcome, f"{outcome['error'].code()}: {outcome['error'].details()}"
    assert outcome["at"] >= back
    assert outcome["at"] - back < 10, "the target was not polled every HYPERVISOR_WAIT_INTERVAL"
    job = job_of(api, outcome["reply"].identifier.value)
    assert job["state"] == JOB_DONE and job["return_data"]["rebooter"]["status"] == OP_CHANGED, job


def test_action_that_takes_the_target_down_gives_up_after_the_wait_timeout(root, fleet, shelf):
    giveup = own_sshd(fleet, "giveup", GIVEUP_ADDR).start()
    srv = None
    try:
        inventory = fleet.host_line("giveup", GIVEUP_ADDR, ansible_port=giveup.port)
        srv = start_with(Server(root / "data-giveup", inventory=inventory, grpc=True,
                                extra_args=["--packages", str(shelf.root)]),
                         HYPERVISOR_WAIT_TIMEOUT="3", HYPERVISOR_WAIT_INTERVAL="1")
        prefix = shelf.new_prefix("giveup")
        name = shelf.add("reboot-feature", prefix)
        (prefix / "reboot").mkdir()
        (prefix / "reboot" / "sshd.pid").write_text(f"{giveup.proc.pid}\n")
        client = Executor(srv.grpc_addr)
        try:
            t0 = time.monotonic()
            error = rpc_error(client.create_feature, "giveup", name, timeout=60)
            took = time.monotonic() - t0
        finally:
            client.close()
        assert (prefix / "reboot" / "rebooting").exists(), "the action did not run"
        assert_rpc_error(error, Code.UNAVAILABLE, "giveup", "did not come back")
        assert 3 <= took < 20, f"gave up after {took:.1f} s with HYPERVISOR_WAIT_TIMEOUT=3"
    finally:
        if srv:
            srv.stop()
        giveup.stop()


# ---------------------------------------------------------------- restart of the server

def test_deployments_survive_a_server_restart(root, shelf):
    srv = Server(root / "data-restart", grpc=True, extra_args=["--packages", str(shelf.root)]).start()
    try:
        prefix = shelf.new_prefix("restart")
        feature = shelf.add("hello-feature", prefix)
        inject = shelf.add("note-inject", prefix)
        client = Executor(srv.grpc_addr)
        try:
            made_feature = client.create_feature("localhost", feature, "1.0.0").identifier.value
            made_inject = client.create_inject("localhost", inject, environment=["NOTE=x"]).identifier.value
        finally:
            client.close()
        assert srv.stop() == 0, srv.log_tail()
        srv.start()
        client = Executor(srv.grpc_addr)
        try:
            client.delete_feature(made_feature)
            client.delete_inject(made_inject)
            assert not (prefix / "feature" / "bin" / "hello.sh").exists()
            assert not (prefix / "feature" / "etc" / "greeting.conf").exists()
            assert not (prefix / "inject" / "note.sh").exists()
            assert_rpc_error(rpc_error(client.delete_feature, made_feature), Code.NOT_FOUND)
        finally:
            client.close()
    finally:
        srv.stop()
