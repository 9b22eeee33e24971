#include "store/sqlite/statement.hpp"

namespace steward::store {

namespace {
thread_local StatementCache* installed_cache = nullptr;
}

StatementCache::~StatementCache() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
}

StatementCache::Installed::Installed(StatementCache& cache) { installed_cache = &cache; }
StatementCache::Installed::~Installed() { installed_cache = nullptr; }

sqlite3_stmt* StatementCache::find_or_prepare(sqlite3* db, const char* sql, int& rc) {
  if (db != db_) return nullptr;
  auto [it, inserted] = statements_.try_emplace(sql, nullptr);
  if (inserted) {
    rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &it->second, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(it->second);
      statements_.erase(it);
      return nullptr;
    }
  }
  // A statement still stepping belongs to an enclosing scope: not shared.
  return sqlite3_stmt_busy(it->second) ? nullptr : it->second;
}

Statement::Statement(sqlite3* db, const char* sql) : db_(db) {
  if (installed_cache) {
    stmt_ = installed_cache->find_or_prepare(db, sql, rc_);
    cached_ = stmt_ != nullptr;
    if (rc_ != SQLITE_OK) return;
  }
  if (!stmt_) rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
}

Statement::~Statement() {
  if (!cached_) {
    sqlite3_finalize(stmt_);
    return;
  }
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Statement& Statement::bind(int index, std::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bind_blob(int index, std::string_view bytes) {
  sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bind(int index, std::int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Statement& Statement::bind(int index, double value) {
  sqlite3_bind_double(stmt_, index, value);
  return *this;
}

Statement& Statement::bind(int index, std::optional<int> value) {
  if (value) return bind(index, *value);
  sqlite3_bind_null(stmt_, index);
  return *this;
}

bool Statement::step() {
  if (rc_ != SQLITE_OK && rc_ != SQLITE_ROW && rc_ != SQLITE_DONE) return false;
  rc_ = sqlite3_step(stmt_);
  return rc_ == SQLITE_ROW;
}

Status Statement::run() {
  while (step()) {
  }
  return status();
}

Status Statement::status() const {
  if (rc_ == SQLITE_OK || rc_ == SQLITE_ROW || rc_ == SQLITE_DONE) return {};
  return make_error(ErrorCode::Internal, std::string("sqlite: ") + sqlite3_errmsg(db_));
}

std::string Statement::text(int column) const {
  auto* data = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
  int size = sqlite3_column_bytes(stmt_, column);
  return data ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

}  // namespace steward::store
