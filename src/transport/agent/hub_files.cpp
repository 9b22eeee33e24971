// The agent hub's file transfers: chunks under per-transfer credit, so a
// copy of any size holds at most kWindow chunks in flight on either end.
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/ids.hpp"
#include "transport/agent/hub.hpp"
#include "transport/agent/hub_ops.hpp"
#include "transport/files.hpp"

namespace steward::transport::agent {
namespace asio = boost::asio;

namespace {

constexpr std::size_t kChunk = 256 * 1024;
constexpr std::uint32_t kWindow = 8;

// The next message for `op`, or why there is none (link dropped, cancelled).
asio::awaitable<Result<v1::AgentMessage>> next_message(FileOp& op) {
  while (op.inbox.empty() && !op.broken) {
    op.wake.expires_at(asio::steady_timer::time_point::max());
    boost::system::error_code ignored;
    co_await op.wake.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
  if (op.broken) co_return *op.broken;
  auto message = std::move(op.inbox.front());
  op.inbox.pop_front();
  co_return message;
}

// Disk reads and writes run on the hub's disk pool, never on the loop.
template <typename Work>
asio::awaitable<std::invoke_result_t<Work>> off_loop(asio::thread_pool& pool, Work work) {
  auto loop = co_await asio::this_coro::executor;
  co_await asio::post(pool, asio::use_awaitable);
  auto result = work();
  co_await asio::post(loop, asio::use_awaitable);
  co_return result;
}

Error agent_error(const std::string& agent, const v1::FileDone& done) {
  int code = done.error_code();
  auto mapped = code >= 0 && code <= static_cast<int>(ErrorCode::Internal) ? static_cast<ErrorCode>(code)
                                                                            : ErrorCode::Internal;
  return make_error(mapped, "agent " + agent + ": " + done.error());
}

}  // namespace

// Waits (as run() does) up to --agent-wait for the agent; then marks the
// transfer started, so a dropped link ends it.
asio::awaitable<Status> AgentHub::wait_for_link(std::shared_ptr<FileOp> op) {
  const std::string agent_id = op->agent;
  auto alive = alive_;
  while (!live_link(agent_id)) {
    if (op->broken) co_return *op->broken;
    auto deadline = away_deadline(agent_id);
    if (std::chrono::steady_clock::now() >= deadline) co_return make_error(ErrorCode::Unreachable, away_message(agent_id));
    op->wake.expires_at(deadline);
    boost::system::error_code ignored;
    co_await op->wake.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    if (!*alive) co_return make_error(ErrorCode::Unavailable, "the server is shutting down");
  }
  op->started = true;
  co_return Status{};
}

// A transfer the hub routes messages to; cancelling it ends its wait and
// tells the agent.
std::shared_ptr<FileOp> AgentHub::begin_file_op(const char* kind, const std::string& agent_id,
                                                const CancelToken& cancel, CancelState::Registration& on_cancel) {
  auto op = std::make_shared<FileOp>(loop_, std::string(kind) + "-" + random_hex(12), agent_id);
  files_[op->id] = op;
  if (cancel) on_cancel = cancel->on_cancel([this, op] {
    op->broken = make_error(ErrorCode::Cancelled, "cancelled");
    op->wake.cancel();
    v1::ServerMessage message;
    message.mutable_cancel()->set_op_id(op->id);
    send(op->agent, message);
  });
  return op;
}

asio::awaitable<Result<FileOutcome>> AgentHub::put_file(std::string agent_id, FileRequest request, CancelToken cancel) {
  if (auto owner = validate_owner(request.owner); !owner) co_return owner.error();
  auto source = FileSource::open(request.source);
  if (!source) co_return source.error();
  CancelState::Registration on_cancel;
  auto op = begin_file_op("put", agent_id, cancel, on_cancel);
  auto outcome = [&]() -> asio::awaitable<Result<FileOutcome>> {
    auto linked = co_await wait_for_link(op);
    if (!linked) co_return linked.error();
    v1::ServerMessage put;
    put.mutable_file_put()->set_op_id(op->id);
    put.mutable_file_put()->set_path(request.destination);
    put.mutable_file_put()->set_mode(request.mode.value_or(kDefaultFileMode));
    put.mutable_file_put()->set_owner(request.owner);
    send(agent_id, put);
    std::uint32_t credit = 0;
    bool sent_last = false;
    for (;;) {
      while (credit > 0 && !sent_last) {
        auto offset = (*source)->bytes();
        auto reading = off_loop(disk_, [&source] { return (*source)->read(kChunk); });
        auto chunk = co_await std::move(reading);
        if (!chunk) co_return chunk.error();
        v1::ServerMessage message;
        auto* data = message.mutable_file_data();
        data->set_op_id(op->id);
        data->set_offset(offset);
        sent_last = chunk->empty();
        data->set_last(sent_last);
        if (sent_last) data->set_sha256((*source)->sha256());
        else data->set_data(std::move(*chunk));
        --credit;
        send(agent_id, message);
      }
      auto next = co_await next_message(*op);
      if (!next) co_return next.error();
      if (next->has_credit()) {
        credit += next->credit().chunks();
      } else if (next->has_file_done()) {
        const auto& done = next->file_done();
        if (!done.error().empty()) co_return agent_error(agent_id, done);
        co_return FileOutcome{done.bytes(), done.sha256()};
      }
    }
  };
  auto copying = outcome();
  auto result = co_await std::move(copying);
  files_.erase(op->id);
  co_return result;
}

asio::awaitable<Result<FileOutcome>> AgentHub::get_file(std::string agent_id, FileRequest request, CancelToken cancel) {
  auto sink = FileSink::create(request.destination);
  if (!sink) co_return sink.error();
  CancelState::Registration on_cancel;
  auto op = begin_file_op("get", agent_id, cancel, on_cancel);
  auto outcome = [&]() -> asio::awaitable<Result<FileOutcome>> {
    auto linked = co_await wait_for_link(op);
    if (!linked) co_return linked.error();
    v1::ServerMessage get;
    get.mutable_file_get()->set_op_id(op->id);
    get.mutable_file_get()->set_path(request.source);
    get.mutable_file_get()->set_window(kWindow);
    send(agent_id, get);
    for (;;) {
      auto next = co_await next_message(*op);
      if (!next) co_return next.error();
      if (next->has_file_done()) co_return agent_error(agent_id, next->file_done());
      if (!next->has_file_data()) continue;
      const auto& data = next->file_data();
      if (data.offset() != (*sink)->bytes())
        co_return make_error(ErrorCode::Internal, "agent " + agent_id + " sent file data out of order");
      auto writing = off_loop(disk_, [&sink, &data] { return (*sink)->write(data.data()); });
      auto written = co_await std::move(writing);
      if (!written) co_return written.error();
      if (!data.last()) {
        v1::ServerMessage credit;
        credit.mutable_credit()->set_op_id(op->id);
        credit.mutable_credit()->set_chunks(1);
        send(agent_id, credit);
        continue;
      }
      std::string digest = (*sink)->sha256();
      if (digest != data.sha256())
        co_return make_error(ErrorCode::Internal, "SHA-256 mismatch fetching " + request.source + " from agent " +
                                                      agent_id + ": sent " + data.sha256() + ", received " + digest);
      auto mode = request.mode.value_or(data.mode() & 07777);
      auto committing = off_loop(disk_, [&sink, mode] { return (*sink)->commit(mode, ""); });
      auto committed = co_await std::move(committing);
      if (!committed) co_return committed.error();
      co_return FileOutcome{(*sink)->bytes(), digest};
    }
  };
  auto copying = outcome();
  auto result = co_await std::move(copying);
  files_.erase(op->id);
  co_return result;
}

}  // namespace steward::transport::agent
