#include "store/sqlite/leases.hpp"

#include "store/sqlite/sqlite_worker.hpp"
#include "store/sqlite/statement.hpp"

namespace steward::store {
namespace {

// A released lease expires at once; a taken-over one is marked so it is
// not taken over again on every round.
constexpr double kReleased = 0;
constexpr double kTakenOver = -1;

constexpr int kRunning = static_cast<int>(JobState::Running);
constexpr int kFinished = static_cast<int>(RunPhase::Finished);

Result<std::vector<TakenRun>> runs_owned_by(sqlite3* db, const std::string& server, const Lease& lease,
                                            bool earlier_epochs_only) {
  Statement q(db, earlier_epochs_only
                      ? "SELECT jid, target FROM runs WHERE owner=?1 AND epoch<?2 AND phase!=?3"
                      : "SELECT jid, target FROM runs WHERE owner=?1 AND phase!=?3");
  q.bind(1, server).bind(2, static_cast<std::int64_t>(lease.epoch)).bind(3, kFinished);
  std::vector<TakenRun> runs;
  // Our own earlier lives and the unowned runs of older stores come from no other server.
  const std::string from = server == lease.server ? "" : server;
  while (q.step()) runs.push_back({q.text(0), q.text(1), from});
  if (auto s = q.status(); !s) return s.error();
  return runs;
}

Status move_runs(sqlite3* db, const std::vector<TakenRun>& runs, const Lease& lease) {
  for (const auto& run : runs) {
    Statement q(db, "UPDATE runs SET owner=?, epoch=? WHERE jid=? AND target=?");
    q.bind(1, lease.server).bind(2, static_cast<std::int64_t>(lease.epoch)).bind(3, run.jid).bind(4, run.target);
    if (auto s = q.run(); !s) return s;
  }
  return {};
}

Result<std::vector<std::string>> expired_servers(sqlite3* db, const Lease& lease, double now) {
  Statement q(db, "SELECT id FROM servers WHERE id!=? AND expires<? AND expires!=?");
  q.bind(1, lease.server).bind(2, now).bind(3, kTakenOver);
  std::vector<std::string> servers;
  while (q.step()) servers.push_back(q.text(0));
  if (auto s = q.status(); !s) return s.error();
  return servers;
}

}  // namespace

Status prepare_lease_schema(sqlite3* db) {
  return exec_sql(db,
                  "CREATE TABLE IF NOT EXISTS servers(id TEXT PRIMARY KEY, epoch INTEGER NOT NULL, "
                  "expires REAL NOT NULL) WITHOUT ROWID;"
                  "CREATE INDEX IF NOT EXISTS runs_by_owner ON runs(owner, epoch, phase);");
}

Result<Lease> acquire_lease_row(sqlite3* db, const std::string& server, double now, double ttl) {
  Statement q(db,
              "INSERT INTO servers(id, epoch, expires) VALUES(?1, 1, ?2) "
              "ON CONFLICT(id) DO UPDATE SET epoch=epoch+1, expires=?2 RETURNING epoch");
  q.bind(1, server).bind(2, now + ttl);
  if (!q.step()) {
    if (auto s = q.status(); !s) return s.error();
    return make_error(ErrorCode::Internal, "the lease of server " + server + " was not written");
  }
  Lease lease{server, static_cast<std::uint64_t>(q.integer(0))};
  if (auto s = q.run(); !s) return s.error();
  return lease;
}

Status renew_lease_row(sqlite3* db, const Lease& lease, double now, double ttl) {
  Statement q(db, "UPDATE servers SET expires=? WHERE id=? AND epoch=?");
  q.bind(1, now + ttl).bind(2, lease.server).bind(3, static_cast<std::int64_t>(lease.epoch));
  if (auto s = q.run(); !s) return s;
  if (sqlite3_changes(db) == 0)
    return make_error(ErrorCode::Conflict, "lease lost: server " + lease.server + " was taken over");
  return {};
}

Status release_lease_row(sqlite3* db, const Lease& lease) {
  Statement q(db, "UPDATE servers SET expires=? WHERE id=? AND epoch=?");
  q.bind(1, kReleased).bind(2, lease.server).bind(3, static_cast<std::int64_t>(lease.epoch));
  return q.run();
}

// Within the writer's transaction, so a server renewing at the same moment
// either renews first (and is not expired) or finds its epoch moved on.
Result<std::vector<TakenRun>> take_over_rows(sqlite3* db, const Lease& lease, double now) {
  auto taken = runs_owned_by(db, lease.server, lease, /*earlier_epochs_only=*/true);
  if (!taken) return taken.error();
  if (!lease.server.empty()) {  // runs stored before leases existed: ours as an earlier life's
    auto unowned = runs_owned_by(db, "", lease, /*earlier_epochs_only=*/false);
    if (!unowned) return unowned.error();
    taken->insert(taken->end(), unowned->begin(), unowned->end());
  }
  auto servers = expired_servers(db, lease, now);
  if (!servers) return servers.error();
  for (const auto& server : *servers) {
    Statement fence(db, "UPDATE servers SET epoch=epoch+1, expires=? WHERE id=?");
    fence.bind(1, kTakenOver).bind(2, server);
    if (auto s = fence.run(); !s) return s.error();
    auto theirs = runs_owned_by(db, server, lease, /*earlier_epochs_only=*/false);
    if (!theirs) return theirs.error();
    taken->insert(taken->end(), theirs->begin(), theirs->end());
  }
  if (auto s = move_runs(db, *taken, lease); !s) return s.error();
  return taken;
}

Result<bool> request_cancel_row(sqlite3* db, const std::string& jid, const std::string& reason) {
  Statement q(db, "UPDATE jobs SET cancel_reason=? WHERE jid=? AND state=?");
  q.bind(1, reason).bind(2, jid).bind(3, kRunning);
  if (auto s = q.run(); !s) return s.error();
  return sqlite3_changes(db) > 0;
}

Result<std::vector<CancelRequest>> select_cancel_requests(sqlite3* db) {
  Statement q(db, "SELECT jid, cancel_reason FROM jobs WHERE state=? AND cancel_reason!='' ORDER BY startat, jid");
  q.bind(1, kRunning);
  std::vector<CancelRequest> requests;
  while (q.step()) requests.push_back({q.text(0), q.text(1)});
  if (auto s = q.status(); !s) return s.error();
  return requests;
}

Error lease_lost(const std::string& jid, const std::string& target) {
  return make_error(ErrorCode::Conflict,
                    "lease lost: job " + jid + " on " + target + " is owned by another server now");
}

}  // namespace steward::store
