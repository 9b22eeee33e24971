#include "store/redis/redis_store.hpp"
#include "store/redis/redis_url.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/store.hpp"
#include "store/store_metrics.hpp"

namespace steward::store {

namespace {

// The one list of store kinds, by URL scheme.
Result<std::unique_ptr<Store>> open_store_of_kind(const StoreOptions& options, std::string& kind) {
  std::string url = options.url.empty() ? "sqlite:" + options.data_dir + "/steward.db" : options.url;
  constexpr std::string_view kSqlite = "sqlite:";
  if (url.rfind(kSqlite, 0) == 0) {
    std::string path = url.substr(kSqlite.size());
    if (path.rfind("//", 0) == 0) path = path.substr(2);  // sqlite:///abs/path
    if (path.empty()) return make_error(ErrorCode::InvalidArgument, "store URL has no path: " + url);
    kind = "sqlite";
    return open_sqlite_store(path);
  }
  if (redis::is_redis_url(url)) {
    kind = "redis";
    return open_redis_store(url, options.executor);
  }
  return make_error(ErrorCode::InvalidArgument,
                    "unsupported store URL '" + url +
                        "' (supported: sqlite:PATH, redis://[:PASSWORD@]HOST:PORT/DB, unix:///path/redis.sock)");
}

}  // namespace

Result<std::unique_ptr<Store>> open_store(const StoreOptions& options) {
  std::string kind;
  auto store = open_store_of_kind(options, kind);
  if (!store || !options.metrics) return store;
  return timed_store(std::move(*store), kind, *options.metrics);
}

}  // namespace steward::store
