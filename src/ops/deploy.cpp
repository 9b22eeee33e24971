#include "ops/deploy.hpp"

#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <filesystem>
#include <set>

#include "exec/process.hpp"
#include "ops/args.hpp"

namespace steward::ops {
namespace {

namespace fs = std::filesystem;
using boost::asio::awaitable;
constexpr std::chrono::hours kPlaybookTimeout{1};
// ansible-playbook's stdout carries only the callback's lines, about 200 bytes a host.
constexpr std::size_t kReportCap = 16 << 20;
constexpr std::size_t kStderrExcerpt = 300;
// ansible-playbook's stderr is shared by every host it did not report; each keeps only its end.
constexpr std::size_t kSharedStderrTail = 64 << 10;

std::string tail_of(const std::string& text, std::size_t size) {
  return text.size() > size ? text.substr(text.size() - size) : text;
}

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

// A host's line from our callback ({"host", "stats", "error"}) as its result.
OpResult host_result(const boost::json::object& line, std::string_view raw) {
  OpResult result;
  result.stdout_data = std::string(raw) + "\n";
  if (const auto* error = line.if_contains("error"); error && error->is_string())
    result.error = std::string(error->as_string());
  const auto* stats = line.if_contains("stats");
  if (!stats || !stats->is_object()) {
    result.state = OpState::Skipped;
    return result;
  }
  const auto& counts = stats->as_object();
  if (count(counts, "unreachable") > 0) result.state = OpState::Unreachable;
  else if (count(counts, "failures") > 0) result.state = OpState::Failed;
  else if (count(counts, "changed") > 0) result.state = OpState::Changed;
  else if (count(counts, "ok") > 0) result.state = OpState::Ok;
  else result.state = OpState::Skipped;
  result.facts = boost::json::object{{"ansible", counts}};
  return result;
}

// Splits ansible-playbook's stdout into the callback's lines as they arrive
// and hands each host's result on; notes the closing {"end": true}.
class HostLineReader {
 public:
  using Report = std::function<void(const std::string& host, OpResult result)>;

  explicit HostLineReader(Report report) : report_(std::move(report)) {}

  void feed(std::string_view chunk) {
    pending_ += chunk;
    std::size_t start = 0;
    for (auto end = pending_.find('\n'); end != std::string::npos; end = pending_.find('\n', start)) {
      read_line(std::string_view(pending_).substr(start, end - start));
      start = end + 1;
    }
    pending_.erase(0, start);
  }

  bool ended() const { return ended_; }

 private:
  void read_line(std::string_view line) {
    boost::system::error_code ec;
    auto value = boost::json::parse(line, ec);
    if (ec || !value.is_object()) return;  // not ours: a warning Ansible printed
    const auto& object = value.as_object();
    if (object.contains("end")) ended_ = true;
    if (const auto* host = object.if_contains("host"); host && host->is_string())
      report_(std::string(host->as_string()), host_result(object, line));
  }

  Report report_;
  std::string pending_;
  bool ended_ = false;
};

// What a target gets when ansible-playbook ended without reporting it.
OpResult unreported(const Result<exec::ProcessOutcome>& ran, bool ended, const CancelToken& cancel) {
  if (!ran) return failed_result("cannot run ansible-playbook: " + ran.error().message);
  if (ran->cancelled) return failed_result("cancelled: " + (cancel ? cancel->reason() : std::string("by request")));
  if (ran->timed_out)
    return failed_result(fmt::format("ansible-playbook ran out of time ({} h)", kPlaybookTimeout.count()));
  if (!ended) {
    OpResult result = failed_result(fmt::format("ansible-playbook exited with {} without a result: {}",
                                                ran->exit_code, ran->stderr_data.substr(0, kStderrExcerpt)));
    result.rtc = ran->exit_code;
    result.stderr_data = tail_of(ran->stderr_data, kSharedStderrTail);
    return result;
  }
  OpResult skipped;  // the playbook ran no task on it
  skipped.state = OpState::Skipped;
  skipped.rtc = ran->exit_code;
  skipped.stderr_data = tail_of(ran->stderr_data, kSharedStderrTail);
  return skipped;
}

boost::json::object as_environment(const boost::json::object& extra_vars) {
  boost::json::object environment;
  for (const auto& [key, value] : extra_vars)
    environment[key] = value.is_string() ? value.as_string() : boost::json::string(boost::json::serialize(value));
  return environment;
}

class Deploy final : public Operation, public BatchRunner {
 public:
  explicit Deploy(DeployOptions options) : options_(std::move(options)) {}

