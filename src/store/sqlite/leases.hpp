#pragma once
// SQL for server leases, run ownership and cancel requests; run on the
// store's worker threads (README "Servers and leases").
#include <sqlite3.h>

#include <map>
#include <string>
#include <vector>

#include "store/store.hpp"

namespace steward::store {

// The servers table. Runs and jobs gain their owner and cancel columns in
// the schema migration; this only adds what older stores lack entirely.
Status prepare_lease_schema(sqlite3* db);

Result<Lease> acquire_lease_row(sqlite3* db, const std::string& server, double now, double ttl);
// Conflict when the lease's epoch has moved on (another server took it over).
Status renew_lease_row(sqlite3* db, const Lease& lease, double now, double ttl);
Status release_lease_row(sqlite3* db, const Lease& lease);
Result<std::vector<TakenRun>> take_over_rows(sqlite3* db, const Lease& lease, double now);

Result<std::vector<std::string>> live_server_rows(sqlite3* db, const Lease& self, double now);

// Who runs a target's work (store/placement.hpp), from one reading of the
// live leases; within the writer's transaction.
class Placer {
 public:
  static Result<Placer> load(sqlite3* db, const Lease& self, double now);
  // The lease of the owner of the target's unfinished runs, else slot_lease.
  Result<Lease> target_lease(const std::string& target);
  // The lease of the live server the target's slot hashes to.
  Result<Lease> slot_lease(const std::string& target);

 private:
  explicit Placer(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::vector<std::string> live_;
  std::map<std::string, std::uint64_t> epochs_;
};

// Tells every owner but us that the job has runs for it.
Status announce_placed_job(sqlite3* db, const Lease& lease, const std::string& jid, const std::vector<Lease>& owners);
Result<std::vector<TakenRun>> take_inbox_rows(sqlite3* db, const Lease& lease);

Result<bool> request_cancel_row(sqlite3* db, const std::string& jid, const std::string& reason);
Result<std::vector<CancelRequest>> select_cancel_requests(sqlite3* db);

// Conflict saying the run belongs to another server, for a fenced write that changed no row.
Error lease_lost(const std::string& jid, const std::string& target);

}  // namespace steward::store
