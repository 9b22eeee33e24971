#include "store/sqlite/leases.hpp"

#include <algorithm>
#include <map>

#include "store/placement.hpp"
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

Status move_run(sqlite3* db, const TakenRun& run, const Lease& to) {
  Statement q(db, "UPDATE runs SET owner=?, epoch=? WHERE jid=? AND target=?");
  q.bind(1, to.server).bind(2, static_cast<std::int64_t>(to.epoch)).bind(3, run.jid).bind(4, run.target);
  return q.run();
}

Status move_runs(sqlite3* db, const std::vector<TakenRun>& runs, const Lease& lease) {
  for (const auto& run : runs) {
    if (auto s = move_run(db, run, lease); !s) return s;
  }
  return {};
}

Status push_inbox(sqlite3* db, const std::string& server, const TakenRun& entry) {
  Statement q(db, "INSERT INTO inbox(server, jid, target, from_server) VALUES(?,?,?,?)");
  q.bind(1, server).bind(2, entry.jid).bind(3, entry.target).bind(4, entry.from);
  return q.run();
}

// A dead server's runs go to the live owners of their slots: ours are
// returned, the others' announced in their inbox.
Result<std::vector<TakenRun>> share_out(sqlite3* db, const std::vector<TakenRun>& runs, const Lease& lease,
                                        double now) {
  auto placer = Placer::load(db, lease, now);
  if (!placer) return placer.error();
  std::vector<TakenRun> ours;
  for (const auto& run : runs) {
    auto to = placer->slot_lease(run.target);
    if (!to) return to.error();
    if (auto s = move_run(db, run, *to); !s) return s.error();
    if (to->server == lease.server) ours.push_back(run);
    else if (auto s = push_inbox(db, to->server, run); !s) return s.error();
  }
  return ours;
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
                  "CREATE INDEX IF NOT EXISTS runs_by_owner ON runs(owner, epoch, phase);"
                  "CREATE INDEX IF NOT EXISTS runs_by_target ON runs(target, phase);"
                  "CREATE TABLE IF NOT EXISTS inbox(seq INTEGER PRIMARY KEY AUTOINCREMENT, server TEXT NOT NULL, "
                  "jid TEXT NOT NULL, target TEXT NOT NULL, from_server TEXT NOT NULL);"
                  "CREATE INDEX IF NOT EXISTS inbox_by_server ON inbox(server, seq);");
}

Result<std::vector<std::string>> live_server_rows(sqlite3* db, const Lease& self, double now) {
  Statement q(db, "SELECT id FROM servers WHERE expires>=? ORDER BY id");
  q.bind(1, now);
  std::vector<std::string> live;
  while (q.step()) live.push_back(q.text(0));
  if (auto s = q.status(); !s) return s.error();
  if (std::find(live.begin(), live.end(), self.server) == live.end()) {
    live.push_back(self.server);
    std::sort(live.begin(), live.end());
  }
  return live;
}

Result<Placer> Placer::load(sqlite3* db, const Lease& self, double now) {
  Placer placer(db);
  Statement q(db, "SELECT id, epoch FROM servers WHERE expires>=? ORDER BY id");
  q.bind(1, now);
  while (q.step()) {
    placer.epochs_[q.text(0)] = static_cast<std::uint64_t>(q.integer(1));
    if (q.text(0) != self.server) placer.live_.push_back(q.text(0));
  }
  if (auto s = q.status(); !s) return s.error();
  placer.live_.push_back(self.server);
  placer.epochs_[self.server] = self.epoch;
  return placer;
}

Result<Lease> Placer::target_lease(const std::string& target) {
  Statement q(db_, "SELECT owner, epoch FROM runs WHERE target=? AND phase!=? LIMIT 1");
  q.bind(1, target).bind(2, kFinished);
  if (q.step()) return Lease{q.text(0), static_cast<std::uint64_t>(q.integer(1))};
  if (auto s = q.status(); !s) return s.error();
  return slot_lease(target);
}

Result<Lease> Placer::slot_lease(const std::string& target) {
  std::string owner = slot_owner(slot_of(target), live_);
  auto known = epochs_.find(owner);
  if (known != epochs_.end()) return Lease{owner, known->second};
  return make_error(ErrorCode::Internal, "server " + owner + " has no lease");
}

Result<std::vector<TakenRun>> take_inbox_rows(sqlite3* db, const Lease& lease) {
  Statement q(db, "SELECT seq, jid, target, from_server FROM inbox WHERE server=? ORDER BY seq");
  q.bind(1, lease.server);
  std::vector<TakenRun> entries;
  std::int64_t last = 0;
  while (q.step()) {
    last = q.integer(0);
    entries.push_back({q.text(1), q.text(2), q.text(3)});
  }
  if (auto s = q.status(); !s) return s.error();
  Statement drop(db, "DELETE FROM inbox WHERE server=? AND seq<=?");
  drop.bind(1, lease.server).bind(2, last);
  if (auto s = drop.run(); !s) return s.error();
  return entries;
}

Status announce_placed_job(sqlite3* db, const Lease& lease, const std::string& jid,
                           const std::vector<Lease>& owners) {
  std::vector<std::string> told;
  for (const auto& owner : owners) {
    if (owner.server == lease.server || std::find(told.begin(), told.end(), owner.server) != told.end()) continue;
    told.push_back(owner.server);
    if (auto s = push_inbox(db, owner.server, TakenRun{jid, "", ""}); !s) return s;
  }
  return {};
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
  if (auto s = move_runs(db, *taken, lease); !s) return s.error();
  auto servers = expired_servers(db, lease, now);
  if (!servers) return servers.error();
  std::vector<TakenRun> theirs;
  for (const auto& server : *servers) {
    Statement fence(db, "UPDATE servers SET epoch=epoch+1, expires=? WHERE id=?");
    fence.bind(1, kTakenOver).bind(2, server);
    if (auto s = fence.run(); !s) return s.error();
    // What was placed with it is among its runs, shared out below.
    Statement forget_inbox(db, "DELETE FROM inbox WHERE server=?");
    forget_inbox.bind(1, server);
    if (auto s = forget_inbox.run(); !s) return s.error();
    auto runs = runs_owned_by(db, server, lease, /*earlier_epochs_only=*/false);
    if (!runs) return runs.error();
    theirs.insert(theirs.end(), runs->begin(), runs->end());
  }
  if (theirs.empty()) return taken;
  auto ours = share_out(db, theirs, lease, now);
  if (!ours) return ours.error();
  taken->insert(taken->end(), ours->begin(), ours->end());
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
