"""What the real Ranger deployer and upstream Deputy packages expect of the
executor, through gRPC as Ranger's client speaks it:

- `restarts = true` (features and injects): steward reboots the target after
  the action with its `steward_reboot_command` and answers once it is back;
- `Source.version` is a Cargo-style requirement; the newest match wins;
- `virtual_machine_id` is a VM UUID, mapped to a host by name or by the host
  variable `steward_vm_id`;
- a package.toml written the way upstream packages are loads unchanged, and
  its `[feature] delete` action runs when the feature is deleted.

The "reboots" restart a real sshd (reboot_target.py).
"""

import os
import subprocess
import time

import grpc
import pytest

from conftest import STEWARD_BIN, Server, clean_env, process_state
from deputy_packages import Shelf, StreamReader, assert_rpc_error, mode_of, rpc_error, start_with
from executor_client import Executor
from reboot_target import RebootableSshd
from sshd import SshFleet

Code = grpc.StatusCode
KEYS_ADDR, REBOOT_ADDR, DOWN_ADDR = "127.0.0.110", "127.0.0.111", "127.0.0.112"
WAIT_ENV = {"HYPERVISOR_WAIT_TIMEOUT": "20", "HYPERVISOR_WAIT_INTERVAL": "1"}
# A deploy with a reboot takes a few seconds alone, but over 60 s in the ASan build beside a full
# parallel suite; the deadline only bounds a hang.
REBOOT_DEADLINE = 180
HOST_VM = "0190b3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b"  # a host named by its VM's UUID
MAPPED_VM = "6F1C2D3E-4B5A-4C7D-8E9F-A0B1C2D3E4F5"  # steward_vm_id of the host `named-vm`


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def root(tmp_root):
    os.chmod(tmp_root, 0o755)
    return tmp_root


@pytest.fixture(scope="module")
def shelf(root):
    return Shelf(root / "packages", root / "targets")


@pytest.fixture(scope="module")
def fleet(root):
    """The keys and home of the ssh targets (its own sshd is not needed)."""
    return SshFleet(root / "ssh", 1, first=int(KEYS_ADDR.rsplit(".", 1)[1]))


@pytest.fixture(scope="module")
def rebooter(fleet):
    target = RebootableSshd(fleet, "rebooter", REBOOT_ADDR).start()
    yield target
    target.stop()


@pytest.fixture(scope="module")
def server(root, shelf, fleet, rebooter):
    inventory = ("localhost ansible_connection=local\n"
                 "plain-local ansible_connection=local\n"
                 f"{HOST_VM} ansible_connection=local\n"
                 f"named-vm ansible_connection=local steward_vm_id={MAPPED_VM}\n"
                 + fleet.host_line("rebooter", REBOOT_ADDR, ansible_port=rebooter.port,
                                   steward_reboot_command=rebooter.reboot_command))
    srv = start_with(Server(root / "data", inventory=inventory, grpc=True,
                            extra_args=["--packages", str(shelf.root)]), **WAIT_ENV)
    yield srv
    srv.stop()


def feature_or_inject(kind, name, action, restarts=False, version="1.0.0", assets="", extra=""):
    return (f'[package]\nname = "{name}"\nversion = "{version}"\n{assets}\n'
            f'[content]\ntype = "{kind}"\n[{kind}]\naction = "{action}"\n'
            f'restarts = {"true" if restarts else "false"}\n{extra}')


def create(executor, kind, vm, name, **kwargs):
    call = executor.create_feature if kind == "feature" else executor.create_inject
    return call(vm, name, **kwargs)


# ---------------------------------------------------------------- restarts = true reboots the target

@pytest.mark.parametrize("kind", ["feature", "inject"])
def test_restarts_reboots_the_target_after_the_action_and_answers_once_it_is_back(executor, shelf, rebooter, kind):
    prefix = shelf.new_prefix(f"restart-{kind}")
    name = f"restart-{kind}-{prefix.name}"
    acted = prefix / "acted"
    shelf.write(name, "1.0.0", feature_or_inject(kind, name, f"date +%s.%N > {acted}; echo $GREETING",
                                                 restarts=True))
    old_pid, seen = rebooter.current_pid(), len(rebooter.events())

    reply = create(executor, kind, "rebooter", name, environment=["GREETING=before the reboot"],
                   timeout=REBOOT_DEADLINE)
    returned = time.time()

    assert reply.stdout == "before the reboot\n", reply  # the action's output, not the reboot's
    events = rebooter.events()[seen:]
    assert [what for what, _, _ in events] == ["down", "up"], f"no reboot happened: {events}"
    (_, down_at, down_pid), (_, up_at, new_pid) = events
    assert down_pid == old_pid and new_pid != old_pid, events
    assert rebooter.current_pid() == new_pid
    assert process_state(old_pid) in (None, "Z"), "the old sshd still runs"
    assert float(acted.read_text()) < down_at, "the reboot came before the action"
    assert returned > up_at, "create answered before the target was back"


