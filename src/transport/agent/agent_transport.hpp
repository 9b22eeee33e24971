#pragma once
// The `agent` transport (issue 13): targets with ansible_connection=agent are
// reached through the stream their `steward agent` keeps open to the server.
// The agent is the host's steward_agent_id variable, else the host's name.
#include <memory>

#include "transport/transport.hpp"

namespace steward::transport {

namespace agent { class AgentHub; }

// A null hub (no --agent-listen): every call is Unreachable and says so.
std::shared_ptr<Transport> make_agent_transport(std::shared_ptr<agent::AgentHub> hub);

}  // namespace steward::transport
