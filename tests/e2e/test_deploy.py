"""/deploy both ways: ansible-playbook on a playbooks folder's _deploy.yml
(Debian's ansible-core, local connection), one run for all of a job's targets
with per-host results mapped to operation states as each host is done, and,
without playbooks, a Deputy feature package named by `role` with extra_vars as
its environment. deploy and task runs are one at a time per host: a second
one is 409 unless it asks to queue.
"""

import pytest

from conftest import (JOB_DONE, JOB_FAILURE, OP_CHANGED, OP_FAILED, OP_OK, OP_SKIPPED, OP_UNREACHABLE, Api,
                      Server, free_port, qs, read_pid, wait_process_gone)
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


# ------------------------------------------------ one run for all targets

BATCH_PLAYBOOK = """
- hosts: "{{ _targets }}"
  gather_facts: false
  tasks:
    - name: name the run
      run_once: true
      set_fact:
        run_id: "{{ lookup('pipe', 'date +%s%N') }}"
    - name: once per run
      run_once: true
      shell: "echo {{ run_id }} >> {{ out_dir }}/runs"
    - name: per host
      shell: "echo {{ inventory_hostname }} {{ run_id }} >> {{ out_dir }}/hosts"
    - name: fail when asked
      fail:
        msg: asked to fail
      when: inventory_hostname in (fail_hosts | default([]))
    - name: take a while
      shell: "echo $$ > {{ out_dir }}/pid-{{ inventory_hostname }}; exec sleep {{ (naps | default({}))[inventory_hostname] | default(0) }}"
"""

SLOW_PIPELINE = """
pipelines:
  slow:
    start:
      - name: nap
        shell_exec: sleep 2
"""


@pytest.fixture(scope="module")
def batch_server(tmp_root):
    playbooks = tmp_root / "batch-playbooks"
    playbooks.mkdir()
    (playbooks / "_deploy.yml").write_text(BATCH_PLAYBOOK)
    tasks = tmp_root / "slow-tasks.yaml"
    tasks.write_text(SLOW_PIPELINE)
    srv = Server(tmp_root / "batch-data", extra_args=["--playbooks", str(playbooks), "--tasks", str(tasks)]).start()
    yield srv
    assert srv.stop() == 0, srv.log_tail()


@pytest.fixture
def batch_api(batch_server):
    return Api(batch_server)


@pytest.fixture
def run_dir(tmp_path):
    return tmp_path


def test_one_playbook_run_for_all_targets(batch_api, run_dir):
    job = batch_api.run("/deploy", {"targets": ["localhost", "web1", "web2"], "role": "any",
                                    "extra_vars": {"out_dir": str(run_dir)}}, timeout=120)
    assert job["state"] == JOB_DONE, job
    for host in ("localhost", "web1", "web2"):
        assert job["return_data"][host]["status"] == OP_CHANGED, job["return_data"][host]
    runs = (run_dir / "runs").read_text().split()
    assert len(runs) == 1, f"run_once ran {len(runs)} times: one ansible-playbook per target?"
    hosts = dict(line.split() for line in (run_dir / "hosts").read_text().splitlines())
    assert sorted(hosts) == ["localhost", "web1", "web2"], hosts
    assert set(hosts.values()) == set(runs), f"the hosts saw different runs: {hosts}"


def test_each_host_finishes_when_ansible_is_done_with_it(batch_api, run_dir):
    job = batch_api.run("/deploy", {"targets": ["localhost", "web1"], "role": "any",
                                    "extra_vars": {"out_dir": str(run_dir), "fail_hosts": ["web1"],
                                                   "naps": {"localhost": 4}}}, timeout=120)
    failed, slow = job["return_data"]["web1"], job["return_data"]["localhost"]
    assert failed["status"] == OP_FAILED and "asked to fail" in failed["error"], failed
    assert failed["facts"]["ansible"]["failures"] == 1, failed
    assert slow["status"] == OP_CHANGED, slow
    assert slow["finishat"] - failed["finishat"] > 2, (failed, slow)


def test_cancel_kills_the_one_playbook_run(batch_api, run_dir, reap):
    jid = batch_api.submit("/deploy", {"targets": ["localhost", "web1"], "role": "any",
                                       "extra_vars": {"out_dir": str(run_dir),
                                                      "naps": {"localhost": 60, "web1": 60}}})
    pids = [read_pid(run_dir / f"pid-{host}", timeout=60) for host in ("localhost", "web1")]
    for pid in pids:
        reap(pid)
    assert batch_api.delete(f"/jobs/{jid}").status == 204
    for pid in pids:
        wait_process_gone(pid, timeout=10)


# ---------------------------------------------------- one at a time per host

def test_a_second_deploy_on_a_busy_host_is_409_unless_queued(batch_api, run_dir):
    slow = {"out_dir": str(run_dir), "naps": {"localhost": 5, "web1": 5}}
    first = batch_api.submit("/deploy", {"targets": ["localhost", "web1"], "role": "any", "extra_vars": slow})
    r = batch_api.post("/deploy", {"targets": ["web1"], "role": "any", "extra_vars": {"out_dir": str(run_dir)}})
    assert r.status == 409, r
    assert "operate conflict" in r.body["message"] and "web1" in r.body["message"], r.body
    assert "localhost" not in r.body["message"], r.body
    queued = batch_api.submit("/deploy", {"targets": ["web1"], "role": "any", "queue": True,
                                          "extra_vars": {"out_dir": str(run_dir)}})
    elsewhere = batch_api.submit("/deploy", {"targets": ["web2"], "role": "any",
                                             "extra_vars": {"out_dir": str(run_dir)}})

    done_elsewhere = batch_api.wait_job(elsewhere, timeout=60)
    done_first = batch_api.wait_job(first, timeout=60)
    done_queued = batch_api.wait_job(queued, timeout=60)
    for job in (done_first, done_queued, done_elsewhere):
        assert job["state"] == JOB_DONE, job
    assert "queue" not in done_queued["operate_args"], done_queued["operate_args"]
    assert done_queued["return_data"]["web1"]["startat"] >= done_first["return_data"]["web1"]["finishat"]
    assert done_elsewhere["finishat"] < done_first["finishat"], "web2 waited for the deploy on other hosts"


def test_a_second_task_run_is_409_unless_queued(batch_api):
    first = batch_api.submit("/tasks", {"name": "slow"})
    r = batch_api.post("/tasks", {"name": "slow"})
    assert r.status == 409, r
    assert "operate conflict" in r.body["message"] and "steward-server" in r.body["message"], r.body
    queued = batch_api.submit("/tasks", {"name": "slow", "queue": True})
    done_first = batch_api.wait_job(first, timeout=60)
    done_queued = batch_api.wait_job(queued, timeout=60)
    assert done_first["state"] == JOB_DONE and done_queued["state"] == JOB_DONE, (done_first, done_queued)
    assert (done_queued["return_data"]["steward-server"]["startat"]
            >= done_first["return_data"]["steward-server"]["finishat"])
    r = batch_api.post("/tasks", {"name": "slow", "queue": "soon"})
    assert r.status == 400 and "queue" in r.body["message"], r
