"""/deploy both ways: ansible-playbook on a playbooks folder's _deploy.yml
(Debian's ansible-core, local connection) with per-host results mapped to
operation states, and, without playbooks, a Deputy feature package named by
`role` with extra_vars as its environment.
"""

import pytest

from conftest import (JOB_DONE, JOB_FAILURE, OP_CHANGED, OP_FAILED, OP_OK, OP_SKIPPED, OP_UNREACHABLE, Api,
                      Server, free_port, qs)
from deputy_packages import Shelf

PLAYBOOK = """
- hosts: "{{ _targets }}"
  gather_facts: false
  tasks:
    - name: write
      copy:
        content: "{{ greeting | default('hi') }} {{ _role }}\\n"
        dest: "{{ out_dir }}/out-{{ inventory_hostname }}"
      tags: [write]
    - name: fail when asked
      fail:
        msg: asked to fail
      when: fail_now | default(false) | bool
      tags: [write]
    - name: look
      command: "true"
      changed_when: false
      tags: [look]
"""


@pytest.fixture(scope="module")
def out_dir(tmp_root):
    path = tmp_root / "out"
    path.mkdir()
    return path


@pytest.fixture(scope="module")
def server(tmp_root):
    playbooks = tmp_root / "playbooks"
    (playbooks / "roles" / "web").mkdir(parents=True)
    (playbooks / "_deploy.yml").write_text(PLAYBOOK)
    inventory = ("localhost ansible_connection=local\n"
                 "web1 ansible_connection=local\n"
                 f"ghost ansible_host=127.0.0.1 ansible_port={free_port()} ansible_connection=ssh\n")
    srv = Server(tmp_root / "data", inventory=inventory, extra_args=["--playbooks", str(playbooks)]).start()
    yield srv
    assert srv.stop() == 0, srv.log_tail()


def deploy(api, **body):
    return api.run("/deploy", body, timeout=120)


def test_playbook_runs_per_host_with_role_and_extra_vars(api, out_dir):
    job = deploy(api, targets=["localhost", "web1"], role="web",
                 extra_vars={"out_dir": str(out_dir), "greeting": "hello"})
    assert job["state"] == JOB_DONE, job
    for host in ("localhost", "web1"):
        entry = job["return_data"][host]
        assert entry["status"] == OP_CHANGED, entry
        assert entry["facts"]["ansible"]["changed"] == 1, entry
        assert (out_dir / f"out-{host}").read_text() == "hello web\n"
    again = deploy(api, targets=["localhost"], role="web", extra_vars={"out_dir": str(out_dir), "greeting": "hello"})
    assert again["return_data"]["localhost"]["status"] == OP_OK, again


def test_partial_becomes_tags(api, out_dir):
    job = deploy(api, targets=["localhost"], role="web", partial="look",
                 extra_vars={"out_dir": str(out_dir), "greeting": "tagged"})
    entry = job["return_data"]["localhost"]
    assert entry["status"] == OP_OK and entry["facts"]["ansible"]["ok"] == 1, entry
    assert (out_dir / "out-localhost").read_text() != "tagged web\n", "an untagged task ran"
    job = deploy(api, targets=["localhost"], role="web", partial=["nothing-tagged-so"],
                 extra_vars={"out_dir": str(out_dir)})
    assert job["return_data"]["localhost"]["status"] == OP_SKIPPED, job


def test_failed_and_unreachable_hosts_map_to_their_states(api, out_dir):
    job = deploy(api, targets=["localhost", "ghost"], role="web",
                 extra_vars={"out_dir": str(out_dir), "fail_now": True})
    assert job["state"] == JOB_FAILURE, job
    failed = job["return_data"]["localhost"]
    assert failed["status"] == OP_FAILED and "asked to fail" in failed["error"], failed
    unreachable = job["return_data"]["ghost"]
    assert unreachable["status"] == OP_UNREACHABLE and "connect" in unreachable["error"].lower(), unreachable


def test_unknown_role_is_404(api):
    r = api.post("/deploy", {"targets": "localhost", "role": "db"})
    assert r.status == 404 and "db" in r.body["message"], r
    r = api.post("/deploy", {"targets": "localhost"})
    assert r.status == 400 and "role" in r.body["message"], r


def test_without_playbooks_a_role_is_a_deputy_feature(tmp_root):
    shelf = Shelf(tmp_root / "packages", tmp_root / "targets")
    prefix = shelf.new_prefix("deploy")
    name = "greeter"
    shelf.write(name, "1.0.0", '[package]\nname = "greeter"\nversion = "1.0.0"\n'
                '[content]\ntype = "feature"\n[feature]\ntype = "Service"\n'
                f'action = "echo $GREETING > {prefix}/greeting; echo greeted"\n')
    condition = shelf.add("file-condition", prefix)
    srv = Server(tmp_root / "deputy-data", extra_args=["--packages", str(shelf.root)]).start()
    try:
        api = Api(srv)
        job = api.run("/deploy", {"targets": ["localhost"], "role": name, "extra_vars": {"GREETING": "deployed"}},
                      timeout=60)
        entry = job["return_data"]["localhost"]
        assert entry["status"] == OP_CHANGED, entry
        assert (prefix / "greeting").read_text() == "deployed\n", "extra_vars did not reach the action"
        full = api.get(qs(f"/jobs/{job['jid']}", outputs=1)).body["return_data"]["localhost"]
        assert full["stdout"] == "greeted\n", full
        r = api.post("/deploy", {"targets": "localhost", "role": "no-such-role"})
        assert r.status == 404 and "no-such-role" in r.body["message"], r
        r = api.post("/deploy", {"targets": "localhost", "role": condition})
        assert r.status == 400 and "not a feature" in r.body["message"], r
    finally:
        assert srv.stop() == 0, srv.log_tail()
