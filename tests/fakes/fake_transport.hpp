#pragma once
// A Transport whose behaviour is scripted per target name: an outcome (exit
// code, stdout chunks fed to the sink, stderr), an Error, or "hang until
// cancelled". Records every call. Uses Asio timers only, never sleeps.
// Loop-thread only, like the real transports.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "transport/transport.hpp"

namespace steward::testing {

struct FakeScript {
  enum class Kind { Outcome, Fail, Hang };
  Kind kind = Kind::Outcome;
  // Outcome
  int exit_code = 0;
  std::vector<std::string> stdout_chunks;  // fed to the sink one by one, then joined into the outcome
  std::string stderr_data;                 // fed to the sink as one chunk when not empty
  // Fail
  Error error;
  // Outcome and Fail: wait this long (on a timer) before answering; a cancel cuts it short.
  std::chrono::milliseconds delay{0};

  static FakeScript exits(int code, std::vector<std::string> out = {}, std::string err = {}) {
    FakeScript s;
    s.exit_code = code;
    s.stdout_chunks = std::move(out);
    s.stderr_data = std::move(err);
    return s;
  }
  static FakeScript fails(ErrorCode code, std::string message) {
    FakeScript s;
    s.kind = Kind::Fail;
    s.error = make_error(code, std::move(message));
    return s;
  }
  // Runs until the CancelToken fires (or the request's timeout passes), then
  // ends with outcome.cancelled (or timed_out).
  static FakeScript hangs() {
    FakeScript s;
    s.kind = Kind::Hang;
    return s;
  }
  FakeScript& after(std::chrono::milliseconds d) {
    delay = d;
    return *this;
  }
};

struct FakeCall {
  std::string target;
  transport::ExecRequest request;
};

class FakeTransport final : public transport::Transport {
 public:
  // Targets with no script of their own exit 0 with no output.
  void script(const std::string& target, FakeScript s) { scripts_[target] = std::move(s); }
  void set_default(FakeScript s) { default_ = std::move(s); }

  // File transfers are recorded and succeed with the request's source as the digest.
  boost::asio::awaitable<Result<transport::FileOutcome>> put_file(const Target& target, transport::FileRequest request,
                                                                  CancelToken) override {
    file_calls_.push_back(target.name + " put " + request.source + " " + request.destination);
    co_return transport::FileOutcome{0, request.source};
  }
  boost::asio::awaitable<Result<transport::FileOutcome>> get_file(const Target& target, transport::FileRequest request,
                                                                  CancelToken) override {
    file_calls_.push_back(target.name + " get " + request.source + " " + request.destination);
    co_return transport::FileOutcome{0, request.source};
  }
  const std::vector<std::string>& file_calls() const { return file_calls_; }

