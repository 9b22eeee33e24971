#include "actions/router.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>

#include "core/clock.hpp"
#include "core/ids.hpp"
#include "core/spawn.hpp"

namespace steward::actions {

struct ActionRouter::Service {
  std::unique_ptr<Driver> driver;
  int running = 0;
  std::deque<std::string> waiting;
};

const char* to_string(ActionState state) {
  switch (state) {
    case ActionState::Pending: return "pending";
    case ActionState::Running: return "running";
    case ActionState::Succeeded: return "succeeded";
    case ActionState::Failed: return "failed";
  }
  return "pending";
}

boost::json::object to_json(const ActionRecord& record) {
  boost::json::object out{{"id", record.id},
          {"name", record.service + ":" + record.call.action},
          {"args", record.call.args},
          {"options", record.shown_options},
          {"state", to_string(record.state)},
          {"result", record.result},
          {"error", record.error},
          {"created", record.created},
          {"started", record.started},
          {"finished", record.finished}};
  if (!record.policy.empty()) out["policy"] = record.policy;
  return out;
}

ActionRouter::ActionRouter(boost::asio::any_io_executor executor, std::size_t keep_finished)
    : executor_(std::move(executor)), keep_finished_(keep_finished) {}

ActionRouter::~ActionRouter() = default;

Status ActionRouter::add(std::unique_ptr<Driver> driver) {
  const std::string name = driver->description().service;
  if (name.empty() || name.find(':') != std::string::npos)
    return make_error(ErrorCode::InvalidArgument, "a driver's service name must be non-empty, without ':'");
  auto& slot = services_[name];
  if (slot) return make_error(ErrorCode::Conflict, "two drivers for service '" + name + "'");
  slot = std::make_unique<Service>();
  slot->driver = std::move(driver);
  return {};
}

Result<std::string> ActionRouter::submit(const std::string& name, boost::json::array args,
                                         boost::json::object options, const std::string& policy) {
  auto colon = name.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == name.size())
    return make_error(ErrorCode::InvalidArgument, "an action name looks like SERVICE:ACTION, not '" + name + "'");
  return submit_to(name.substr(0, colon), name.substr(colon + 1), std::move(args), std::move(options), policy);
}

Result<std::string> ActionRouter::submit_to(const std::string& service_name, const std::string& action,
                                            boost::json::array args, boost::json::object options,
                                            const std::string& policy) {
  auto it = services_.find(service_name);
  if (it == services_.end()) {
    std::string known;
    for (const auto& [name, _] : services_) known += (known.empty() ? "" : ", ") + name;
    return make_error(ErrorCode::NotFound, "no service '" + service_name + "' (known: " + known + ")");
  }
  std::string bare = action;
  if (const std::string prefix = service_name + ":"; bare.starts_with(prefix)) bare = bare.substr(prefix.size());
  if (bare.find(':') != std::string::npos)
    return make_error(ErrorCode::InvalidArgument, "action '" + action + "' belongs to another service");
  ActionCall call{bare, std::move(args), std::move(options)};
  Service& service = *it->second;
  if (auto valid = service.driver->validate(call); !valid) return valid.error();

  std::string id = new_jid();
  ActionRecord& record = records_[id];
  record.id = id;
  record.service = service_name;
  record.shown_options = masked(call.options, secret_names_);
  record.call = std::move(call);
  record.policy = policy;
  record.created = unix_now();
  if (observer_) observer_(record);
  service.waiting.push_back(id);
  start_waiting(service);
  return id;
}

void ActionRouter::start_waiting(Service& service) {
  while (!service.waiting.empty() && service.running < std::max(1, service.driver->description().concurrency)) {
    std::string id = service.waiting.front();
    service.waiting.pop_front();
    ActionRecord& record = records_.at(id);
    record.state = ActionState::Running;
    record.started = unix_now();
    if (observer_) observer_(record);
    ++service.running;
    auto execution = service.driver->execute(record.call, cancel_);
    boost::asio::co_spawn(executor_, std::move(execution),
                          [this, &service, id](std::exception_ptr failure, Result<boost::json::value> outcome) {
                            ActionRecord& done = records_.at(id);
                            if (failure) {
                              report_spawn_failure("action " + id, failure);
                              outcome = make_error(ErrorCode::Internal, "the driver failed");
                            }
                            done.state = outcome ? ActionState::Succeeded : ActionState::Failed;
                            if (outcome) done.result = std::move(*outcome);
                            else done.error = outcome.error().message;
                            done.finished = unix_now();
                            --service.running;
                            finished(id);
                            start_waiting(service);
                          });
  }
}

void ActionRouter::finished(const std::string& id) {
  const ActionRecord& record = records_.at(id);
  if (observer_) observer_(record);
  if (record.state == ActionState::Failed)
    spdlog::warn("action {}:{} ({}) failed: {}", record.service, record.call.action, id, record.error);
  finished_order_.push_back(id);
  while (finished_order_.size() > keep_finished_) {
    records_.erase(finished_order_.front());
    finished_order_.pop_front();
  }
}

Result<ActionRecord> ActionRouter::get(const std::string& id) const {
  auto it = records_.find(id);
  if (it == records_.end()) return make_error(ErrorCode::NotFound, "no action with id '" + id + "'");
  return it->second;
}

boost::json::array ActionRouter::services() const {
  boost::json::array out;
  for (const auto& [_, service] : services_) out.emplace_back(to_json(service->driver->description()));
  return out;
}

void ActionRouter::cancel_all(const std::string& reason) {
  for (auto& [_, service] : services_) {
    for (const auto& id : service->waiting) {
      ActionRecord& record = records_.at(id);
      record.state = ActionState::Failed;
      record.error = "not started: " + reason;
      record.finished = unix_now();
      if (observer_) observer_(record);
      finished_order_.push_back(id);
    }
    service->waiting.clear();
  }
  cancel_->cancel(reason);
}

}  // namespace steward::actions
