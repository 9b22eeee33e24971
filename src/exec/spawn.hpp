#pragma once
// posix_spawn of a child in its own process group with piped stdio.
#include <sys/types.h>

#include "core/result.hpp"
#include "exec/process.hpp"

namespace steward::exec {

struct SpawnedChild {
  pid_t pid = -1;
  int pidfd = -1;  // readable once the child has exited
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
};

// Every descriptor it returns is close-on-exec; the child gets only 0, 1, 2.
Result<SpawnedChild> spawn_child(const ProcessSpec& spec);

}  // namespace steward::exec
