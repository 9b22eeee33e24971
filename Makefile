# Two commands for a new user: `make run` and `make test`.
BUILD_DIR ?= build
JOBS ?= 2
ARGS ?=
# Instrumented builds live beside the plain one (README "Sanitizer builds and fuzzing").
ASAN_DIR ?= build-asan
TSAN_DIR ?= build-tsan
FUZZ_DIR ?= build-fuzz
# Seconds each fuzz harness runs: `make fuzz` 60, `make test` (CI) 20.
FUZZ_SECONDS ?= 60
CI_FUZZ_SECONDS ?= 20

# Any sanitizer report fails the process that made it (and so its test): the
# e2e harness also scans the server's log for reports at teardown.
# intercept_strndup=0: libssh's ssh_pki_export_privkey_base64 strndup()s a
# key buffer that has no terminator, legal C that strict_string_checks flags.
SUPP := $(CURDIR)/tests/sanitizers
SANITIZER_ENV := \
  ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1:strict_string_checks=1:intercept_strndup=0:check_initialization_order=1:detect_stack_use_after_return=0 \
  UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1 \
  LSAN_OPTIONS=suppressions=$(SUPP)/lsan.supp:print_suppressions=0 \
  TSAN_OPTIONS=halt_on_error=1:abort_on_error=1:second_deadlock_stack=1:suppressions=$(SUPP)/tsan.supp:print_suppressions=0

.PHONY: deps configure build run test test-plain test-asan test-tsan fuzz fuzz-build fuzz-ci bench clean

deps:
	@bash scripts/install-deps.sh

# CI=1 (.ci/run): the same optimised code without debug info, which is a
# quarter of the plain build's compile time and nothing a test run needs.
ifeq ($(CI),1)
PLAIN_FLAGS := -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -DNDEBUG"
endif

configure: deps
	@test -f $(BUILD_DIR)/CMakeCache.txt || cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(PLAIN_FLAGS)

build: configure
	cmake --build $(BUILD_DIR) -j$(JOBS)

run: build
	$(BUILD_DIR)/steward serve $(ARGS)

# CI: the plain build and every test, the fuzzers for CI_FUZZ_SECONDS each,
# then the AddressSanitizer+UBSan build (unit + e2e) and the ThreadSanitizer
# build (the unit tests of code that runs on several threads: tests/CMakeLists.txt).
test: test-plain fuzz-ci test-asan test-tsan

test-plain: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS) $(ARGS)

test-asan: deps
	@test -f $(ASAN_DIR)/CMakeCache.txt || cmake -S . -B $(ASAN_DIR) -DSTEWARD_SANITIZER=address
	cmake --build $(ASAN_DIR) -j$(JOBS)
	cd $(ASAN_DIR) && env $(SANITIZER_ENV) STEWARD_SANITIZER=address ctest --output-on-failure -j$(JOBS) $(ARGS)

test-tsan: deps
	@test -f $(TSAN_DIR)/CMakeCache.txt || cmake -S . -B $(TSAN_DIR) -DSTEWARD_SANITIZER=thread
	cmake --build $(TSAN_DIR) -j$(JOBS) --target threaded_unit_tests
	cd $(TSAN_DIR) && env $(SANITIZER_ENV) ctest --output-on-failure -j$(JOBS) -L threaded $(ARGS)

# libFuzzer harnesses (clang), their own small CMake project: tests/fuzz.
fuzz-build: deps
	@test -f $(FUZZ_DIR)/CMakeCache.txt || cmake -S tests/fuzz -B $(FUZZ_DIR) -DCMAKE_CXX_COMPILER=clang++
	cmake --build $(FUZZ_DIR) -j$(JOBS)

# Replays every corpus and kept crash input (ctest), then fuzzes each harness.
fuzz: fuzz-build
	cd $(FUZZ_DIR) && env $(SANITIZER_ENV) ctest --output-on-failure -j$(JOBS)
	env $(SANITIZER_ENV) bash scripts/fuzz.sh run $(FUZZ_DIR) $(FUZZ_SECONDS)

fuzz-ci:
	$(MAKE) fuzz FUZZ_SECONDS=$(CI_FUZZ_SECONDS)

bench: build
	bash bench/run.sh

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(TSAN_DIR) $(FUZZ_DIR)
