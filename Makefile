# The NBA props pipeline. `make run` backfills two weeks end to end on the embedded local
# stack; `make test` runs every test. See README.md.

GO          ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Packages whose concurrency matters most run under the race detector.
RACE_PKGS   := ./messages/... ./consumers/runner/... ./consumers/ledger/... ./consumers/push/...
TEST_FLAGS  ?= -timeout 20m
# Tests on Google's official Pub/Sub emulator are named ...OnGcloud and live in these
# packages. test-all leaves them out and test-gcloud runs them verbosely, so that its output
# says of each whether it passed or was skipped (where the Google Cloud CLI lacks the
# emulator, with how to install it).
GCLOUD_TESTS := OnGcloud$$
GCLOUD_PKGS  := ./infra/emulators/ ./infra/localstack/
# TestChaosWeek (make chaos over a week) is left out of make test: CI runs the month chaos on
# both Pub/Sub emulators instead (.ci/run). Run it with: go test -run TestChaosWeek ./infra/chaos/
CHAOS_WEEK   := ^TestChaosWeek$$
# Packages that must build and vet with CGO_ENABLED=0 (make lint): what ships in the production
# images. Only the BigQuery emulator and the test helpers under infra/ may link DuckDB through cgo.
PURE_PKGS   := ./messages/... ./producer/... ./consumers/...

.PHONY: all run up chaos test test-race test-all test-gcloud lint build bench deploy-plan clean

all: lint build test

## run: backfill two weeks of the 2024-25 season end to end on the embedded local stack
run:
	$(GO) run ./infra/localstack run $(ARGS)

## up: start the local stack (Pub/Sub, GCS, BigQuery, source simulator, consumers) in the foreground
up:
	$(GO) run ./infra/localstack up $(ARGS)

## chaos: a month of backfill through killed consumers and failing sources, GCS and BigQuery (ARGS=--season: the whole season)
chaos:
	$(GO) run ./infra/chaos $(ARGS)

## test: every test, then the runtime packages again under the race detector
test: test-all test-gcloud test-race

test-all:
	$(GO) test $(TEST_FLAGS) -skip '$(GCLOUD_TESTS)|$(CHAOS_WEEK)' ./...

## test-gcloud: the local stack's tests on Google's official Pub/Sub emulator (skipped where it is not installed)
test-gcloud:
	$(GO) test $(TEST_FLAGS) -v -run '$(GCLOUD_TESTS)' $(GCLOUD_PKGS)

test-race:
	$(GO) test -race $(TEST_FLAGS) $(RACE_PKGS)

## lint: gofmt, go mod tidy, go vet (with and without cgo) and staticcheck must all be clean
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy and commit the result"; exit 1; }
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) build $(PURE_PKGS)
	CGO_ENABLED=0 $(GO) vet $(PURE_PKGS)
	$(STATICCHECK) ./...

## build: the production binaries, pure Go (no cgo)
build:
	CGO_ENABLED=0 $(GO) build -o bin/producer ./producer
	CGO_ENABLED=0 $(GO) build -o bin/consumers ./consumers

## bench: the pipeline against a sequential loop, enqueue, overhead, memory and scaling (ARGS="--range 2024-10-22..2024-10-28" for a quick run); prints figures, asserts nothing
bench:
	$(GO) run ./infra/bench $(ARGS)

## deploy-plan: the whole Google Cloud deployment of ENV (dev), planned offline for review (docs/deploy.md)
ENV ?= dev
deploy-plan:
	$(GO) run ./infra/cmd/infra deploy --plan --offline --project demo-project --region us-west2 --env $(ENV)

clean:
	rm -rf bin .local
