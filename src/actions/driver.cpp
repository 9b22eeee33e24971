#include "actions/driver.hpp"

#include <algorithm>

namespace steward::actions {
namespace {

boost::json::array strings(const std::vector<std::string>& values) {
  boost::json::array array;
  for (const auto& value : values) array.emplace_back(value);
  return array;
}

std::string joined(const std::vector<std::string>& values) {
  std::string text;
  for (const auto& value : values) text += (text.empty() ? "" : ", ") + value;
  return text.empty() ? "none" : text;
}

}  // namespace

boost::json::object to_json(const DriverDescription& description) {
  boost::json::array actions;
  for (const auto& action : description.actions) {
    actions.push_back({{"name", action.name},
                       {"description", action.description},
                       {"args", strings(action.args)},
                       {"options", strings(action.options)}});
  }
  return {{"service", description.service},
          {"description", description.description},
          {"concurrency", description.concurrency},
          {"actions", std::move(actions)}};
}

Status check_documented(const DriverDescription& description, const ActionCall& call) {
  auto action = std::find_if(description.actions.begin(), description.actions.end(),
                             [&](const ActionSpec& spec) { return spec.name == call.action; });
  if (action == description.actions.end()) {
    std::vector<std::string> known;
    for (const auto& spec : description.actions) known.push_back(spec.name);
    return make_error(ErrorCode::InvalidArgument, "service '" + description.service + "' has no action '" +
                                                      call.action + "' (known: " + joined(known) + ")");
  }
  if (call.args.size() > action->args.size())
    return make_error(ErrorCode::InvalidArgument,
                      description.service + ":" + call.action + " takes at most " +
                          std::to_string(action->args.size()) + " args (" + joined(action->args) + "), got " +
                          std::to_string(call.args.size()));
  for (const auto& [key, _] : call.options) {
    if (std::find(action->options.begin(), action->options.end(), std::string(key)) == action->options.end())
      return make_error(ErrorCode::InvalidArgument, description.service + ":" + call.action + " has no option '" +
                                                        std::string(key) + "' (known: " + joined(action->options) +
                                                        ")");
  }
  return {};
}

}  // namespace steward::actions
