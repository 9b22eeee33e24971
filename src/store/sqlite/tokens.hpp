#pragma once
// SQL for named API tokens; run on the store's worker threads.
#include <sqlite3.h>

#include <string>
#include <vector>

#include "store/store.hpp"

namespace steward::store {

// Creates the tokens table. Databases written before tokens existed gain it
// here when they are opened; nothing else in them changes.
Status prepare_token_schema(sqlite3* db);

// Conflict when a token of that name exists.
Status insert_token_row(sqlite3* db, const StoredToken& token);
Result<std::vector<StoredToken>> select_token_rows(sqlite3* db);
Result<bool> delete_token_row(sqlite3* db, const std::string& name);
Status update_token_last_used(sqlite3* db, const std::string& name, double at);

}  // namespace steward::store
