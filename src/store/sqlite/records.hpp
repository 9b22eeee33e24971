#pragma once
// SQL for Deputy records and condition values; run on the store's worker threads.
#include <sqlite3.h>

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <vector>

#include "store/store.hpp"

namespace steward::store {

Status put_record_row(sqlite3* db, const std::string& kind, const std::string& id, const std::string& body);
Result<std::optional<boost::json::object>> get_record_row(sqlite3* db, const std::string& kind,
                                                          const std::string& id);
Result<std::vector<boost::json::object>> list_record_rows(sqlite3* db, const std::string& kind);
Result<bool> delete_record_row(sqlite3* db, const std::string& kind, const std::string& id);

Status insert_condition_value(sqlite3* db, const std::string& condition, const ConditionValue& value);
Result<std::vector<ConditionValue>> select_condition_values(sqlite3* db, const std::string& condition,
                                                            std::size_t limit);
Result<std::size_t> delete_condition_values_before(sqlite3* db, double before);

}  // namespace steward::store
