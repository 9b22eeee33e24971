#include "transport/local/local_transport.hpp"
#include "transport/transport.hpp"

namespace steward::transport {

void register_builtin_transports(TransportRegistry& registry) {
  registry.add("local", make_local_transport());
}

}  // namespace steward::transport
