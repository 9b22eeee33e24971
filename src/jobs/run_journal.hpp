#pragma once
// Supervision of the commands a target run starts (README "After a crash"):
// each is recorded in the store before it runs, and a restart settles the
// ones a crash left behind.
#include <boost/asio/awaitable.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/model.hpp"
#include "transport/transport.hpp"

namespace steward::store { class Store; }

namespace steward::jobs {

// The commands of one target run, recorded as they start.
class RunJournal final : public transport::CommandJournal {
 public:
  RunJournal(store::Store& store, std::string jid, const Target& target);

  boost::asio::awaitable<Status> started(RunProcess process) override;

  // Status files of the commands recorded so far.
  const std::vector<std::string>& status_paths() const { return status_paths_; }

 private:
  store::Store& store_;
  std::string jid_;
  std::string target_;
  std::string connection_;
  std::vector<std::string> status_paths_;
};

// A transport that runs every command of a target run under its journal.
class JournaledTransport final : public transport::Transport {
 public:
  JournaledTransport(transport::Transport& inner, std::shared_ptr<RunJournal> journal)
      : inner_(inner), journal_(std::move(journal)) {}

  boost::asio::awaitable<Result<transport::ExecOutcome>> run(const Target& target, transport::ExecRequest request,
                                                             transport::ChunkSink sink, CancelToken cancel) override;
  boost::asio::awaitable<Result<transport::FileOutcome>> put_file(const Target& target,
                                                                  transport::FileRequest request,
                                                                  CancelToken cancel) override;
  boost::asio::awaitable<Result<transport::FileOutcome>> get_file(const Target& target,
                                                                  transport::FileRequest request,
                                                                  CancelToken cancel) override;
  // Not journaled: a ping leaves nothing to settle after a restart (its run
  // is then "outcome unknown", as one whose command was not recorded yet).
  boost::asio::awaitable<Result<transport::ExecOutcome>> ping(const Target& target, std::chrono::milliseconds timeout,
                                                              CancelToken cancel) override;

 private:
  transport::Transport& inner_;
  std::shared_ptr<RunJournal> journal_;
};

// A target's result after a restart, from what became of the commands it had
// started (in the order they started; `outcomes` matches `processes`):
// - a process group still running was stopped: Failed, "interrupted: server
//   restarted; process group N stopped" (or the outcome's reason, for an
//   agent's operation);
// - its last command finished while the server was down: that exit status,
//   as the operation reports it, when `clean_exit_state` says the command's
//   end is the operation's end; otherwise its outcome is unknown;
// - else "outcome unknown: ..." (Unreachable when the target could not be
//   reached to find out, else Failed).
OpResult orphan_result(const std::vector<RunProcess>& processes,
                       const std::vector<transport::OrphanOutcome>& outcomes,
                       std::optional<OpState> clean_exit_state);

// The result of a target that was running at a crash with no command recorded.
OpResult unrecorded_orphan_result();

}  // namespace steward::jobs
