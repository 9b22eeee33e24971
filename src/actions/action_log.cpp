#include "actions/action_log.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>

#include "core/clock.hpp"
#include "core/spawn.hpp"

namespace steward::actions {
namespace {

const std::string kKind = "action";

boost::asio::awaitable<void> put(store::Store& store, std::string id, boost::json::object record) {
  auto saved = co_await store.put_record(kKind, id, record);
  if (!saved) spdlog::error("could not store action {}: {}", id, saved.error().message);
}

}  // namespace

void ActionLog::save(const ActionRecord& record) {
  boost::asio::co_spawn(executor_, put(store_, record.id, to_json(record)),
                        log_failure("storing action " + record.id));
}

boost::asio::awaitable<Result<boost::json::object>> ActionLog::load(const std::string& id) {
  auto record = co_await store_.get_record(kKind, id);
  if (!record) co_return record.error();
  if (!*record) co_return make_error(ErrorCode::NotFound, "no action with id '" + id + "'");
  co_return std::move(**record);
}

boost::asio::awaitable<Status> ActionLog::repair_interrupted() {
  auto records = co_await store_.list_records(kKind);
  if (!records) co_return records.error();
  for (auto& record : *records) {
    const auto* state = record.if_contains("state");
    if (!state || !state->is_string() || (state->as_string() != "pending" && state->as_string() != "running"))
      continue;
    record["state"] = "failed";
    record["error"] = "interrupted: server restarted";
    record["finished"] = unix_now();
    std::string id(record.at("id").as_string());
    if (auto saved = co_await store_.put_record(kKind, id, record); !saved) co_return saved.error();
  }
  co_return Status{};
}

}  // namespace steward::actions
