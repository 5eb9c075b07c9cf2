# embeval — top-level entry points. Everything real is in CMake; these targets
# wrap the whole flow so that a new user needs one command.
#
#   make demo    install dependencies, build, prepare the default models, run
#                the default evaluation
#   make test    install dependencies, then the whole CI run: the normal
#                build's CTest, the same suite in the ASan+UBSan+LSan build
#                (build-asan/), and every fuzzer for FUZZ_SECONDS (what
#                .ci/run calls; see docs/testing.md)
#   make check   build + the normal CTest only (the quick developer loop)
#   make build   configure + build only (build/)
#   make asan    build + test under AddressSanitizer/UBSan/LeakSanitizer
#   make models  export the reference model architectures (models/*.onnx)
#   make install PREFIX=/usr/local

BUILD ?= build
JOBS ?= $(shell nproc)
PREFIX ?= /usr/local
CMAKE_FLAGS ?=
CTEST_FLAGS ?= --output-on-failure
SYS_PYTHON ?= /usr/bin/python3

.PHONY: all deps build test check asan asan-check demo models install clean

all: build

deps:
	scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The CI run (docs/testing.md): all three stages run even if one fails (one
# CI run tells everything); each prints its summary; any test failure,
# sanitizer report or fuzzer finding fails the target.
CI_FUZZ_SECONDS ?= 45
test: deps
	@rc=0; s1=ok; s2=ok; s3=ok; t0=$$(date +%s); \
	$(MAKE) check || { rc=1; s1=FAILED; }; t1=$$(date +%s); \
	$(MAKE) asan-check || { rc=1; s2=FAILED; }; t2=$$(date +%s); \
	$(MAKE) fuzz-smoke FUZZ_SECONDS=$(CI_FUZZ_SECONDS) || { rc=1; s3=FAILED; }; t3=$$(date +%s); \
	echo "make test: check $$s1 ($$((t1 - t0)) s), asan-check $$s2 ($$((t2 - t1)) s), fuzz-smoke $$s3 ($$((t3 - t2)) s)"; \
	exit $$rc

check: build
	cd $(BUILD) && ctest -j $(JOBS) $(CTEST_FLAGS)

# Sanitizer build: -O2 -g with ASan + UBSan (no recovery) + LeakSanitizer.
# Reports go to build-asan/sanitizer-logs/ (every process, including the CLI
# runs of script-driven tests whatever exit code they expect) and any report
# fails the run (scripts/ci-sanitizer-check.sh prints them). Known-benign
# leaks of system libraries: scripts/lsan.supp. ASAN_EXCLUDE drops the tests
# whose scope is reduced under ASan (measured, docs/testing.md): the plain-C
# reference runs of the three largest models (the reference kernels run
# under ASan in the conformance suite and the three small models' reference
# parity cases) and the Fashion-MNIST cache-speedup timing (embed and the
# cache run under ASan in the other pipeline, crash and determinism tests).
# The exported models of the normal build are reused (hard links; the export
# tests find them up to date: same script, same arguments), not re-exported.
ASAN_BUILD ?= build-asan
ASAN_EXCLUDE ?= ^(parity\.(resnet50|clip_vit_b32|efficientnet_b0)\.reference|pipeline\.embed_fashion)$$
ASAN_LOGS = $(CURDIR)/$(ASAN_BUILD)/sanitizer-logs
SAN_ENV = ASAN_OPTIONS=log_path=$(ASAN_LOGS)/asan:detect_leaks=1:abort_on_error=0:exitcode=86 \
  UBSAN_OPTIONS=log_path=$(ASAN_LOGS)/ubsan:print_stacktrace=1:halt_on_error=1:exitcode=87 \
  LSAN_OPTIONS=suppressions=$(CURDIR)/scripts/lsan.supp:print_suppressions=0
asan: deps
	$(MAKE) asan-check

asan-check:
	$(MAKE) build BUILD=$(ASAN_BUILD) CMAKE_FLAGS="-DEV_SANITIZE=ON"
	rm -rf $(ASAN_LOGS) && mkdir -p $(ASAN_LOGS)
	for d in models pipeline-models; do \
	  if [ -d $(BUILD)/$$d ] && [ ! -e $(ASAN_BUILD)/$$d ]; then cp -al $(BUILD)/$$d $(ASAN_BUILD)/$$d; fi; done
	cd $(ASAN_BUILD) && $(SAN_ENV) ctest -j $(JOBS) $(CTEST_FLAGS) -E '$(ASAN_EXCLUDE)'; \
	  rc=$$?; cd $(CURDIR) && scripts/ci-sanitizer-check.sh $(ASAN_LOGS) && exit $$rc

# models/<name>.onnx (opset 17, the demo's files) + models/models.json; a no-op
# when the files of the same script and arguments are already there.
models: build
	$(SYS_PYTHON) tools/export_models.py --out models --opsets 17 --plain-names --if-stale

# The default evaluation: every card in models/ (six seed architectures with
# random weights, the trained reference models, the raw-pixel baseline) on
# Fashion-MNIST. Prints the table, writes out/demo/, says where the report is
# (also when a model failed: the exit status is embeval run's).
DEMO_OUT ?= out/demo
demo: deps
	$(MAKE) models
	@status=0; $(BUILD)/embeval run --out $(DEMO_OUT) || status=$$?; \
	if [ $$status -eq 0 -o $$status -eq 3 -o $$status -eq 4 ] && [ -f $(DEMO_OUT)/report.html ]; then \
	  echo "embeval demo: report in $(DEMO_OUT)/report.html (also report.md, report.json, report.csv, charts/)"; \
	fi; exit $$status

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

# Fuzzing (libFuzzer, clang; ASan + UBSan): build every harness in
# build-fuzz and run each for FUZZ_SECONDS over its generated seed corpus
# (fuzz/seeds.sh) + regression inputs (tests/data/fuzz-regressions/<name>/).
# Long runs: fuzz/long.sh SECONDS NAME... (docs/testing.md).
FUZZ_SECONDS ?= 60
.PHONY: fuzz-build fuzz-smoke
fuzz-build:
	CC=clang cmake -S . -B build-fuzz -DEV_FUZZ=ON -DEV_SANITIZE=ON -DEV_BUILD_TESTS=OFF
	cmake --build build-fuzz -j $(JOBS)

fuzz-smoke: fuzz-build
	scripts/fuzz-smoke.sh build-fuzz/fuzz $(FUZZ_SECONDS)
