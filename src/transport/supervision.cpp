#include "transport/supervision.hpp"

#include <fmt/format.h>

#include <charconv>
#include <fstream>
#include <sstream>

namespace steward::transport {
namespace {

// Every name the wrapper sets starts with steward_ and ends with _: a
// variable the command gets from its environment is never changed by it.
constexpr std::string_view kMarkerPart =
    // The leader's start time, field 22 of /proc/$$/stat; the command name in
    // field 2 may hold spaces, so the fields are counted after its ") ".
    "steward_t_=; { IFS= read -r steward_t_ </proc/$$/stat; } 2>/dev/null\n"
    "steward_t_=${steward_t_##*\") \"}\n"
    "steward_field20_() { if [ $# -ge 20 ]; then steward_t_=${20}; else steward_t_=; fi; }\n"
    "steward_field20_ $steward_t_\n"
    "echo \"@steward-pgid:$$ $steward_t_\"\n";

constexpr std::string_view kWrapperHead =
    "steward_status_=$1; shift\n"
    "[ -d \"${steward_status_%/*}\" ] || mkdir -p -m 700 \"${steward_status_%/*}\" 2>/dev/null\n"
    "IFS= read -r steward_go_ && [ \"$steward_go_\" = go ] || exit 125\n"
    // A TERM for the group (timeout, cancel) reaches the command; the wrapper
    // outlives it to report how the command took it. Traps end at exec.
    "trap : TERM\n"
    // The command gets the real stderr on fd 2; the wrapper's own goes to
    // /dev/null: its "Killed" note for a command that died of a signal would
    // add to the output, and kill the wrapper by SIGPIPE once no one reads.
    // The subshell keeps that note out of the command's redirections.
    "exec 3>&2 2>/dev/null\n";

constexpr std::string_view kWrapperTail =
    "steward_rc_=$?\n"
    "if [ \"$steward_rc_\" -gt 128 ] && [ \"$steward_rc_\" -lt 193 ]; then "
    "steward_end_=\"signal $((steward_rc_ - 128))\"; else steward_end_=\"exit $steward_rc_\"; fi\n"
    "{ printf '%s\\n' \"$steward_end_\" >\"$steward_status_.tmp\" && "
    "mv -f \"$steward_status_.tmp\" \"$steward_status_\"; } 2>/dev/null\n"
    "case $steward_end_ in signal*) steward_sig_=$(kill -l \"$steward_rc_\"); trap - \"$steward_sig_\"; "
    "kill -s \"$steward_sig_\" $$ ;; esac\n"
    "exit \"$steward_rc_\"\n";

// {0}: polls of 0.1 s before SIGKILL. `kill -s SIG`: dash refuses `kill -TERM`.
// A zombie leader still holds its pid, so its group cannot be anyone
// else's; zombies are not counted as running (no one may reap them when
// the server that was their parent is gone).
constexpr std::string_view kSettle =
    "f=$1 g=$2 t=$3\n"
    "report() {{ if [ -f \"$f\" ]; then IFS= read -r r <\"$f\"; rm -f \"$f\" \"$f.tmp\"; "
    "echo \"finished $r\"; exit 0; fi; }}\n"
    "running() {{ n=0; for d in /proc/[0-9]*; do l=; {{ IFS= read -r l <\"$d/stat\"; }} 2>/dev/null; "
    "l=${{l##*\") \"}}; set -- $l; if [ $# -ge 3 ] && [ \"$3\" = \"$g\" ] && [ \"$1\" != Z ]; then n=$((n+1)); fi; done; "
    "[ $n -gt 0 ]; }}\n"
    "report\n"
    "s=; {{ IFS= read -r s </proc/\"$g\"/stat; }} 2>/dev/null\n"
    "same=no\n"
    "if [ -n \"$s\" ] && [ -n \"$t\" ]; then s=${{s##*\") \"}}; set -- $s; "
    "if [ $# -ge 20 ] && [ \"$3\" = \"$g\" ] && [ \"${{20}}\" = \"$t\" ]; then same=yes; fi; fi\n"
    "if [ $same = yes ] && ! running; then report; "
    "echo \"unknown neither its status file nor its process group was left\"; exit 0; fi\n"
    "if [ $same = no ]; then report\n"
    "  if [ -z \"$t\" ]; then echo \"unknown no start time was recorded, so process group $g is left alone\"\n"
    "  elif [ -n \"$s\" ]; then echo \"unknown pid $g now belongs to another process, which is left alone\"\n"
    "  elif running; then "
    "echo \"unknown the leader of process group $g is gone, so the group cannot be told apart and is left alone\"\n"
    "  else echo \"unknown neither its status file nor its process group was left\"; fi\n"
    "  exit 0\n"
    "fi\n"
    "kill -s TERM -- -\"$g\" 2>/dev/null; i=0\n"
    "while running && [ $i -lt {0} ]; do sleep 0.1; i=$((i+1)); done\n"
    "kill -s KILL -- -\"$g\" 2>/dev/null\n"
    "rm -f \"$f\" \"$f.tmp\"\n"
    "echo stopped\n";

bool parse_int(std::string_view text, int& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::string wrapper_script(WrapperOptions options) {
  std::string script;
  if (options.print_marker) script += kMarkerPart;
  script += kWrapperHead;
  script += options.stdin_from_null ? "(exec \"$@\" </dev/null 2>&3 3>&-)\n" : "(exec \"$@\" 2>&3 3>&-)\n";
  script += kWrapperTail;
  return script;
}

std::vector<std::string> command_argv(const ExecRequest& request) {
  if (!request.argv.empty()) return request.argv;
  return {"/bin/sh", "-c", request.command};
}

std::string settle_script(int grace_tenths) { return fmt::format(fmt::runtime(kSettle), grace_tenths); }

bool parse_status_line(const std::string& line, OrphanOutcome& outcome) {
  std::string_view text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  int number = 0;
  if (text.starts_with("exit ") && parse_int(text.substr(5), number)) {
    outcome.exit_code = number;
    return true;
  }
  if (text.starts_with("signal ") && parse_int(text.substr(7), number) && number > 0) {
    outcome.signal = number;
    return true;
  }
  return false;
}

OrphanOutcome parse_settle_report(const std::string& report) {
  std::string line = report.substr(0, report.find('\n'));
  OrphanOutcome outcome;
  if (line.starts_with("finished ")) {
    if (parse_status_line(line.substr(9), outcome)) {
      outcome.kind = OrphanOutcome::Kind::Finished;
      return outcome;
    }
    outcome.reason = "its status file holds no exit status";
    return outcome;
  }
  if (line == "stopped") {
    outcome.kind = OrphanOutcome::Kind::Stopped;
    return outcome;
  }
  outcome.reason = line.starts_with("unknown ") ? line.substr(8) : "unexpected answer: " + line.substr(0, 200);
  return outcome;
}

std::string process_start_time(long pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(file, stat)) return {};
  auto after_name = stat.rfind(") ");
  if (after_name == std::string::npos) return {};
  std::istringstream fields(stat.substr(after_name + 2));
  std::string field;
  for (int number = 3; number <= 22 && fields >> field; ++number) {
    if (number == 22) return field;
  }
  return {};
}

}  // namespace steward::transport
