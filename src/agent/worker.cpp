#include "agent/worker.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "exec/process.hpp"
#include "transport/files.hpp"

namespace steward::agent {
namespace asio = boost::asio;

struct FileTransfer {
  std::unique_ptr<transport::FileSink> sink;      // put
  std::unique_ptr<transport::FileSource> source;  // get
  std::uint32_t mode = 0;
  std::string owner;
  std::uint32_t credit = 0;
};

namespace {

v1::Exit error_exit(const std::string& id, ErrorCode code, const std::string& message) {
  v1::Exit exit;
  exit.set_op_id(id);
  exit.set_exit_code(-1);
  exit.set_error(message);
  exit.set_error_code(static_cast<int>(code));
  return exit;
}

exec::ProcessSpec spec_of(const v1::Run& run) {
  exec::ProcessSpec spec;
  if (run.argv_size() > 0) spec.argv.assign(run.argv().begin(), run.argv().end());
  else spec = exec::shell_spec(run.command());
  spec.env.insert(run.env().begin(), run.env().end());
  spec.cwd = run.cwd();
  spec.stdin_data = run.stdin();
  spec.timeout = std::chrono::milliseconds(run.timeout_ms());
  if (run.output_cap() > 0) spec.output_cap = run.output_cap();
  spec.keep_tail = run.keep_tail();
  return spec;
}

v1::Exit exit_of(const std::string& id, const Result<exec::ProcessOutcome>& ran) {
  if (!ran) return error_exit(id, ran.error().code, ran.error().message);
  v1::Exit exit;
  exit.set_op_id(id);
  exit.set_exit_code(ran->exit_code);
  exit.set_signal(ran->signal);
  exit.set_timed_out(ran->timed_out);
  exit.set_cancelled(ran->cancelled);
  exit.set_stdout_truncated(ran->stdout_truncated);
  exit.set_stderr_truncated(ran->stderr_truncated);
  exit.set_stdout(ran->stdout_data);
  exit.set_stderr(ran->stderr_data);
  return exit;
}

template <typename Body>
v1::AgentMessage message_with(Body* (v1::AgentMessage::*field)(), const Body& body) {
  v1::AgentMessage message;
  *(message.*field)() = body;
  return message;
}

}  // namespace

Worker::Worker(asio::any_io_executor loop, Journal& journal) : loop_(std::move(loop)), journal_(journal) {}

Worker::~Worker() {
  *alive_ = false;
  for (auto& [id, cancel] : running_) cancel->cancel("the agent is stopping");
}

void Worker::connected(Send send, v1::Hello& hello) {
  send_ = std::move(send);
  for (auto& known : journal_.known()) *hello.add_operations() = std::move(known);
}

void Worker::resend_results() {
  for (const auto* exit : journal_.unacknowledged()) send(message_with(&v1::AgentMessage::mutable_exit, *exit));
}

void Worker::disconnected() {
  send_ = nullptr;
  transfers_.clear();  // a put's temporary file goes with its sink
}

void Worker::send(v1::AgentMessage message) const {
  if (send_) send_(std::move(message));
}

void Worker::handle(const v1::ServerMessage& message) {
  switch (message.body_case()) {
    case v1::ServerMessage::kRun: start_run(message.run()); break;
    case v1::ServerMessage::kCancel:
      if (auto it = running_.find(message.cancel().op_id()); it != running_.end())
        it->second->cancel("cancelled by the server");
      transfers_.erase(message.cancel().op_id());
      break;
    case v1::ServerMessage::kResultAck: journal_.forget(message.result_ack().op_id()); break;
    case v1::ServerMessage::kFilePut: start_put(message.file_put()); break;
    case v1::ServerMessage::kFileGet: start_get(message.file_get()); break;
    case v1::ServerMessage::kFileData: take_file_data(message.file_data()); break;
    case v1::ServerMessage::kCredit: add_credit(message.credit()); break;
    case v1::ServerMessage::kPing: {
      v1::AgentMessage pong;
      pong.mutable_pong()->set_nonce(message.ping().nonce());
      send(std::move(pong));
      break;
    }
    default: break;  // a newer server's message: ignored
  }
}

void Worker::start_run(const v1::Run& run) {
  const std::string& id = run.op_id();
  if (!valid_op_id(id)) {
    send(message_with(&v1::AgentMessage::mutable_exit, error_exit(id, ErrorCode::InvalidArgument, "bad op id")));
    return;
  }
  v1::Accepted accepted;
  accepted.set_op_id(id);
  if (journal_.knows(id)) {  // a resend: never started twice
    send(message_with(&v1::AgentMessage::mutable_accepted, accepted));
    if (journal_.finished(id)) resend_results();
    return;
  }
  if (auto recorded = journal_.record_start(id); !recorded) {
    send(message_with(&v1::AgentMessage::mutable_exit, error_exit(id, ErrorCode::Internal, recorded.error().message)));
    return;
  }
  send(message_with(&v1::AgentMessage::mutable_accepted, accepted));
  auto cancel = make_cancel_token();
  running_[id] = cancel;
  auto offsets = std::make_shared<std::array<std::uint64_t, 2>>();
  exec::ChunkSink sink = [this, id, offsets, alive = alive_](exec::Stream stream, std::string_view data) {
    if (!*alive || data.empty()) return;
    auto index = stream == exec::Stream::Stdout ? 0 : 1;
    v1::AgentMessage message;
    auto* output = message.mutable_output();
    output->set_op_id(id);
    output->set_stream(index == 0 ? v1::STDOUT : v1::STDERR);
    output->set_offset((*offsets)[index]);
    output->set_data(std::string(data));
    (*offsets)[index] += data.size();
    send(std::move(message));
  };
  asio::co_spawn(
      loop_,
      [this, id, spec = spec_of(run), sink = std::move(sink), cancel, alive = alive_]() mutable -> asio::awaitable<void> {
        auto running = exec::run_process(std::move(spec), std::move(sink), cancel);
        auto ran = co_await std::move(running);
        if (*alive) finish_run(exit_of(id, ran));
      },
      asio::detached);
}

void Worker::finish_run(v1::Exit exit) {
  running_.erase(exit.op_id());
  if (auto recorded = journal_.record_exit(exit); !recorded)
    spdlog::warn("cannot record the result of {}: {}", exit.op_id(), recorded.error().message);
  send(message_with(&v1::AgentMessage::mutable_exit, exit));
}

void Worker::end_transfer(const std::string& id, const std::string& error, ErrorCode code) {
  transfers_.erase(id);
  v1::FileDone done;
  done.set_op_id(id);
  done.set_error(error);
  done.set_error_code(static_cast<int>(code));
  send(message_with(&v1::AgentMessage::mutable_file_done, done));
}

void Worker::start_put(const v1::FilePut& put) {
  auto sink = transport::FileSink::create(put.path());
  if (!sink) return end_transfer(put.op_id(), sink.error().message, sink.error().code);
  auto transfer = std::make_unique<FileTransfer>();
  transfer->sink = std::move(*sink);
  transfer->mode = put.mode() ? put.mode() : transport::kDefaultFileMode;
  transfer->owner = put.owner();
  transfers_[put.op_id()] = std::move(transfer);
  v1::Credit credit;
  credit.set_op_id(put.op_id());
  credit.set_chunks(kFileWindow);
  send(message_with(&v1::AgentMessage::mutable_credit, credit));
}

void Worker::take_file_data(const v1::FileData& data) {
  auto it = transfers_.find(data.op_id());
  if (it == transfers_.end() || !it->second->sink) return;
  auto& sink = *it->second->sink;
  if (data.offset() != sink.bytes())
    return end_transfer(data.op_id(), "file data out of order", ErrorCode::Internal);
  if (auto written = sink.write(data.data()); !written)
    return end_transfer(data.op_id(), written.error().message, written.error().code);
  if (!data.last()) {
    v1::Credit credit;
    credit.set_op_id(data.op_id());
    credit.set_chunks(1);
    send(message_with(&v1::AgentMessage::mutable_credit, credit));
    return;
  }
  std::string digest = sink.sha256();
  if (digest != data.sha256())
    return end_transfer(data.op_id(), "SHA-256 mismatch: sent " + data.sha256() + ", written " + digest,
                        ErrorCode::Internal);
  if (auto committed = sink.commit(it->second->mode, it->second->owner); !committed)
    return end_transfer(data.op_id(), committed.error().message, committed.error().code);
  v1::FileDone done;
  done.set_op_id(data.op_id());
  done.set_bytes(sink.bytes());
  done.set_sha256(digest);
  transfers_.erase(it);
  send(message_with(&v1::AgentMessage::mutable_file_done, done));
}

void Worker::start_get(const v1::FileGet& get) {
  auto source = transport::FileSource::open(get.path());
  if (!source) return end_transfer(get.op_id(), source.error().message, source.error().code);
  auto transfer = std::make_unique<FileTransfer>();
  struct stat info {};
  transfer->mode = ::stat(get.path().c_str(), &info) == 0 ? info.st_mode & 07777 : transport::kDefaultFileMode;
  transfer->source = std::move(*source);
  transfer->credit = get.window();
  transfers_[get.op_id()] = std::move(transfer);
  pump(get.op_id());
}

void Worker::add_credit(const v1::Credit& credit) {
  auto it = transfers_.find(credit.op_id());
  if (it == transfers_.end() || !it->second->source) return;
  it->second->credit += credit.chunks();
  pump(credit.op_id());
}

void Worker::pump(const std::string& id) {
  auto it = transfers_.find(id);
  while (it != transfers_.end() && it->second->credit > 0) {
    auto& source = *it->second->source;
    auto offset = source.bytes();
    auto chunk = source.read(kFileChunk);
    if (!chunk) return end_transfer(id, chunk.error().message, chunk.error().code);
    v1::AgentMessage message;
    auto* data = message.mutable_file_data();
    data->set_op_id(id);
    data->set_offset(offset);
    data->set_last(chunk->empty());
    if (chunk->empty()) {
      data->set_sha256(source.sha256());
      data->set_mode(it->second->mode);
      transfers_.erase(it);
      send(std::move(message));
      return;
    }
    data->set_data(std::move(*chunk));
    --it->second->credit;
    send(std::move(message));
  }
}

}  // namespace steward::agent
