#pragma once
// Registrations as the store keeps them (kind "callback"); private to src/callback.
#include <boost/json/object.hpp>

#include <optional>

#include "callback/registry.hpp"

namespace steward::callback {

inline constexpr const char* kCallbackKind = "callback";

boost::json::object to_json(const Registration& registration);
// Nullopt when the record lacks a name or a readable key.
std::optional<Registration> registration_from_json(const boost::json::object& json);

}  // namespace steward::callback
