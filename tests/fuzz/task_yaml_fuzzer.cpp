// Staged task files (servo-exec format: exec/request/stages, retries, success codes).
#include "fuzz_input.hpp"
#include "tasks/pipeline.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)steward::tasks::parse_task_file(steward::fuzz::text_of(data, size), "fuzz.yaml");
  return 0;
}
