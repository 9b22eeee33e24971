#pragma once
// The agent protocol's framing, shared by both ends (proto/agent.proto):
// messages as frames, and the frame size limits.
#include <google/protobuf/message_lite.h>

#include <cstddef>
#include <string>

#include "tls/frame_stream.hpp"

namespace steward::agent {

// Before the peer is known (an Enrol request, a Hello): a CSR and a few labels.
inline constexpr std::size_t kMaxFirstFrame = 256 * 1024;
// Later: an Exit carries up to both streams' output caps, a FileData 256 KiB.
inline constexpr std::size_t kMaxFrame = 64 * 1024 * 1024;

inline std::string frame_of(const google::protobuf::MessageLite& message) {
  std::string frame = tls::frame_buffer(message.ByteSizeLong());
  message.AppendToString(&frame);
  tls::seal_frame(frame);
  return frame;
}

}  // namespace steward::agent
