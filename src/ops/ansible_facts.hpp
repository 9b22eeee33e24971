#pragma once
// Ansible's names for a host's facts (ansible_hostname, ansible_default_ipv4,
// ...), derived from what the facter script gathered: EXEd's executor was
// Ansible, and its clients read these names.
#include <boost/json/object.hpp>

#include <map>
#include <string>
#include <vector>

namespace steward::ops {

// The script's IPv4 lines, which steward's own facts do not keep.
struct Ipv4Facts {
  struct Address {
    std::string cidr;  // "192.0.2.2/24"
    std::string interface;
  };
  std::vector<Address> addresses;
  // The default route's interface, gateway (or gateway_hex, little-endian as
  // /proc/net/route has it), address, macaddress, mtu: whatever was known.
  std::map<std::string, std::string> default_route;
};

// Adds the ansible_* keys to `facts`, which holds steward's own keys
// (hostname, fqdn, kernel, arch, system, os, cpus, memory_mb, ip_addresses).
void add_ansible_facts(boost::json::object& facts, const Ipv4Facts& ipv4);

}  // namespace steward::ops
