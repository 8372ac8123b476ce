# podtrail: make run (build the collector with ocb and run it on the demo),
# make test (every test), make bench (benchmarks).
GO        ?= go
OCB_VERSION := v0.160.0
BIN       := $(CURDIR)/bin
COLLECTOR := $(BIN)/otelcol-podtrail
DIST      := distributions/otelcol-podtrail/cmd/otelcol-podtrail
# packages that run goroutines: the race detector runs on them
RACE_PKGS := ./receiver/... ./processor/... ./exporter/... ./extension/... ./internal/rules/... ./internal/inventory/... ./internal/lookalike/... ./internal/correlate/...

.PHONY: all build generate generate-metadata check-generated run test race vet bench fuzz clean

all: build

$(BIN)/builder:
	GOBIN=$(BIN) $(GO) install go.opentelemetry.io/collector/cmd/builder@$(OCB_VERSION)

# ocb writes the collector's main and component list from builder-config.yaml;
# go.mod (this repository's) pins every component, so no `go get` is needed.
# generate-metadata runs mdatagen (pinned in internal/tools/go.mod) on every
# component's metadata.yaml through its go:generate line: internal/metadata
# (status, telemetry builder), internal/metadatatest, documentation.md and
# the generated lifecycle and goleak tests.
generate: $(BIN)/builder generate-metadata
	mkdir -p $(DIST)
	$(BIN)/builder --config builder-config.yaml --skip-get-modules --skip-compilation

METADATA_DIRS := $(sort $(dir $(wildcard receiver/*/metadata.yaml processor/*/metadata.yaml exporter/*/metadata.yaml extension/*/metadata.yaml)))
generate-metadata:
	$(GO) generate $(addprefix ./,$(METADATA_DIRS))

# GENERATED: every path make generate writes.
GENERATED := $(DIST) $(foreach d,$(METADATA_DIRS),$(d)documentation.md $(d)internal/metadata $(d)internal/metadatatest $(d)generated_*)

build: generate
	$(GO) build -trimpath -o $(COLLECTOR) ./$(DIST)

# dist-binary: the static Linux binary the images copy
# (distributions/otelcol-podtrail/Dockerfile, Dockerfile.agent); GOARCH from
# the environment. Built from the committed sources (make check-generated).
.PHONY: dist-binary
dist-binary:
	CGO_ENABLED=0 GOOS=linux $(GO) build -trimpath -ldflags '-s -w' -o dist/otelcol-podtrail ./$(DIST)

# check-generated: what make generate writes is what is committed (the
# collector's main and every component's mdatagen output); untracked
# generated files fail it too.
check-generated: generate
	git diff --exit-code -- $(GENERATED)
	@untracked=$$(git ls-files --others --exclude-standard -- $(GENERATED)); \
	  if [ -n "$$untracked" ]; then echo "generated but not committed:"; echo "$$untracked"; exit 1; fi

run: build
	bash distributions/otelcol-podtrail/demo/run.sh

vet:
	$(GO) vet ./...

race:
	$(GO) test -race -count=1 $(RACE_PKGS)

# helm-test: renders distributions/otelcol-podtrail/helm's values with the
# vendored opentelemetry-collector chart (../shared/vendor/helm, or
# PODTRAIL_OTEL_CHART), lints them and checks the manifests and the collector
# configuration they carry; with KUBECONFIG set, also by a server-side dry run.
# v3.21.4: the approved helm release (v3.22.0 is served but not approved).
# The stamp file rebuilds bin/helm when HELM_VERSION changes.
HELM_VERSION := v3.21.4
$(BIN)/.helm-$(HELM_VERSION):
	GOBIN=$(BIN) $(GO) install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	touch $@

.PHONY: helm-test
helm-test: $(BIN)/.helm-$(HELM_VERSION)
	@$(GO) version -m $(BIN)/helm | awk '$$1 == "mod" { print "helm", $$3 }'
	PODTRAIL_HELM=$(BIN)/helm $(GO) test -count=1 -v -run '^TestHelm' ./distributions/otelcol-podtrail/

test: vet
	$(GO) test -count=1 -timeout 30m ./...
	$(GO) test -race -count=1 $(RACE_PKGS)

# The testbed's side-by-side runs of the audit and runtime-log paths
# (podtrail vs the contrib-only pipeline, in separate collector processes;
# table, JSON and chart in testbed/results),
# the collector's memory with 10k and 100k pending pods (memory.md/json),
# record latency at 10k audit events/s (latency.md/json), every Go
# benchmark, then the tables spliced into README.md
# (testbed/splice-results.sh) and printed.
PERF_EVENTS ?= 300000
PERF_RUNS ?= 3
bench:
	@mkdir -p testbed/results
	@printf '%s\n' "Machine: $$(lscpu | sed -n 's/^Model name: *//p' | head -1), $$(nproc) vCPU, $$(free -g | awk '/^Mem:/{print $$2}') GiB, Linux $$(uname -r), $$($(GO) env GOVERSION), $$(date -u +%Y-%m-%d); load average before the run: $$(cut -d' ' -f1-3 /proc/loadavg)." > testbed/results/machine.md
	$(GO) test -count=1 -run 'TestAuditThroughput|TestRuntimeThroughput' -v -timeout 60m ./testbed/ -args -perf.events=$(PERF_EVENTS) -perf.runs=$(PERF_RUNS) -perf.out=$(CURDIR)/testbed/results
	$(GO) test -count=1 -run 'TestPendingMemory' -v -timeout 30m ./testbed/ -args -memory.pods=10000,100000 -perf.out=$(CURDIR)/testbed/results
	$(GO) test -count=1 -run 'TestRecordLatency' -v -timeout 10m ./testbed/ -args -latency.rate=10000 -latency.seconds=10 -perf.out=$(CURDIR)/testbed/results
	$(GO) test -run '^$$' -bench . -benchtime 2s ./...
	testbed/splice-results.sh README.md
	@cat testbed/results/machine.md; for f in audit runtime latency memory; do echo; cat testbed/results/$$f.md; done

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

# End to end: a one-node Kubernetes v1.33 cluster on this machine (etcd,
# control plane, containerd, kubelet) with podtrail as gateway and node agent,
# scenarios and assertions (e2e/README.md). Needs root; the first run builds
# the Kubernetes binaries (10-15 min, cached in /var/cache/podtrail-e2e).
.PHONY: e2e
e2e:
	bash e2e/run.sh

# The same cluster, scenarios and assertions with podtrail installed by helm:
# the image built without Docker (e2e/tools/image) and pushed to a registry on
# loopback, the vendored opentelemetry-collector chart with podtrail's values
# (gateway StatefulSet, agent DaemonSet), a rollout of the gateway by helm
# upgrade during phase 1 (e2e/helm.sh, e2e/README.md).
.PHONY: e2e-helm
e2e-helm:
	PODTRAIL_E2E_MODE=helm bash e2e/run.sh

# the e2e on {Kubernetes v1.33.13, v1.36.3} x {Debian's containerd 1.6,
# containerd 2.4.2 from github.com/containerd/containerd/v2}, one pair after the
# other, and a table of the assertions passed per pair (e2e/matrix.sh).
.PHONY: e2e-matrix
e2e-matrix:
	bash e2e/matrix.sh
