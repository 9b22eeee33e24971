#include "ops/deploy.hpp"

#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <filesystem>
#include <fstream>

#include "exec/process.hpp"
#include "ops/args.hpp"

namespace steward::ops {
namespace {

namespace fs = std::filesystem;
using boost::asio::awaitable;
constexpr std::chrono::hours kPlaybookTimeout{1};

// Prints one JSON line at the end: {"stats": {host: counts}, "errors": {host: message}}.
constexpr const char* kCallback = R"PY(# Written by steward: per-host results of a playbook as one JSON line.
from __future__ import annotations

import json

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "steward_json"

    def __init__(self):
        super().__init__()
        self.errors = {}

    def _remember(self, result):
        message = result._result.get("msg") or result._result.get("stderr") or "failed"
        self.errors[result._host.get_name()] = f"{result._task.get_name()}: {message}"

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if not ignore_errors:
            self._remember(result)

    def v2_runner_on_unreachable(self, result):
        self._remember(result)

    def v2_playbook_on_stats(self, stats):
        hosts = {host: stats.summarize(host) for host in sorted(stats.processed.keys())}
        self._display.display(json.dumps({"stats": hosts, "errors": self.errors}))
)PY";

struct DeployRequest {
  std::string role;
  std::string tags;
  boost::json::object extra_vars;
};

Result<DeployRequest> parse(const boost::json::object& args) {
  DeployRequest request;
  auto role = required_string(args, "role");
  if (!role) return role.error();
  if (role->empty() || role->find('/') != std::string::npos)
    return make_error(ErrorCode::InvalidArgument, "'role' must be a role name");
  request.role = *role;
  if (const auto* partial = args.if_contains("partial"); partial && !partial->is_null()) {
    auto tags = optional_string_list(args, "partial");
    if (partial->is_string()) request.tags = std::string(partial->as_string());
    else if (tags && *tags) for (const auto& tag : **tags) request.tags += (request.tags.empty() ? "" : ",") + tag;
    else return make_error(ErrorCode::InvalidArgument, "'partial' must be a tag or a list of tags");
  }
  if (const auto* extra = args.if_contains("extra_vars"); extra && !extra->is_null()) {
    if (!extra->is_object()) return make_error(ErrorCode::InvalidArgument, "'extra_vars' must be an object");
    request.extra_vars = extra->as_object();
  }
  return request;
}

std::int64_t count(const boost::json::object& stats, const char* key) {
  const auto* value = stats.if_contains(key);
  return value && value->is_int64() ? value->as_int64() : 0;
}

// The per-host line our callback prints, mapped to an operation state.
OpResult from_ansible(const exec::ProcessOutcome& out, const std::string& host) {
  OpResult result;
  result.stdout_data = out.stdout_data;
  result.stderr_data = out.stderr_data;
  result.rtc = out.exit_code;
  auto line_start = out.stdout_data.rfind("{\"stats\"");
  boost::system::error_code ec;
  auto report = line_start == std::string::npos ? boost::json::value()
                                                 : boost::json::parse(out.stdout_data.substr(line_start), ec);
  if (ec || !report.is_object()) {
    result.state = OpState::Failed;
    result.error = fmt::format("ansible-playbook exited with {} without a result: {}", out.exit_code,
                               out.stderr_data.substr(0, 300));
    return result;
  }
  const auto* stats = report.at("stats").as_object().if_contains(host);
  if (const auto* error = report.at("errors").as_object().if_contains(host); error && error->is_string())
    result.error = std::string(error->as_string());
  if (!stats) result.state = OpState::Skipped;
  else if (count(stats->as_object(), "unreachable") > 0) result.state = OpState::Unreachable;
  else if (count(stats->as_object(), "failures") > 0) result.state = OpState::Failed;
  else if (count(stats->as_object(), "changed") > 0) result.state = OpState::Changed;
  else if (count(stats->as_object(), "ok") > 0) result.state = OpState::Ok;
  else result.state = OpState::Skipped;
  if (stats) result.facts = boost::json::object{{"ansible", *stats}};
  return result;
}

boost::json::object as_environment(const boost::json::object& extra_vars) {
  boost::json::object environment;
  for (const auto& [key, value] : extra_vars)
    environment[key] = value.is_string() ? value.as_string() : boost::json::string(boost::json::serialize(value));
  return environment;
}

class Deploy final : public Operation {
 public:
  explicit Deploy(DeployOptions options) : options_(std::move(options)) {}

  Status validate(const boost::json::object& args) const override {
    auto request = parse(args);
    if (!request) return request.error();
    if (ansible_mode()) {
      fs::path roles = fs::path(options_.playbooks_dir) / "roles";
      std::error_code ec;
      if (fs::is_directory(roles, ec) && !fs::is_directory(roles / request->role, ec))
        return make_error(ErrorCode::NotFound, "no role '" + request->role + "' in " + roles.string());
      return {};
    }
    if (!options_.install || !options_.find_role)
      return make_error(ErrorCode::NotFound, "no playbooks (--playbooks) and no Deputy packages to deploy from");
    return options_.find_role(request->role);
  }

  awaitable<OpResult> run(OpContext context, const boost::json::object& args) const override {
    auto request = parse(args);
    if (!request) {
      OpResult failed;
      failed.state = OpState::Failed;
      failed.error = request.error().message;
      co_return failed;
    }
    if (!ansible_mode()) {
      boost::json::object install{{"source", {{"name", request->role}, {"version", ""}}},
                                  {"environment", as_environment(request->extra_vars)},
                                  {"content", "feature"}};
      co_return co_await options_.install->run(std::move(context), install);
    }
    exec::ProcessSpec spec;
    const std::string host = context.target.name;
    spec.argv = {"ansible-playbook", (fs::path(options_.playbooks_dir) / "_deploy.yml").string(), "-i",
                 options_.inventory_path, "--limit", host, "-e",
                 boost::json::serialize(boost::json::object{{"_targets", host}, {"_role", request->role}})};
    if (!request->extra_vars.empty()) spec.argv.insert(spec.argv.end(), {"-e", boost::json::serialize(request->extra_vars)});
    if (!request->tags.empty()) spec.argv.insert(spec.argv.end(), {"--tags", request->tags});
    spec.env = {{"ANSIBLE_STDOUT_CALLBACK", "steward_json"},
                {"ANSIBLE_CALLBACK_PLUGINS", options_.callback_dir},
                {"ANSIBLE_NOCOLOR", "1"},
                {"ANSIBLE_RETRY_FILES_ENABLED", "0"}};
    spec.timeout = kPlaybookTimeout;
    auto ran = co_await exec::run_process(std::move(spec), nullptr, context.cancel);
    if (!ran) {
      OpResult failed;
      failed.state = OpState::Failed;
      failed.error = "cannot run ansible-playbook: " + ran.error().message;
      co_return failed;
    }
    co_return from_ansible(*ran, host);
  }

 private:
  bool ansible_mode() const {
    std::error_code ec;
    return !options_.playbooks_dir.empty() &&
           fs::is_regular_file(fs::path(options_.playbooks_dir) / "_deploy.yml", ec);
  }

  DeployOptions options_;
};

}  // namespace

std::unique_ptr<Operation> make_deploy(DeployOptions options) { return std::make_unique<Deploy>(std::move(options)); }

Status write_ansible_callback(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return make_error(ErrorCode::Internal, "cannot create " + dir + ": " + ec.message());
  std::ofstream out(fs::path(dir) / "steward_json.py");
  out << kCallback;
  if (!out) return make_error(ErrorCode::Internal, "cannot write the Ansible callback into " + dir);
  return {};
}

}  // namespace steward::ops
