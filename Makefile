# runnel - short commands. The real build is CMake (CMakeLists.txt).
#
#   make            install missing packages, build build/runnel
#   make test       the whole suite (unit, sanitizers, SQL golden tests,
#                   oracles, fuzz smoke runs); .ci/run calls exactly this
#   make demo       the five example pipelines live on an embedded broker (Ctrl-C stops)
#   make bench      benchmarks (bench/run)
#   make fuzz       longer libFuzzer runs (FUZZ_SECONDS=300)

BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 300
JOBS ?= $(shell nproc)

.PHONY: all setup build test unit asan fuzz-smoke fuzz demo bench clean

all: build

setup:
	@scripts/setup

$(BUILD)/build.ninja: | setup
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: $(BUILD)/build.ninja
	@ninja -C $(BUILD) -j $(JOBS)

unit: build
	cd $(BUILD) && ctest --output-on-failure -L unit

asan: setup
	@[ -f $(ASAN_BUILD)/build.ninja ] || cmake -S . -B $(ASAN_BUILD) -G Ninja -DRUNNEL_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
	@ninja -C $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -L unit

$(FUZZ_BUILD)/build.ninja: | setup
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G Ninja -DRUNNEL_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug

fuzz-smoke: $(FUZZ_BUILD)/build.ninja
	@ninja -C $(FUZZ_BUILD) -j $(JOBS)
	scripts/fuzz $(FUZZ_BUILD) 20

fuzz: $(FUZZ_BUILD)/build.ninja
	@ninja -C $(FUZZ_BUILD) -j $(JOBS)
	scripts/fuzz $(FUZZ_BUILD) $(FUZZ_SECONDS)

test: build asan fuzz-smoke
	cd $(BUILD) && ctest --output-on-failure

demo: build
	$(BUILD)/runnel demo

bench: build
	bench/run

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
