#include "packages/operations.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <set>

#include "ops/args.hpp"
#include "ops/exec_result.hpp"
#include "packages/reboot.hpp"

namespace steward::packages {
namespace {

using boost::asio::awaitable;

struct InstallRequest {
  std::string name;
  std::string version;
  std::map<std::string, std::string> environment;
  std::optional<ContentType> content;
};

Result<InstallRequest> parse_install(const boost::json::object& args) {
  InstallRequest request;
  const auto* source = args.if_contains("source");
  if (!source || !source->is_object())
    return make_error(ErrorCode::InvalidArgument, "'source' must be an object {\"name\", \"version\"}");
  auto name = ops::required_string(source->as_object(), "name");
  if (!name) return make_error(ErrorCode::InvalidArgument, "'source.name' must be a non-empty string");
  auto version = ops::optional_string(source->as_object(), "version");
  if (!version) return make_error(ErrorCode::InvalidArgument, "'source.version' must be a string");
  request.name = *name;
  request.version = version->value_or("");
  auto environment = parse_environment(args.if_contains("environment"));
  if (!environment) return environment.error();
  request.environment = std::move(*environment);
  auto secret_env = ops::string_map(args, "secret_env");  // sealed in the store (core/secret_args.hpp)
  if (!secret_env) return secret_env.error();
  for (auto& [name, value] : *secret_env) request.environment.insert_or_assign(name, std::move(value));
  auto content = ops::optional_string(args, "content");
  if (!content) return content.error();
  if (*content) {
    for (auto type : {ContentType::Feature, ContentType::Inject, ContentType::Condition})
      if (**content == to_string(type)) request.content = type;
    if (!request.content)
      return make_error(ErrorCode::InvalidArgument, "'content' must be one of feature, inject, condition");
  }
  return request;
}

// The package, checked against the type the caller asked for.
Result<Package> find_package(const Catalog& catalog, const InstallRequest& request) {
  auto package = catalog.resolve(request.name, request.version);
  if (!package) return package.error();
  if (request.content && *request.content != package->type)
    return make_error(ErrorCode::InvalidArgument, fmt::format("package '{}' is a {} package, not a {} package",
                                                              package->label(), to_string(package->type),
                                                              to_string(*request.content)));
  return package;
}

std::set<std::string> parent_folders(const Package& package) {
  std::set<std::string> folders;
  for (const auto& asset : package.assets) {
    auto slash = asset.destination.rfind('/');
    if (slash > 0) folders.insert(asset.destination.substr(0, slash));
  }
  return folders;
}


OpResult with_state(OpState state) {
  OpResult result;
  result.state = state;
  return result;
}

OpResult changed() { return with_state(OpState::Changed); }

OpResult failure(OpState state, std::string error) {
  OpResult result = with_state(state);
  result.error = std::move(error);
  return result;
}

// The error with the end of the command's stderr, which says why.
std::string with_stderr(const OpResult& result) {
  constexpr std::size_t kShown = 512;
  const std::string& err = result.stderr_data;
  std::string detail = err.size() > kShown ? err.substr(err.size() - kShown) : err;
  return detail.empty() ? result.error : result.error + ": " + detail;
}

OpState state_for(const Error& error) {
  return error.code == ErrorCode::Unreachable ? OpState::Unreachable : OpState::Failed;
}

class Install final : public ops::Operation {
 public:
  Install(const Catalog& catalog, InstallOptions options) : catalog_(catalog), options_(options) {}

  Status validate(const boost::json::object& args) const override {
    auto request = parse_install(args);
    if (!request) return request.error();
    auto package = find_package(catalog_, *request);
    if (!package) return package.error();
    return {};
  }

  awaitable<OpResult> run(ops::OpContext context, const boost::json::object& args) const override {
    auto request = parse_install(args);
    if (!request) co_return failure(OpState::Failed, request.error().message);
    auto package = find_package(catalog_, *request);
    if (!package) co_return failure(OpState::Failed, package.error().message);

    std::vector<std::string> installed;
    OpResult result = co_await copy_assets(context, *package, installed);
    bool went_down = false;  // the action itself took the target away
    if (result.state == OpState::Changed && package->type != ContentType::Condition && !package->action.empty())
      result = co_await run_action(context, *package, request->environment, went_down);
    if (result.state == OpState::Changed && package->restarts && !went_down) {
      OpResult rebooted = co_await reboot_and_wait(context, reboot_wait());
      if (op_state_is_failure(rebooted.state)) {
        result.state = rebooted.state;
        result.error = fmt::format("rebooting after {} (restarts = true): {}", package->label(), rebooted.error);
      }
    }
    if (op_state_is_failure(result.state)) {
      co_await remove_files(context, installed);
      co_return result;
    }
    boost::json::array paths;
    for (const auto& path : installed) paths.emplace_back(path);
    result.state = OpState::Changed;
    boost::json::object facts{{"package", package->name},
                              {"version", package->version},
                              {"type", to_string(package->type)},
                              {"installed", std::move(paths)}};
    if (!package->delete_action.empty()) facts["delete_action"] = package->delete_action;
    result.facts = std::move(facts);
    co_return result;
  }

