#include "ops/ansible_facts.hpp"

#include <boost/asio/ip/address_v4.hpp>
#include <boost/json/array.hpp>

#include <cctype>
#include <charconv>
#include <cstdint>
#include <optional>
#include <set>
#include <sstream>

#include "core/json_text.hpp"

namespace steward::ops {
namespace {

using boost::asio::ip::address_v4;

// os-release ID -> ansible_distribution, for the IDs whose Ansible name is
// not simply the ID capitalized.
const std::map<std::string, std::string>& distribution_names() {
  static const std::map<std::string, std::string> names{
      {"almalinux", "AlmaLinux"}, {"amzn", "Amazon"},       {"arch", "Archlinux"},
      {"centos", "CentOS"},       {"linuxmint", "Linux Mint"}, {"ol", "OracleLinux"},
      {"opensuse-leap", "openSUSE Leap"}, {"opensuse-tumbleweed", "openSUSE Tumbleweed"},
      {"rhel", "RedHat"},         {"sles", "SLES"}};
  return names;
}

// os-release ID (or an ID_LIKE entry) -> ansible_os_family.
const std::map<std::string, std::string>& os_families() {
  static const std::map<std::string, std::string> families{
      {"debian", "Debian"},  {"ubuntu", "Debian"},    {"raspbian", "Debian"},  {"linuxmint", "Debian"},
      {"kali", "Debian"},    {"devuan", "Debian"},    {"rhel", "RedHat"},      {"centos", "RedHat"},
      {"fedora", "RedHat"},  {"rocky", "RedHat"},     {"almalinux", "RedHat"}, {"ol", "RedHat"},
      {"amzn", "RedHat"},    {"suse", "Suse"},        {"sles", "Suse"},        {"opensuse", "Suse"},
      {"opensuse-leap", "Suse"}, {"opensuse-tumbleweed", "Suse"}, {"arch", "Archlinux"},
      {"manjaro", "Archlinux"}, {"alpine", "Alpine"}, {"gentoo", "Gentoo"}};
  return families;
}

std::int64_t number_of(const boost::json::object& object, const char* key) {
  const auto* value = object.if_contains(key);
  return value && value->is_int64() ? value->as_int64() : 0;
}

std::string capitalized(std::string word) {
  if (!word.empty()) word[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(word[0])));
  return word;
}

std::string distribution(const std::string& id, const std::string& system) {
  if (id.empty()) return system;
  auto it = distribution_names().find(id);
  return it != distribution_names().end() ? it->second : capitalized(id);
}

std::string os_family(const std::string& id, const std::string& id_like, const std::string& fallback) {
  std::istringstream candidates(id + " " + id_like);
  for (std::string candidate; candidates >> candidate;) {
    if (auto it = os_families().find(candidate); it != os_families().end()) return it->second;
  }
  return fallback;
}

std::optional<address_v4> parse_v4(const std::string& text) {
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address_v4(text, ec);
  if (ec) return std::nullopt;
  return address;
}

// /proc/net/route writes addresses as little-endian hex: 010200C0 is 192.0.2.1.
std::string gateway_from_hex(const std::string& hex) {
  std::uint32_t raw = 0;
  auto [end, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), raw, 16);
  if (ec != std::errc() || end != hex.data() + hex.size() || hex.size() != 8) return {};
  std::uint32_t host_order = ((raw & 0xff) << 24) | ((raw & 0xff00) << 8) | ((raw >> 8) & 0xff00) | (raw >> 24);
  return address_v4(host_order).to_string();
}

bool is_loopback_v4(const std::string& address) { return address.rfind("127.", 0) == 0; }

