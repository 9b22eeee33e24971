// Deputy records, condition values and API tokens in Redis.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>

#include "store/json_columns.hpp"
#include "store/redis/redis_codec.hpp"
#include "store/redis/redis_store_impl.hpp"

namespace steward::store::redis {

awaitable<Status> RedisStore::put_record(const std::string& kind, const std::string& id,
                                         const boost::json::object& record) {
  auto putting = scripts_.eval(Script::PutRecord, {kind, id, boost::json::serialize(record)});
  auto reply = co_await std::move(putting);
  if (!reply) co_return reply.error();
  co_return Status{};
}

awaitable<Result<std::optional<boost::json::object>>> RedisStore::get_record(const std::string& kind,
                                                                              const std::string& id) {
  auto getting = connection_.command("HGET", prefix_ + "record:" + kind, id);
  auto reply = co_await std::move(getting);
  if (!reply) co_return reply.error();
  if (reply->is_nil()) co_return std::optional<boost::json::object>();
  co_return parse_object(reply->str());
}

awaitable<Result<std::vector<boost::json::object>>> RedisStore::list_records(const std::string& kind) {
  auto listing = scripts_.eval(Script::ListRecords, {kind});
  auto reply = co_await std::move(listing);
  auto bodies = array_of(std::move(reply));
  if (!bodies) co_return bodies.error();
  std::vector<boost::json::object> records;
  for (const auto& body : *bodies)
    if (auto record = parse_object(body.str())) records.push_back(std::move(*record));
  co_return records;
}

awaitable<Result<bool>> RedisStore::delete_record(const std::string& kind, const std::string& id) {
  auto deleting = scripts_.eval(Script::DeleteRecord, {kind, id});
  auto reply = co_await std::move(deleting);
  auto deleted = integer_of(reply);
  if (!deleted) co_return deleted.error();
  co_return *deleted > 0;
}

void RedisStore::append_condition_value(const std::string& condition, const ConditionValue& value) {
  scripts_.eval_detached(Script::AppendValue, {condition, number(value.at), number(value.value)},
                         [](Result<Reply> reply) {
                           if (!reply) log_failure(reply.error());
                         });
}

awaitable<Result<std::vector<ConditionValue>>> RedisStore::load_condition_values(const std::string& condition,
                                                                                 std::size_t limit) {
  if (limit == 0) co_return std::vector<ConditionValue>{};
  auto loading = connection_.command("ZREVRANGE", prefix_ + "values:" + condition, "0",
                                     std::to_string(std::min<std::size_t>(limit, 1u << 30) - 1), "WITHSCORES");
  auto reply = co_await std::move(loading);
  auto pairs = array_of(std::move(reply));
  if (!pairs) co_return pairs.error();
  std::vector<ConditionValue> values;
  for (std::size_t i = 0; i + 1 < pairs->size(); i += 2) {
    const std::string& member = (*pairs)[i].str();
    values.push_back({to_double((*pairs)[i + 1].str()), to_double(member.substr(0, member.find(' ')))});
  }
  std::reverse(values.begin(), values.end());  // oldest first
  co_return values;
}

awaitable<Result<std::size_t>> RedisStore::prune_condition_values(double before) {
  auto pruning = scripts_.eval(Script::PruneValues, {number(before)});
  auto reply = co_await std::move(pruning);
  auto pruned = integer_of(reply);
  if (!pruned) co_return pruned.error();
  co_return static_cast<std::size_t>(*pruned);
}

awaitable<Status> RedisStore::add_token(const StoredToken& token) {
  auto adding = scripts_.eval(Script::AddToken,
                              {token.name, token.role, token.hash, number(token.created), number(token.last_used)});
  auto reply = co_await std::move(adding);
  auto added = integer_of(reply);
  if (!added) co_return added.error();
  if (*added == 0) co_return make_error(ErrorCode::Conflict, "a token named '" + token.name + "' exists");
  co_return Status{};
}

awaitable<Result<std::vector<StoredToken>>> RedisStore::list_tokens() {
  auto listing = scripts_.eval(Script::ListTokens, {});
  auto reply = co_await std::move(listing);
  auto rows = array_of(std::move(reply));
  if (!rows) co_return rows.error();
  std::vector<StoredToken> tokens;
  for (const auto& row : *rows) {
    if (row.elements.size() != 5) continue;
    const auto& f = row.elements;
    tokens.push_back({f[0].str(), f[1].str(), f[2].str(), to_double(f[3].str()), to_double(f[4].str())});
  }
  std::sort(tokens.begin(), tokens.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  co_return tokens;
}

awaitable<Result<bool>> RedisStore::delete_token(const std::string& name) {
  auto deleting = scripts_.eval(Script::DeleteToken, {name});
  auto reply = co_await std::move(deleting);
  auto deleted = integer_of(reply);
  if (!deleted) co_return deleted.error();
  co_return *deleted > 0;
}

void RedisStore::note_token_used(const std::string& name, double at) {
  scripts_.eval_detached(Script::NoteTokenUsed, {name, number(at)}, [](Result<Reply> reply) {
    if (!reply) log_failure(reply.error());
  });
}

}  // namespace steward::store::redis
