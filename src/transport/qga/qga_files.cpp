// Every co_await stands in a statement of its own, apart from the call that
// builds the awaitable: GCC 12 destroys temporaries of a full-expression
// holding a co_await twice (PR 99576).
#include "transport/qga/qga_files.hpp"

#include <fmt/format.h>

#include <cstdlib>

#include "core/strings.hpp"
#include "transport/files.hpp"
#include "transport/qga/base64.hpp"
#include "transport/qga/guest_exec.hpp"
#include "transport/shell.hpp"

namespace steward::transport::qga {

namespace asio = boost::asio;
namespace json = boost::json;
using asio::awaitable;

namespace {

// Base64 makes 48 KiB a 64 KiB JSON string, the longest token older
// qemu-ga parsers accept; reads have no such limit on our side.
constexpr std::size_t kWriteChunk = 48 * 1024;
constexpr std::int64_t kReadChunk = 256 * 1024;
constexpr std::chrono::minutes kHelperTimeout{10};

std::string where(const Channel& channel, const std::string& target) {
  return fmt::format("{} (qga socket {})", target, channel.socket_path());
}

bool stop_requested(const CancelToken& cancel) { return cancel && cancel->cancelled(); }

Error cancelled(const CancelToken& cancel) { return make_error(ErrorCode::Cancelled, "cancelled: " + cancel->reason()); }

// One shell word that no command can take for an option.
std::string path_word(const std::string& path) { return shell_quote(path.starts_with('-') ? "./" + path : path); }

// qemu-ga says "No such file or directory" in words only; callers decide on
// the code from it, as for every other transport.
Error file_error(Error error) {
  if (error.message.find("No such file") != std::string::npos) error.code = ErrorCode::NotFound;
  return error;
}

// A short shell script on the guest: its stdout, or an error carrying its stderr.
awaitable<Result<std::string>> run_helper(Channel& channel, const std::string& target, std::string script,
                                          CancelToken cancel) {
  ExecRequest request;
  request.command = std::move(script);
  request.timeout = kHelperTimeout;
  auto running = run_on_guest(channel, target, request, nullptr, cancel);
  auto ran = co_await std::move(running);
  if (!ran) co_return ran.error();
  if (ran->cancelled) co_return cancelled(cancel);
  if (ran->timed_out) co_return make_error(ErrorCode::Internal, where(channel, target) + ": helper command timed out");
  if (ran->exit_code == 0) co_return std::move(ran->stdout_data);
  std::string detail = trim(ran->stderr_data);
  if (detail.empty()) detail = fmt::format("`{}` failed with exit status {}", request.command, ran->exit_code);
  co_return file_error(make_error(ErrorCode::Internal, where(channel, target) + ": " + detail));
}

awaitable<Result<std::int64_t>> open_file(Channel& channel, const std::string& target, const std::string& path,
                                          const char* mode) {
  json::object arguments{{"path", path}, {"mode", mode}};
  auto opening = channel.call(target, "guest-file-open", std::move(arguments));
  auto opened = co_await std::move(opening);
  if (!opened) co_return file_error(opened.error());
  auto handle = integer_value(*opened);
  if (!handle) co_return make_error(ErrorCode::Internal, where(channel, target) + ": guest-file-open returned no handle");
  co_return *handle;
}

awaitable<Status> close_file(Channel& channel, const std::string& target, std::int64_t handle) {
  json::object arguments{{"handle", handle}};
  auto closing = channel.call(target, "guest-file-close", std::move(arguments));
  auto closed = co_await std::move(closing);
  if (!closed) co_return closed.error();
  co_return Status{};
}

// The source hashes what it reads.
awaitable<Status> upload(Channel& channel, const std::string& target, std::int64_t handle, FileSource& source,
                         const CancelToken& cancel) {
  for (;;) {
    if (stop_requested(cancel)) co_return cancelled(cancel);
    auto chunk = source.read(kWriteChunk);
    if (!chunk) co_return chunk.error();
    if (chunk->empty()) co_return Status{};
    json::object arguments{{"handle", handle}, {"buf-b64", base64_encode(*chunk)}};
    auto writing = channel.call(target, "guest-file-write", std::move(arguments));
    auto written = co_await std::move(writing);
    if (!written) co_return written.error();
    if (integer_field(*written, "count") != static_cast<std::int64_t>(chunk->size())) {
      co_return make_error(ErrorCode::Internal, where(channel, target) + ": short write (is the disk full?)");
    }
  }
}

awaitable<Status> download(Channel& channel, const std::string& target, std::int64_t handle, FileSink& sink,
                           const CancelToken& cancel) {
  for (;;) {
    if (stop_requested(cancel)) co_return cancelled(cancel);
    json::object arguments{{"handle", handle}, {"count", kReadChunk}};
    auto reading = channel.call(target, "guest-file-read", std::move(arguments));
    auto read = co_await std::move(reading);
    if (!read) co_return read.error();
    const auto* data = read->is_object() ? read->as_object().if_contains("buf-b64") : nullptr;
    auto bytes = data && data->is_string() ? base64_decode(data->as_string()) : std::nullopt;
    if (!bytes) co_return make_error(ErrorCode::Internal, where(channel, target) + ": guest-file-read sent no data");
    if (auto written = sink.write(*bytes); !written) co_return written;
    if (bytes->empty() || true_field(*read, "eof")) co_return Status{};
  }
}

Error mismatch(const Channel& channel, const std::string& target, const std::string& path, const std::string& sent,
               const std::string& received) {
  return make_error(ErrorCode::Internal,
                    fmt::format("{}: checksum mismatch for {}: sent {}, received {} (was it changed during the copy?)",
                                where(channel, target), path, sent, received));
}

// Owner, mode, digest check, rename: the temporary is complete and closed.
awaitable<Result<FileOutcome>> settle_upload(Channel& channel, const std::string& target, const FileRequest& request,
                                             const std::string& temporary, FileOutcome outcome,
                                             const CancelToken& cancel) {
  std::string script;
  if (!request.owner.empty()) script += fmt::format("chown {} {} && ", shell_quote(request.owner), path_word(temporary));
  // After chown, which clears set-id bits.
  // sha256sum reads stdin so no file name can change how it prints the digest.
  script += fmt::format("chmod {:o} {} && sha256sum < {}", request.mode.value_or(kDefaultFileMode) & 07777,
                        path_word(temporary), path_word(temporary));
  auto checking = run_helper(channel, target, std::move(script), cancel);
  auto printed = co_await std::move(checking);
  if (!printed) co_return printed.error();
  auto digest = printed->substr(0, printed->find(' '));
  if (digest.size() != 64) co_return make_error(ErrorCode::Internal, where(channel, target) + ": unexpected sha256sum output");
  if (digest != outcome.sha256) co_return mismatch(channel, target, request.destination, outcome.sha256, digest);
  std::string rename = fmt::format("mv -f {} {}", path_word(temporary), path_word(request.destination));
  auto renaming = run_helper(channel, target, std::move(rename), cancel);
  auto renamed = co_await std::move(renaming);
  if (!renamed) co_return renamed.error();
  co_return outcome;
}

}  // namespace

awaitable<Result<FileOutcome>> put_guest_file(Channel& channel, const std::string& target, const FileRequest& request,
                                              CancelToken cancel) {
  if (auto owner = validate_owner(request.owner); !owner) co_return owner.error();
  auto source = FileSource::open(request.source);
  if (!source) co_return source.error();
  const std::string temporary = temporary_path_beside(request.destination);
  auto opening = open_file(channel, target, temporary, "w");
  auto handle = co_await std::move(opening);
  if (!handle) co_return handle.error();

  auto uploading = upload(channel, target, *handle, **source, cancel);
  auto sent = co_await std::move(uploading);
  auto closing = close_file(channel, target, *handle);
  auto closed = co_await std::move(closing);
  Result<FileOutcome> outcome = !sent ? Result<FileOutcome>(sent.error())
                                : !closed ? Result<FileOutcome>(closed.error())
                                          : Result<FileOutcome>(FileOutcome{(*source)->bytes(), (*source)->sha256()});
  if (outcome) {
    auto settling = settle_upload(channel, target, request, temporary, *outcome, cancel);
    outcome = co_await std::move(settling);
  }
  if (!outcome && outcome.error().code != ErrorCode::Unavailable) {
    // Best effort, and not cancellable: a cancelled copy leaves nothing behind either.
    auto removing = run_helper(channel, target, "rm -f " + path_word(temporary), nullptr);
    (void)co_await std::move(removing);
  }
  co_return outcome;
}

awaitable<Result<FileOutcome>> get_guest_file(Channel& channel, const std::string& target, const FileRequest& request,
                                              CancelToken cancel) {
  // The digest first: a file that changes during the copy then fails the check.
  std::string script = fmt::format("stat -c %a {0} && sha256sum < {0}", path_word(request.source));
  auto inspecting = run_helper(channel, target, std::move(script), cancel);
  auto printed = co_await std::move(inspecting);
  if (!printed) co_return printed.error();
  auto lines = split_nonempty(*printed, '\n');
  char* end = nullptr;
  const auto mode = lines.size() == 2 ? std::strtoul(lines[0].c_str(), &end, 8) : 0;
  if (lines.size() != 2 || *end != '\0' || lines[1].size() < 64) {
    co_return make_error(ErrorCode::Internal, where(channel, target) + ": unexpected stat/sha256sum output");
  }
  const std::string expected = lines[1].substr(0, 64);

  auto opening = open_file(channel, target, request.source, "r");
  auto handle = co_await std::move(opening);
  if (!handle) co_return handle.error();
  auto sink = FileSink::create(request.destination);
  Status received = sink ? Status{} : Status(sink.error());
  if (sink) {
    auto downloading = download(channel, target, *handle, **sink, cancel);
    received = co_await std::move(downloading);
  }
  auto closing = close_file(channel, target, *handle);
  auto closed = co_await std::move(closing);
  if (!received) co_return received.error();
  if (!closed) co_return closed.error();
  FileOutcome outcome{(*sink)->bytes(), (*sink)->sha256()};
  if (outcome.sha256 != expected) co_return mismatch(channel, target, request.source, expected, outcome.sha256);
  auto committed = (*sink)->commit(request.mode.value_or(static_cast<std::uint32_t>(mode)) & 07777, "");
  if (!committed) co_return committed.error();
  co_return outcome;
}

}  // namespace steward::transport::qga
