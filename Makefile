# Recruitment pipeline tracker. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

BIN := $(CURDIR)/bin
export PATH := $(BIN):$(PATH)
export GOBIN := $(BIN)
# The Go toolchain every target uses (the modules need at least this one).
# A machine's own go fetches it from the module proxy the first time
# (~76 MB); the go line of every go.mod names it too, so a build with an
# older Go fails rather than compiling against a standard library with
# known vulnerabilities. Outside make: export GOTOOLCHAIN=go1.27.3.
export GOTOOLCHAIN := go1.27.3

# Pinned tool versions (the module proxy here withholds some; never @latest).
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
BUF_VERSION                := v1.75.0
STATICCHECK_VERSION        := v0.8.2
GRPCURL_VERSION            := v1.9.4
NATSCLI_VERSION            := v0.4.0
GOVULNCHECK_VERSION        := v1.9.0
# The local mail catcher of make run: the notifier sends to it, its web page
# shows what was sent.
MAILPIT_VERSION            := v1.33.1
# The Go vulnerability database, from the golang.org/x/vulndb module at this
# pseudo-version (vuln.go.dev is not reachable from CI). To refresh it:
#   go list -m golang.org/x/vulndb@master   # the newest the proxy serves
# and put that version here; `make vulncheck` builds the database again.
VULNDB_VERSION             := v0.0.0-20261105234957-e22db6528018
VULNDB                     := $(CURDIR)/.cache/vulndb/$(VULNDB_VERSION)

