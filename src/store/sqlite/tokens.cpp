#include "store/sqlite/tokens.hpp"

#include "store/sqlite/sqlite_worker.hpp"
#include "store/sqlite/statement.hpp"

namespace steward::store {

Status prepare_token_schema(sqlite3* db) {
  return exec_sql(db,
                  "CREATE TABLE IF NOT EXISTS tokens("
                  "name TEXT PRIMARY KEY, role TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, "
                  "created REAL NOT NULL, last_used REAL NOT NULL DEFAULT 0) WITHOUT ROWID");
}

Status insert_token_row(sqlite3* db, const StoredToken& token) {
  // DO NOTHING rather than a constraint error: an error would end the
  // statement inside the writer's shared transaction for no gain.
  Statement q(db,
              "INSERT INTO tokens(name, role, hash, created, last_used) VALUES(?, ?, ?, ?, ?) "
              "ON CONFLICT DO NOTHING");
  q.bind(1, token.name).bind(2, token.role).bind(3, token.hash).bind(4, token.created).bind(5, token.last_used);
  if (auto s = q.run(); !s) return s;
  if (sqlite3_changes(db) == 0) return make_error(ErrorCode::Conflict, "a token named '" + token.name + "' exists");
  return {};
}

Result<std::vector<StoredToken>> select_token_rows(sqlite3* db) {
  Statement q(db, "SELECT name, role, hash, created, last_used FROM tokens ORDER BY name");
  std::vector<StoredToken> tokens;
  while (q.step()) tokens.push_back({q.text(0), q.text(1), q.text(2), q.real(3), q.real(4)});
  if (auto s = q.status(); !s) return s.error();
  return tokens;
}

Result<bool> delete_token_row(sqlite3* db, const std::string& name) {
  Statement q(db, "DELETE FROM tokens WHERE name = ?");
  q.bind(1, name);
  if (auto s = q.run(); !s) return s.error();
  return sqlite3_changes(db) > 0;
}

Status update_token_last_used(sqlite3* db, const std::string& name, double at) {
  Statement q(db, "UPDATE tokens SET last_used = ? WHERE name = ? AND last_used < ?");
  q.bind(1, at).bind(2, name).bind(3, at);
  return q.run();
}

}  // namespace steward::store
