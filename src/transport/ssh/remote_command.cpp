#include "transport/ssh/remote_command.hpp"

#include <fmt/format.h>

#include <cctype>
#include <charconv>

#include "core/ids.hpp"
#include "transport/shell.hpp"
#include "transport/supervision.hpp"

namespace steward::transport::ssh {
namespace {

constexpr std::string_view kMarker = "@steward-pgid:";
// A login shell that prints more than this before the marker is broken.
constexpr std::size_t kMaxHead = 64 * 1024;

}  // namespace


namespace {

// `; export NAME=VALUE...; cd DIR || exit 1`, for the login shell.
Result<std::string> environment_and_cwd(const ExecRequest& request) {
  std::string script;
  for (const auto& [name, value] : request.env) {
    if (!is_shell_identifier(name)) {
      return make_error(ErrorCode::InvalidArgument, "environment name is not valid: " + shell_quote(name));
    }
    script += fmt::format("; export {}={}", name, shell_quote(value));
  }
  if (!request.cwd.empty()) script += "; cd " + shell_quote(request.cwd) + " || exit 1";
  return script;
}

std::string quoted_words(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& word : words) out += " " + shell_quote(word);
  return out;
}

}  // namespace

Result<std::string> wrap_remote_command(const ExecRequest& request) {
  auto setup = environment_and_cwd(request);
  if (!setup) return setup.error();
  std::string script = fmt::format("echo \"{}$$\"", kMarker) + *setup + "; exec" + quoted_words(command_argv(request));
  // Without input the command must see EOF, not wait on the channel.
  if (request.stdin_data.empty()) script += " </dev/null";
  return script;
}

std::string new_status_path() { return std::string(kStatusDir) + "/" + new_jid(); }

std::string status_path_word(const std::string& path) {
  if (path.starts_with("~/")) return "\"$HOME\"/" + shell_quote(std::string_view(path).substr(2));
  return shell_quote(path);
}

Result<std::string> wrap_supervised_command(const ExecRequest& request, const std::string& status_path,
                                            const std::vector<std::string>& stale) {
  auto setup = environment_and_cwd(request);
  if (!setup) return setup.error();
  std::string script = ":";
  if (!stale.empty()) {
    script = "rm -f --";
    for (const auto& path : stale) script += " " + status_path_word(path);
    script += " 2>/dev/null";
  }
  // The wrapper keeps the login shell's pid (exec), the leader of the session sshd made.
  script += *setup + "; exec /bin/sh -c " +
            shell_quote(wrapper_script({.print_marker = true, .stdin_from_null = request.stdin_data.empty()})) +
            " steward-run " + status_path_word(status_path) + quoted_words(command_argv(request));
  return script;
}

std::string settle_command(const RunProcess& process, std::chrono::milliseconds grace) {
  const int tenths = static_cast<int>(std::max<long>(1, grace.count() / 100));
  return fmt::format("echo \"{}$$\"; exec /bin/sh -c {} steward-settle {} {} {}", kMarker,
                     shell_quote(settle_script(tenths)), status_path_word(process.status_path),
                     shell_quote(std::to_string(process.pgid)), shell_quote(process.start_time));
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
      // "PID" or "PID START_TIME"
      std::string_view fields = line.substr(kMarker.size());
      auto space = fields.find(' ');
      long pid = 0;
      auto digits = fields.substr(0, space);
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
      if (ec == std::errc() && end == digits.data() + digits.size() && pid > 0) pgid_ = pid;
      if (space != std::string_view::npos) start_time_ = std::string(fields.substr(space + 1));
      std::string rest = head_.substr(newline + 1);
      head_.clear();
      return rest;
    }
    head_.erase(0, newline + 1);
  }
}

}  // namespace steward::transport::ssh
