"""GET /metrics against a real `steward serve` with gRPC: the scheduler,
transport, condition, gRPC and store families grow by exactly what the test
did, histograms are consistent, and the number of series stays the same
however many targets and jobs there are (no per-job or per-target labels).

The REST and job families are checked in test_rest_api.py.
"""

import grpc
import pytest

from conftest import JOB_DONE, Server, free_port, metric_families, metrics, wait_for
from deputy_packages import StreamReader
from executor_client import Executor

Code = grpc.StatusCode
MANY = [f"many-{i}" for i in range(40)]
CAPABILITIES = "/Capability/GetCapabilities"
STREAM = "/ConditionService/stream"


@pytest.fixture(scope="module")
def server(tmp_root):
    inventory = "m-local ansible_connection=local\n"
    inventory += "m-odd ansible_connection=local\n"
    # Nothing listens there: every attempt is refused, Unreachable.
    inventory += f"m-down ansible_connection=ssh ansible_host=127.0.0.1 ansible_port={free_port()} ansible_user=nobody\n"
    inventory += "[many]\n" + "".join(f"{host} ansible_connection=local\n" for host in MANY)
    srv = Server(tmp_root / "data", inventory=inventory, grpc=True).start()
    yield srv
    srv.stop()


def delta(before, after, name):
    return after.get(name, 0) - before.get(name, 0)


def grpc_calls(method, code):
    return f'steward_grpc_requests_total{{code="{code}",method="{method}"}}'


def condition_counters(api, identifier):
    r = api.get("/conditions")
    assert r.status == 200, r
    found = [c for c in r.body if c["id"] == identifier]
    assert len(found) == 1, r.body
    return found[0].get("counters") or {}


def assert_histograms_consistent(families):
    """Every histogram series: cumulative buckets, +Inf bucket == _count, _sum >= 0."""
    histograms = [f for f in families if f.type == "histogram"]
    assert {f.name for f in histograms} >= {"steward_queue_wait_seconds", "steward_grpc_request_duration_seconds",
                                            "steward_store_write_duration_seconds"}, [f.name for f in histograms]
    for family in histograms:
        series = {}
        for sample in family.samples:
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
            entry = series.setdefault(labels, {"buckets": []})
            if sample.name.endswith("_bucket"):
                entry["buckets"].append((float(sample.labels["le"]), sample.value))
            else:
                entry[sample.name[len(family.name):]] = sample.value
        for labels, entry in series.items():
            buckets = sorted(entry["buckets"])
            assert buckets and buckets[-1][0] == float("inf"), (family.name, labels)
            counts = [count for _, count in buckets]
            assert counts == sorted(counts), (family.name, labels, buckets)
            assert buckets[-1][1] == entry["_count"], (family.name, labels, entry)
            assert entry["_sum"] >= 0, (family.name, labels, entry)


def run_condition(api, executor, vm, command, values_wanted=0, ticks_wanted=0):
    """Creates a condition, streams it until it gave `values_wanted` values
    and ran `ticks_wanted` times, then leaves; returns its id once its runner stopped."""
    cid = executor.create_condition(vm, command=command, interval=1)
    reader = StreamReader(executor, cid)
    for _ in range(values_wanted):
        reader.next(timeout=15)
    wait_for(lambda: condition_counters(api, cid).get("runs", 0) >= ticks_wanted, timeout=20,
             what=f"{ticks_wanted} runs of {cid}")
    reader.cancel()
    reader.wait_end(10)
    return cid


