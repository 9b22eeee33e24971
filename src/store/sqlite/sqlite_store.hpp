#pragma once
// The embedded store: one SQLite file in WAL mode. Writes go through one
// writer thread that commits whatever is queued in one transaction (group
// commit, synchronous=FULL); reads use a second connection on its own thread.
#include <memory>
#include <string>

#include "store/store.hpp"

namespace steward::store {

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path);

}  // namespace steward::store
