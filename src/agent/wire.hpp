#pragma once
// The agent protocol on gRPC's generic API, shared by both ends: the method
// names and serialized messages in and out of gRPC's ByteBuffer.
#include <grpcpp/support/byte_buffer.h>

#include <string>
#include <vector>

namespace steward::agent {

inline constexpr const char* kConnectMethod = "/steward.agent.v1.AgentService/Connect";
inline constexpr const char* kEnrolMethod = "/steward.agent.v1.AgentService/Enrol";

inline ::grpc::ByteBuffer buffer_of(const std::string& bytes) {
  ::grpc::Slice slice(bytes);
  return ::grpc::ByteBuffer(&slice, 1);
}

// Empty when the buffer cannot be read (which no message parses from).
inline std::string bytes_of(const ::grpc::ByteBuffer& buffer) {
  std::vector<::grpc::Slice> slices;
  std::string bytes;
  if (!buffer.Dump(&slices).ok()) return bytes;
  for (const auto& slice : slices) bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  return bytes;
}

}  // namespace steward::agent
