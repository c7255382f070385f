# The two commands: `make run` and `make test` (see README.md).
#   make run    install what is missing, build (build/), start muster
#   make test   install what is missing, build with ASan+UBSan and -Werror
#               (build/asan/), run the whole ctest suite
#   make build  release build only;  make bench  benchmarks;  make clean
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)
CONFIG ?= config/muster.json

.PHONY: all build run test bench clean deps-build deps-test deps-bench

all: build

deps-build:
	@tools/deps.sh build
deps-test:
	@tools/deps.sh test
deps-bench:
	@tools/deps.sh bench

build: deps-build
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build build -j $(JOBS)

run: build
	@if [ -x build/bin/muster ]; then exec build/bin/muster -c $(CONFIG); \
	else echo "muster is not built yet; starting dummy_service alone is not useful" >&2; exit 1; fi

test: deps-test
	cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DMUSTER_SANITIZE=ON -DMUSTER_WERROR=ON
	cmake --build build/asan -j $(JOBS)
	cd build/asan && ctest --output-on-failure -j $(JOBS)

bench: deps-bench build
	@bench/run.sh

clean:
	rm -rf build
