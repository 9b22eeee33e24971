# Two commands for a new user: `make run` and `make test`.
BUILD_DIR ?= build
JOBS ?= 2
ARGS ?=

.PHONY: deps configure build run test bench clean

deps:
	@bash scripts/install-deps.sh

configure: deps
	@test -f $(BUILD_DIR)/CMakeCache.txt || cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: configure
	cmake --build $(BUILD_DIR) -j$(JOBS)

run: build
	$(BUILD_DIR)/steward serve $(ARGS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS) $(ARGS)

bench: build
	bash bench/run.sh

clean:
	rm -rf $(BUILD_DIR)