  boost::asio::awaitable<Result<transport::ExecOutcome>> run(const Target& target, transport::ExecRequest request,
                                                             transport::ChunkSink sink,
                                                             CancelToken cancel) override {
    const std::string name = target.name;  // the caller's Target may not outlive a suspension
    calls_.push_back(FakeCall{name, request});
    if (supervise_ && request.journal) {  // as the local and ssh transports do before the command runs
      RunProcess process{"", 4000 + static_cast<long>(calls_.size()), "77", "status/" + name};
      auto starting = request.journal->started(std::move(process));
      if (auto recorded = co_await std::move(starting); !recorded) co_return recorded.error();
    }
    auto it = scripts_.find(name);
    const FakeScript script = it == scripts_.end() ? default_ : it->second;
    ++running_;

    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
    CancelState::Registration registration;
    if (cancel) registration = cancel->on_cancel([&timer] { timer.cancel(); });
    auto is_cancelled = [&] { return cancel && cancel->cancelled(); };

    bool timed_out = false;
    if (script.kind == FakeScript::Kind::Hang || script.delay.count() > 0) {
      auto deadline = boost::asio::steady_timer::time_point::max();
      if (script.kind != FakeScript::Kind::Hang) deadline = std::chrono::steady_clock::now() + script.delay;
      else if (request.timeout.count() > 0) deadline = std::chrono::steady_clock::now() + request.timeout;
      timer.expires_at(deadline);
      // A cancel that came before the wait started cancels nothing: check the token first.
      while (!is_cancelled()) {
        auto [ec] = co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
        if (!ec) {
          timed_out = script.kind == FakeScript::Kind::Hang;
          break;
        }
      }
    }
    --running_;

    if (is_cancelled()) {
      cancelled_.push_back(name);
      cancel_reasons_.push_back(cancel->reason());
      transport::ExecOutcome outcome;
      outcome.cancelled = true;
      outcome.exit_code = -1;
      outcome.signal = 15;
      co_return outcome;
    }
    if (timed_out) {
      transport::ExecOutcome outcome;
      outcome.timed_out = true;
      outcome.exit_code = -1;
      outcome.signal = 15;
      co_return outcome;
    }
    if (script.kind == FakeScript::Kind::Fail) co_return script.error;

    transport::ExecOutcome outcome;
    outcome.exit_code = script.exit_code;
    for (const auto& chunk : script.stdout_chunks) {
      if (sink) sink(transport::Stream::Stdout, chunk);
      outcome.stdout_data += chunk;
    }
    if (!script.stderr_data.empty() && sink) sink(transport::Stream::Stderr, script.stderr_data);
    outcome.stderr_data = script.stderr_data;
    co_return outcome;
  }

  void shutdown() override { ++shutdowns_; }

  // Runs given a journal report a process to it first (pgid 4000 + call number, status "status/TARGET").
  void supervise(bool on) { supervise_ = on; }
  // What settle_orphan answers for a target (default: Unknown "fake: nothing known").
  void orphan(const std::string& target, transport::OrphanOutcome outcome) { orphans_[target] = std::move(outcome); }
  boost::asio::awaitable<transport::OrphanOutcome> settle_orphan(const Target& target, RunProcess process) override {
    settled_.push_back(target.name + " " + std::to_string(process.pgid) + " " + process.status_path);
    auto it = orphans_.find(target.name);
    co_return it == orphans_.end()
        ? transport::OrphanOutcome{transport::OrphanOutcome::Kind::Unknown, -1, 0, "fake: nothing known"}
        : it->second;
  }
  void forget_status(const Target& target, const std::string& status_path) override {
    forgotten_.push_back(target.name + " " + status_path);
  }
  // "TARGET PGID STATUS_PATH" per settle_orphan call; "TARGET STATUS_PATH" per forget_status call.
  const std::vector<std::string>& settled() const { return settled_; }
  const std::vector<std::string>& forgotten() const { return forgotten_; }

  const std::vector<FakeCall>& calls() const { return calls_; }
  std::vector<std::string> called_targets() const {
    std::vector<std::string> out;
    for (const auto& call : calls_) out.push_back(call.target);
    return out;
  }
  std::size_t calls_to(const std::string& target) const {
    std::size_t n = 0;
    for (const auto& call : calls_) n += call.target == target ? 1 : 0;
    return n;
  }
  // Targets whose run ended because the CancelToken fired, in order, and why.
  const std::vector<std::string>& cancelled() const { return cancelled_; }
  const std::vector<std::string>& cancel_reasons() const { return cancel_reasons_; }
  // Runs in progress now.
  int running() const { return running_; }
  int shutdowns() const { return shutdowns_; }

 private:
  std::map<std::string, FakeScript> scripts_;
  FakeScript default_;
  std::vector<FakeCall> calls_;
  std::vector<std::string> file_calls_;
  std::vector<std::string> cancelled_;
  std::vector<std::string> cancel_reasons_;
  int running_ = 0;
  int shutdowns_ = 0;
  bool supervise_ = false;
  std::map<std::string, transport::OrphanOutcome> orphans_;
  std::vector<std::string> settled_;
  std::vector<std::string> forgotten_;

};

}  // namespace steward::testing