# Every Go module of the workspace.
MODULES := proto pkg $(wildcard services/*) cmd/pipelinectl cmd/dbroles cmd/devnats cmd/devidp cmd/devcerts cmd/healthcheck deploy/validate e2e bench

GO_TEST_FLAGS ?= -race -count=1 -timeout=15m

# Domain packages hold the rules; they import no transport, database or
# broker, nor do their tests (STYLE.md habit 11). `make lint` fails if one
# does, even indirectly.
DOMAIN_PACKAGES := services/applications/internal/intake services/sifting/internal/sift \
	services/offers/internal/offer services/vetting/internal/vetting services/reporting/internal/projection \
	services/notifier/internal/notify services/equality/internal/funnel
INFRASTRUCTURE  := ^(google\.golang\.org/grpc|github\.com/jackc/pgx|github\.com/nats-io)

.PHONY: help
help: ## List the targets.
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-12s %s\n", $$1, $$2}'

# --- tools -------------------------------------------------------------------

$(BIN)/protoc-gen-go:
	go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(BIN)/protoc-gen-go-grpc:
	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
$(BIN)/buf:
	@echo "installing buf $(BUF_VERSION) (about 80 s the first time)"
	go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(BIN)/staticcheck:
	go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
$(BIN)/grpcurl:
	go install github.com/fullstorydev/grpcurl/cmd/grpcurl@$(GRPCURL_VERSION)
# `go install` of the nats CLI fails on this proxy; building from the module cache works.
$(BIN)/nats:
	cd $$(mktemp -d) && go mod init tmp >/dev/null 2>&1 && go mod download github.com/nats-io/natscli@$(NATSCLI_VERSION)
	cd $$(go env GOMODCACHE)/github.com/nats-io/natscli@$(NATSCLI_VERSION) && GOFLAGS=-mod=mod go build -o $(BIN)/nats ./nats

$(BIN)/mailpit:
	@echo "installing mailpit $(MAILPIT_VERSION) (about a minute the first time)"
	go install github.com/axllent/mailpit@$(MAILPIT_VERSION)

$(BIN)/govulncheck:
	go install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)
$(BIN)/indexdb:
	@echo "installing the vulnerability database indexer (about a minute the first time)"
	go install golang.org/x/vulndb/cmd/indexdb@$(VULNDB_VERSION)
# The database: the module's OSV files, indexed as govulncheck reads them.
$(VULNDB)/index/db.json: | $(BIN)/indexdb
	cd $$(mktemp -d) && go mod init tmp >/dev/null 2>&1 && go mod download golang.org/x/vulndb@$(VULNDB_VERSION)
	rm -rf $(VULNDB).tmp && mkdir -p $(dir $(VULNDB))
	$(BIN)/indexdb -vulns $$(go env GOMODCACHE)/golang.org/x/vulndb@$(VULNDB_VERSION)/data/osv -out $(VULNDB).tmp
	rm -rf $(VULNDB) && mv $(VULNDB).tmp $(VULNDB)

.PHONY: vulncheck
vulncheck: $(BIN)/govulncheck $(VULNDB)/index/db.json ## Fail on any known vulnerability the code reaches (govulncheck, pinned database).
	@for m in $(MODULES); do echo "vulncheck $$m"; (cd $$m && govulncheck -db file://$(VULNDB) ./...) || exit 1; done

.PHONY: tools
tools: $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc $(BIN)/buf $(BIN)/staticcheck $(BIN)/grpcurl $(BIN)/nats $(BIN)/mailpit ## Install the pinned developer tools into ./bin.

# --- code generation -----------------------------------------------------------

.PHONY: generate
generate: $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc $(BIN)/buf ## Regenerate Go code from proto/ (clean output folder).
	cd proto && buf generate

# verify also runs `buf breaking` (scripts/proto-breaking): events are
# replayed from the start of the stream, so the contract must not break. On a
# branch it compares with the merge-base of HEAD and main — the branch's own
# changes, not main's later ones; on main (a clean clone in CI) the
# merge-base is HEAD itself, so it compares with the previous commit, which
# catches a breaking change as it lands. BREAKING_AGAINST=<commit> overrides.
# verify also checks deploy/ offline (deploy/validate): the Compose file
# with the Compose specification's parser, every Kubernetes manifest
# strict-decoded into the Kubernetes API types, both Kustomize overlays
# built, the manifests' security and availability promises, the NATS users
# against pkg/natsperm, and the Prometheus rules parsed against the metrics
# the code registers, and every image's stages run on a sandbox (its
# binaries built as the Dockerfile builds them). The first run compiles the Kubernetes and Kustomize
# libraries (a few minutes on 2 cores); later runs take seconds.
.PHONY: verify
verify: generate ## Lint the protos, check them against main for breaking changes, check deploy/ offline, and fail if regenerating changes anything.
	cd proto && buf lint
	@scripts/proto-breaking
	cd deploy/validate && go test -count=1 -timeout=30m ./...
	@git diff --exit-code -- proto/gen || (echo "proto/gen is stale: run 'make generate' and commit the result" >&2; exit 1)
	@test -z "$$(git status --porcelain -- proto/gen)" || (echo "proto/gen has untracked generated files: run 'make generate' and commit" >&2; git status --porcelain -- proto/gen >&2; exit 1)

# --- build, lint, test -------------------------------------------------------

.PHONY: build
build: ## Build every service binary into ./bin.
	@mkdir -p $(BIN)
	@for d in services/*/cmd/* cmd/pipelinectl cmd/dbroles cmd/devnats cmd/devidp cmd/devcerts cmd/healthcheck; do echo "build $$d"; (cd $$d && go build -o $(BIN)/ .) || exit 1; done

.PHONY: lint
lint: $(BIN)/staticcheck vulncheck ## No tracked binary over 1 MiB; gofmt, go vet, staticcheck and govulncheck on every module.
	@scripts/check-large-files
	@unformatted=$$(gofmt -l $(MODULES)); if [ -n "$$unformatted" ]; then echo "not gofmt-formatted (run gofmt -w):"; echo "$$unformatted"; exit 1; fi
	@for m in $(MODULES); do echo "lint $$m"; (cd $$m && go vet ./... && staticcheck ./...) || exit 1; done
	@for p in $(DOMAIN_PACKAGES); do bad=$$(cd $$p && go list -deps -test . | grep -E '$(INFRASTRUCTURE)'); \
		if [ -n "$$bad" ]; then echo "domain package $$p depends on infrastructure:"; echo "$$bad" | head -5; exit 1; fi; done; \
		echo "domain packages and their tests: no grpc, pgx or nats"

.PHONY: services-up
services-up: ## Make sure PostgreSQL and NATS are reachable (start the local ones if not).
	@scripts/services-up

.PHONY: chromium
chromium: ## Make sure Chromium is installed for the dashboard's browser test (installs Debian's if missing).
	@scripts/chromium

.PHONY: axe-core
axe-core: ## Make sure axe-core is in .cache/ for the dashboard's browser test (npm pack, pinned version).
	@scripts/axe-core

.PHONY: test
test: services-up chromium axe-core ## Run every test of every module (-race) against real PostgreSQL and NATS.
	@fail=0; for m in $(MODULES); do echo "=== test $$m"; (cd $$m && go test $(GO_TEST_FLAGS) ./...) || fail=1; done; exit $$fail

# The fault suite (e2e TestFaults, docs/operations.md): load through every
# stage, one fault per case, every OK call reconciled. `make test` runs its
# bounded set (two cases); this runs all of them (about 12 minutes), or
# FAULTS=<name>,<name> only those.
FAULTS ?= all

.PHONY: test-faults
test-faults: services-up ## Run every fault case under load and print the table (FAULTS=<names> for some; about 12 minutes).
	set -o pipefail; cd e2e && FAULTS=$(FAULTS) go test -count=1 -timeout=40m -run '^TestFaults$$' -v . | grep -v '^=== \(RUN\|PAUSE\|CONT\)'

# Every FuzzXxx target (found by scripts/fuzz, so none is forgotten) for
# FUZZTIME each; plain `go test` already runs their seeds. CI runs this
# after `make test`. A longer session: `make fuzz FUZZTIME=10m FUZZ=FuzzDecode`.
FUZZTIME ?= 3s
FUZZ     ?= .

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (default 3s; FUZZ=<regexp> picks targets).
	@FUZZTIME=$(FUZZTIME) FUZZ='$(FUZZ)' scripts/fuzz

.PHONY: bench
bench: services-up ## Measure the reporting targets (APPS, default 1M applications; about 20 minutes); writes bench/results/report.md.
	go run ./bench -apps $${APPS:-1000000} -out bench/results/report.md

.PHONY: bench-import
bench-import: services-up ## Measure the CSV import end to end: every service running, 5,000 and 20,000 generated rows through ImportApplications until reporting counts them, beside the ideal batch transaction (a few minutes); writes bench/results/import.md.
	go run ./bench import -out bench/results/import.md $(BENCH_IMPORT_FLAGS)

.PHONY: bench-write
bench-write: services-up ## Measure the write path: every service under stage updates beside the ideal pgx transaction, event-to-report lag, CPU and memory (about 4 minutes); writes bench/results/write.md.
	go run ./bench write -out bench/results/write.md $(BENCH_WRITE_FLAGS)

# --- run ---------------------------------------------------------------------

.PHONY: certs
certs: ## Make a local CA and certificates for localhost in .data/certs (for TLS=1; development only).
	cd cmd/devcerts && go run . -out $(CURDIR)/.data/certs

.PHONY: run
run: build $(BIN)/grpcurl $(BIN)/nats $(BIN)/mailpit ## Bring up the whole system with demo data (DEMO=0 for none; TLS=1 for TLS and mutual TLS; Ctrl-C stops it).
	@TLS=$(TLS) scripts/run
