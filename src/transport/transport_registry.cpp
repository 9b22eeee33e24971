#include "transport/transport.hpp"

namespace steward::transport {
namespace {

// Forwards every call to the transport it wraps and counts the calls that
// reach a target, so /metrics sees every transport the same way.
class CountedTransport final : public Transport {
 public:
  CountedTransport(std::shared_ptr<Transport> inner, std::shared_ptr<TransportCounts> counts)
      : inner_(std::move(inner)), counts_(std::move(counts)) {}

  boost::asio::awaitable<Result<FileOutcome>> put_file(const Target& target, FileRequest request,
                                                       CancelToken cancel) override {
    return counted(inner_->put_file(target, std::move(request), std::move(cancel)));
  }

  boost::asio::awaitable<Result<FileOutcome>> get_file(const Target& target, FileRequest request,
                                                       CancelToken cancel) override {
    return counted(inner_->get_file(target, std::move(request), std::move(cancel)));
  }

  boost::asio::awaitable<Result<ExecOutcome>> run(const Target& target, ExecRequest request, ChunkSink sink,
                                                  CancelToken cancel) override {
    return counted(inner_->run(target, std::move(request), std::move(sink), std::move(cancel)));
  }

  boost::asio::awaitable<Result<ExecOutcome>> ping(const Target& target, std::chrono::milliseconds timeout,
                                                   CancelToken cancel) override {
    return counted(inner_->ping(target, timeout, std::move(cancel)));
  }

  boost::asio::awaitable<OrphanOutcome> settle_orphan(const Target& target, RunProcess process) override {
    return inner_->settle_orphan(target, std::move(process));
  }
  void forget_status(const Target& target, const std::string& status_path) override {
    inner_->forget_status(target, status_path);
  }
  void shutdown() override { inner_->shutdown(); }
  ConnectionStats connection_stats() const override { return inner_->connection_stats(); }

 private:
  // In flight from construction to destruction (also when the coroutine is
  // destroyed suspended); counted as an operation once ended() tells how it went.
  class InFlight {
   public:
    explicit InFlight(TransportCounts& counts) : counts_(counts) { ++counts_.in_flight; }
    ~InFlight() { --counts_.in_flight; }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;
    template <typename T>
    void ended(const Result<T>& outcome) {
      ++counts_.operations;
      if (!outcome) ++counts_.errors[outcome.error().code];
    }

   private:
    TransportCounts& counts_;
  };

  // The inner call starts only when awaited here (awaitables are lazy), so it
  // is in flight exactly while it runs.
  template <typename T>
  boost::asio::awaitable<Result<T>> counted(boost::asio::awaitable<Result<T>> call) {
    InFlight counting(*counts_);
    auto outcome = co_await std::move(call);
    counting.ended(outcome);
    co_return outcome;
  }

  std::shared_ptr<Transport> inner_;
  std::shared_ptr<TransportCounts> counts_;
};

}  // namespace

Status TransportRegistry::add(const std::string& name, std::shared_ptr<Transport> transport) {
  if (transports_.contains(name))
    return make_error(ErrorCode::Conflict, "connection type '" + name + "' is registered twice");
  auto counts = std::make_shared<TransportCounts>();
  transports_.emplace(name, Entry{std::make_shared<CountedTransport>(std::move(transport), counts), counts});
  return {};
}

std::vector<TransportMetrics> TransportRegistry::metrics() const {
  std::vector<TransportMetrics> all;
  all.reserve(transports_.size());
  for (const auto& [name, entry] : transports_)
    all.push_back({name, entry.counted->connection_stats(), *entry.counts});
  return all;
}

Result<std::shared_ptr<Transport>> TransportRegistry::get(const std::string& name) const {
  auto it = transports_.find(name);
  if (it != transports_.end()) return it->second.counted;
  std::string known;
  for (const auto& [known_name, _] : transports_) known += (known.empty() ? "" : ", ") + known_name;
  return make_error(ErrorCode::NotFound,
                    "unknown connection type '" + name + "' (this server has: " + known + ")");
}

boost::asio::awaitable<Result<ExecOutcome>> Transport::ping(const Target& target, std::chrono::milliseconds timeout,
                                                             CancelToken cancel) {
  ExecRequest request;
  request.command = "true";
  request.timeout = timeout;
  auto running = run(target, std::move(request), {}, std::move(cancel));
  auto outcome = co_await std::move(running);
  co_return outcome;
}

boost::asio::awaitable<OrphanOutcome> Transport::settle_orphan(const Target& target, RunProcess) {
  co_return OrphanOutcome{OrphanOutcome::Kind::Unknown, -1, 0,
                          "the '" + target.connection + "' transport cannot look for a command after a restart"};
}

void TransportRegistry::shutdown_all() {
  for (auto& [name, entry] : transports_) entry.counted->shutdown();
}

}  // namespace steward::transport