def test_restarts_on_the_servers_own_machine_needs_a_reboot_command(executor, shelf):
    prefix = shelf.new_prefix("local-restart")
    name = f"local-restart-{prefix.name}"
    shelf.write(name, "1.0.0", feature_or_inject(
        "feature", name, "true", restarts=True, assets=f'assets = [["payload", "{prefix}/installed/payload"]]'),
        files={"payload": "x\n"})
    error = rpc_error(executor.create_feature, "plain-local", name)
    assert_rpc_error(error, Code.INTERNAL, "plain-local", "steward_reboot_command")
    assert not (prefix / "installed" / "payload").exists(), "the install was not rolled back"


def test_restarts_gives_up_when_the_target_stays_down_or_never_reboots(root, fleet, shelf):
    downer = RebootableSshd(fleet, "downer", DOWN_ADDR, stay_down=True).start()
    fake_reboot = root / "fake-reboot.sh"
    fake_reboot.write_text(f"#!/bin/sh\ntouch {root}/fake-rebooted\n")
    fake_reboot.chmod(0o755)
    inventory = (fleet.host_line("downer", DOWN_ADDR, ansible_port=downer.port,
                                 steward_reboot_command=downer.reboot_command)
                 + f"stubborn ansible_connection=local steward_reboot_command={fake_reboot}\n")
    srv = start_with(Server(root / "data-giveup", inventory=inventory, grpc=True,
                            extra_args=["--packages", str(shelf.root)]),
                     HYPERVISOR_WAIT_TIMEOUT="3", HYPERVISOR_WAIT_INTERVAL="1")
    client = Executor(srv.grpc_addr)
    try:
        prefix = shelf.new_prefix("giveup")
        name = f"giveup-{prefix.name}"
        shelf.write(name, "1.0.0", feature_or_inject("feature", name, "true", restarts=True))

        t0 = time.monotonic()
        error = rpc_error(client.create_feature, "downer", name, timeout=60)
        took = time.monotonic() - t0
        assert_rpc_error(error, Code.UNAVAILABLE, "downer", "did not come back")
        assert [what for what, _, _ in downer.events()] == ["down"]
        assert 3 <= took < 20, f"gave up after {took:.1f} s with HYPERVISOR_WAIT_TIMEOUT=3"

        error = rpc_error(client.create_feature, "stubborn", name, timeout=60)
        assert_rpc_error(error, Code.INTERNAL, "stubborn", "did not reboot")
        assert (root / "fake-rebooted").exists(), "the reboot command did not run"
    finally:
        client.close()
        srv.stop()
        downer.stop()


# ---------------------------------------------------------------- version requirements

VERSIONS = ["0.9.0", "1.2.0", "1.2.5", "1.10.0", "2.0.0", "2.1.0-beta.1"]


@pytest.fixture(scope="module")
def versioned(shelf):
    name = f"versioned-{shelf.new_prefix('versions').name}"
    for version in VERSIONS:
        shelf.write(name, version, feature_or_inject("feature", name, f"echo {version}", version=version))
    return name


@pytest.mark.parametrize("requirement, expected", [
    ("", "2.0.0"), ("*", "2.0.0"), ("1", "1.10.0"), ("1.2", "1.10.0"), ("^1.2.3", "1.10.0"),
    ("~1.2", "1.2.5"), ("~1.2.0", "1.2.5"), ("=1.2.0", "1.2.0"), (">=1.0, <2.0", "1.10.0"),
    ("1.*", "1.10.0"), ("1.2.*", "1.2.5"), ("<1.10", "1.2.5"), ("^0.9", "0.9.0"), ("0.9.0", "0.9.0"),
    (">1", "2.0.0"), (">=2.1.0-beta", "2.1.0-beta.1"), ("=2.1.0-beta.1", "2.1.0-beta.1"),
])
def test_source_version_is_a_cargo_requirement(executor, versioned, requirement, expected):
    assert executor.create_feature("localhost", versioned, requirement).stdout == f"{expected}\n"


