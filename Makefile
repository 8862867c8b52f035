# Baton. `make help` lists the targets; README.md explains the two that matter:
#   make demo   the local cluster, end to end
#   make test   every test: unit, integration (real kube-apiserver + etcd), e2e on kind
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

include images/versions.env
BATON_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/baton
export BATON_CACHE
K8S_BIN := $(BATON_CACHE)/k8s/$(KUBERNETES_VERSION)/bin
LOCAL_KUBECONFIG := $(BATON_CACHE)/kubeconfig
# e2e runs against whatever KUBECONFIG names; the local cluster otherwise.
E2E_KUBECONFIG ?= $(or $(KUBECONFIG),$(LOCAL_KUBECONFIG))
GO_TEST_FLAGS ?=
# controller-gen generates DeepCopy methods and CRDs from api/. v0.20.x is the
# controller-tools line built on Kubernetes 1.35, the version the cluster runs.
CONTROLLER_TOOLS_VERSION ?= v0.20.1
CONTROLLER_GEN := $(BATON_CACHE)/bin/controller-gen-$(CONTROLLER_TOOLS_VERSION)
CRD_DIR := config/crd/bases
# MinIO, the real S3 server of the integration tests: a separate process,
# never linked into Baton (it is AGPL).
MINIO := $(BATON_CACHE)/bin/minio-$(MINIO_VERSION)
# restic, the data mover of BackupData and friends: a static binary (the
# runner image is scratch-like), used by the integration tests and copied
# into the runner image.
RESTIC := $(BATON_CACHE)/bin/restic-$(RESTIC_VERSION)
# helm renders charts/baton for the parity check (make verify-chart) and
# installs it (make deploy-helm).
HELM := $(BATON_CACHE)/bin/helm-$(HELM_VERSION)
CHART_DIR := charts/baton
IMAGE_TAG ?= dev
export IMAGE_TAG

.PHONY: restic
restic: $(RESTIC) ## Build restic (static, cached), the data mover of the runner image

.PHONY: s3server
s3server: $(MINIO) ## Build a throw-away S3 server for local use: _output/bin/s3server runs MinIO (docs/getting-started.md)
	go build -o _output/bin/s3server ./e2e/s3server
	ln -sf $(MINIO) _output/bin/minio

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

.PHONY: build
build: ## Compile every binary into _output/bin (batonctl also as the kubectl plugin kubectl-baton)
	go build -o _output/bin/ ./cmd/... ./images/imgtool
	ln -sf batonctl _output/bin/kubectl-baton

.PHONY: generate manifests chart-crds verify-generated
generate: $(CONTROLLER_GEN) ## Regenerate DeepCopy methods (api/**/zz_generated.deepcopy.go) and the function reference (docs/functions-reference.md)
	$(CONTROLLER_GEN) object paths=./api/...
	go run ./hack/funcdoc > docs/functions-reference.md.tmp && mv docs/functions-reference.md.tmp docs/functions-reference.md
