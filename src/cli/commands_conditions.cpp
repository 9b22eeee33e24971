// `steward conditions [ls] | watch ID`: the server's conditions and a live
// view of one condition's values (read token).
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include "cli/render.hpp"
#include "cli/session.hpp"
#include "core/json_text.hpp"

namespace steward::cli {
namespace {

constexpr std::size_t kDefaultSparkWidth = 60;

double number_at(const boost::json::object& object, const char* key) {
  const auto* value = object.if_contains(key);
  return value && value->is_number() ? value->to_number<double>() : 0;
}

std::string number_text(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

std::string state_of(const boost::json::object& condition) {
  if (condition.contains("deleted")) return "deleted";
  const auto* running = condition.if_contains("running");
  return running && running->is_bool() && running->as_bool() ? "running" : "stopped";
}

void print_condition_rows(const boost::json::array& listed) {
  static constexpr TableColumn kColumns[] = {{"ID", 38},     {"NAME", 16},    {"TARGET", 14},      {"EVERY", 7},
                                             {"STATE", 9},   {"SUBS", 6},     {"SKIPPED", 9},      {"UNREACHABLE", 13},
                                             {"LAST", 0}};
  std::vector<TableRow> rows;
  for (const auto& entry : listed) {
    const auto& condition = entry.as_object();
    const auto* counters = condition.if_contains("counters");
    const boost::json::object no_counters;
    const auto& counted = counters && counters->is_object() ? counters->as_object() : no_counters;
    std::string last = "-";
    if (const auto* value = condition.if_contains("last"); value && value->is_object())
      last = number_text(number_at(value->as_object(), "value")) + " at " +
             local_time(number_at(value->as_object(), "at"));
    rows.push_back({text_of(condition, "id"), text_of(condition, "name"), text_of(condition, "target"),
                    number_text(number_at(condition, "interval")) + "s", state_of(condition),
                    number_text(number_at(condition, "subscribers")), number_text(number_at(counted, "skipped_busy")),
                    number_text(number_at(counted, "skipped_unreachable")), last});
  }
  print_table(kColumns, rows);
}

int list_conditions(Session& session) {
  auto listed = session.call("GET", "/conditions");
  if (!listed) return report(listed.error());
  if (session.json()) std::cout << pretty_json(*listed) << "\n";
  else print_condition_rows(listed->as_array());
  return 0;
}

volatile sig_atomic_t interrupted = 0;

void on_interrupt(int) { interrupted = 1; }

// Ctrl-C ends `watch` between two polls (SA_RESTART: a request in flight finishes).
void catch_interrupt() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  action.sa_flags = SA_RESTART;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

void sleep_unless_interrupted(std::chrono::milliseconds period) {
  constexpr std::chrono::milliseconds kStep{100};
  for (auto slept = std::chrono::milliseconds(0); slept < period && !interrupted; slept += kStep)
    std::this_thread::sleep_for(kStep);
}

std::size_t spark_width() {
  winsize size{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) != 0 || size.ws_col < 50) return kDefaultSparkWidth;
  return size.ws_col - 45;  // room for the name, the last value and its time
}

struct WatchArgs {
  std::string id;
  int limit = 120;
  double every = 0;
};

Result<boost::json::object> find_condition(Session& session, const std::string& id) {
  auto listed = session.call("GET", "/conditions");
  if (!listed) return listed.error();
  for (const auto& entry : listed->as_array())
    if (entry.is_object() && text_of(entry.as_object(), "id") == id) return entry.as_object();
  return make_error(ErrorCode::NotFound, "no condition with identifier '" + id + "' (steward conditions ls)");
}

// One line redrawn in place: the name, the sparkline of the values, the last value and its time.
void draw_sparkline(const std::string& name, const boost::json::array& values) {
  std::vector<double> numbers;
  for (const auto& entry : values) numbers.push_back(number_at(entry.as_object(), "value"));
  const std::size_t width = spark_width();
  if (numbers.size() > width) numbers.erase(numbers.begin(), numbers.end() - static_cast<std::ptrdiff_t>(width));
  std::string line = name + " " + sparkline(numbers);
  if (values.empty()) {
    line += "(no values yet: a subscriber's stream keeps a condition running)";
  } else {
    const auto& last = values.back().as_object();
    line += "  " + number_text(number_at(last, "value")) + " at " + local_time(number_at(last, "at"));
  }
  std::cout << "\r\033[K" << line << std::flush;
}

// Off a terminal: each value once, as it comes (or a JSON line with --json).
double print_new_values(Session& session, const boost::json::array& values, double seen_until) {
  for (const auto& entry : values) {
    const auto& value = entry.as_object();
    const double at = number_at(value, "at");
    if (at <= seen_until) continue;
    seen_until = at;
    if (session.json()) std::cout << boost::json::serialize(value) << "\n";
    else std::cout << local_time(at) << " " << number_text(number_at(value, "value")) << "\n";
  }
  std::cout.flush();
  return seen_until;
}

int watch_condition(Session& session, const WatchArgs& args) {
  auto condition = find_condition(session, args.id);
  if (!condition) return report(condition.error());
  const double interval = args.every > 0 ? args.every : std::max(1.0, number_at(*condition, "interval"));
  const std::string name = text_of(*condition, "name").empty() ? args.id : text_of(*condition, "name");
  const bool terminal = ::isatty(STDOUT_FILENO) == 1;
  const std::string target = "/conditions/" + url_encode(args.id) + "/values?limit=" + std::to_string(args.limit);
  catch_interrupt();
  double seen_until = 0;
  while (!interrupted) {
    auto reply = session.call("GET", target);
    if (!reply) {
      if (terminal) std::cout << "\n";
      return report(reply.error());
    }
    const auto& values = reply->as_object().at("values").as_array();
    if (terminal) draw_sparkline(name, values);
    else seen_until = print_new_values(session, values, seen_until);
    sleep_unless_interrupted(std::chrono::milliseconds(static_cast<std::int64_t>(interval * 1000)));
  }
  if (terminal) std::cout << "\n";
  return 0;
}

}  // namespace

void add_condition_commands(CLI::App& app, std::shared_ptr<ClientOptions> options, int& exit_code) {
  auto* conditions = app.add_subcommand("conditions", "conditions and their values: ls, watch ID");
  conditions->require_subcommand(0, 1);
  auto* ls = conditions->add_subcommand(
      "ls", "list conditions: id, name, target, interval, state, subscribers, skipped and unreachable ticks, last value");
  add_connection_flags(*ls, *options);
  ls->callback([options, &exit_code] { with_session(*options, exit_code, list_conditions); });
  // `steward conditions` alone lists.
  conditions->callback([conditions, options, &exit_code] {
    if (conditions->get_subcommands().empty()) with_session(*options, exit_code, list_conditions);
  });

  auto args = std::make_shared<WatchArgs>();
  auto* watch = conditions->add_subcommand(
      "watch", "follow a condition's values until Ctrl-C: a live sparkline on a terminal, else one line per value");
  watch->add_option("id", args->id, "the condition's identifier (steward conditions ls)")->required();
  watch->add_option("--limit", args->limit, "values read (and drawn) at most")->check(CLI::Range(1, 100000))->capture_default_str();
  watch->add_option("--every", args->every, "seconds between two reads (default: the condition's interval)")
      ->check(CLI::PositiveNumber);
  watch->footer("Values come while a subscriber (a gRPC ConditionService/stream) keeps the condition running;\n"
                "watch only reads them. Off a terminal each new value is one line: TIME VALUE (--json: {\"at\", \"value\"}).");
  add_connection_flags(*watch, *options);
  watch->callback([options, args, &exit_code] {
    with_session(*options, exit_code, [&](Session& session) { return watch_condition(session, *args); });
  });
}

}  // namespace steward::cli