def test_no_matching_version_lists_the_versions_there_are(executor, versioned):
    error = rpc_error(executor.create_feature, "localhost", versioned, ">=3")
    details = assert_rpc_error(error, Code.NOT_FOUND)
    assert details == (f"no version of '{versioned}' matches '>=3': have " + ", ".join(VERSIONS)
                       + " (a pre-release only matches a requirement naming a pre-release of its own"
                       " MAJOR.MINOR.PATCH)"), details


@pytest.mark.parametrize("requirement", ["1.0 || 2.0", ">=1.0 <2.0", "latest", "v1.2", "*, 1.0"])
def test_malformed_requirement_is_invalid_argument(executor, versioned, requirement):
    error = rpc_error(executor.create_feature, "localhost", versioned, requirement)
    assert_rpc_error(error, Code.INVALID_ARGUMENT, f"'{requirement}'", versioned)


def test_requirements_pick_inject_and_condition_versions_and_unversioned_folders(executor, shelf):
    prefix = shelf.new_prefix("kinds")
    inject, condition, flat = (f"{what}-{prefix.name}" for what in ("inject", "condition", "flat"))
    for version in ("1.0.0", "1.1.0"):
        shelf.write(inject, version, feature_or_inject("inject", inject, f"echo {version}", version=version))
        value = "0.25" if version == "1.0.0" else "0.75"
        shelf.write(condition, version, f'[package]\nname = "{condition}"\nversion = "{version}"\n'
                                        f'[content]\ntype = "condition"\n[condition]\naction = "echo {value}"\n'
                                        f'interval = 1\n')
    assert executor.create_inject("localhost", inject, "~1.0").stdout == "1.0.0\n"
    assert executor.create_inject("localhost", inject, "").stdout == "1.1.0\n"
    identifier = executor.create_condition("localhost", source=(condition, "=1.0.0"), interval=0)
    reader = StreamReader(executor, identifier)
    try:
        assert reader.next_value(5) == 0.25
    finally:
        reader.cancel()
        executor.delete_condition(identifier)
    assert_rpc_error(rpc_error(executor.create_condition, "localhost", source=(condition, "2")),
                     Code.NOT_FOUND, "have 1.0.0, 1.1.0")

    # DIR/<name>/package.toml, no version folder: still found by any matching requirement.
    (shelf.root / flat).mkdir()
    (shelf.root / flat / "package.toml").write_text(feature_or_inject("feature", flat, "echo flat", version="3.4.5"))
    for requirement in ("", "3", "~3.4.1", "=3.4.5"):
        assert executor.create_feature("localhost", flat, requirement).stdout == "flat\n"


# ---------------------------------------------------------------- virtual machine ids

def test_virtual_machine_ids_map_to_hosts_by_name_or_steward_vm_id(executor, shelf, api):
    prefix = shelf.new_prefix("vmid")
    name = f"vmid-{prefix.name}"
    shelf.write(name, "1.0.0", feature_or_inject("feature", name, "echo ok"))
    for vm, host in ((HOST_VM, HOST_VM), (MAPPED_VM, "named-vm"), (MAPPED_VM.lower(), "named-vm")):
        reply = executor.create_feature(vm, name)
        job = api.job(reply.identifier.value, outputs=True)
        assert job["targets"] == [host], (vm, job)
        executor.delete_feature(reply.identifier.value)

    inject = f"vmid-inject-{prefix.name}"
    shelf.write(inject, "1.0.0", feature_or_inject("inject", inject, "echo injected"))
    reply = executor.create_inject(MAPPED_VM.lower(), inject)
    assert reply.stdout == "injected\n"
    assert api.job(reply.identifier.value)["targets"] == ["named-vm"]

    identifier = executor.create_condition(MAPPED_VM, command="echo 0.5", interval=1)
    reader = StreamReader(executor, identifier)
    try:
        assert reader.next_value(5) == 0.5
    finally:
        reader.cancel()
    records = {r["id"]: r for r in api.get("/conditions").body}
    assert records[identifier]["target"] == "named-vm", records[identifier]
    assert records[identifier]["virtual_machine_id"] == MAPPED_VM, records[identifier]
    executor.delete_condition(identifier)


def test_unknown_virtual_machine_id_is_not_found_naming_it(executor, shelf):
    unknown = "99999999-2222-4333-8444-555555555555"
    name = f"vmid-unknown-{shelf.new_prefix('vmid-unknown').name}"
    shelf.write(name, "1.0.0", feature_or_inject("feature", name, "true"))
    assert_rpc_error(rpc_error(executor.create_feature, unknown, name), Code.NOT_FOUND, unknown)
    assert_rpc_error(rpc_error(executor.create_inject, unknown, name), Code.NOT_FOUND, unknown)
    assert_rpc_error(rpc_error(executor.create_condition, unknown, command="echo 1"), Code.NOT_FOUND, unknown)


