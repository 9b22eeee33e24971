#include "transport/ssh/remote_command.hpp"

#include <fmt/format.h>

#include <cctype>

#include "transport/shell.hpp"

namespace steward::transport::ssh {
namespace {

constexpr std::string_view kMarker = "@steward-pgid:";
// A login shell that prints more than this before the marker is broken.
constexpr std::size_t kMaxHead = 64 * 1024;

}  // namespace


Result<std::string> wrap_remote_command(const ExecRequest& request) {
  std::string script = fmt::format("echo \"{}$$\"", kMarker);
  for (const auto& [name, value] : request.env) {
    if (!is_shell_identifier(name)) {
      return make_error(ErrorCode::InvalidArgument, "environment name is not valid: " + shell_quote(name));
    }
    script += fmt::format("; export {}={}", name, shell_quote(value));
  }
  if (!request.cwd.empty()) script += "; cd " + shell_quote(request.cwd) + " || exit 1";
  script += "; exec";
  if (request.argv.empty()) {
    script += " /bin/sh -c " + shell_quote(request.command);
  } else {
    for (const auto& arg : request.argv) script += " " + shell_quote(arg);
  }
  // Without input the command must see EOF, not wait on the channel.
  if (request.stdin_data.empty()) script += " </dev/null";
  return script;
}

std::string kill_group_command(long pgid, std::chrono::milliseconds grace) {
  const int polls = static_cast<int>(std::max<long>(1, grace.count() / 100));
  return fmt::format(
      // `kill -s SIG`: dash (a common /bin/sh and login shell) refuses `kill -TERM -- -PGID`.
      "kill -s TERM -- -{0} 2>/dev/null; i=0; "
      "while kill -s 0 -- -{0} 2>/dev/null && [ $i -lt {1} ]; do sleep 0.1; i=$((i+1)); done; "
      "kill -s KILL -- -{0} 2>/dev/null; exit 0",
      pgid, polls);
}

std::string MarkerReader::feed(std::string_view chunk) {
  if (seen_) return std::string(chunk);
  head_.append(chunk);
  for (;;) {
    auto newline = head_.find('\n');
    if (newline == std::string::npos) {
      if (head_.size() > kMaxHead) head_.erase(0, head_.size() - kMarker.size());
      return {};
    }
    std::string_view line(head_.data(), newline);
    if (line.starts_with(kMarker)) {
      seen_ = true;
      try {
        pgid_ = std::stol(std::string(line.substr(kMarker.size())));
      } catch (const std::exception&) {
        pgid_.reset();
      }
      std::string rest = head_.substr(newline + 1);
      head_.clear();
      return rest;
    }
    head_.erase(0, newline + 1);
  }
}

}  // namespace steward::transport::ssh
