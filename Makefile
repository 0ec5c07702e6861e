# digits: the set-up and the everyday commands. `make help` lists them.

SWIFT ?= swift
CONFIG ?= release
MODEL ?= lenet5
# The numeric kernels without overflow checks and for this machine's CPU (see Package.swift); 0 builds them portable.
export DIGITS_FAST ?= 1

.PHONY: help setup build train test bench fuzz clean

help:
	@echo "make setup   install the system libraries digits needs (Debian: libopenblas-dev, zlib1g-dev)"
	@echo "make train   set up, build, train the default model on MNIST, print its test accuracy, save models/default.safetensors"
	@echo "make test    set up, build once in release mode, run every test, then build an app that depends on digits 1.0.0"
	@echo "make bench   the speed benchmark: the mlp recipe against this machine's sgemm rate"
	@echo "make fuzz    build the libFuzzer targets (address sanitizer) and run each for 60 s (not part of CI)"

setup:
	@scripts/setup

build: setup
	$(SWIFT) build -c $(CONFIG)

train: build
	@mkdir -p models
	$(SWIFT) run -c $(CONFIG) digits train --model $(MODEL) --output models/default.safetensors
	@echo "saved models/default.safetensors ($(MODEL)); digits predict, read and serve use it when no model file is named:"
	@echo "  .build/$(CONFIG)/digits predict PICTURE.png"
	@echo "  .build/$(CONFIG)/digits read NUMBER.png"
	@echo "  .build/$(CONFIG)/digits serve        # then open http://127.0.0.1:8080/ and draw a digit"

test: setup
	DIGITS_ONNX_PYTHON=$(CURDIR)/.venv-test/bin/python $(SWIFT) test -c $(CONFIG) --disable-swift-testing
	scripts/check-package-consumer

bench: setup
	$(SWIFT) run -c release digits-bench

fuzz:
	scripts/fuzz --seconds 60

clean:
	rm -rf .build
