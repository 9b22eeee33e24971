#include "packages/operations.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <set>

#include "ops/args.hpp"
#include "ops/exec_result.hpp"

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
    if (result.state == OpState::Changed && package->type != ContentType::Condition && !package->action.empty())
      result = co_await run_action(context, *package, request->environment);
    if (op_state_is_failure(result.state)) {
      co_await remove_files(context, installed);
      co_return result;
    }
    boost::json::array paths;
    for (const auto& path : installed) paths.emplace_back(path);
    result.state = OpState::Changed;
    result.facts = boost::json::object{{"package", package->name},
                                       {"version", package->version},
                                       {"type", to_string(package->type)},
                                       {"installed", std::move(paths)}};
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

  awaitable<OpResult> run_action(ops::OpContext& context, const Package& package,
                                 const std::map<std::string, std::string>& environment) const {
    transport::ExecRequest action;
    action.command = package.action;
    action.env = environment;
    OpResult result = co_await ops::run_request(context, std::move(action), OpState::Changed);
    if (result.state == OpState::Unreachable && package.restarts) co_return co_await wait_for_reboot(context, result);
    if (op_state_is_failure(result.state)) {
      std::string detail = result.stderr_data.size() > 512 ? result.stderr_data.substr(result.stderr_data.size() - 512)
                                                           : result.stderr_data;
      result.error = fmt::format("action of {} failed: {}{}{}", package.label(), result.error,
                                 detail.empty() ? "" : ": ", detail);
    }
    co_return result;
  }

  // The action dropped the connection, as a reboot does: poll until the
  // target answers again, then count the install as done.
  awaitable<OpResult> wait_for_reboot(ops::OpContext& context, OpResult lost) const {
    spdlog::info("{}: the feature's action lost the connection; waiting up to {} s for it to come back",
                 context.target.name, options_.reboot_wait_timeout.count() / 1000);
    auto deadline = std::chrono::steady_clock::now() + options_.reboot_wait_timeout;
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
    while (std::chrono::steady_clock::now() < deadline && !(context.cancel && context.cancel->cancelled())) {
      timer.expires_after(options_.reboot_wait_interval);
      co_await timer.async_wait(boost::asio::use_awaitable);
      transport::ExecRequest probe;
      probe.argv = {"true"};
      probe.timeout = options_.reboot_wait_interval;
      OpResult answer = co_await ops::run_request(context, std::move(probe), OpState::Ok);
      if (answer.state == OpState::Ok) {
        lost.state = OpState::Changed;
        lost.error.clear();
        co_return lost;
      }
    }
    lost.error = fmt::format("the target did not come back within {} s after the feature's action: {}",
                             options_.reboot_wait_timeout.count() / 1000, lost.error);
    co_return lost;
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

class Uninstall final : public ops::Operation {
 public:
  Status validate(const boost::json::object& args) const override {
    auto files = parse(args);
    if (!files) return files.error();
    return {};
  }

  awaitable<OpResult> run(ops::OpContext context, const boost::json::object& args) const override {
    auto files = parse(args);
    if (!files) co_return failure(OpState::Failed, files.error().message);
    if (files->empty()) co_return with_state(OpState::Ok);
    transport::ExecRequest rm;
    rm.argv = {"rm", "-f", "--"};
    rm.argv.insert(rm.argv.end(), files->begin(), files->end());
    co_return co_await ops::run_request(context, std::move(rm), OpState::Changed);
  }

 private:
  static Result<std::vector<std::string>> parse(const boost::json::object& args) {
    auto files = ops::optional_string_list(args, "files");
    if (!files) return files.error();
    std::vector<std::string> paths = files->value_or(std::vector<std::string>{});
    for (const auto& path : paths) {
      if (!path.starts_with('/'))
        return make_error(ErrorCode::InvalidArgument, "'files' must hold absolute paths, not '" + path + "'");
    }
    return paths;
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

void register_package_ops(ops::OpRegistry& registry, const Catalog& catalog, InstallOptions options) {
  registry.add("install", std::make_unique<Install>(catalog, options));
  registry.add("uninstall", std::make_unique<Uninstall>());
}

}  // namespace steward::packages
