#pragma once
// What finished runs said about reaching each host, shared through the store
// (records of kind "target-health", one per host), so that every server on
// one store answers GET /targets?detail=1 alike and a restarted server
// knows what was seen before it stopped.
#include <boost/asio/awaitable.hpp>

#include <chrono>

#include "inventory/target_health.hpp"

namespace steward::store {
class Store;
}

namespace steward::inventory {

// Writes the sightings due to be shared and reads what the others shared.
boost::asio::awaitable<void> share_health_once(TargetHealth& health, store::Store& store);
// share_health_once every `period`, until cancelled.
boost::asio::awaitable<void> share_health_periodically(TargetHealth& health, store::Store& store,
                                                       std::chrono::milliseconds period);

}  // namespace steward::inventory
