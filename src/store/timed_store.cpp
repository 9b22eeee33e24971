// The decorator behind timed_store(): forwards every call, timing the writes
// a caller awaits.
#include <chrono>

#include "store/store.hpp"
#include "store/store_metrics.hpp"

namespace steward::store {
namespace {

using boost::asio::awaitable;

class TimedStore final : public Store {
 public:
  TimedStore(std::unique_ptr<Store> inner, std::string kind, StoreMetrics& metrics)
      : inner_(std::move(inner)), kind_(std::move(kind)), metrics_(metrics) {}

  awaitable<Status> create_job(const Job& job) override { return timed(WriteClass::Job, inner_->create_job(job)); }
  awaitable<Result<std::vector<std::string>>> create_job_by_target(const Job& job) override {
    return timed(WriteClass::Job, inner_->create_job_by_target(job));
  }
  awaitable<Result<std::vector<TakenRun>>> take_inbox() override { return inner_->take_inbox(); }
  awaitable<News> wait_for_news(std::chrono::milliseconds at_most) override { return inner_->wait_for_news(at_most); }
  awaitable<Status> mark_started(const std::string& jid, const std::string& target, const TargetRun& run) override {
    return timed(WriteClass::Job, inner_->mark_started(jid, target, run));
  }
  void save_result(const std::string& jid, const std::string& target, const TargetRun& run) override {
    inner_->save_result(jid, target, run);
  }
  void append_output(const std::string& jid, const OutputChunk& chunk) override { inner_->append_output(jid, chunk); }
  awaitable<Status> record_process(const std::string& jid, const std::string& target,
                                   const RunProcess& process) override {
    return timed(WriteClass::Process, inner_->record_process(jid, target, process));
  }
  awaitable<Status> forget_processes(const std::string& jid, const std::string& target) override {
    return timed(WriteClass::Process, inner_->forget_processes(jid, target));
  }
  awaitable<Result<std::vector<std::pair<std::string, RunProcess>>>> load_processes(const std::string& jid) override {
    return inner_->load_processes(jid);
  }
  awaitable<Status> finish_job(const Job& job) override { return timed(WriteClass::Job, inner_->finish_job(job)); }

  awaitable<Result<std::optional<Job>>> load_job(const std::string& jid, OutputLimit output) override {
    return inner_->load_job(jid, output);
  }
  awaitable<Result<std::vector<Job>>> list_jobs(JobPage page, OutputLimit output) override {
    return inner_->list_jobs(std::move(page), output);
  }
  awaitable<Result<std::vector<std::string>>> list_job_ids(JobPage page) override {
    return inner_->list_job_ids(std::move(page));
  }
  awaitable<Result<std::vector<OutputChunk>>> load_output(const std::string& jid, std::uint64_t after_seq) override {
    return inner_->load_output(jid, after_seq);
  }
  awaitable<Result<std::optional<OutputPage>>> read_output(const std::string& jid, const std::string& target,
                                                           OutputStream stream, std::uint64_t offset,
                                                           std::size_t limit) override {
    return inner_->read_output(jid, target, stream, offset, limit);
  }
  awaitable<Result<bool>> delete_job(const std::string& jid) override {
    return timed(WriteClass::Job, inner_->delete_job(jid));
  }
  awaitable<Result<std::vector<Job>>> unfinished_jobs() override { return inner_->unfinished_jobs(); }
  awaitable<Result<std::vector<std::string>>> unended_jobs(double before) override {
    return inner_->unended_jobs(before);
  }

  awaitable<Result<Lease>> acquire_lease(const std::string& server, double now, double ttl) override {
    return timed(WriteClass::Lease, inner_->acquire_lease(server, now, ttl));
  }
  awaitable<Status> renew_lease(double now, double ttl) override {
    return timed(WriteClass::Lease, inner_->renew_lease(now, ttl));
  }
  awaitable<Status> release_lease() override { return timed(WriteClass::Lease, inner_->release_lease()); }
  awaitable<Result<std::vector<TakenRun>>> take_over(double now) override {
    return timed(WriteClass::Lease, inner_->take_over(now));
  }
  awaitable<Result<std::vector<std::string>>> live_servers(double now) override { return inner_->live_servers(now); }
  awaitable<Result<bool>> request_cancel(const std::string& jid, const std::string& reason) override {
    return timed(WriteClass::Cancel, inner_->request_cancel(jid, reason));
  }
  awaitable<Result<std::vector<CancelRequest>>> cancel_requests() override { return inner_->cancel_requests(); }
  awaitable<Result<std::size_t>> prune(double finished_before) override {
    return timed(WriteClass::Prune, inner_->prune(finished_before));
  }

  awaitable<Status> put_record(const std::string& kind, const std::string& id,
                               const boost::json::object& record) override {
    return timed(WriteClass::Record, inner_->put_record(kind, id, record));
  }
  awaitable<Result<std::optional<boost::json::object>>> get_record(const std::string& kind,
                                                                   const std::string& id) override {
    return inner_->get_record(kind, id);
  }
  awaitable<Result<std::vector<boost::json::object>>> list_records(const std::string& kind) override {
    return inner_->list_records(kind);
  }
  awaitable<Result<bool>> delete_record(const std::string& kind, const std::string& id) override {
    return timed(WriteClass::Record, inner_->delete_record(kind, id));
  }

  void append_condition_value(const std::string& condition, const ConditionValue& value) override {
    inner_->append_condition_value(condition, value);
  }
  awaitable<Result<std::vector<ConditionValue>>> load_condition_values(const std::string& condition,
                                                                       std::size_t limit) override {
    return inner_->load_condition_values(condition, limit);
  }
  awaitable<Result<std::size_t>> prune_condition_values(double before) override {
    return timed(WriteClass::Prune, inner_->prune_condition_values(before));
  }

  awaitable<Status> add_token(const StoredToken& token) override {
    return timed(WriteClass::Token, inner_->add_token(token));
  }
  awaitable<Result<std::vector<StoredToken>>> list_tokens() override { return inner_->list_tokens(); }
  awaitable<Result<bool>> delete_token(const std::string& name) override {
    return timed(WriteClass::Token, inner_->delete_token(name));
  }
  void note_token_used(const std::string& name, double at) override { inner_->note_token_used(name, at); }

  void append_audit(const AuditEntry& entry) override { inner_->append_audit(entry); }
  awaitable<Result<std::size_t>> prune_audit(double before, std::size_t at_most) override {
    return inner_->prune_audit(before, at_most);
  }
  awaitable<Result<std::vector<AuditEntry>>> list_audit(AuditFilter filter) override {
    return inner_->list_audit(std::move(filter));
  }

  awaitable<Status> flush() override { return timed(WriteClass::Flush, inner_->flush()); }

 private:
  // `write` is the inner store's (lazy) coroutine: the clock starts when the caller awaits.
  template <typename T>
  awaitable<T> timed(WriteClass write_class, awaitable<T> write) {
    const auto started = std::chrono::steady_clock::now();
    T outcome = co_await std::move(write);
    metrics_.observe(kind_, write_class,
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    co_return outcome;
  }

  std::unique_ptr<Store> inner_;
  std::string kind_;
  StoreMetrics& metrics_;
};

}  // namespace

std::unique_ptr<Store> timed_store(std::unique_ptr<Store> inner, std::string kind, StoreMetrics& metrics) {
  return std::make_unique<TimedStore>(std::move(inner), std::move(kind), metrics);
}

}  // namespace steward::store
