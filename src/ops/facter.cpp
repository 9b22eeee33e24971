#include <boost/json/array.hpp>

#include <charconv>
#include <sstream>

#include "ops/builtin_ops.hpp"
#include "ops/exec_result.hpp"

namespace steward::ops {
namespace {

constexpr std::chrono::seconds kFactsTimeout{60};

// One POSIX sh script, so every transport gathers facts the same way.
// Prints `key=value` lines; repeated keys (ip) form lists.
constexpr const char* kFactsScript = R"sh(
h=$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)
echo "hostname=$h"
echo "fqdn=$(hostname -f 2>/dev/null || echo "$h")"
echo "kernel=$(uname -r)"
echo "arch=$(uname -m)"
echo "system=$(uname -s)"
if [ -r /etc/os-release ]; then
  . /etc/os-release
  echo "os_name=$NAME"; echo "os_id=$ID"; echo "os_version_id=$VERSION_ID"; echo "os_pretty_name=$PRETTY_NAME"
fi
echo "cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || grep -c ^processor /proc/cpuinfo)"
[ -r /proc/meminfo ] && awk '/^MemTotal:/ {printf "memory_mb=%d\n", $2/1024}' /proc/meminfo
[ -r /proc/uptime ] && awk '{printf "uptime_seconds=%d\n", $1}' /proc/uptime
if command -v ip >/dev/null 2>&1; then
  ip -o addr show 2>/dev/null | awk '{split($4, a, "/"); print "ip=" a[1]}'
elif command -v hostname >/dev/null 2>&1; then
  for a in $(hostname -I 2>/dev/null); do echo "ip=$a"; done
fi
)sh";

boost::json::value number_or_string(const std::string& text) {
  std::int64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec == std::errc() && end == text.data() + text.size() && !text.empty()) return number;
  return boost::json::string(text);
}

boost::json::object parse_facts(const std::string& output) {
  boost::json::object facts, os;
  boost::json::array addresses;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "ip") {
      addresses.emplace_back(value);
    } else if (key.rfind("os_", 0) == 0) {
      os[key.substr(3)] = value;
    } else if (key == "cpus" || key == "memory_mb" || key == "uptime_seconds") {
      facts[key] = number_or_string(value);
    } else {
      facts[key] = value;
    }
  }
  facts["os"] = std::move(os);
  facts["ip_addresses"] = std::move(addresses);
  return facts;
}

class Facter final : public Operation {
 public:
  Status validate(const boost::json::object&) const override { return {}; }

  boost::asio::awaitable<OpResult> run(OpContext context, const boost::json::object&) const override {
    transport::ExecRequest request;
    request.command = kFactsScript;
    request.timeout = kFactsTimeout;
    // Facts are the result; the raw lines would only duplicate them in streams.
    context.sink = nullptr;
    OpResult result = co_await run_request(context, std::move(request), OpState::Ok);
    if (result.state == OpState::Ok) {
      result.facts = parse_facts(result.stdout_data);
      result.stdout_data.clear();
      result.rtc.reset();
    }
    co_return result;
  }
};

}  // namespace

std::unique_ptr<Operation> make_facter() { return std::make_unique<Facter>(); }

}  // namespace steward::ops
