# The two commands: `make run` and `make test` (see README.md).
#   make run    install what is missing, build (build/), start muster
#   make test   install what is missing, build with ASan+UBSan and -Werror
#               (build/asan/), run the whole ctest suite
#   make build  release build only;  make bench  benchmarks;  make clean
#   make fuzz   each fuzz target FUZZ_SECONDS;  make soak  the chaos soaks
#               (SOAK_SECONDS, and CHAOS_SECONDS for the chat's)
#   make install  build (build/) and install under PREFIX (default
#               /usr/local), staged under DESTDIR if set (docs/install.md)
#   make deb    the Debian package, built from a copy into build/deb/
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)
CONFIG ?= config/muster.json

FUZZ_SECONDS ?= 300

PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all build run test bench fuzz soak clean install deb deps-build deps-test deps-bench \
	deps-fuzz deps-install deps-deb

all: build

deps-build:
	@tools/deps.sh build
deps-test:
	@tools/deps.sh test
deps-bench:
	@tools/deps.sh bench
deps-fuzz:
	@tools/deps.sh fuzz
deps-install:
	@tools/deps.sh install
deps-deb:
	@tools/deps.sh deb

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

install: deps-install
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX)
	cmake --build build -j $(JOBS)
	DESTDIR=$(DESTDIR) cmake --install build

# Built from a copy of the working tree (nothing is written to it); then
# lintian, which must report no error.
deb: deps-deb
	tools/build-deb.sh build/deb
	lintian --fail-on error build/deb/muster_*.deb

bench: deps-bench build
	@bench/run.sh

# Each libFuzzer target (FUZZ_TARGETS) for FUZZ_SECONDS (default 300), one
# after another, on a scratch copy of its corpus (build/fuzz/corpus-NAME; the
# seeds in git stay small). Logs: build/fuzz/fuzz_NAME.log; a crash, leak or
# timeout leaves its input as build/fuzz/fuzz_NAME-crash-* (or leak-,
# timeout-) and fails the target once every fuzzer has run.
FUZZ_TARGETS ?= ipc cfg envfile ctl http h2 ws up cl tls proc realip pp sd cron file
fuzz: deps-fuzz
	cmake -S . -B build/fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DMUSTER_FUZZ=ON -DMUSTER_TESTS=OFF
	cmake --build build/fuzz -j $(JOBS)
	@failed=""; for t in $(FUZZ_TARGETS); do \
	  rm -rf build/fuzz/corpus-$$t; cp -r tests/fuzz/corpus/fuzz_$$t build/fuzz/corpus-$$t; \
	  dict=""; [ -f tests/fuzz/fuzz_$$t.dict ] && dict=-dict=tests/fuzz/fuzz_$$t.dict; \
	  echo "== fuzz_$$t for $(FUZZ_SECONDS) s (log: build/fuzz/fuzz_$$t.log)"; \
	  if build/fuzz/bin/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	      -rss_limit_mb=2048 -print_final_stats=1 $$dict -artifact_prefix=build/fuzz/fuzz_$$t- \
	      build/fuzz/corpus-$$t >build/fuzz/fuzz_$$t.log 2>&1; then \
	    grep -E '^(Done|stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb))' \
	      build/fuzz/fuzz_$$t.log; \
	  else \
	    tail -40 build/fuzz/fuzz_$$t.log; failed="$$failed fuzz_$$t"; \
	  fi; \
	done; \
	if [ -n "$$failed" ]; then echo "make fuzz: failed:$$failed" >&2; exit 1; fi

# The chaos soak for SOAK_SECONDS (default 60) on the sanitizer build, then
# the chat's chaos (tests/rt/test_chat_chaos.py: 200 WebSocket clients, an
# instance killed every 200 ms) for CHAOS_SECONDS (default 30, SPEC §8).
SOAK_SECONDS ?= 60
CHAOS_SECONDS ?= 30
soak: deps-test
	cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DMUSTER_SANITIZE=ON -DMUSTER_WERROR=ON
	cmake --build build/asan -j $(JOBS)
	SOAK_SECONDS=$(SOAK_SECONDS) MUSTER_BIN_DIR=$(CURDIR)/build/asan/bin \
	  ASAN_OPTIONS=detect_leaks=1:exitcode=86 /usr/bin/python3 tests/soak/test_soak.py -v
	CHAOS_SECONDS=$(CHAOS_SECONDS) MUSTER_BIN_DIR=$(CURDIR)/build/asan/bin \
	  MUSTER_SRC_DIR=$(CURDIR) ASAN_OPTIONS=detect_leaks=1:exitcode=86 \
	  /usr/bin/python3 tests/rt/test_chat_chaos.py -v

clean:
	rm -rf build
