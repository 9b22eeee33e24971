#pragma once
// A prepared SQLite statement with typed binds. On a thread that installed a
// StatementCache (the store's worker threads) statements are prepared once
// and reset on scope exit: parsing SQL was a visible share of the writer's
// CPU per job. Elsewhere they are finalized on scope exit.
#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/result.hpp"

namespace steward::store {

// Prepared statements of one connection, used by the one thread that owns it.
class StatementCache {
 public:
  explicit StatementCache(sqlite3* db) : db_(db) {}
  ~StatementCache();
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

  // Makes this cache the calling thread's for as long as the scope lives.
  class Installed {
   public:
    explicit Installed(StatementCache& cache);
    ~Installed();
    Installed(const Installed&) = delete;
    Installed& operator=(const Installed&) = delete;
  };

  // The cached statement for `sql` on `db`, or null if this cache is not for `db`.
  sqlite3_stmt* find_or_prepare(sqlite3* db, const char* sql, int& rc);

 private:
  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

class Statement {
 public:
  Statement(sqlite3* db, const char* sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, std::string_view text);
  Statement& bind_blob(int index, std::string_view bytes);
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, std::optional<int> value);

  // True while a row is available; errors are kept for status().
  bool step();
  // Runs to completion; the first error, if any.
  Status run();
  Status status() const;

  std::string text(int column) const;
  std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
  double real(int column) const { return sqlite3_column_double(stmt_, column); }
  bool is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
  bool cached_ = false;
};

}  // namespace steward::store