def test_new_families_count_exactly_what_ran(api, executor):
    before = metrics(api)

    # gRPC: three answered calls, one refused, one of a method steward does not have.
    for _ in range(3):
        assert executor.capabilities()
    anonymous = Executor(api.server.grpc_addr, token="wrong")
    with pytest.raises(grpc.RpcError) as refused:
        anonymous.capabilities()
    assert refused.value.code() == Code.UNAUTHENTICATED
    unknown = executor.channel.unary_unary("/No.Such/Method-for-a-label")
    with pytest.raises(grpc.RpcError) as unimplemented:
        unknown(b"", metadata=executor.metadata, timeout=10)
    assert unimplemented.value.code() == Code.UNIMPLEMENTED
    anonymous.close()

    # Conditions: one giving values, one printing no number, one on a target that is down.
    good = run_condition(api, executor, "m-local", "echo 0.5", values_wanted=2, ticks_wanted=2)
    odd = run_condition(api, executor, "m-odd", "echo not-a-number", ticks_wanted=2)
    down = run_condition(api, executor, "m-down", "echo 1", ticks_wanted=2)
    wait_for(lambda: metrics(api)["steward_conditions_running"] == before["steward_conditions_running"],
             timeout=15, what="the condition runners to stop")

    # Jobs: one on a target that is down, one on two local targets.
    api.run("/execute", {"targets": ["m-down"], "cmd": "true"})
    assert api.run("/execute", {"targets": ["m-local", "m-odd"], "cmd": "true"})["state"] == JOB_DONE

    wait_for(lambda: delta(before, metrics(api), f'steward_grpc_request_duration_seconds_count{{method="{STREAM}"}}')
             == 3, timeout=10, what="the three condition streams to be counted")
    after = metrics(api)

    # gRPC, by method and code; an unknown method never becomes a label.
    assert delta(before, after, grpc_calls(CAPABILITIES, "OK")) == 3, after
    assert delta(before, after, grpc_calls(CAPABILITIES, "UNAUTHENTICATED")) == 1, after
    assert delta(before, after, grpc_calls("unknown", "UNIMPLEMENTED")) == 1, after
    assert delta(before, after, f'steward_grpc_request_duration_seconds_count{{method="{CAPABILITIES}"}}') == 4
    assert delta(before, after, grpc_calls("/ConditionService/create", "OK")) == 3, after
    assert not [name for name in after if "No.Such" in name], "a client's method name became a label"

    # Conditions: the metrics are the sums of the per-condition counters REST shows.
    counters = [condition_counters(api, cid) for cid in (good, odd, down)]
    total = {key: sum(c[key] for c in counters) for key in counters[0] if key != "last"}
    assert total["values"] >= 2 and total["unparsable"] >= 2 and total["skipped_unreachable"] >= 2, counters
    assert delta(before, after, "steward_condition_ticks_total") == total["runs"], (total, after)
    assert delta(before, after, "steward_condition_values_total") == total["values"], (total, after)
    assert delta(before, after, 'steward_condition_skips_total{reason="unreachable"}') == \
        total["skipped_unreachable"], (total, after)
    assert delta(before, after, 'steward_condition_skips_total{reason="busy"}') == total["skipped_busy"], total
    assert delta(before, after, 'steward_condition_failures_total{reason="unparsable"}') == total["unparsable"]
    assert delta(before, after, 'steward_condition_failures_total{reason="failed"}') == total["failed"], total

    # Schedulers: each condition run and each job target waited once in its own queue.
    # (a run already queued when its runner stops still leaves the queue, without running)
    condition_waits = delta(before, after, 'steward_queue_wait_seconds_count{scheduler="conditions"}')
    assert total["runs"] <= condition_waits <= total["runs"] + 3, (total, after)
    assert delta(before, after, 'steward_queue_wait_seconds_count{scheduler="jobs"}') == 3, after
    assert after['steward_queue_depth{scheduler="jobs"}'] == 0, after
    assert after['steward_queue_depth{scheduler="conditions"}'] == 0, after

    # Transports: every tick and job target on m-down was refused; nothing is left running.
    assert delta(before, after, 'steward_transport_errors_total{kind="unreachable",transport="ssh"}') == \
        total["skipped_unreachable"] + 1, after
    assert delta(before, after, 'steward_transport_operations_total{transport="ssh"}') == \
        total["skipped_unreachable"] + 1, after
    local_runs = total["runs"] - total["skipped_unreachable"] + 2
    assert delta(before, after, 'steward_transport_operations_total{transport="local"}') == local_runs, after
    for transport in ("local", "ssh", "qga", "agent"):
        assert after[f'steward_transport_operations_in_flight{{transport="{transport}"}}'] == 0, after
        assert f'steward_transport_connections_open{{transport="{transport}"}}' in after, after
        assert f'steward_transport_pool_size{{transport="{transport}"}}' in after, after
    assert not [name for name in after if 'transport="local"' in name and "errors" in name], after

    # The store: the jobs' writes (create, start, finish) were timed.
    job_writes = 'steward_store_write_duration_seconds_count{operation="job",store="sqlite"}'
    assert delta(before, after, job_writes) >= 2 * 2, after

    assert_histograms_consistent(metric_families(api))


def test_series_stay_bounded_with_many_targets_and_jobs(api, executor):
    # Warm up: every label value this test uses exists once.
    assert api.run("/execute", {"targets": ["many-0"], "cmd": "true"})["state"] == JOB_DONE
    assert executor.capabilities()
    metrics(api)
    before = metrics(api)

    jid = api.submit("/execute", {"targets": MANY, "cmd": "echo $HOSTNAME"})
    later = [api.submit("/execute", {"targets": [host], "cmd": "true"}) for host in MANY[:10]]
    for job in [jid, *later]:
        assert api.wait_job(job, timeout=60)["state"] == JOB_DONE
    for _ in range(5):
        assert executor.capabilities()
    after = metrics(api)

    assert len(after) == len(before), sorted(set(after) ^ set(before))
    assert delta({}, after, 'steward_queue_wait_seconds_count{scheduler="jobs"}') >= len(MANY) + 10
    assert not [name for name in after if "many-" in name or jid in name], "a target or a job became a label"
    assert_histograms_consistent(metric_families(api))
