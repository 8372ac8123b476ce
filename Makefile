# podtrail: make run (build the collector with ocb and run it on the demo),
# make test (every test), make bench (benchmarks).
GO        ?= go
OCB_VERSION := v0.160.0
BIN       := $(CURDIR)/bin
COLLECTOR := $(BIN)/otelcol-podtrail
DIST      := distributions/otelcol-podtrail/cmd/otelcol-podtrail
# packages that run goroutines: the race detector runs on them
RACE_PKGS := ./receiver/... ./processor/... ./internal/rules/...

.PHONY: all build generate check-generated run test race vet bench fuzz clean

all: build

$(BIN)/builder:
	GOBIN=$(BIN) $(GO) install go.opentelemetry.io/collector/cmd/builder@$(OCB_VERSION)

# ocb writes the collector's main and component list from builder-config.yaml;
# go.mod (this repository's) pins every component, so no `go get` is needed.
generate: $(BIN)/builder
	mkdir -p $(DIST)
	$(BIN)/builder --config builder-config.yaml --skip-get-modules --skip-compilation

build: generate
	$(GO) build -trimpath -o $(COLLECTOR) ./$(DIST)

check-generated: generate
	git diff --exit-code -- $(DIST)

run: build
	bash distributions/otelcol-podtrail/demo/run.sh

vet:
	$(GO) vet ./...

race:
	$(GO) test -race -count=1 $(RACE_PKGS)

test: vet
	$(GO) test -count=1 -timeout 30m ./...
	$(GO) test -race -count=1 $(RACE_PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./...

# FUZZTIME per target, e.g. make fuzz FUZZTIME=10m
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf $(BIN) out