manifests: $(CONTROLLER_GEN) ## Regenerate the CRDs (config/crd/bases) and the controller's ClusterRole (config/rbac/role.yaml), and their chart copies
	rm -f $(CRD_DIR)/*.yaml
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=$(CRD_DIR)
	$(CONTROLLER_GEN) rbac:roleName=baton-controller paths=./controller/... output:rbac:artifacts:config=config/rbac
	@$(MAKE) --no-print-directory chart-crds
# The chart's CRDs and ClusterRoles are verbatim copies of config/: never
# edit them in charts/, edit the source and run `make manifests`.
chart-crds: ## Copy the CRDs and both ClusterRoles from config/ into charts/baton (part of `make manifests`)
	rm -f $(CHART_DIR)/crds/*.yaml
	cp $(CRD_DIR)/*.yaml $(CHART_DIR)/crds/
	cp config/rbac/role.yaml $(CHART_DIR)/templates/clusterrole-controller.yaml
	cp config/rbac/runner_role.yaml $(CHART_DIR)/templates/clusterrole-runner.yaml
# Snapshots the generated files, regenerates them in place and compares: any
# difference (changed, added or removed file) fails, leaving the fresh output
# in the tree to review and commit.
verify-generated: $(CONTROLLER_GEN) ## Fail if `make generate manifests` would change any generated file
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	snapshot() { mkdir -p "$$1"; { find api -name 'zz_generated.*.go'; find $(CRD_DIR) $(CHART_DIR)/crds -name '*.yaml'; \
		printf '%s\n' $(CHART_DIR)/templates/clusterrole-{controller,runner}.yaml config/rbac/role.yaml docs/functions-reference.md; } | sort | xargs -r cp --parents -t "$$1"; }; \
	snapshot "$$tmp/before"; \
	$(MAKE) --no-print-directory -s generate manifests >/dev/null; \
	snapshot "$$tmp/after"; \
	diff -r "$$tmp/before" "$$tmp/after" || { echo "generated files were stale and are now regenerated: review and commit them" >&2; exit 1; }

# go_install_static MODULE@VERSION BINARY: a static build of a tool from the
# Go module proxy, installed as $@ only once complete (a half-built binary
# never looks cached).
define go_install_static
	@mkdir -p $(@D)
	@echo "building $(2) from the Go module proxy: $(1)"
	@tmp=$$(mktemp -d "$(@D)/.$(2).XXXXXX"); trap 'rm -rf "$$tmp"' EXIT; \
	CGO_ENABLED=0 GOBIN="$$tmp" go install -trimpath -ldflags "-s -w" $(1); \
	mv "$$tmp/$(2)" $@
endef

$(MINIO): # cold: ~6 min
	$(call go_install_static,github.com/minio/minio@$(MINIO_VERSION),minio)
$(RESTIC): # cold: ~2 min
	$(call go_install_static,github.com/restic/restic/cmd/restic@$(RESTIC_VERSION),restic)
$(HELM): # cold: ~2.5 min
	$(call go_install_static,helm.sh/helm/v3/cmd/helm@$(HELM_VERSION),helm)

$(CONTROLLER_GEN):
	@mkdir -p $(@D)
	@echo "installing controller-gen $(CONTROLLER_TOOLS_VERSION) from the Go module proxy"
	@tmp=$$(mktemp -d "$(@D)/.controller-gen.XXXXXX"); trap 'rm -rf "$$tmp"' EXIT; \
	GOBIN="$$tmp" go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION); \
	mv "$$tmp/controller-gen" $@

.PHONY: fmt vet lint
fmt: ## gofmt the tree
	gofmt -w $$(git ls-files '*.go')
vet: ## go vet, with every build tag the tests use
	go vet -tags integration,e2e,chart ./...
lint: vet verify-generated ## gofmt check + vet + generated files up to date + shell syntax
	@files=$$(for f in $$(git ls-files --cached --others --exclude-standard '*.go'); do [[ -f "$$f" ]] && echo "$$f"; done); \
	out=$$(gofmt -l $$files); [[ -z "$$out" ]] || { echo "not gofmt'ed: $$out"; exit 1; }
	@for f in $$(git ls-files '*.sh' .ci/run); do bash -n "$$f"; done

.PHONY: test
# cluster-up comes before test-integration: it compiles the binaries both
# need while debootstrap runs beside the compile.
test: lint verify-chart test-unit fuzz cluster-up test-integration images ## Everything: unit, integration, e2e on the local kind cluster
	$(MAKE) deploy e2e E2E_KUBECONFIG=$(LOCAL_KUBECONFIG)

.PHONY: fuzz
FUZZ_TIME ?= 20s
fuzz: ## Fuzz the template renderer, the Blueprint checker and the admission validators, $(FUZZ_TIME) each (make test runs it; FUZZ_TIME=10m for a long run)
	go test -run '^$$' -fuzz '^FuzzString$$' -fuzztime $(FUZZ_TIME) ./render
	go test -run '^$$' -fuzz '^FuzzDecodeAndCheck$$' -fuzztime $(FUZZ_TIME) ./validation
	go test -run '^$$' -fuzz '^FuzzValidators$$' -fuzztime $(FUZZ_TIME) ./admission

.PHONY: test-unit
test-unit: ## Unit tests (no cluster, no API server)
	go test $(GO_TEST_FLAGS) -race ./...

# The chart's default render against config/default's, object by object, and
# non-default values taking effect (hack/chartdiff). kubectl (K8S_BIN) is
# built by envtest-assets.
.PHONY: verify-chart
verify-chart: $(HELM) envtest-assets ## Check charts/baton renders the objects config/default does (helm template vs kubectl kustomize)
	BATON_HELM=$(HELM) BATON_KUBECTL=$(K8S_BIN)/kubectl go test $(GO_TEST_FLAGS) -tags chart -count=1 ./hack/chartdiff

.PHONY: envtest-assets
envtest-assets: ## kube-apiserver, etcd and kubectl for envtest (built once, cached)
	@[[ -x "$(K8S_BIN)/kube-apiserver" && -x "$(K8S_BIN)/etcd" && -f "$(K8S_BIN)/.baton-recipe" ]] || bash images/node/binaries.sh

.PHONY: test-integration
test-integration: envtest-assets $(MINIO) $(RESTIC) ## Integration tests against a real kube-apiserver + etcd (envtest, no kubelet), a real S3 server and restic
	KUBEBUILDER_ASSETS=$(K8S_BIN) BATON_KUBERNETES_VERSION=$(KUBERNETES_VERSION) BATON_MINIO=$(MINIO) BATON_RESTIC=$(RESTIC) \
		go test $(GO_TEST_FLAGS) -tags integration -run Integration -count=1 ./...

.PHONY: e2e
e2e: $(MINIO) ## e2e suite against $$KUBECONFIG (default: the local cluster); images must be in the cluster
	go build -o _output/bin/batonctl ./cmd/batonctl
	KUBECONFIG=$(E2E_KUBECONFIG) PATH="$(K8S_BIN):$$PATH" BATON_MINIO=$(MINIO) BATON_CLI=$(CURDIR)/_output/bin/batonctl \
	BATON_RUNNER_IMAGE=baton.local/runner:$(IMAGE_TAG) BATON_E2E_TOOLS_IMAGE=baton.local/e2e-tools:$(IMAGE_TAG) \
	BATON_POSTGRES_IMAGE=baton.local/postgres:15 \
		go test $(GO_TEST_FLAGS) -tags e2e -count=1 -timeout 20m -v ./e2e

.PHONY: bench
bench: ## Phase-overhead benchmark on $$KUBECONFIG's cluster with Baton deployed (see docs/performance.md)
	KUBECONFIG=$(E2E_KUBECONFIG) PATH="$(K8S_BIN):$$PATH" BATON_E2E_TOOLS_IMAGE=baton.local/e2e-tools:$(IMAGE_TAG) \
		go test -tags e2e -run '^$$' -bench PhaseOverhead -benchtime $(or $(BENCH_COUNT),3)x -timeout 30m ./e2e

# One iteration per run: -benchtime Nx with N > 1 would first run a
# throw-away iteration of N=1, minutes of 1 GiB transfers. BENCH_COUNT
# repeats whole runs (-count), each reported on its own line.
.PHONY: bench-concurrent
bench-concurrent: ## 50 concurrent ActionSets × 3 trivial phases against 50 chains of 3 bare Jobs, with the controller's CPU and memory (see docs/performance.md)
	KUBECONFIG=$(E2E_KUBECONFIG) PATH="$(K8S_BIN):$$PATH" BATON_E2E_TOOLS_IMAGE=baton.local/e2e-tools:$(IMAGE_TAG) \
		go test -tags e2e -run '^$$' -bench '^BenchmarkConcurrentActionSets$$' -benchtime 1x -count $(or $(BENCH_COUNT),1) -timeout 40m ./e2e

.PHONY: bench-data
bench-data: $(MINIO) $(RESTIC) ## Data-path benchmark: 1 GiB volume through CopyVolumeData/RestoreData beside plain restic (see docs/performance.md)
	KUBECONFIG=$(E2E_KUBECONFIG) PATH="$(K8S_BIN):$$PATH" BATON_MINIO=$(MINIO) BATON_RESTIC=$(RESTIC) \
	BATON_RUNNER_IMAGE=baton.local/runner:$(IMAGE_TAG) BATON_E2E_TOOLS_IMAGE=baton.local/e2e-tools:$(IMAGE_TAG) \
		go test -tags e2e -run '^$$' -bench '^BenchmarkVolumeBackupRestore$$' -benchtime 1x -count $(or $(BENCH_COUNT),1) -timeout 60m -v ./e2e

# API server only (internal/scale): envtest's kube-apiserver and etcd, the
# controller binary as a process of its own, kubelet and Job controller
# simulated by the test. Knobs: SCALE_RATE ActionSets created per second (0:
# all at once), the controller's tuning flags (empty: its defaults),
# SCALE_FOREIGN_JOBS Jobs Baton does not manage, SCALE_CONTROLLER_FLAGS
# anything else for its command line.
SCALE_ACTIONSETS ?= 1000
SCALE_RATE ?= 0
SCALE_FOREIGN_JOBS ?= 0
SCALE_MAX_CONCURRENT_RECONCILES ?=
SCALE_KUBE_API_QPS ?=
SCALE_KUBE_API_BURST ?=
SCALE_CONTROLLER_FLAGS ?=
.PHONY: bench-scale
bench-scale: envtest-assets ## Scale benchmark on an API server alone: SCALE_ACTIONSETS (1000) ActionSets × 3 phases, simulated Jobs (see docs/performance.md)
	KUBEBUILDER_ASSETS=$(K8S_BIN) SCALE_ACTIONSETS=$(SCALE_ACTIONSETS) SCALE_RATE=$(SCALE_RATE) SCALE_FOREIGN_JOBS=$(SCALE_FOREIGN_JOBS) \
	SCALE_CONTROLLER_FLAGS="$(strip $(SCALE_CONTROLLER_FLAGS) \
		$(if $(SCALE_MAX_CONCURRENT_RECONCILES),--max-concurrent-reconciles=$(SCALE_MAX_CONCURRENT_RECONCILES)) \
		$(if $(SCALE_KUBE_API_QPS),--kube-api-qps=$(SCALE_KUBE_API_QPS)) \
		$(if $(SCALE_KUBE_API_BURST),--kube-api-burst=$(SCALE_KUBE_API_BURST)))" \
		go test -tags integration -run '^$$' -bench '^BenchmarkScale$$' -benchtime 1x -timeout 30m -v ./internal/scale

.PHONY: deploy undeploy
deploy: ## Install Baton (CRDs, RBAC, controller) into $$KUBECONFIG's cluster (default: the local one); images must be there
	KUBECONFIG=$(E2E_KUBECONFIG) $(K8S_BIN)/kubectl apply --server-side --force-conflicts -k config/default
	KUBECONFIG=$(E2E_KUBECONFIG) $(K8S_BIN)/kubectl -n baton rollout restart deployment/baton-controller
	KUBECONFIG=$(E2E_KUBECONFIG) $(K8S_BIN)/kubectl -n baton rollout status deployment/baton-controller --timeout=180s
# The Helm flavour of `make deploy` (same objects; docs/install.md, "Helm").
# Helm never upgrades CRDs, so they are applied first; --take-ownership
# adopts what an earlier `make deploy` created.
.PHONY: deploy-helm
deploy-helm: $(HELM) ## Install Baton with helm (charts/baton) into $$KUBECONFIG's cluster (default: the local one); images must be there
	KUBECONFIG=$(E2E_KUBECONFIG) $(K8S_BIN)/kubectl apply --server-side --force-conflicts -f $(CHART_DIR)/crds
	KUBECONFIG=$(E2E_KUBECONFIG) $(HELM) upgrade --install baton $(CHART_DIR) --namespace baton --create-namespace --take-ownership \
		--set image.tag=$(IMAGE_TAG) --set runner.image.tag=$(IMAGE_TAG)
	KUBECONFIG=$(E2E_KUBECONFIG) $(K8S_BIN)/kubectl -n baton rollout restart deployment/baton-controller
	KUBECONFIG=$(E2E_KUBECONFIG) $(K8S_BIN)/kubectl -n baton rollout status deployment/baton-controller --timeout=180s
undeploy: ## Remove Baton from $$KUBECONFIG's cluster
	KUBECONFIG=$(E2E_KUBECONFIG) $(K8S_BIN)/kubectl delete --ignore-not-found -k config/default

.PHONY: cluster-up cluster-down
cluster-up: ## Create (or reuse) the local kind cluster, building the node image if needed
	bash e2e/cluster/up.sh
cluster-down: ## Delete the local cluster and stop what cluster-up started
	bash e2e/cluster/down.sh

.PHONY: node-image
node-image: ## Build the kind node image only (cached)
	bash images/node/build.sh

.PHONY: images
images: $(RESTIC) ## Build Baton's images without Docker and load them into the local cluster
	RESTIC=$(RESTIC) bash images/build.sh

.PHONY: demo
demo: cluster-up images deploy $(MINIO) ## Bring the local cluster up, install Baton, run a 3-phase blueprint and back PostgreSQL up to S3 and restore it
	go build -o _output/bin/s3server ./e2e/s3server
	BATON_MINIO=$(MINIO) bash e2e/demo.sh

.PHONY: clean
clean: ## Remove build outputs (caches in $$BATON_CACHE stay)
	rm -rf _output
