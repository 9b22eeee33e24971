#pragma once
#include "settings.hpp"

namespace steward {

// Runs the server until SIGTERM/SIGINT; the process exit code.
int serve(const ServeSettings& settings);

}  // namespace steward
