#include "transport/ssh/file_transfer.hpp"

#include <fmt/format.h>

#include <deque>

#include "core/strings.hpp"
#include "transport/files.hpp"
#include "transport/ssh/remote_command.hpp"
#include "transport/ssh/remote_run.hpp"
#include "transport/ssh/sftp.hpp"
#include "transport/shell.hpp"

namespace steward::transport::ssh {

namespace asio = boost::asio;
using asio::awaitable;

namespace {

constexpr std::uint32_t kChunk = 32 * 1024;  // what OpenSSH's sftp client uses
constexpr std::size_t kWindow = 32;          // requests in flight
constexpr auto kStartTimeout = std::chrono::seconds(30);

Error on_target(const Connection& connection, ErrorCode code, const std::string& what) {
  return make_error(code, connection.endpoint().where() + ": " + what);
}

// Runs a helper command (no shell) on the target; its stdout, or an error
// carrying its stderr.
awaitable<Result<std::string>> run_helper(Connection& connection, std::vector<std::string> argv,
                                          const CancelToken& cancel) {
  ExecRequest request;
  request.argv = std::move(argv);
  request.timeout = std::chrono::minutes(10);
  auto script = wrap_remote_command(request);
  if (!script) co_return script.error();
  auto run = co_await run_remote(connection, *script, request, nullptr, cancel);
  if (!run.outcome) co_return run.outcome.error();
  const auto& outcome = *run.outcome;
  if (outcome.cancelled) co_return make_error(ErrorCode::Cancelled, "cancelled");
  if (outcome.exit_code == 0) co_return outcome.stdout_data;
  std::string detail = trim(outcome.stderr_data);
  if (outcome.exit_code == 127) detail = request.argv.front() + " is not installed on the target";
  ErrorCode code = detail.find("No such file") != std::string::npos ? ErrorCode::NotFound : ErrorCode::Internal;
  co_return on_target(connection, code, detail.empty() ? request.argv.front() + " failed" : detail);
}

awaitable<Result<std::string>> remote_sha256(Connection& connection, const std::string& path,
                                             const CancelToken& cancel) {
  std::vector<std::string> argv{"sha256sum", "--", path};  // named: GCC 12 mis-compiles a braced list here
  auto printed = co_await run_helper(connection, std::move(argv), cancel);
  if (!printed) co_return printed.error();
  auto digest = printed->substr(0, printed->find(' '));
  if (digest.size() != 64) co_return on_target(connection, ErrorCode::Internal, "unexpected sha256sum output");
  co_return digest;
}

Error mismatch(const Connection& connection, const std::string& path, const std::string& sent,
               const std::string& received) {
  return on_target(connection, ErrorCode::Internal,
                   fmt::format("checksum mismatch for {}: sent {}, received {} (was it changed during the copy?)",
                               path, sent, received));
}

bool stop_requested(const CancelToken& cancel) { return cancel && cancel->cancelled(); }

// Streams the source into an open remote handle (the source hashes what it reads).
awaitable<Status> upload(SftpClient& sftp, const std::string& handle, FileSource& source, const CancelToken& cancel) {
  std::deque<std::uint32_t> in_flight;
  std::uint64_t offset = 0;
  bool at_end = false;
  for (;;) {
    while (!at_end && in_flight.size() < kWindow) {
      auto chunk = source.read(kChunk);
      if (!chunk) co_return chunk.error();
      if (chunk->empty()) {
        at_end = true;
        break;
      }
      auto id = co_await sftp.send_write(handle, offset, *chunk);
      if (!id) co_return id.error();
      offset += chunk->size();
      in_flight.push_back(*id);
    }
    if (in_flight.empty()) co_return Status{};
    if (auto written = co_await sftp.await_status(in_flight.front(), "cannot write"); !written) co_return written;
    in_flight.pop_front();
    if (stop_requested(cancel)) co_return make_error(ErrorCode::Cancelled, "cancelled: " + cancel->reason());
  }
}

// Reads a remote handle into the sink. A short read (never seen from
// OpenSSH on a regular file, but allowed) drains the window and goes on
// from where it ended, so bytes always arrive in order.
awaitable<Status> download(SftpClient& sftp, const std::string& handle, FileSink& sink, const CancelToken& cancel) {
  std::deque<std::pair<std::uint32_t, std::uint64_t>> in_flight;  // id, offset
  std::uint64_t next_offset = 0;
  bool at_end = false;
  for (;;) {
    while (!at_end && in_flight.size() < kWindow) {
      auto id = co_await sftp.send_read(handle, next_offset, kChunk);
      if (!id) co_return id.error();
      in_flight.emplace_back(*id, next_offset);
      next_offset += kChunk;
    }
    if (in_flight.empty()) co_return Status{};
    auto [id, offset] = in_flight.front();
    in_flight.pop_front();
    auto data = co_await sftp.await_data(id, "cannot read");
    if (!data) co_return data.error();
    if (offset != sink.bytes()) continue;  // issued past a short read or the end: already discarded
    if (auto written = sink.write(*data); !written) co_return written;
    if (data->size() < kChunk) {
      if (data->empty()) at_end = true;
      next_offset = sink.bytes();  // re-issue from here (or stop at the end)
    }
    if (stop_requested(cancel)) co_return make_error(ErrorCode::Cancelled, "cancelled: " + cancel->reason());
  }
}

}  // namespace

awaitable<Result<FileOutcome>> put_over_sftp(Connection& connection, const FileRequest& request, CancelToken cancel) {
  if (auto owner = validate_owner(request.owner); !owner) co_return owner.error();
  auto source = FileSource::open(request.source);
  if (!source) co_return source.error();
  auto sftp = co_await SftpClient::start(connection, std::chrono::steady_clock::now() + kStartTimeout);
  if (!sftp) co_return sftp.error();
  const std::string temporary = temporary_path_beside(request.destination);
  auto handle = co_await (*sftp)->open(temporary, sftp_open::kWrite | sftp_open::kCreate | sftp_open::kExclusive, 0600);
  if (!handle) co_return handle.error();

  auto transfer = [&]() -> awaitable<Result<FileOutcome>> {
    auto sent = co_await upload(**sftp, *handle, **source, cancel);
    auto closed = co_await (*sftp)->close(*handle);
    if (!sent) co_return sent.error();
    if (!closed) co_return closed.error();
    FileOutcome outcome{(*source)->bytes(), (*source)->sha256()};
    if (!request.owner.empty()) {
      std::vector<std::string> argv{"chown", "--", request.owner, temporary};
      auto owned = co_await run_helper(connection, std::move(argv), cancel);
      if (!owned) co_return owned.error();
    }
    // After chown, which clears set-id bits.
    auto moded = co_await (*sftp)->set_permissions(temporary, request.mode.value_or(kDefaultFileMode));
    if (!moded) co_return moded.error();
    auto received = co_await remote_sha256(connection, temporary, cancel);
    if (!received) co_return received.error();
    if (*received != outcome.sha256) co_return mismatch(connection, request.destination, outcome.sha256, *received);
    auto renamed = co_await (*sftp)->rename_over(temporary, request.destination);
    if (!renamed) co_return renamed.error();
    co_return outcome;
  };
  auto outcome = co_await transfer();
  if (!outcome && connection.alive()) (void)co_await (*sftp)->remove(temporary);
  co_return outcome;
}

awaitable<Result<FileOutcome>> get_over_sftp(Connection& connection, const FileRequest& request, CancelToken cancel) {
  // The digest first: a file that changes during the copy then fails the check.
  auto expected = co_await remote_sha256(connection, request.source, cancel);
  if (!expected) co_return expected.error();
  auto sftp = co_await SftpClient::start(connection, std::chrono::steady_clock::now() + kStartTimeout);
  if (!sftp) co_return sftp.error();
  auto attributes = co_await (*sftp)->stat(request.source);
  if (!attributes) co_return attributes.error();
  auto handle = co_await (*sftp)->open(request.source, sftp_open::kRead, std::nullopt);
  if (!handle) co_return handle.error();
  auto sink = FileSink::create(request.destination);
  if (!sink) {
    (void)co_await (*sftp)->close(*handle);
    co_return sink.error();
  }
  auto received = co_await download(**sftp, *handle, **sink, cancel);
  auto closed = co_await (*sftp)->close(*handle);
  if (!received) co_return received.error();
  if (!closed) co_return closed.error();
  FileOutcome outcome{(*sink)->bytes(), (*sink)->sha256()};
  if (outcome.sha256 != *expected) co_return mismatch(connection, request.source, *expected, outcome.sha256);
  auto mode = request.mode.value_or(attributes->permissions.value_or(kDefaultFileMode));
  if (auto committed = (*sink)->commit(mode & 07777, ""); !committed) co_return committed.error();
  co_return outcome;
}

}  // namespace steward::transport::ssh
