# netctl — run `make help` for the targets.
SHELL      := /bin/bash
GO         ?= go
BIN        := bin/netctl
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS    := -s -w -X main.version=$(VERSION) -X main.revision=$(REVISION)
# -race needs cgo and a C compiler; fall back to a plain run without one.
RACE       ?= $(shell command -v gcc >/dev/null 2>&1 && echo -race)
TESTFLAGS  ?= -count=1 -timeout 15m
BENCHFLAGS ?= -run '^$$' -count 5
export CGO_ENABLED ?= 1

.DEFAULT_GOAL := help
.PHONY: help setup generate check-generate check-deploy build test test-unit lint bench demo clean

help: ## Show this help
	@awk -v tty=$$([ -t 1 ] && echo 1) 'BEGIN {FS = ":.*## "; c = tty ? "\033[36m" : ""; r = tty ? "\033[0m" : ""} /^[a-zA-Z_-]+:.*## / {printf "  %s%-15s%s %s\n", c, $$1, r, $$2}' $(MAKEFILE_LIST)

setup: ## Install the Debian packages and mount bpffs (idempotent)
	@scripts/setup.sh

generate: ## Regenerate the eBPF objects from bpf/ with bpf2go (needs clang-19)
	$(GO) generate ./...

check-generate: ## Fail if the committed eBPF objects differ from what bpf/ generates
	@scripts/check-generate.sh

build: ## Build bin/netctl (static, version stamped)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/netctl

test: setup check-generate build ## Install what is needed, then run every test (privileged ones as root)
	@$(GOFMT_CHECK)
	$(GO) vet ./...
	@scripts/check-cross.sh
	$(GO) test $(RACE) $(TESTFLAGS) ./...
	@$(MAKE) --no-print-directory check-deploy

# Checks with heavy dependencies live in modules of their own, so the main module stays
# lean: the dashboard's queries (PromQL parser) and the Kubernetes manifests (API types).
CHECK_MODULES := deploy/grafana/check deploy/kubernetes/validate
check-deploy: ## Dashboard and Kubernetes manifest checks (separate Go modules)
	@set -e; for m in $(CHECK_MODULES); do \
	  if [ -f $$m/go.mod ]; then (cd $$m && $(GO) test -count=1 ./...); fi; \
	done

# gofmt -l on the tracked Go files; fails, naming them, when any needs formatting.
GOFMT_CHECK = files=$$(git ls-files '*.go') && { test -n "$$files" || { echo "gofmt: git lists no Go files"; exit 1; }; } && \
	bad=$$(gofmt -l $$files) && { test -z "$$bad" || { echo "gofmt: run gofmt -w on:"; echo "$$bad"; exit 1; }; }

test-unit: ## As any user, no root or apt: gofmt, vet, the non-Linux builds, the tests (privileged ones skip)
	@$(GOFMT_CHECK)
	$(GO) vet ./...
	@scripts/check-cross.sh
	$(GO) test $(RACE) $(TESTFLAGS) ./...

lint: ## gofmt, go vet and golangci-lint (installed from the Go module proxy on first use; no root)
	@$(GOFMT_CHECK)
	$(GO) vet ./...
	scripts/golangci-lint.sh run ./...

bench: setup ## Run the benchmarks (tc program cost vs an empty one; nic add+del vs the seed's script; serve under load); see BENCHMARKS.md
	$(GO) test -run '^$$' -count 1 -bench 'Ratio$$' -benchtime 1x ./probe/
	$(GO) test $(BENCHFLAGS) -bench '^Benchmark(Program|FlowMap|FlowMapTwoCPUs)$$' -benchtime 2000000x ./probe/
	$(GO) test $(BENCHFLAGS) -bench ReadFlows -benchtime 10x ./probe/
	$(GO) test $(BENCHFLAGS) -bench NicAddDel -benchtime 20x ./netctl/
	$(GO) test -run '^$$' -count 1 -bench Collect -benchtime 20x -benchmem ./exporter/
	$(GO) test -run '^$$' -count 1 -bench Serve -benchtime 1x -timeout 30m ./cmd/netctl/
	$(GO) test -run '^$$' -count 1 -bench AttachedThroughput -benchtime 1x -v -timeout 20m ./probe/
	$(GO) test -run '^$$' -count 1 -bench AttachedRunTime -benchtime 1x -v -timeout 20m ./probe/

.PHONY: test-kernels
test-kernels: ## The privileged tests and a CLI smoke run on Debian 12's Linux 6.1 (no TCX: tc mode) under qemu
	@scripts/test-kernels.sh

demo: setup build ## The main job on the built-in lab (namespaces only; cleans up)
	@scripts/demo.sh

clean: ## Remove build outputs
	rm -rf bin
