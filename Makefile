# Thin entry points over scripts/ and CMake. See README.md.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps build test bench bench-keda demo images chaos fuzz test-sanitize format clean

all: build

deps:
	scripts/install-deps.sh

build: deps
	scripts/build.sh $(BUILD)

test: deps
	scripts/test.sh $(BUILD)

bench: deps
	scripts/bench.sh $(BUILD)

# The real KEDA (built from its Go module, cached in $(BUILD)/keda-bin) against
# Shoal's operator on one control plane; about 15 minutes (bench/keda/).
bench-keda: build
	bench/keda/bench-keda.sh $(BUILD)

demo: deps
	scripts/demo.sh $(BUILD)

# OCI image archives of shoal-operator and shoal-worker in $(BUILD)/images,
# without a container engine (see deploy/README.md).
images: deps
	scripts/images.sh $(BUILD)

chaos: deps
	SHOAL_CHAOS=long scripts/test.sh $(BUILD) -L chaos

fuzz: deps
	scripts/fuzz.sh

test-sanitize: deps
	SHOAL_SANITIZE=ON scripts/test.sh build-sanitize -LE 'e2e|chaos|k8s'

format:
	find runtime operator tests bench -name '*.cpp' -o -name '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD)
