#include "jobs/run_journal.hpp"

#include <string.h>

#include "store/store.hpp"

namespace steward::jobs {

using boost::asio::awaitable;

namespace {

constexpr std::string_view kWhileDown = " (finished while the server was down)";

std::string describe_end(const transport::OrphanOutcome& outcome) {
  if (outcome.signal != 0) {
    const char* name = sigabbrev_np(outcome.signal);
    return std::string("killed by signal ") + (name ? name : std::to_string(outcome.signal));
  }
  return "exit status " + std::to_string(outcome.exit_code);
}

OpResult unknown(std::string why, bool unreachable) {
  OpResult result = failed_result("outcome unknown: server restarted; " + why);
  if (unreachable) result.state = OpState::Unreachable;
  return result;
}

}  // namespace

RunJournal::RunJournal(store::Store& store, std::string jid, const Target& target)
    : store_(store), jid_(std::move(jid)), target_(target.name), connection_(target.connection) {}

awaitable<Status> RunJournal::started(RunProcess process) {
  process.transport = connection_;
  status_paths_.push_back(process.status_path);
  auto recorded = co_await store_.record_process(jid_, target_, process);
  co_return recorded;
}

awaitable<Result<transport::ExecOutcome>> JournaledTransport::run(const Target& target, transport::ExecRequest request,
                                                                  transport::ChunkSink sink, CancelToken cancel) {
  request.journal = journal_;
  auto outcome = co_await inner_.run(target, std::move(request), std::move(sink), std::move(cancel));
  co_return outcome;
}

awaitable<Result<transport::FileOutcome>> JournaledTransport::put_file(const Target& target,
                                                                       transport::FileRequest request,
                                                                       CancelToken cancel) {
  auto outcome = co_await inner_.put_file(target, std::move(request), std::move(cancel));
  co_return outcome;
}

awaitable<Result<transport::FileOutcome>> JournaledTransport::get_file(const Target& target,
                                                                       transport::FileRequest request,
                                                                       CancelToken cancel) {
  auto outcome = co_await inner_.get_file(target, std::move(request), std::move(cancel));
  co_return outcome;
}

awaitable<Result<transport::ExecOutcome>> JournaledTransport::ping(const Target& target, std::chrono::milliseconds timeout,
                                                                   CancelToken cancel) {
  auto outcome = co_await inner_.ping(target, timeout, std::move(cancel));
  co_return outcome;
}

OpResult orphan_result(const std::vector<RunProcess>& processes,
                       const std::vector<transport::OrphanOutcome>& outcomes,
                       std::optional<OpState> clean_exit_state) {
  using Kind = transport::OrphanOutcome::Kind;
  for (std::size_t i = 0; i < outcomes.size() && i < processes.size(); ++i) {
    if (outcomes[i].kind == Kind::Stopped) {
      std::string what = outcomes[i].reason.empty()
                             ? "process group " + std::to_string(processes[i].pgid) + " stopped"
                             : outcomes[i].reason;
      return failed_result("interrupted: server restarted; " + what);
    }
  }
  if (outcomes.empty()) return unrecorded_orphan_result();
  const auto& last = outcomes.back();
  if (last.kind == Kind::Unknown) return unknown(last.reason, last.unreachable);
  if (!clean_exit_state) {
    return unknown("its last command ended with " + describe_end(last) +
                       " while the server was down, and the operation's later steps did not run",
                   false);
  }
  OpResult result;
  if (last.signal != 0) result.signal = last.signal;
  else result.rtc = last.exit_code;
  if (last.signal == 0 && last.exit_code == 0) {
    result.state = *clean_exit_state;
    result.error = std::string("finished while the server was down");
  } else {
    result.state = OpState::Failed;
    result.error = describe_end(last) + std::string(kWhileDown);
  }
  return result;
}

OpResult unrecorded_orphan_result() {
  return unknown("it was running, and no command of it was recorded", false);
}

}  // namespace steward::jobs
