#include "transport/local/local_transport.hpp"
#include "transport/qga/qga_transport.hpp"
#include "transport/ssh/ssh_transport.hpp"
#include "transport/transport.hpp"

namespace steward::transport {

void register_builtin_transports(TransportRegistry& registry, const TransportOptions& options) {
  registry.add("local", make_local_transport());
  registry.add("ssh", make_ssh_transport(options));
  registry.add("qga", make_qga_transport(options));
}

}  // namespace steward::transport
