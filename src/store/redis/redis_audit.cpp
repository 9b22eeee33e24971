// The audit trail in Redis: one sorted set, PREFIXaudit, scored by the
// entry's time; each member is a time-ordered id (strictly increasing within
// a server, so entries of the same second list in the order they were
// appended), a space, and the entry's JSON. Plain ZADD: nothing to keep atomic.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>

#include "core/ids.hpp"
#include "store/audit_json.hpp"
#include "store/json_columns.hpp"
#include "store/redis/redis_codec.hpp"
#include "store/redis/redis_store_impl.hpp"

namespace steward::store::redis {
namespace {

// Members read per round trip while a filter is applied here.
constexpr std::size_t kScanBatch = 500;

bool matches(const AuditEntry& entry, const AuditFilter& filter) {
  if (filter.who && entry.who != *filter.who) return false;
  if (filter.action && entry.action != *filter.action) return false;
  if (filter.target && std::find(entry.targets.begin(), entry.targets.end(), *filter.target) == entry.targets.end())
    return false;
  return true;
}

std::string bound(const std::optional<double>& value, const char* open_end) {
  return value ? number(*value) : std::string(open_end);
}

}  // namespace

void RedisStore::append_audit(const AuditEntry& entry) {
  std::string member = new_jid() + " " + boost::json::serialize(audit_to_json(entry));
  connection_.send({"ZADD", prefix_ + "audit", number(entry.at), std::move(member)}, [](Result<Reply> reply) {
    if (!reply) log_failure(reply.error());
  });
}

// The time bounds go to Redis; the other filters are applied here, reading
// newest first in batches until `limit` entries matched or none are left.
awaitable<Result<std::vector<AuditEntry>>> RedisStore::list_audit(AuditFilter filter) {
  std::vector<AuditEntry> entries;
  if (filter.limit == 0) co_return entries;
  const bool filtered = filter.who || filter.action || filter.target;
  const std::size_t batch = filtered ? std::max(kScanBatch, filter.limit) : filter.limit;
  const std::string until = bound(filter.until, "+inf");
  const std::string since = bound(filter.since, "-inf");
  for (std::size_t offset = 0;; offset += batch) {
    auto reading = connection_.command("ZREVRANGEBYSCORE", prefix_ + "audit", until, since, "LIMIT",
                                       std::to_string(offset), std::to_string(batch));
    auto reply = co_await std::move(reading);
    auto members = array_of(std::move(reply));
    if (!members) co_return members.error();
    for (const auto& member : *members) {
      const std::string& text = member.str();
      const auto space = text.find(' ');
      if (space == std::string::npos) continue;
      auto entry = audit_from_json(parse_or_null(text.substr(space + 1)));
      if (!entry || !matches(*entry, filter)) continue;
      entries.push_back(std::move(*entry));
      if (entries.size() == filter.limit) co_return entries;
    }
    if (members->size() < batch) co_return entries;
  }
}

// By members, not by rank: another server pruning meanwhile cannot make
// this delete newer entries.
awaitable<Result<std::size_t>> RedisStore::prune_audit(double before, std::size_t at_most) {
  auto listing = connection_.command("ZRANGEBYSCORE", prefix_ + "audit", "-inf", "(" + number(before), "LIMIT", "0",
                                     std::to_string(at_most));
  auto listed = co_await std::move(listing);
  auto members = strings_of(std::move(listed));
  if (!members) co_return members.error();
  if (members->empty()) co_return std::size_t{0};
  Command remove{"ZREM", prefix_ + "audit"};
  remove.insert(remove.end(), members->begin(), members->end());
  auto removing = connection_.run(std::move(remove));
  auto reply = co_await std::move(removing);
  auto removed = integer_of(reply);
  if (!removed) co_return removed.error();
  co_return members->size();
}

}  // namespace steward::store::redis
