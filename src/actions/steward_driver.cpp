#include "actions/steward_driver.hpp"

#include "core/strings.hpp"
#include "inventory/inventory.hpp"
#include "jobs/job_service.hpp"
#include "tasks/operation.hpp"

namespace steward::actions {
namespace {

using boost::asio::awaitable;

struct OperationAction {
  ActionSpec spec;
  std::string operate;
  std::vector<std::string> required;
  bool on_server = false;  // runs on the server itself, not on inventory targets
};

std::vector<OperationAction> operation_actions() {
  return {
      {{"execute", "run a command on the targets: args [PATTERN, CMD]", {"targets", "cmd"},
        {"targets", "cmd", "argv", "timeout", "cwd", "env", "secret_env", "stdin", "secret_stdin"}},
       "execute",
       {"targets"}},
      {{"ping", "check the targets answer: args [PATTERN]", {"targets"}, {"targets"}}, "ping", {"targets"}},
      {{"facts", "gather the targets' facts: args [PATTERN]", {"targets"}, {"targets"}}, "facter", {"targets"}},
      {{"service", "start (0), stop (1) or restart (2) a service: args [PATTERN, NAME, STATE]",
        {"targets", "name", "state"},
        {"targets", "name", "state", "graceful"}},
       "service",
       {"targets", "name", "state"}},
      {{"install", "install a Deputy package: args [PATTERN, NAME, VERSION]", {"targets", "name", "version"},
        {"targets", "name", "version", "environment", "secret_env"}},
       "install",
       {"targets", "name"}},
      {{"deploy", "deploy a role (playbook or Deputy feature): args [PATTERN, ROLE]", {"targets", "role"},
        {"targets", "role", "partial", "extra_vars"}},
       "deploy",
       {"targets", "role"}},
      {{"tasks.run", "run a pipeline of the task file: args [NAME, DURATION]", {"name", "duration"},
        {"name", "duration"}},
       "tasks",
       {"name"},
       true},
  };
}

// Positional args take the names the action documents; options are added as they are.
boost::json::object named_arguments(const OperationAction& action, const ActionCall& call) {
  boost::json::object body = call.options;
  for (std::size_t i = 0; i < call.args.size() && i < action.spec.args.size(); ++i)
    body[action.spec.args[i]] = call.args[i];
  if (action.operate == "install") {  // the install operation takes {source: {name, version}}
    boost::json::object source{{"name", body.contains("name") ? body.at("name") : ""},
                               {"version", body.contains("version") ? body.at("version") : ""}};
    body.erase("name");
    body.erase("version");
    body["source"] = std::move(source);
  }
  return body;
}

class StewardDriver final : public Driver {
 public:
  StewardDriver(jobs::JobService& jobs, const inventory::Inventory& inventory)
      : jobs_(jobs), inventory_(inventory), actions_(operation_actions()) {
    description_.service = "steward";
    description_.description = "steward's operations; each call creates a job";
    description_.concurrency = 64;
    for (const auto& action : actions_) description_.actions.push_back(action.spec);
  }

  const DriverDescription& description() const override { return description_; }

  Status validate(const ActionCall& call) const override {
    if (auto documented = check_documented(description_, call); !documented) return documented;
    const OperationAction& action = find(call.action);
    boost::json::object body = named_arguments(action, call);
    for (const auto& key : action.required) {
      if (!body.contains(key) && !(key == "name" && body.contains("source")))
        return make_error(ErrorCode::InvalidArgument, "steward:" + call.action + " needs '" + key + "'");
    }
    if (!action.on_server) {
      auto targets = resolve(body);
      if (!targets) return targets.error();
      body.erase("targets");
    }
    return jobs_.validate(action.operate, body);
  }

  awaitable<Result<boost::json::value>> execute(ActionCall call, CancelToken) override {
    const OperationAction& action = find(call.action);
    boost::json::object body = named_arguments(action, call);
    auto targets = action.on_server ? Result<std::vector<Target>>(std::vector<Target>{tasks::server_target()})
                                    : resolve(body);
    if (!targets) co_return targets.error();
    body.erase("targets");
    jobs::JobRequest request{action.operate, std::move(body), std::move(*targets)};
    auto jid = co_await jobs_.submit(std::move(request));
    if (!jid) co_return jid.error();
    co_return boost::json::value(boost::json::object{{"jid", *jid}});
  }

 private:
  const OperationAction& find(const std::string& name) const {
    for (const auto& action : actions_)
      if (action.spec.name == name) return action;
    return actions_.front();  // unreachable after check_documented
  }

  // `targets`: a pattern string or a list of patterns.
  Result<std::vector<Target>> resolve(const boost::json::object& body) const {
    std::vector<std::string> patterns;
    const auto* value = body.if_contains("targets");
    if (value && value->is_string()) patterns = split_nonempty(value->as_string(), ',');
    else if (value && value->is_array())
      for (const auto& item : value->as_array())
        if (item.is_string()) patterns.emplace_back(item.as_string());
    if (patterns.empty())
      return make_error(ErrorCode::InvalidArgument, "'targets' must be a host pattern or a list of them");
    return inventory_.targets(patterns);
  }

  jobs::JobService& jobs_;
  const inventory::Inventory& inventory_;
  std::vector<OperationAction> actions_;
  DriverDescription description_;
};

}  // namespace

std::unique_ptr<Driver> make_steward_driver(jobs::JobService& jobs, const inventory::Inventory& inventory) {
  return std::make_unique<StewardDriver>(jobs, inventory);
}

}  // namespace steward::actions
