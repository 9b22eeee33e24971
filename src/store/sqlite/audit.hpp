#pragma once
// SQL for the audit trail; run on the store's worker threads.
#include <sqlite3.h>

#include <vector>

#include "store/store.hpp"

namespace steward::store {

// Creates the audit table and its index on time; older databases gain them
// when opened.
Status prepare_audit_schema(sqlite3* db);

Status insert_audit_row(sqlite3* db, const AuditEntry& entry);
Result<std::vector<AuditEntry>> select_audit_rows(sqlite3* db, const AuditFilter& filter);
Result<std::size_t> delete_audit_rows_before(sqlite3* db, double before, std::size_t at_most);

}  // namespace steward::store
