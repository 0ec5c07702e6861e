# digits: the set-up and the everyday commands. `make help` lists them.

SWIFT ?= swift
CONFIG ?= release
MODEL ?= lenet5
# The numeric kernels without overflow checks and for this machine's CPU (see Package.swift); 0 builds them portable.
export DIGITS_FAST ?= 1

.PHONY: help setup build train test bench fuzz clean

help:
	@echo "make setup   install the system libraries digits needs (Debian: libopenblas-dev, zlib1g-dev)"
	@echo "make train   set up, build, and train the default model on MNIST; prints its test accuracy"
	@echo "make test    set up, build once in release mode, run every test, then build an app that depends on digits 1.0.0"
	@echo "make bench   the speed benchmark: the mlp recipe against this machine's sgemm rate"
	@echo "make fuzz    build the libFuzzer targets (address sanitizer) and run each for 60 s (not part of CI)"

setup:
	@scripts/setup

build: setup
	$(SWIFT) build -c $(CONFIG)

train: build
	$(SWIFT) run -c $(CONFIG) digits train --model $(MODEL)

test: setup
	DIGITS_ONNX_PYTHON=$(CURDIR)/.venv-test/bin/python $(SWIFT) test -c $(CONFIG) --disable-swift-testing
	scripts/check-package-consumer

bench: setup
	$(SWIFT) run -c release digits-bench

fuzz:
	scripts/fuzz --seconds 60

clean:
	rm -rf .build
