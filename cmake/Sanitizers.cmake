# Instrumented test builds (README "Sanitizer builds and fuzzing"), each in its
# own build dir: -DSTEWARD_SANITIZER=address (AddressSanitizer + UBSan, any
# report aborts) or =thread (ThreadSanitizer). -O0 -g1 keeps the compile cheap
# for CI (0.63x the time of -O1, measured in bench/RESULTS.md) while reports
# still name file:line; the benchmarks are not built.
set(STEWARD_SANITIZER "" CACHE STRING "Instrumented build: address (ASan+UBSan) or thread (TSan); empty for none")
set_property(CACHE STEWARD_SANITIZER PROPERTY STRINGS "" address thread)

if(STEWARD_SANITIZER STREQUAL "address")
  set(steward_sanitize_flags -fsanitize=address,undefined -fno-sanitize-recover=undefined)
elseif(STEWARD_SANITIZER STREQUAL "thread")
  set(steward_sanitize_flags -fsanitize=thread)
elseif(NOT STEWARD_SANITIZER STREQUAL "")
  message(FATAL_ERROR "STEWARD_SANITIZER must be address, thread or empty, not '${STEWARD_SANITIZER}'")
endif()

if(steward_sanitize_flags)
  set(CMAKE_BUILD_TYPE Sanitize CACHE STRING "" FORCE)
  # Runs slower than -O1 but compiles faster, which is what CI waits for; -O1
  # finds the same reports: -DCMAKE_CXX_FLAGS_SANITIZE="-O1 -g1".
  set(CMAKE_CXX_FLAGS_SANITIZE "-O0 -g1" CACHE STRING "Optimisation and debug info of the sanitizer builds")
  add_compile_options(${steward_sanitize_flags} -fno-omit-frame-pointer)
  add_link_options(${steward_sanitize_flags})
endif()
