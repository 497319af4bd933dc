# SPDX-License-Identifier: MIT
# Convenience wrapper around CMake + ctest.  The real build is CMakeLists.txt.
#   make check   bootstrap, build, run every test (unit + system) via ctest
#   make asan    the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make tsan    the same under ThreadSanitizer (build-tsan/)
#   make valgrind  unit tests under valgrind memcheck
#   make demo    the keeper on the emulator, end to end, with short timings
#   make fuzz    build the libFuzzer harnesses (clang) and run each briefly
#   make bench   benchmarks in bench/ (see bench/RESULTS.md)
#   make deb     Debian packages, unsigned, into build-deb/ (docs/packaging.md)
BUILD    ?= build
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
CI_FLAGS := $(if $(CI),-DMGCALL_WERROR=ON,)

.PHONY: all bootstrap build check asan tsan valgrind demo fuzz bench deb clean format

all: build

bootstrap:
	@scripts/bootstrap

$(BUILD)/CMakeCache.txt: | bootstrap
	cmake -S . -B $(BUILD) $(CI_FLAGS) $(CMAKE_FLAGS)

build: bootstrap $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

check: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

asan: bootstrap
	cmake -S . -B build-asan -DMGCALL_ASAN=ON -DCMAKE_BUILD_TYPE=Debug $(CI_FLAGS)
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j $(JOBS)

tsan: bootstrap
	cmake -S . -B build-tsan -DMGCALL_TSAN=ON $(CI_FLAGS)
	cmake --build build-tsan -j $(JOBS)
	cd build-tsan && ctest --output-on-failure -j $(JOBS)

valgrind: bootstrap
	cmake -S . -B build-valgrind -DMGCALL_VALGRIND=ON -DCMAKE_BUILD_TYPE=Debug $(CI_FLAGS)
	cmake --build build-valgrind -j $(JOBS)
	cd build-valgrind && ctest --output-on-failure -j $(JOBS) -L unit

demo: build
	@scripts/demo $(BUILD)/src/mgcall

fuzz: bootstrap
	CC=clang cmake -S . -B build-fuzz -DMGCALL_FUZZ=ON -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Debug
	cmake --build build-fuzz -j $(JOBS)
	scripts/run-fuzzers build-fuzz/fuzz 20

bench: build
	@scripts/bootstrap --bench
	@bench/run $(BUILD)

deb: bootstrap
	scripts/deb build-deb

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-asan build-tsan build-valgrind build-fuzz build-deb