def test_two_hosts_with_one_steward_vm_id_stop_the_server_from_starting(root):
    inventory = root / "duplicate-vm-ids.ini"
    inventory.write_text(f"first ansible_connection=local steward_vm_id={MAPPED_VM}\n"
                         f"second ansible_connection=local steward_vm_id={MAPPED_VM.lower()}\n")
    done = subprocess.run([STEWARD_BIN, "serve", "--http", "127.0.0.1:0", "--grpc", "off",
                           "--data-dir", str(root / "data-duplicate"), "--inventory", str(inventory)],
                          capture_output=True, text=True, timeout=30, env=clean_env(STEWARD_TOKEN="secret"))
    assert done.returncode == 2, f"exit {done.returncode}: the server must refuse two hosts claiming one VM"
    said = done.stdout + done.stderr
    for word in (str(inventory), "first", "second", "steward_vm_id"):
        assert word in said, f"{word!r} not in {said!r}"


# ---------------------------------------------------------------- packages written for the upstream executor

def upstream_package(shelf, name, prefix, delete):
    """A package laid out and written the way upstream Deputy packages are."""
    return shelf.write(name, "0.6.5", f'''[package]
name = "{name}"
description = "A greeting service that needs a reboot, for the executor tests"
version = "0.6.5"
authors = ["Test Author test@example.com"]
license = "MIT"
readme = "src/readme.md"
categories = ["test", "service"]
assets = [
     ["src/greet.sh", "{prefix}/usr/bin/", "554"],
     ["src/greet.conf", "{prefix}/etc/greet.conf", "0644"],
]

[content]
type = "feature"

[feature]
type = "service"
action = "{prefix}/usr/bin/greet.sh"
restarts = true
delete = "{delete}"
''', files={"src/readme.md": "# greet\n",
            "src/greet.sh": f"#!/bin/sh\necho \"hello $GREETING: $(cat {prefix}/etc/greet.conf)\"\n",
            "src/greet.conf": "configured\n"})


def test_upstream_package_deploys_reboots_and_runs_its_delete_action(executor, shelf, rebooter):
    prefix = shelf.new_prefix("upstream")
    name = f"upstream-{prefix.name}"
    script, conf, record = prefix / "usr" / "bin" / "greet.sh", prefix / "etc" / "greet.conf", prefix / "deleted"
    # The delete action proves it ran before the files went, with create's environment.
    upstream_package(shelf, name, prefix,
                     delete=f"test -f {script} && echo \\\"deleted $GREETING\\\" > {record}")
    seen = len(rebooter.events())

    reply = executor.create_feature("rebooter", name, "0.6", environment=["GREETING=Ranger"],
                                    timeout=REBOOT_DEADLINE)
    assert reply.stdout == "hello Ranger: configured\n", reply
    assert mode_of(script) == "0o554" and mode_of(conf) == "0o644"
    assert [what for what, _, _ in rebooter.events()[seen:]] == ["down", "up"], "restarts = true did not reboot"

    executor.delete_feature(reply.identifier.value)
    assert record.read_text() == "deleted Ranger\n", "the delete action did not run before the files went"
    assert not script.exists() and not conf.exists(), "delete left installed files"
    assert_rpc_error(rpc_error(executor.delete_feature, reply.identifier.value), Code.NOT_FOUND)


def test_failing_delete_action_leaves_the_files_and_can_be_retried(executor, shelf):
    prefix = shelf.new_prefix("delete-fails")
    name = f"delete-fails-{prefix.name}"
    gate = prefix / "allow-delete"
    shelf.write(name, "1.0.0", feature_or_inject(
        "feature", name, "true", assets=f'assets = [["payload", "{prefix}/installed/"]]',
        extra=f'delete = "test -e {gate} || {{ echo refusing >&2; exit 4; }}"'), files={"payload": "x\n"})
    identifier = executor.create_feature("localhost", name).identifier.value
    payload = prefix / "installed" / "payload"
    assert payload.exists()

    error = rpc_error(executor.delete_feature, identifier)
    assert_rpc_error(error, Code.INTERNAL, "delete action", "4", "refusing")
    assert payload.exists(), "the files went although the delete action failed"
    gate.touch()
    executor.delete_feature(identifier)
    assert not payload.exists()