  const BatchRunner* batched(const boost::json::object& /*args*/) const override {
    return ansible_mode() ? this : nullptr;
  }

  bool exclusive_per_host() const override { return true; }

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

  // Deputy mode; in Ansible mode a batch of one.
  awaitable<OpResult> run(OpContext context, const boost::json::object& args) const override {
    if (ansible_mode()) {
      OpResult result = failed_result("no result");
      BatchContext one{{context.target}, [&result](const std::string&, OpResult r) { result = std::move(r); },
                       context.cancel};
      auto running = run_batch(std::move(one), args);
      co_await std::move(running);
      co_return result;
    }
    auto request = parse(args);
    if (!request) co_return failed_result(request.error().message);
    boost::json::object install{{"source", {{"name", request->role}, {"version", ""}}},
                                {"environment", as_environment(request->extra_vars)},
                                {"content", "feature"}};
    co_return co_await options_.install->run(std::move(context), install);
  }

  // One ansible-playbook for every target; each host's result as its line arrives.
  awaitable<void> run_batch(BatchContext context, const boost::json::object& args) const override {
    std::set<std::string> unreported_hosts;
    for (const auto& target : context.targets) unreported_hosts.insert(target.name);
    auto report = [&](const std::string& host, OpResult result) {
      if (unreported_hosts.erase(host) > 0) context.on_result(host, std::move(result));
    };
    auto request = parse(args);
    if (!request) {
      for (const auto& target : context.targets) report(target.name, failed_result(request.error().message));
      co_return;
    }
    HostLineReader reader(report);
    exec::ChunkSink sink = [&reader](exec::Stream stream, std::string_view data) {
      if (stream == exec::Stream::Stdout) reader.feed(data);
    };
    auto running = exec::run_process(playbook_spec(*request, context.targets), std::move(sink), context.cancel);
    auto ran = co_await std::move(running);
    const OpResult rest = unreported(ran, reader.ended(), context.cancel);
    for (const auto& target : context.targets) report(target.name, rest);
  }

 private:
  bool ansible_mode() const {
    std::error_code ec;
    return !options_.playbooks_dir.empty() &&
           fs::is_regular_file(fs::path(options_.playbooks_dir) / "_deploy.yml", ec);
  }

  // `--forks` as many as the targets: each holds one of the server's connection slots.
  exec::ProcessSpec playbook_spec(const DeployRequest& request, const std::vector<Target>& targets) const {
    std::string hosts;
    for (const auto& target : targets) hosts += (hosts.empty() ? "" : ",") + target.name;
    exec::ProcessSpec spec;
    spec.argv = {"ansible-playbook", (fs::path(options_.playbooks_dir) / "_deploy.yml").string(),
                 "-i", options_.inventory_path, "--limit", hosts, "--forks",
                 std::to_string(std::max<std::size_t>(1, targets.size())), "-e",
                 boost::json::serialize(boost::json::object{{"_targets", hosts}, {"_role", request.role}})};
    if (!request.extra_vars.empty())
      spec.argv.insert(spec.argv.end(), {"-e", boost::json::serialize(request.extra_vars)});
    if (!request.tags.empty()) spec.argv.insert(spec.argv.end(), {"--tags", request.tags});
    spec.env = {{"ANSIBLE_STDOUT_CALLBACK", "steward_json"},
                {"ANSIBLE_CALLBACK_PLUGINS", options_.callback_dir},
                {"ANSIBLE_NOCOLOR", "1"},
                {"ANSIBLE_RETRY_FILES_ENABLED", "0"}};
    spec.timeout = kPlaybookTimeout;
    spec.output_cap = kReportCap;
    return spec;
  }

  DeployOptions options_;
};

}  // namespace

std::unique_ptr<Operation> make_deploy(DeployOptions options) { return std::make_unique<Deploy>(std::move(options)); }

}  // namespace steward::ops
