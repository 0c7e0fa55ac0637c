# Cloudgate's Makefile uses only tools it builds itself from the Go module proxy,
# pinned below, into bin/ (ignored by git). Nothing here needs a hand install.

SHELL := /usr/bin/env bash
# gateway-api v1.7 needs Go 1.27; the go command fetches this toolchain from the
# module proxy once per machine (about 76 MB).
export GOTOOLCHAIN := go1.27.3
export GOFLAGS ?= -buildvcs=false

BIN         := $(CURDIR)/bin
K8S_BIN     := $(BIN)/k8s
CONTROLLER_GEN_VERSION := v0.23.0
STATICCHECK_VERSION    := v0.8.2
CONTROLLER_GEN := $(BIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
STATICCHECK    := $(BIN)/staticcheck-$(STATICCHECK_VERSION)
# $(shell) does not see exported variables before GNU make 4.4, hence the
# GOTOOLCHAIN prefix. go list -m prints no directory for a module not yet in the module cache, so
# download it first (a no-op when it is there).
GATEWAY_API_DIR = $(shell GOTOOLCHAIN=$(GOTOOLCHAIN) go mod download sigs.k8s.io/gateway-api && GOTOOLCHAIN=$(GOTOOLCHAIN) go list -m -f '{{.Dir}}' sigs.k8s.io/gateway-api)
GATEWAY_API_CRDS := deploy/crds/gateway-api
TEST_TIMEOUT ?= 25m

export KUBEBUILDER_ASSETS := $(K8S_BIN)

# Nested modules with their own go.mod: vetted, linted and tested separately.
NESTED_MODULES := test/conformance

.PHONY: all host-tools dev image push test fuzz lint vet fmt-check generate crds bench control-plane cluster-binaries build conformance conformance-clouds clean

all: build

## dev: start a local control plane, the controller and the emulated cloud with a sample Gateway;
## PROVIDER=aws (moto and an ALB data plane) or PROVIDER=gcp (the Compute Engine double and a
## URL-map data plane) try the sample against that cloud's semantics instead.
dev: host-tools cluster-binaries generate build
	$(BIN)/cloudgate-dev$(if $(PROVIDER), --provider $(PROVIDER))

## test: everything CI runs, including the Gateway API conformance suite on all three providers.
test: host-tools cluster-binaries generate fmt-check vet lint
	go test -count=1 -timeout $(TEST_TIMEOUT) ./...
	$(MAKE) fuzz
	$(MAKE) conformance

## fuzz: mapping's fuzz target for FUZZ_TIME (a crasher is written to
## mapping/testdata/fuzz/FuzzBuild/ and fails the run; keep it as a seed).
FUZZ_TIME ?= 30s
fuzz:
	go test -run '^$$' -fuzz '^FuzzBuild$$' -fuzztime $(FUZZ_TIME) ./mapping

## conformance: the official Gateway API suite (v1.7.0) on the local cluster against the
## emulated provider, the AWS provider (moto and the ALB data plane, localstack/albplane) and
## the GCP provider (the Compute Engine double and the URL-map data plane), each with the
## profiles it can carry (CONFORMANCE_PROVIDERS and CONFORMANCE_PROFILES choose); writes
## test/conformance/reports/cloudgate-{emulated,aws,gcp}-report.yaml.
conformance: host-tools cluster-binaries generate
	cd test/conformance && go test -count=1 -timeout $(TEST_TIMEOUT) .

## conformance-clouds: the AWS and GCP runs alone.
conformance-clouds: host-tools cluster-binaries generate
	cd test/conformance && CONFORMANCE_PROVIDERS=$${CONFORMANCE_PROVIDERS:-aws,gcp} go test -count=1 -timeout $(TEST_TIMEOUT) .

# What `cloudgate version` prints; a tree without git history builds as dev/unknown.
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -X main.version=$(VERSION) -X main.revision=$(REVISION)

## build: bin/cloudgate (the controller, what the image holds), bin/kubectl-cloudgate (a link
## to it: kubectl finds the plugin `kubectl cloudgate describe` by that name on PATH) and
## bin/cloudgate-dev (make dev).
build:
	go build -ldflags "$(LDFLAGS)" -o $(BIN)/cloudgate ./cmd/cloudgate
	ln -sf cloudgate $(BIN)/kubectl-cloudgate
	go build -o $(BIN)/cloudgate-dev ./cmd/cloudgate-dev

## host-tools: the ip command (iproute2) that network namespaces need, and the CA bundle the
## image copies (ca-certificates); installed when missing.
host-tools:
	@command -v ip >/dev/null 2>&1 || { echo ">> installing iproute2"; apt-get update -qq && apt-get install -y -qq iproute2; }
	@[ -f /etc/ssl/certs/ca-certificates.crt ] || { echo ">> installing ca-certificates"; apt-get update -qq && apt-get install -y -qq ca-certificates; }

## image: the controller's multi-arch (linux/amd64, linux/arm64) OCI image, built without a
## container engine, as an OCI layout in bin/image (tag $(VERSION)). Reproducible: the creation
## time is SOURCE_DATE_EPOCH or the commit's time.
image: host-tools
	go run ./deploy/image/imagetool build -layout $(BIN)/image -version $(VERSION) -revision $(REVISION)

## push: make push IMAGE=registry/repository[:tag] pushes bin/image, with docker login's credentials.
push:
	@[ -n "$(IMAGE)" ] || { echo "usage: make push IMAGE=registry/repository[:tag]"; exit 1; }
	$(MAKE) image
	go run ./deploy/image/imagetool push -layout $(BIN)/image $(IMAGE)

## control-plane: build etcd and kube-apiserver from the Go module proxy into bin/k8s (once).
control-plane:
	go run ./test/controlplane/build

## cluster-binaries: also kube-controller-manager, kubectl, echo-basic and coredns, for the
## local cluster (the first build of all takes about 10 minutes).
cluster-binaries:
	go run ./test/controlplane/build -all

## generate: deepcopy code and CRDs (ours from controller-gen, Gateway API's from its module),
## RBAC from the markers in reconciler/rbac.go, and from those the Helm chart's RBAC template and
## CRD copies and the kustomize base rendered from the chart (deploy/helm/chartgen).
generate: $(CONTROLLER_GEN) crds
	$(CONTROLLER_GEN) object paths=./api/...
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=deploy/crds
	$(CONTROLLER_GEN) rbac:roleName=cloudgate paths=./reconciler/... output:rbac:artifacts:config=deploy/rbac
	go run ./deploy/helm/generate

crds:
	@dir="$(GATEWAY_API_DIR)"; [ -n "$$dir" ] || { echo "cannot find the sigs.k8s.io/gateway-api module"; exit 1; }
	@mkdir -p $(GATEWAY_API_CRDS)
	@rm -f $(GATEWAY_API_CRDS)/*.yaml
	@for f in $(GATEWAY_API_DIR)/config/crd/experimental/*.yaml; do \
		case $$(basename $$f) in kustomization.yaml|*vap_*) continue;; esac; \
		install -m 0644 $$f $(GATEWAY_API_CRDS)/; \
	done

$(CONTROLLER_GEN):
	@mkdir -p $(BIN)
	GOBIN=$(BIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(BIN)/controller-gen $@

$(STATICCHECK):
	@mkdir -p $(BIN)
	GOBIN=$(BIN) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(BIN)/staticcheck $@

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	go vet ./...
	for m in $(NESTED_MODULES); do (cd $$m && go vet ./...) || exit 1; done

lint: $(STATICCHECK)
	$(STATICCHECK) ./...
	for m in $(NESTED_MODULES); do (cd $$m && $(STATICCHECK) ./...) || exit 1; done

## bench: the figures issue 12 tracks, in one table with their targets: the emulated proxy
## next to nginx and a direct connection (wrk; wrk and nginx come from Debian when missing),
## then the go test benchmarks of ./providers/... and ./test/e2e/... (about 6 minutes in all).
bench: host-tools control-plane
	@command -v wrk >/dev/null 2>&1 && command -v nginx >/dev/null 2>&1 || { echo ">> installing wrk and nginx"; apt-get update -qq && apt-get install -y -qq wrk nginx; }
	go run ./test/bench

clean:
	rm -rf $(BIN)

## aws-env: start moto (or LocalStack, where docker/podman and LOCALSTACK_AUTH_TOKEN exist) with
## a bootstrapped VPC and print its environment; use as: eval "$$(make -s aws-env)".
## aws-env-stop stops it. The AWS provider's tests start their own (package localstack).
.PHONY: aws-env aws-env-stop
aws-env:
	@localstack/start.sh start
aws-env-stop:
	@localstack/start.sh stop
