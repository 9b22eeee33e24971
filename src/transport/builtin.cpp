#include "transport/agent/agent_transport.hpp"
#include "transport/local/local_transport.hpp"
#include "transport/qga/qga_transport.hpp"
#include "transport/ssh/ssh_transport.hpp"
#include "transport/transport.hpp"

namespace steward::transport {

Status register_builtin_transports(TransportRegistry& registry, const TransportOptions& options) {
  Status added = registry.add("local", make_local_transport(options.data_dir));
  if (added) added = registry.add("ssh", make_ssh_transport(options));
  if (added) added = registry.add("qga", make_qga_transport(options));
  if (added) added = registry.add("agent", make_agent_transport(options.agents));
  return added;
}

}  // namespace steward::transport
