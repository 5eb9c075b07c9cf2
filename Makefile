# embeval — top-level entry points. Everything real is in CMake; these targets
# wrap the whole flow so that a new user needs one command.
#
#   make demo    install dependencies, build, prepare the default models, run
#                the default evaluation
#   make test    install dependencies, build, run the whole test suite (CTest)
#   make build   configure + build only (build/)
#   make asan    build + test under AddressSanitizer/UBSan (build-asan/)
#   make models  export the reference model architectures (models/*.onnx)
#   make install PREFIX=/usr/local

BUILD ?= build
JOBS ?= $(shell nproc)
PREFIX ?= /usr/local
CMAKE_FLAGS ?=
CTEST_FLAGS ?= --output-on-failure
SYS_PYTHON ?= /usr/bin/python3

.PHONY: all deps build test asan demo models install clean

all: build

deps:
	scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: deps
	$(MAKE) build
	cd $(BUILD) && ctest -j $(JOBS) $(CTEST_FLAGS)

asan: deps
	$(MAKE) build BUILD=build-asan CMAKE_FLAGS="-DEV_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug"
	cd build-asan && ctest -j $(JOBS) $(CTEST_FLAGS)

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
	rm -rf $(BUILD) build-asan

# Fuzzing (libFuzzer, clang): build every harness in build-fuzz and run each
# for FUZZ_SECONDS over its seed corpus + regression inputs.
FUZZ_SECONDS ?= 60
.PHONY: fuzz-build fuzz-smoke
fuzz-build:
	CC=clang cmake -S . -B build-fuzz -DEV_FUZZ=ON -DEV_SANITIZE=ON -DEV_BUILD_TESTS=OFF
	cmake --build build-fuzz -j $(JOBS)

fuzz-smoke: fuzz-build
	scripts/fuzz-smoke.sh build-fuzz/fuzz $(FUZZ_SECONDS)
