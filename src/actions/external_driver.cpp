#include "actions/external_driver.hpp"

#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <filesystem>

#include "core/json_text.hpp"
#include "core/strings.hpp"
#include "exec/process.hpp"

namespace steward::actions {
namespace {

namespace fs = std::filesystem;
using boost::asio::awaitable;
constexpr std::size_t kTail = 500;

std::string tail_of(const std::string& text) {
  std::string trimmed = trim(text);
  return trimmed.size() > kTail ? "..." + trimmed.substr(trimmed.size() - kTail) : trimmed;
}

Result<std::vector<std::string>> names(const boost::json::object& object, const char* key, const std::string& where) {
  std::vector<std::string> out;
  const auto* value = object.if_contains(key);
  if (!value) return out;
  if (!value->is_array()) return make_error(ErrorCode::InvalidArgument, where + ": '" + key + "' must be a list");
  for (const auto& item : value->as_array()) {
    if (!item.is_string())
      return make_error(ErrorCode::InvalidArgument, where + ": '" + key + "' must be a list of strings");
    out.emplace_back(item.as_string());
  }
  return out;
}

Result<DriverDescription> parse_description(const std::string& output, const std::string& path) {
  const std::string where = path + " --describe";
  boost::system::error_code ec;
  auto value = boost::json::parse(output, ec);
  if (ec || !value.is_object())
    return make_error(ErrorCode::InvalidArgument, where + " did not print a JSON object: " + tail_of(output));
  const auto& object = value.as_object();
  DriverDescription description;
  description.service = text_of(object, "service");
  description.description = text_of(object, "description");
  if (description.service.empty() || description.service.find(':') != std::string::npos)
    return make_error(ErrorCode::InvalidArgument, where + ": 'service' must be a non-empty name without ':'");
  if (const auto* concurrency = object.if_contains("concurrency")) {
    if (!concurrency->is_int64() || concurrency->as_int64() < 1)
      return make_error(ErrorCode::InvalidArgument, where + ": 'concurrency' must be a whole number >= 1");
    description.concurrency = static_cast<int>(concurrency->as_int64());
  }
  const auto* actions = object.if_contains("actions");
  if (!actions || !actions->is_array() || actions->as_array().empty())
    return make_error(ErrorCode::InvalidArgument, where + ": 'actions' must be a non-empty list");
  for (const auto& entry : actions->as_array()) {
    if (!entry.is_object() || text_of(entry.as_object(), "name").empty())
      return make_error(ErrorCode::InvalidArgument, where + ": every action needs a 'name'");
    const auto& action = entry.as_object();
    auto args = names(action, "args", where);
    if (!args) return args.error();
    auto options = names(action, "options", where);
    if (!options) return options.error();
    description.actions.push_back({text_of(action, "name"), text_of(action, "description"), *args, *options});
  }
  return description;
}

class ExternalDriver final : public Driver {
 public:
  ExternalDriver(std::string path, DriverDescription description, ExternalDriverOptions options)
      : path_(std::move(path)), description_(std::move(description)), options_(options) {}

  const DriverDescription& description() const override { return description_; }

  Status validate(const ActionCall& call) const override { return check_documented(description_, call); }

  awaitable<Result<boost::json::value>> execute(ActionCall call, CancelToken cancel) override {
    exec::ProcessSpec spec;
    spec.argv = {path_};
    spec.stdin_data = boost::json::serialize(
        boost::json::object{{"action", call.action}, {"args", call.args}, {"options", call.options}});
    spec.timeout = options_.call_timeout;
    auto ran = co_await exec::run_process(std::move(spec), nullptr, std::move(cancel));
    if (!ran) co_return ran.error();
    const std::string who = description_.service + ":" + call.action;
    if (ran->timed_out) co_return make_error(ErrorCode::Timeout, who + " timed out");
    if (ran->cancelled) co_return make_error(ErrorCode::Cancelled, who + " was cancelled");
    if (ran->exit_code != 0) {
      std::string why = ran->exit_code < 0 ? "was killed by signal " + std::to_string(ran->signal)
                                           : "exited with " + std::to_string(ran->exit_code);
      co_return make_error(ErrorCode::Internal, who + " " + why + ": " + tail_of(ran->stderr_data));
    }
    boost::system::error_code ec;
    auto result = boost::json::parse(ran->stdout_data, ec);
    if (ec) co_return make_error(ErrorCode::Internal, who + " did not print JSON: " + tail_of(ran->stdout_data));
    co_return result;
  }

 private:
  std::string path_;
  DriverDescription description_;
  ExternalDriverOptions options_;
};

std::vector<std::string> executables_in(const std::string& folder) {
  std::vector<std::string> paths;
  std::error_code ec;
  for (auto it = fs::directory_iterator(folder, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file() && ::access(it->path().c_str(), X_OK) == 0) paths.push_back(it->path().string());
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

}  // namespace

awaitable<Result<std::vector<std::unique_ptr<Driver>>>> load_external_drivers(std::string folder,
                                                                              ExternalDriverOptions options) {
  std::vector<std::unique_ptr<Driver>> drivers;
  for (const auto& path : executables_in(folder)) {
    exec::ProcessSpec spec;
    spec.argv = {path, "--describe"};
    spec.timeout = options.describe_timeout;
    auto ran = co_await exec::run_process(std::move(spec), nullptr, nullptr);
    if (!ran) co_return make_error(ErrorCode::InvalidArgument, path + " --describe: " + ran.error().message);
    if (ran->exit_code != 0)
      co_return make_error(ErrorCode::InvalidArgument, path + " --describe exited with " +
                                                           std::to_string(ran->exit_code) + ": " +
                                                           tail_of(ran->stderr_data));
    auto description = parse_description(ran->stdout_data, path);
    if (!description) co_return description.error();
    drivers.push_back(std::make_unique<ExternalDriver>(path, std::move(*description), options));
  }
  co_return drivers;
}

}  // namespace steward::actions
