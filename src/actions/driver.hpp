#pragma once
// Named actions (`service:action`, as policy engines such as Congress call
// them): each service is one driver that describes its actions and executes
// one call at a time unless it declares more. Drivers are built in or
// external executables (external_driver.hpp).
#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <vector>

#include "core/cancel.hpp"
#include "core/result.hpp"

namespace steward::actions {

struct ActionSpec {
  std::string name;
  std::string description;
  std::vector<std::string> args;     // positional arguments, in order
  std::vector<std::string> options;  // named arguments
};

struct DriverDescription {
  std::string service;
  std::string description;
  std::vector<ActionSpec> actions;
  int concurrency = 1;  // calls running at once
};

// As in Congress: `args` positional, `options` named.
struct ActionCall {
  std::string action;
  boost::json::array args;
  boost::json::object options;
};

class Driver {
 public:
  virtual ~Driver() = default;
  virtual const DriverDescription& description() const = 0;
  // Called before a call is accepted: InvalidArgument naming what is wrong.
  virtual Status validate(const ActionCall& call) const = 0;
  // The action's result, or an error saying why it failed.
  virtual boost::asio::awaitable<Result<boost::json::value>> execute(ActionCall call, CancelToken cancel) = 0;
};

// The description as JSON: {service, description, concurrency, actions: [{name, description, args, options}]}.
boost::json::object to_json(const DriverDescription& description);

// Checks an action exists and gets at most as many positional arguments as it
// documents and only documented options; InvalidArgument naming the known ones.
Status check_documented(const DriverDescription& description, const ActionCall& call);

}  // namespace steward::actions
