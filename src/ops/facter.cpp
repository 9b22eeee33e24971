#include <boost/json/array.hpp>

#include <charconv>
#include <sstream>

#include "ops/ansible_facts.hpp"
#include "ops/builtin_ops.hpp"
#include "ops/exec_result.hpp"

namespace steward::ops {
namespace {

constexpr std::chrono::seconds kFactsTimeout{60};

// One POSIX sh script (no python on the target), so every transport gathers
// facts the same way in one round trip. Prints `key=value` lines; repeated
// keys (ip, ipv4) form lists. ipv4 and default4_* feed Ansible's names only.
constexpr const char* kFactsScript = R"sh(
PATH=$PATH:/usr/sbin:/sbin
h=$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)
echo "hostname=$h"
echo "fqdn=$(hostname -f 2>/dev/null || echo "$h")"
echo "kernel=$(uname -r)"
echo "arch=$(uname -m)"
echo "system=$(uname -s)"
if [ -r /etc/os-release ]; then
  . /etc/os-release
  echo "os_name=$NAME"; echo "os_id=$ID"; echo "os_id_like=$ID_LIKE"; echo "os_version_id=$VERSION_ID"
  echo "os_pretty_name=$PRETTY_NAME"
fi
echo "cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || grep -c ^processor /proc/cpuinfo)"
[ -r /proc/meminfo ] && awk '/^MemTotal:/ {printf "memory_mb=%d\n", $2/1024}' /proc/meminfo
[ -r /proc/uptime ] && awk '{printf "uptime_seconds=%d\n", $1}' /proc/uptime
d4_if= d4_gw= d4_gw_hex= d4_addr=
if command -v ip >/dev/null 2>&1; then
  ip -o addr show 2>/dev/null | awk '{split($4, a, "/"); print "ip=" a[1]}'
  ip -o -4 addr show 2>/dev/null | awk '{print "ipv4=" $4 " " $2}'
  # The route to a public address, as Ansible finds the default one; sends nothing.
  set -- $(ip -4 route get 8.8.8.8 2>/dev/null | head -n 1)
  while [ $# -gt 1 ]; do
    case $1 in dev) d4_if=$2 ;; via) d4_gw=$2 ;; src) d4_addr=$2 ;; esac
    shift
  done
elif command -v hostname >/dev/null 2>&1; then
  for a in $(hostname -I 2>/dev/null); do echo "ip=$a"; done
fi
if [ -z "$d4_if" ] && [ -r /proc/net/route ]; then
  set -- $(awk '$2 == "00000000" {print $1, $3; exit}' /proc/net/route)
  d4_if=$1; d4_gw_hex=$2
fi
if [ -n "$d4_if" ]; then
  echo "default4_interface=$d4_if"
  echo "default4_gateway=$d4_gw"
  echo "default4_gateway_hex=$d4_gw_hex"
  echo "default4_address=$d4_addr"
  if [ -r "/sys/class/net/$d4_if/address" ]; then echo "default4_macaddress=$(cat "/sys/class/net/$d4_if/address")"; fi
  if [ -r "/sys/class/net/$d4_if/mtu" ]; then echo "default4_mtu=$(cat "/sys/class/net/$d4_if/mtu")"; fi
fi
exit 0
)sh";

boost::json::value number_or_string(const std::string& text) {
  std::int64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec == std::errc() && end == text.data() + text.size() && !text.empty()) return number;
  return boost::json::string(text);
}

Ipv4Facts::Address ipv4_entry(const std::string& value) {
  auto space = value.find(' ');
  if (space == std::string::npos) return {value, ""};
  return {value.substr(0, space), value.substr(space + 1)};
}

boost::json::object parse_facts(const std::string& output) {
  boost::json::object facts, os;
  boost::json::array addresses;
  Ipv4Facts ipv4;
  constexpr std::string_view kDefaultRoute = "default4_";
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "ip") {
      addresses.emplace_back(value);
    } else if (key == "ipv4") {
      ipv4.addresses.push_back(ipv4_entry(value));
    } else if (key.rfind(kDefaultRoute, 0) == 0) {
      if (!value.empty()) ipv4.default_route[key.substr(kDefaultRoute.size())] = value;
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
  add_ansible_facts(facts, ipv4);
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
