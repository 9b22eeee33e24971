#pragma once
// What the Ranger executor's services do, independent of gRPC: deploy
// features and injects (an `install` job on one inventory host, recorded
// under the job's id so delete knows what to remove), and create, stream and
// delete conditions. The REST API uses the same service. Loop-thread only.
#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>

#include <chrono>
#include <memory>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "packages/conditions.hpp"
#include "packages/package.hpp"

namespace steward {
class ArgSecrets;
class Timer;
namespace jobs { class JobService; }
namespace inventory { class Inventory; }
}  // namespace steward

namespace steward::packages {

// Credentials for one request; empty fields keep the inventory's. Kept in the
// feature's or condition's record for its later runs, password and key sealed.
struct Account {
  std::string username;
  std::string password;
  std::string private_key;
};

struct PackageSource {
  std::string name;
  std::string version;
};

struct DeployRequest {
  ContentType content = ContentType::Feature;  // Feature or Inject
  std::string name;
  std::string vm;  // virtual_machine_id: a host's name or steward_vm_id
  PackageSource source;
  Account account;
  std::vector<std::string> environment;  // KEY=VALUE
  std::vector<std::string> to_entities;  // an inject's audience; recorded only
};

struct DeployOutcome {
  std::string identifier;
  std::string stdout_data;
  std::string stderr_data;
};

struct ConditionRequest {
  std::string name;
  std::string vm;  // as in DeployRequest
  Account account;
  std::optional<PackageSource> source;
  std::string command;
  int interval = 0;  // seconds; 0 takes the package's
  std::vector<std::string> environment;
};

// The store record kind of conditions.
inline const std::string kConditionKind = "condition";

class DeputyService {
 public:
  // `secrets`: when set, secret `environment` entries are stored sealed and
  // shown as "NAME=***" (core/secret_args.hpp).
  DeputyService(jobs::JobService& jobs, const inventory::Inventory& inventory, store::Store& store,
                ConditionHub& conditions, const Catalog& catalog, const ArgSecrets* secrets = nullptr);

  // NotFound (host, package), InvalidArgument, Unreachable, or Internal with the action's error.
  boost::asio::awaitable<Result<DeployOutcome>> deploy(DeployRequest request);
  // Removes what the deployment installed. NotFound for an unknown identifier.
  boost::asio::awaitable<Status> undeploy(const std::string& identifier);

  boost::asio::awaitable<Result<std::string>> create_condition(ConditionRequest request);
  // Values from now on go to `listener` until unsubscribe(); NotFound for an unknown condition.
  boost::asio::awaitable<Result<std::uint64_t>> subscribe(const std::string& id, ConditionHub::Listener listener,
                                                          ConditionHub::Closer closer);
  void unsubscribe(const std::string& id, std::uint64_t subscription);
  // Stops the runner, closes its streams and removes its files; values stay readable.
  boost::asio::awaitable<Status> delete_condition(const std::string& id);

  // Condition records with their live state and counters, oldest first.
  boost::asio::awaitable<Result<boost::json::array>> list_conditions();
  // The newest `limit` values, oldest first; NotFound for an unknown condition.
  boost::asio::awaitable<Result<std::vector<store::ConditionValue>>> condition_values(const std::string& id,
                                                                                      std::size_t limit);

  // With other servers on the store (README "Servers and leases"): every
  // `period` until stop(), announces the conditions followed here, and runs
  // those announced anywhere whose target this server owns.
  boost::asio::awaitable<void> place_conditions_periodically(std::chrono::milliseconds period);
  // Deletes condition values older than `retention`, every `period`, until stop().
  boost::asio::awaitable<void> prune_values_periodically(std::chrono::seconds retention,
                                                         std::chrono::seconds period);
  void stop();

 private:
  // The inventory host `vm` names (Inventory::host_for_vm), with the account applied.
  Result<Target> target_for(const std::string& vm, const Account& account) const;
  // Runs one job on one target and waits for it; a failed run is an error.
  boost::asio::awaitable<Result<OpResult>> run_on(const Target& target, const std::string& operate,
                                                  boost::json::object args, std::string& jid);
  boost::asio::awaitable<Result<boost::json::object>> load(const std::string& kind, const std::string& id);
  Result<ConditionSpec> spec_of(const boost::json::object& record) const;
  // A record to store with the request's account, its secrets sealed; and a stored one, opened.
  Result<boost::json::object> sealed(boost::json::object record, const Account& account) const;
  Result<boost::json::object> opened(boost::json::object record) const;
  // The live server that owns the target's slot (store/placement.hpp); ours on error.
  boost::asio::awaitable<std::string> owner_of(const std::string& target);
  // Runs the condition here when this server owns its target, else follows the owner's values.
  boost::asio::awaitable<Result<std::uint64_t>> join_condition(const ConditionSpec& spec,
                                                               ConditionHub::Listener listener,
                                                               ConditionHub::Closer closer);
  boost::asio::awaitable<void> place_conditions_once();
  void stop_running_for_watchers();

  jobs::JobService& jobs_;
  const inventory::Inventory& inventory_;
  store::Store& store_;
  ConditionHub& conditions_;
  const Catalog& catalog_;
  const ArgSecrets* secrets_;
  std::set<std::string> deleting_;           // conditions whose delete has begun: no new runner
  std::shared_ptr<Timer> prune_timer_;
  std::shared_ptr<Timer> placement_timer_;
  std::map<std::string, std::uint64_t> run_for_watchers_;  // condition -> our subscription to its runner
  bool stopping_ = false;
};

}  // namespace steward::packages
