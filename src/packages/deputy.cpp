#include "packages/deputy.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/json/serialize.hpp>

#include "core/clock.hpp"
#include "core/ids.hpp"
#include "core/json_text.hpp"
#include "core/timer.hpp"
#include "core/secret_args.hpp"
#include "inventory/inventory.hpp"
#include "jobs/job_service.hpp"
#include "packages/operations.hpp"

namespace steward::packages {
namespace {

using boost::asio::awaitable;
// Named strings, not literals: a temporary std::string in a co_await
// expression is what GCC 12 destroys twice (PR 99576).
const std::string kDeployment = "deployment";
const std::string kInstall = "install";
const std::string kUninstall = "uninstall";
constexpr std::chrono::hours kLongestInstall{24};

boost::json::array json_strings(const std::vector<std::string>& values) {
  boost::json::array array;
  for (const auto& value : values) array.emplace_back(value);
  return array;
}

std::vector<std::string> strings_of(const boost::json::object& record, const char* key) {
  std::vector<std::string> values;
  if (const auto* array = record.if_contains(key); array && array->is_array()) {
    for (const auto& value : array->as_array())
      if (value.is_string()) values.emplace_back(value.as_string());
  }
  return values;
}

// Replaces every spelling of a credential the transports read, so the
// request's account wins over the inventory's.
void apply_account(Target& target, const Account& account) {
  auto set = [&target](std::initializer_list<const char*> aliases, const std::string& value) {
    if (value.empty()) return;
    for (const char* alias : aliases) target.vars.erase(alias);
    target.vars[*aliases.begin()] = value;
  };
  set({"ansible_user", "ansible_ssh_user"}, account.username);
  set({"ansible_password", "ansible_ssh_pass", "ansible_ssh_password"}, account.password);
  if (!account.private_key.empty()) {
    target.vars.erase("ansible_ssh_private_key_file");
    target.vars.erase("ansible_private_key_file");
  }
  set({"steward_ssh_private_key"}, account.private_key);
}

bool has_credentials(const Account& account) {
  return !account.username.empty() || !account.password.empty() || !account.private_key.empty();
}

// The account a record keeps for later runs (a feature's delete, a
// condition's every run, on any server, after restarts), its secrets sealed.
Result<boost::json::object> stored_account(const Account& account, const ArgSecrets& secrets) {
  boost::json::object out;
  if (!account.username.empty()) out["username"] = account.username;
  for (const auto& [key, value] : {std::pair{"password", &account.password}, {"private_key", &account.private_key}}) {
    if (value->empty()) continue;
    auto sealed = secrets.seal_value(*value);
    if (!sealed) return sealed.error();
    out[key] = std::move(*sealed);
  }
  return out;
}

// The account of an opened record; none when it kept none.
Account account_of(const boost::json::object& record) {
  const auto* account = record.if_contains("account");
  if (!account || !account->is_object()) return {};
  const auto& fields = account->as_object();
  return Account{text_of(fields, "username"), text_of(fields, "password"), text_of(fields, "private_key")};
}

Error failed_run(const Target& target, const OpResult& result) {
  ErrorCode code = result.state == OpState::Unreachable ? ErrorCode::Unreachable : ErrorCode::Internal;
  return make_error(code, fmt::format("{}: {}", target.name, result.error.empty() ? "failed" : result.error));
}

}  // namespace

DeputyService::DeputyService(jobs::JobService& jobs, const inventory::Inventory& inventory, store::Store& store,
                             ConditionHub& conditions, const Catalog& catalog, const ArgSecrets* secrets)
    : jobs_(jobs),
      inventory_(inventory),
      store_(store),
      conditions_(conditions),
      catalog_(catalog),
      secrets_(secrets) {}

Result<boost::json::object> DeputyService::sealed(boost::json::object record, const Account& account) const {
  if (!secrets_) return record;  // without a secret box the account is not kept
  if (has_credentials(account)) {
    auto kept = stored_account(account, *secrets_);
    if (!kept) return kept.error();
    record["account"] = std::move(*kept);
  }
  return secrets_->seal(std::move(record));
}

Result<boost::json::object> DeputyService::opened(boost::json::object record) const {
  if (!secrets_) return record;
  return secrets_->open(std::move(record));
}

Result<Target> DeputyService::target_for(const std::string& vm, const Account& account) const {
  if (vm.empty()) return make_error(ErrorCode::InvalidArgument, "'virtual_machine_id' is empty");
  auto host = inventory_.host_for_vm(vm);
  if (!host) return host.error();
  auto target = inventory_.target(*host);
  if (!target) return target.error();
  apply_account(*target, account);
  return target;
}

awaitable<Result<OpResult>> DeputyService::run_on(const Target& target, const std::string& operate,
                                                  boost::json::object args, std::string& jid) {
  if (auto valid = jobs_.validate(operate, args); !valid) co_return valid.error();
  jobs::JobRequest request{operate, std::move(args), {target}};
  auto submitted = co_await jobs_.submit(std::move(request));
  if (!submitted) co_return submitted.error();
  jid = *submitted;
  auto job = co_await jobs_.wait(jid, std::chrono::steady_clock::now() + kLongestInstall);
  if (!job) co_return job.error();
  auto run = job->runs.find(target.name);
  if (run == job->runs.end()) co_return make_error(ErrorCode::Internal, "job " + jid + " has no run for " + target.name);
  if (op_state_is_failure(run->second.result.state)) co_return failed_run(target, run->second.result);
  co_return run->second.result;
}

awaitable<Result<boost::json::object>> DeputyService::load(const std::string& kind, const std::string& id) {
  auto record = co_await store_.get_record(kind, id);
  if (!record) co_return record.error();
  if (!*record || (*record)->contains("deleted"))
    co_return make_error(ErrorCode::NotFound, fmt::format("no {} with identifier '{}'", kind, id));
  co_return std::move(**record);
}

awaitable<Result<DeployOutcome>> DeputyService::deploy(DeployRequest request) {
  auto target = target_for(request.vm, request.account);
  if (!target) co_return target.error();
  boost::json::object args{{"source", {{"name", request.source.name}, {"version", request.source.version}}},
                           {"environment", json_strings(request.environment)},
                           {"content", to_string(request.content)}};
  std::string jid;
  auto installed = co_await run_on(*target, kInstall, std::move(args), jid);
  if (!installed) co_return installed.error();

  const auto& facts = installed->facts.as_object();
  boost::json::object record{{"id", jid},
                             {"kind", to_string(request.content)},
                             {"name", request.name},
                             {"target", target->name},
                             {"virtual_machine_id", request.vm},
                             {"package", facts.at("package")},
                             {"version", facts.at("version")},
                             {"installed", facts.at("installed")},
                             {"created", unix_now()}};
  if (!request.to_entities.empty()) record["to_entities"] = json_strings(request.to_entities);
  if (const auto* delete_action = facts.if_contains("delete_action")) {
    // Run on delete with the environment the feature was created with.
    record["delete_action"] = *delete_action;
    record["environment"] = json_strings(request.environment);
  }
  auto to_store = sealed(std::move(record), request.account);
  if (!to_store) co_return to_store.error();
  if (auto saved = co_await store_.put_record(kDeployment, jid, *to_store); !saved) co_return saved.error();
  co_return DeployOutcome{jid, installed->stdout_data, installed->stderr_data};
}

awaitable<Status> DeputyService::undeploy(const std::string& identifier) {
  auto stored = co_await load(kDeployment, identifier);
  if (!stored) co_return stored.error();
  auto record = opened(std::move(*stored));  // the delete action needs the environment in clear
  if (!record) co_return record.error();
  auto target = target_for(text_of(*record, "target"), account_of(*record));
  if (!target) co_return target.error();
  std::string jid;
  boost::json::object args{{"files", record->at("installed")}};
  if (const auto* action = record->if_contains("delete_action")) {
    args["action"] = *action;
    args["environment"] = record->contains("environment") ? record->at("environment") : boost::json::array();
  }
  auto removed = co_await run_on(*target, kUninstall, std::move(args), jid);
  if (!removed) co_return removed.error();
  auto deleted = co_await store_.delete_record(kDeployment, identifier);
  if (!deleted) co_return deleted.error();
  co_return Status{};
}

awaitable<Result<std::string>> DeputyService::create_condition(ConditionRequest request) {
  if (request.source && !request.command.empty())
    co_return make_error(ErrorCode::InvalidArgument, "a condition takes either 'source' or 'command', not both");
  if (!request.source && request.command.empty())
    co_return make_error(ErrorCode::InvalidArgument, "a condition needs a 'source' package or a 'command'");
  auto target = target_for(request.vm, request.account);
  if (!target) co_return target.error();
  boost::json::value environment = json_strings(request.environment);
  if (auto parsed = parse_environment(&environment); !parsed) co_return parsed.error();

  std::string command = request.command;
  int interval = request.interval;
  std::optional<Package> package;
  if (request.source) {
    auto found = catalog_.resolve(request.source->name, request.source->version);
    if (!found) co_return found.error();
    if (found->type != ContentType::Condition)
      co_return make_error(ErrorCode::InvalidArgument,
                           fmt::format("package '{}' is a {} package, not a condition", found->label(),
                                       to_string(found->type)));
    package = std::move(*found);
    command = package->action;
    if (interval == 0) interval = package->interval;
  }
  if (interval < 1)
    co_return make_error(ErrorCode::InvalidArgument,
                         fmt::format("'interval' must be at least 1 second, not {}", request.interval));

  std::string id = new_jid();
  boost::json::array installed;
  if (package) {
    boost::json::object args{{"source", {{"name", package->name}, {"version", package->version}}},
                             {"content", "condition"}};
    auto result = co_await run_on(*target, kInstall, std::move(args), id);
    if (!result) co_return result.error();
    installed = result->facts.as_object().at("installed").as_array();
  }
  boost::json::object record{{"id", id},           {"name", request.name}, {"target", target->name},
                             {"command", command}, {"interval", interval}, {"environment", environment},
                             {"installed", installed}, {"created", unix_now()}};
  record["virtual_machine_id"] = request.vm;
  if (package) record["source"] = {{"name", package->name}, {"version", package->version}};
  auto to_store = sealed(std::move(record), request.account);
  if (!to_store) co_return to_store.error();
  if (auto saved = co_await store_.put_record(kConditionKind, id, *to_store); !saved) co_return saved.error();
  co_return id;
}

Result<ConditionSpec> DeputyService::spec_of(const boost::json::object& record) const {
  std::string id = text_of(record, "id");
  auto plain = opened(record);
  if (!plain) return make_error(plain.error().code, "condition " + id + " cannot run: " + plain.error().message);
  auto target = target_for(text_of(record, "target"), account_of(*plain));
  if (!target) return target.error();
  boost::json::value environment = plain->contains("environment") ? plain->at("environment") : boost::json::array();
  auto parsed = parse_environment(&environment);
  if (!parsed) return parsed.error();
  const auto* interval = record.if_contains("interval");
  return ConditionSpec{id, std::move(*target), text_of(record, "command"), std::move(*parsed),
                       std::chrono::seconds(interval && interval->is_int64() ? interval->as_int64() : 1)};
}

awaitable<Result<std::uint64_t>> DeputyService::subscribe(const std::string& id, ConditionHub::Listener listener,
                                                          ConditionHub::Closer closer) {
  auto record = co_await load(kConditionKind, id);
  if (!record) co_return record.error();
  // A delete may have begun while the record was read.
  if (deleting_.contains(id)) co_return make_error(ErrorCode::NotFound, "condition '" + id + "' was deleted");
  auto spec = spec_of(*record);
  if (!spec) co_return spec.error();
  auto joining = join_condition(*spec, std::move(listener), std::move(closer));
  co_return co_await std::move(joining);
}

void DeputyService::unsubscribe(const std::string& id, std::uint64_t subscription) {
  conditions_.unsubscribe(id, subscription);
}

awaitable<Status> DeputyService::delete_condition(const std::string& id) {
  auto record = co_await load(kConditionKind, id);
  if (!record) co_return record.error();
  if (!deleting_.insert(id).second) co_return make_error(ErrorCode::NotFound, "condition '" + id + "' was deleted");
  conditions_.stop(id, make_error(ErrorCode::NotFound, "condition '" + id + "' was deleted"));
  (*record)["deleted"] = unix_now();
  if (auto saved = co_await store_.put_record(kConditionKind, id, *record); !saved) co_return saved.error();
  auto files = strings_of(*record, "installed");
  if (!files.empty()) {
    // The condition is gone either way; files left on an unreachable target are logged.
    auto plain = opened(*record);
    auto target = plain ? target_for(text_of(*record, "target"), account_of(*plain)) : Result<Target>(plain.error());
    Status removed = target.ok() ? Status{} : Status(target.error());
    if (target) {
      std::string jid;
      boost::json::object args{{"files", record->at("installed")}};
      auto uninstalled = co_await run_on(*target, kUninstall, std::move(args), jid);
      if (!uninstalled) removed = uninstalled.error();
    }
    if (!removed) spdlog::warn("condition {}: its files could not be removed: {}", id, removed.error().message);
  }
  co_return Status{};
}

awaitable<Result<boost::json::array>> DeputyService::list_conditions() {
  auto records = co_await store_.list_records(kConditionKind);
  if (!records) co_return records.error();
  boost::json::array out;
  for (auto& record : *records) {
    std::string id = text_of(record, "id");
    record.erase("account");
    record["subscribers"] = conditions_.subscribers(id);
    record["running"] = conditions_.subscribers(id) > 0;
    if (auto counters = conditions_.counters(id)) {
      record["counters"] = {{"runs", counters->runs},
                            {"values", counters->values},
                            {"skipped_busy", counters->skipped_busy},
                            {"skipped_unreachable", counters->skipped_unreachable},
                            {"failed", counters->failed},
                            {"unparsable", counters->unparsable},
                            {"out_of_range", counters->out_of_range}};
      if (counters->last) record["last"] = {{"at", counters->last->at}, {"value", counters->last->value}};
    }
    out.emplace_back(redacted(std::move(record)));
  }
  co_return out;
}

awaitable<Result<std::vector<store::ConditionValue>>> DeputyService::condition_values(const std::string& id,
                                                                                      std::size_t limit) {
  auto record = co_await store_.get_record(kConditionKind, id);
  if (!record) co_return record.error();
  if (!*record) co_return make_error(ErrorCode::NotFound, "no condition with identifier '" + id + "'");
  co_return co_await store_.load_condition_values(id, limit);
}

awaitable<void> DeputyService::prune_values_periodically(std::chrono::seconds retention,
                                                        std::chrono::seconds period) {
  const Clock& clock = conditions_.clock();
  prune_timer_ = clock.make_timer();
  auto timer = prune_timer_;
  while (!stopping_) {
    auto pruned = co_await store_.prune_condition_values(unix_now() - static_cast<double>(retention.count()));
    if (!pruned) spdlog::warn("pruning old condition values failed: {}", pruned.error().message);
    else if (*pruned > 0) spdlog::info("pruned {} condition values older than {} s", *pruned, retention.count());
    const SteadyTime next = clock.now() + period;
    bool came = co_await timer->wait_until(next);
    if (!came) break;
  }
}

void DeputyService::stop() {
  stopping_ = true;
  if (prune_timer_) prune_timer_->cancel();
  if (placement_timer_) placement_timer_->cancel();
  stop_running_for_watchers();
}

}  // namespace steward::packages