 private:
  awaitable<OpResult> copy_assets(ops::OpContext& context, const Package& package,
                                  std::vector<std::string>& installed) const {
    if (package.assets.empty()) co_return changed();
    transport::ExecRequest mkdir;
    mkdir.argv = {"mkdir", "-p", "--"};
    for (const auto& folder : parent_folders(package)) mkdir.argv.push_back(folder);
    OpResult made = co_await ops::run_request(context, std::move(mkdir), OpState::Changed);
    if (op_state_is_failure(made.state)) {
      made.error = "cannot create the asset folders: " + made.error + " " + made.stderr_data;
      co_return made;
    }
    for (const auto& asset : package.assets) {
      transport::FileRequest file{asset.source.string(), asset.destination, asset.mode, ""};
      auto copied = co_await context.transport.put_file(context.target, std::move(file), context.cancel);
      if (!copied) {
        co_return failure(state_for(copied.error()),
                          fmt::format("copying {} to {}: {}", asset.source.filename().string(), asset.destination,
                                      copied.error().message));
      }
      installed.push_back(asset.destination);
    }
    co_return changed();
  }

  RebootWait reboot_wait() const { return {options_.reboot_wait_timeout, options_.reboot_wait_interval}; }

  awaitable<OpResult> run_action(ops::OpContext& context, const Package& package,
                                 const std::map<std::string, std::string>& environment, bool& went_down) const {
    transport::ExecRequest action;
    action.command = package.action;
    action.env = environment;
    OpResult result = co_await ops::run_request(context, std::move(action), OpState::Changed);
    if (result.state == OpState::Unreachable && package.restarts) {
      // A package that reboots the target on its own: that is its reboot.
      went_down = true;
      OpResult back = co_await wait_until_back(context, reboot_wait());
      back.stdout_data = std::move(result.stdout_data);
      back.stderr_data = std::move(result.stderr_data);
      if (op_state_is_failure(back.state)) back.error += ": " + result.error;
      co_return back;
    }
    if (op_state_is_failure(result.state))
      result.error = fmt::format("action of {} failed: {}", package.label(), with_stderr(result));
    co_return result;
  }

  static awaitable<void> remove_files(ops::OpContext& context, const std::vector<std::string>& files) {
    if (files.empty()) co_return;
    transport::ExecRequest rm;
    rm.argv = {"rm", "-f", "--"};
    rm.argv.insert(rm.argv.end(), files.begin(), files.end());
    ops::OpContext quiet{context.transport, context.target, [](transport::Stream, std::string_view) {}, nullptr};
    OpResult removed = co_await ops::run_request(quiet, std::move(rm), OpState::Changed);
    if (op_state_is_failure(removed.state))
      spdlog::warn("{}: could not roll back installed files: {}", context.target.name, removed.error);
  }

  const Catalog& catalog_;
  InstallOptions options_;
};

struct UninstallRequest {
  std::vector<std::string> files;
  std::string action;  // a feature's delete action, run before the files go
  std::map<std::string, std::string> environment;
};

class Uninstall final : public ops::Operation {
 public:
  Status validate(const boost::json::object& args) const override {
    auto request = parse(args);
    if (!request) return request.error();
    return {};
  }

  awaitable<OpResult> run(ops::OpContext context, const boost::json::object& args) const override {
    auto request = parse(args);
    if (!request) co_return failure(OpState::Failed, request.error().message);
    OpResult result = with_state(OpState::Ok);
    if (!request->action.empty()) {
      transport::ExecRequest action;
      action.command = request->action;
      action.env = request->environment;
      result = co_await ops::run_request(context, std::move(action), OpState::Changed);
      if (op_state_is_failure(result.state)) {
        result.error = "the delete action failed, so the installed files were left in place: " + with_stderr(result);
        co_return result;
      }
    }
    if (request->files.empty()) co_return result;
    transport::ExecRequest rm;
    rm.argv = {"rm", "-f", "--"};
    rm.argv.insert(rm.argv.end(), request->files.begin(), request->files.end());
    OpResult removed = co_await ops::run_request(context, std::move(rm), OpState::Changed);
    removed.stdout_data = result.stdout_data + removed.stdout_data;
    removed.stderr_data = result.stderr_data + removed.stderr_data;
    co_return removed;
  }

 private:
  static Result<UninstallRequest> parse(const boost::json::object& args) {
    UninstallRequest request;
    auto files = ops::optional_string_list(args, "files");
    if (!files) return files.error();
    request.files = files->value_or(std::vector<std::string>{});
    for (const auto& path : request.files) {
      if (!path.starts_with('/'))
        return make_error(ErrorCode::InvalidArgument, "'files' must hold absolute paths, not '" + path + "'");
    }
    auto action = ops::optional_string(args, "action");
    if (!action) return action.error();
    request.action = action->value_or("");
    auto environment = parse_environment(args.if_contains("environment"));
    if (!environment) return environment.error();
    request.environment = std::move(*environment);
    return request;
  }
};

}  // namespace

Result<std::map<std::string, std::string>> parse_environment(const boost::json::value* value) {
  std::map<std::string, std::string> environment;
  if (!value || value->is_null()) return environment;
  if (value->is_object()) {
    boost::json::object wrapper{{"environment", *value}};
    return ops::string_map(wrapper, "environment");
  }
  if (!value->is_array())
    return make_error(ErrorCode::InvalidArgument, "'environment' must be a list of \"KEY=VALUE\" or an object");
  for (const auto& entry : value->as_array()) {
    const auto* text = entry.if_string();
    auto equals = text ? text->find('=') : boost::json::string::npos;
    if (!text || equals == 0 || equals == boost::json::string::npos)
      return make_error(ErrorCode::InvalidArgument,
                        "'environment' entries must look like KEY=VALUE, not " + boost::json::serialize(entry));
    environment[std::string(text->subview(0, equals))] = std::string(text->subview(equals + 1));
  }
  return environment;
}

Status register_package_ops(ops::OpRegistry& registry, const Catalog& catalog, InstallOptions options) {
  Status added = registry.add("install", std::make_unique<Install>(catalog, options));
  if (!added) return added;
  return registry.add("uninstall", std::make_unique<Uninstall>());
}

}  // namespace steward::packages
