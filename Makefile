# Developer tasks for writepath. `make` alone lists them.
#
# Every target that has a `## ` comment on its rule line is listed by `make
# help`; keep that comment to one line saying what the target does.

GO       ?= go
GOFMT    ?= gofmt
BINARY   ?= writepath

# Tuning knobs, overridable on the command line: make bench BENCHTIME=5s
TEST_TIMEOUT ?= 20m
BENCHTIME    ?= 2s
BENCH_PKGS   ?= ./...
FUZZTIME     ?= 30s

.DEFAULT_GOAL := help
.PHONY: help run test verifier test-short bench fuzz lint build clean

help: ## List the targets and what they do
	@echo "usage: make TARGET"
	@echo
	@awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z0-9_-]+:.*## / { printf "  %-11s %s\n", $$1, $$2 }' \
		$(MAKEFILE_LIST)

run: ## Serve the API with a demo tenant on SQLite (prints the API key and address)
	$(GO) run ./cmd/writepath serve --demo

test: verifier ## Run every test with the race detector (SQLite and PostgreSQL)
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

# verifier installs the official Standard Webhooks verifier (npm) that the
# webhook tests check signatures against; without npm those tests skip.
verifier:
	@if command -v npm >/dev/null 2>&1; then \
		[ -d internal/webhook/testdata/verifier/node_modules ] || \
		npm ci --prefix internal/webhook/testdata/verifier --no-audit --no-fund; \
	else \
		echo "npm not found: the npm webhook verifier test will skip"; \
	fi

test-short: ## Quick loop: every test with -short and without the race detector
	$(GO) test -short -count=1 -timeout 5m ./...

bench: ## Run the benchmarks (BENCHTIME=2s, BENCH_PKGS=./...)
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(BENCH_PKGS)

# fuzz finds the fuzz targets itself, so a new Fuzz function is picked up
# without editing this file. go test -fuzz takes one target in one package at
# a time, hence the loop.
fuzz: ## Run each fuzz target in the tree for FUZZTIME (30s)
	@set -e; \
	files=$$(grep -rl --include='*_test.go' '^func Fuzz' . | sort); \
	if [ -z "$$files" ]; then echo "no fuzz targets found"; exit 0; fi; \
	for file in $$files; do \
		dir=./$$(dirname "$${file#./}"); \
		for name in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$$file"); do \
			echo "==> $$name in $$dir for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) "$$dir"; \
		done; \
	done

lint: ## Check formatting (gofmt), go vet, and staticcheck when it is installed
	@echo "==> gofmt -l ."
	@out=$$($(GOFMT) -l .); \
	if [ -n "$$out" ]; then echo "these files need gofmt -w:"; echo "$$out"; exit 1; fi
	@echo "==> go vet ./..."
	@$(GO) vet ./...
	@if command -v staticcheck >/dev/null 2>&1; then \
		echo "==> staticcheck ./..."; staticcheck ./...; \
	else \
		echo "==> staticcheck not installed, skipped" \
			"(go install honnef.co/go/tools/cmd/staticcheck@latest)"; \
	fi

build: ## Build the writepath binary into ./writepath
	$(GO) build -o $(BINARY) ./cmd/writepath

clean: ## Remove the binary, coverage files and test artifacts (keeps writepath.db)
	rm -f $(BINARY) coverage.out coverage.html *.coverprofile
	rm -rf artifacts/
