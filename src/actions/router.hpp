#pragma once
// Routes `service:action` calls unicast to the one driver that owns the
// service, accepts them at once (the caller gets an id before the action
// completes), runs each driver's calls within its concurrency, first come
// first served, and keeps the outcome for readers. Loop-thread only.
#include <boost/asio/any_io_executor.hpp>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "actions/driver.hpp"
#include "core/secret_args.hpp"

namespace steward::actions {

enum class ActionState { Pending, Running, Succeeded, Failed };
const char* to_string(ActionState state);

struct ActionRecord {
  std::string id;
  std::string service;
  ActionCall call;
  boost::json::object shown_options;  // call.options with secret values as "***": what readers and the store get
  std::string policy;  // the Congress policy a call was made for, if any
  ActionState state = ActionState::Pending;
  boost::json::value result;
  std::string error;
  double created = 0;
  double started = 0;
  double finished = 0;
};

// {id, name: "svc:action", args, options (shown_options), state, result, error, created, started,
// finished}, and policy when there is one
boost::json::object to_json(const ActionRecord& record);

class ActionRouter {
 public:
  // The newest `keep_finished` finished calls stay readable.
  explicit ActionRouter(boost::asio::any_io_executor executor, std::size_t keep_finished = 1000);
  ~ActionRouter();

  // Conflict when the service already has a driver.
  Status add(std::unique_ptr<Driver> driver);

  // "SERVICE:ACTION". NotFound naming the known services; InvalidArgument
  // naming the service's actions or what the driver refused. `policy`
  // names the Congress policy that dictated the call (recorded only).
  Result<std::string> submit(const std::string& name, boost::json::array args, boost::json::object options,
                             const std::string& policy = {});
  // `action` may carry the "SERVICE:" prefix when it names this service.
  Result<std::string> submit_to(const std::string& service, const std::string& action, boost::json::array args,
                                boost::json::object options, const std::string& policy = {});

  // NotFound for an unknown (or long forgotten) id.
  Result<ActionRecord> get(const std::string& id) const;
  // Every driver's description, by service name.
  boost::json::array services() const;

  // Cancels running calls and fails waiting ones; at shutdown.
  void cancel_all(const std::string& reason);

  // Called whenever a record is created or changes state (to keep it durably).
  void on_change(std::function<void(const ActionRecord&)> observer) { observer_ = std::move(observer); }
  // Which option values records show as "***" (core/secret_args.hpp masked());
  // kDefaultSecretEnvPattern until set.
  void hide_secrets(SecretNames names) { secret_names_ = std::move(names); }

  struct Service;

 private:
  void start_waiting(Service& service);
  void finished(const std::string& id);

  boost::asio::any_io_executor executor_;
  std::size_t keep_finished_;
  std::map<std::string, std::unique_ptr<Service>> services_;
  std::map<std::string, ActionRecord> records_;
  std::deque<std::string> finished_order_;
  CancelToken cancel_ = make_cancel_token();
  std::function<void(const ActionRecord&)> observer_;
  SecretNames secret_names_ = SecretNames::parse(kDefaultSecretEnvPattern).value();
};

}  // namespace steward::actions
