// The Ansible stdout callback plugin /deploy reads per-host results from.
#include <filesystem>
#include <fstream>

#include "ops/deploy.hpp"

namespace steward::ops {
namespace {

namespace fs = std::filesystem;

// deploy.cpp (HostLineReader, host_result) reads these lines: change both together.
constexpr const char* kCallback = R"PY(# Written by steward: one JSON line per host as soon as the host is done,
# {"host": H, "stats": {ok, changed, failures, ...}, "error": "task: message"},
# and {"end": true} last.
#
# A host is done
# - at once when it fails (a failure neither ignored nor rescued) outside every
#   block with `always:`, or becomes unreachable (not ignored): Ansible runs
#   nothing more on it in this playbook;
# - otherwise at the end of the batch (every host, or `serial`'s share) of the
#   playbook's last play in which it ran;
# - the rest at the end of the playbook.
# Its counters are Ansible's own, the ones its recap prints.
from __future__ import annotations

import json

from ansible.executor.stats import AggregateStats
from ansible.playbook.block import Block
from ansible.plugins.callback import CallbackBase

# Ansible hands the stats to callbacks only at the playbook's end. To read a
# host's counters earlier, remember the stats object, and each host's latest
# counter bump (it tells a failure from a rescued one), as Ansible counts.
_counted = {"stats": None, "last": {}}


def _remembering(increment):
    def wrapper(self, what, host):
        _counted["stats"] = self
        _counted["last"][host] = what
        return increment(self, what, host)

    wrapper.steward = True
    return wrapper


if not getattr(AggregateStats.increment, "steward", False):
    AggregateStats.increment = _remembering(AggregateStats.increment)


def _inside_always(task):
    node = getattr(task, "_parent", None)
    while node is not None:
        if isinstance(node, Block) and node.always:
            return True
        node = getattr(node, "_parent", None)
    return False


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "steward_json"

    def __init__(self):
        super().__init__()
        self._errors = {}
        self._reported = set()
        self._batch = set()
        self._play = None
        self._last_play = None

    def _report(self, host, stats):
        if host in self._reported or stats is None or host not in stats.processed:
            return
        self._reported.add(host)
        line = {"host": host, "stats": stats.summarize(host)}
        if host in self._errors:
            line["error"] = self._errors[host]
        self._display.display(json.dumps(line))

    def _end_batch(self):
        if self._play is not None and self._play == self._last_play:
            for host in sorted(self._batch):
                self._report(host, _counted["stats"])
        self._batch = set()

    def _remember_error(self, result):
        message = result._result.get("msg") or result._result.get("stderr") or "failed"
        self._errors[result._host.get_name()] = f"{result._task.get_name()}: {message}"

    def v2_playbook_on_start(self, playbook):
        plays = playbook.get_plays()
        self._last_play = plays[-1]._uuid if plays else None

    def v2_playbook_on_play_start(self, play):
        self._end_batch()
        self._play = play._uuid

    def v2_runner_on_start(self, host, task):
        self._batch.add(host.get_name())

    def v2_runner_on_failed(self, result, ignore_errors=False):
        host = result._host.get_name()
        self._batch.add(host)
        if ignore_errors or _counted["last"].get(host) != "failures":
            return
        self._remember_error(result)
        if not _inside_always(result._task):
            self._report(host, _counted["stats"])

    def v2_runner_on_unreachable(self, result):
        host = result._host.get_name()
        self._batch.add(host)
        if _counted["last"].get(host) == "dark":
            self._remember_error(result)
            self._report(host, _counted["stats"])

    def v2_playbook_on_stats(self, stats):
        self._end_batch()
        for host in sorted(stats.processed):
            self._report(host, stats)
        self._display.display(json.dumps({"end": True}))
)PY";

}  // namespace

Status write_ansible_callback(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return make_error(ErrorCode::Internal, "cannot create " + dir + ": " + ec.message());
  std::ofstream out(fs::path(dir) / "steward_json.py");
  out << kCallback;
  if (!out) return make_error(ErrorCode::Internal, "cannot write the Ansible callback into " + dir);
  return {};
}

}  // namespace steward::ops
