#include "store/sqlite/records.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>

#include "store/json_columns.hpp"
#include "store/sqlite/statement.hpp"

namespace steward::store {

Status put_record_row(sqlite3* db, const std::string& kind, const std::string& id, const std::string& body) {
  // Keeps the first creation order across replacements.
  Statement q(db,
              "INSERT INTO records(kind, id, body, created) VALUES(?, ?, ?, "
              "(SELECT COALESCE(MAX(created), 0) + 1 FROM records)) "
              "ON CONFLICT(kind, id) DO UPDATE SET body = excluded.body");
  q.bind(1, kind).bind(2, id).bind(3, body);
  return q.run();
}

Result<std::optional<boost::json::object>> get_record_row(sqlite3* db, const std::string& kind,
                                                          const std::string& id) {
  Statement q(db, "SELECT body FROM records WHERE kind = ? AND id = ?");
  q.bind(1, kind).bind(2, id);
  if (!q.step()) {
    if (auto s = q.status(); !s) return s.error();
    return std::optional<boost::json::object>();
  }
  return parse_object(q.text(0));
}

Result<std::vector<boost::json::object>> list_record_rows(sqlite3* db, const std::string& kind) {
  Statement q(db, "SELECT body FROM records WHERE kind = ? ORDER BY created");
  q.bind(1, kind);
  std::vector<boost::json::object> records;
  while (q.step()) {
    if (auto record = parse_object(q.text(0))) records.push_back(std::move(*record));
  }
  if (auto s = q.status(); !s) return s.error();
  return records;
}

Result<bool> delete_record_row(sqlite3* db, const std::string& kind, const std::string& id) {
  Statement q(db, "DELETE FROM records WHERE kind = ? AND id = ?");
  q.bind(1, kind).bind(2, id);
  if (auto s = q.run(); !s) return s.error();
  return sqlite3_changes(db) > 0;
}

Status insert_condition_value(sqlite3* db, const std::string& condition, const ConditionValue& value) {
  Statement q(db, "INSERT INTO condition_values(condition, at, value) VALUES(?, ?, ?)");
  q.bind(1, condition).bind(2, value.at).bind(3, value.value);
  return q.run();
}

Result<std::vector<ConditionValue>> select_condition_values(sqlite3* db, const std::string& condition,
                                                            std::size_t limit) {
  Statement q(db, "SELECT at, value FROM condition_values WHERE condition = ? ORDER BY at DESC LIMIT ?");
  q.bind(1, condition).bind(2, static_cast<std::int64_t>(limit));
  std::vector<ConditionValue> values;
  while (q.step()) values.push_back({q.real(0), q.real(1)});
  if (auto s = q.status(); !s) return s.error();
  std::reverse(values.begin(), values.end());
  return values;
}

Result<std::size_t> delete_condition_values_before(sqlite3* db, double before) {
  Statement q(db, "DELETE FROM condition_values WHERE at < ?");
  q.bind(1, before);
  if (auto s = q.run(); !s) return s.error();
  return static_cast<std::size_t>(sqlite3_changes(db));
}

}  // namespace steward::store
