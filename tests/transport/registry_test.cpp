#include <gtest/gtest.h>

#include "transport/local/local_transport.hpp"
#include "transport/transport.hpp"

namespace steward::transport {
namespace {

TEST(TransportRegistryTest, RefusesADuplicateNameAndKeepsTheFirst) {
  TransportRegistry registry;
  auto first = make_local_transport();
  ASSERT_TRUE(registry.add("local", first).ok());
  auto again = registry.add("local", make_local_transport());
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::Conflict);
  EXPECT_EQ(again.error().message, "connection type 'local' is registered twice");
  auto found = registry.get("local");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->get(), first.get());
}

TEST(TransportRegistryTest, BuiltinsRegisterOnce) {
  TransportRegistry registry;
  ASSERT_TRUE(register_builtin_transports(registry, {}).ok());
  EXPECT_FALSE(register_builtin_transports(registry, {}).ok());
}

}  // namespace
}  // namespace steward::transport