// Ansible leaves out loopback addresses; without the script's ipv4 lines
// (no `ip` on the target) the IPv4 entries of ip_addresses stand in.
boost::json::array all_ipv4_addresses(const boost::json::object& facts, const Ipv4Facts& ipv4) {
  std::vector<std::string> found;
  for (const auto& entry : ipv4.addresses) found.push_back(entry.cidr.substr(0, entry.cidr.find('/')));
  if (found.empty()) {
    if (const auto* listed = facts.if_contains("ip_addresses"); listed && listed->is_array()) {
      for (const auto& address : listed->as_array())
        if (address.is_string() && parse_v4(std::string(address.as_string()))) found.emplace_back(address.as_string());
    }
  }
  boost::json::array out;
  std::set<std::string> seen;
  for (const auto& address : found)
    if (!is_loopback_v4(address) && seen.insert(address).second) out.emplace_back(address);
  return out;
}

void add_network_of(boost::json::object& route, const std::string& cidr) {
  auto slash = cidr.find('/');
  if (slash == std::string::npos) return;
  int prefix = -1;
  const std::string bits = cidr.substr(slash + 1);
  auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
  auto address = parse_v4(cidr.substr(0, slash));
  if (ec != std::errc() || end != bits.data() + bits.size() || prefix < 0 || prefix > 32 || !address) return;
  const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
  const std::uint32_t network = address->to_uint() & mask;
  route["prefix"] = bits;  // a string, as Ansible gives it
  route["netmask"] = address_v4(mask).to_string();
  route["network"] = address_v4(network).to_string();
  route["broadcast"] = address_v4(network | ~mask).to_string();
}

// {} when the target has no default route; otherwise what is known of it.
boost::json::object default_ipv4(const Ipv4Facts& ipv4) {
  const auto& known = ipv4.default_route;
  auto field = [&known](const char* key) {
    auto it = known.find(key);
    return it == known.end() ? std::string() : it->second;
  };
  boost::json::object route;
  const std::string interface = field("interface");
  if (interface.empty()) return route;
  route["interface"] = interface;
  route["alias"] = interface;
  std::string gateway = field("gateway");
  if (gateway.empty()) gateway = gateway_from_hex(field("gateway_hex"));
  if (!gateway.empty()) route["gateway"] = gateway;

  std::string address = field("address");
  std::string cidr;
  for (const auto& entry : ipv4.addresses) {
    const std::string bare = entry.cidr.substr(0, entry.cidr.find('/'));
    if (address.empty() ? entry.interface == interface : bare == address) {
      cidr = entry.cidr;
      address = bare;
      break;
    }
  }
  if (!address.empty()) route["address"] = address;
  add_network_of(route, cidr);
  if (auto mac = field("macaddress"); !mac.empty()) route["macaddress"] = mac;
  int mtu = 0;
  const std::string mtu_text = field("mtu");
  if (std::from_chars(mtu_text.data(), mtu_text.data() + mtu_text.size(), mtu).ec == std::errc() && mtu > 0)
    route["mtu"] = mtu;
  return route;
}

}  // namespace

void add_ansible_facts(boost::json::object& facts, const Ipv4Facts& ipv4) {
  const std::string hostname = text_of(facts, "hostname");
  const std::string system = text_of(facts, "system");
  boost::json::object os;
  if (const auto* value = facts.if_contains("os"); value && value->is_object()) os = value->as_object();
  const std::string id = text_of(os, "id");
  const std::string distro = distribution(id, system);

  facts["ansible_hostname"] = hostname.substr(0, hostname.find('.'));
  facts["ansible_fqdn"] = text_of(facts, "fqdn");
  facts["ansible_kernel"] = text_of(facts, "kernel");
  facts["ansible_architecture"] = text_of(facts, "arch");
  facts["ansible_system"] = system;
  facts["ansible_distribution"] = distro;
  facts["ansible_distribution_version"] = text_of(os, "version_id");
  facts["ansible_os_family"] = os_family(id, text_of(os, "id_like"), distro);
  facts["ansible_processor_vcpus"] = number_of(facts, "cpus");
  facts["ansible_memtotal_mb"] = number_of(facts, "memory_mb");
  facts["ansible_all_ipv4_addresses"] = all_ipv4_addresses(facts, ipv4);
  facts["ansible_default_ipv4"] = default_ipv4(ipv4);
}

}  // namespace steward::ops
