#include "store/sqlite/audit.hpp"

#include <limits>

#include "store/json_columns.hpp"
#include "store/sqlite/sqlite_worker.hpp"
#include "store/sqlite/statement.hpp"

namespace steward::store {

Status prepare_audit_schema(sqlite3* db) {
  return exec_sql(db,
                  "CREATE TABLE IF NOT EXISTS audit("
                  "id INTEGER PRIMARY KEY, at REAL NOT NULL, who TEXT NOT NULL, peer TEXT NOT NULL, "
                  "api TEXT NOT NULL, action TEXT NOT NULL, path TEXT NOT NULL, targets TEXT NOT NULL, "
                  "subject TEXT NOT NULL, status INTEGER NOT NULL, error TEXT NOT NULL);"
                  "CREATE INDEX IF NOT EXISTS audit_by_time ON audit(at, id)");
}

Status insert_audit_row(sqlite3* db, const AuditEntry& entry) {
  Statement q(db,
              "INSERT INTO audit(at, who, peer, api, action, path, targets, subject, status, error) "
              "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  q.bind(1, entry.at).bind(2, entry.who).bind(3, entry.peer).bind(4, entry.api).bind(5, entry.action);
  q.bind(6, entry.path).bind(7, targets_json(entry.targets)).bind(8, entry.subject).bind(9, entry.status);
  q.bind(10, entry.error);
  return q.run();
}

namespace {

std::vector<std::string> targets_of(const std::string& text) {
  std::vector<std::string> targets;
  auto value = parse_or_null(text);
  if (!value.is_array()) return targets;
  for (const auto& target : value.get_array())
    if (target.is_string()) targets.emplace_back(target.get_string());
  return targets;
}

}  // namespace

// One statement for every filter (an unset one binds NULL and matches all),
// so it is prepared once; the time index serves the order and the bounds.
Result<std::vector<AuditEntry>> select_audit_rows(sqlite3* db, const AuditFilter& filter) {
  Statement q(db,
              "SELECT at, who, peer, api, action, path, targets, subject, status, error FROM audit "
              "WHERE at >= ?1 AND at <= ?2 AND (?3 IS NULL OR who = ?3) AND (?4 IS NULL OR action = ?4) "
              "AND (?5 IS NULL OR EXISTS(SELECT 1 FROM json_each(audit.targets) WHERE value = ?5)) "
              "ORDER BY at DESC, id DESC LIMIT ?6");
  q.bind(1, filter.since.value_or(-std::numeric_limits<double>::infinity()));
  q.bind(2, filter.until.value_or(std::numeric_limits<double>::infinity()));
  if (filter.who) q.bind(3, *filter.who);
  if (filter.action) q.bind(4, *filter.action);
  if (filter.target) q.bind(5, *filter.target);
  q.bind(6, static_cast<std::int64_t>(filter.limit));
  std::vector<AuditEntry> entries;
  while (q.step()) {
    entries.push_back({q.real(0), q.text(1), q.text(2), q.text(3), q.text(4), q.text(5), targets_of(q.text(6)),
                       q.text(7), static_cast<int>(q.integer(8)), q.text(9)});
  }
  if (auto s = q.status(); !s) return s.error();
  return entries;
}

Result<std::size_t> delete_audit_rows_before(sqlite3* db, double before, std::size_t at_most) {
  Statement q(db, "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < ? ORDER BY at, id LIMIT ?)");
  q.bind(1, before).bind(2, static_cast<std::int64_t>(at_most));
  if (auto s = q.run(); !s) return s.error();
  return static_cast<std::size_t>(sqlite3_changes(db));
}

}  // namespace steward::store
