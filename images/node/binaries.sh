#!/usr/bin/env bash
# Builds, from the Go module proxy, every static binary the node image and the
# integration-test harness need: the Kubernetes components, etcd, CoreDNS,
# crictl, local-path-provisioner. Output: ${K8S_BIN}. Cached by recipe hash.
source "$(dirname "$0")/../../e2e/cluster/lib.sh"

hash=$(recipe_hash "$0" "$(go env GOVERSION)" "${KUBERNETES_VERSION}" "${ETCD_MODULE_VERSION}" \
  "${COREDNS_VERSION}" "${CRICTL_VERSION}" "${LOCAL_PATH_PROVISIONER_VERSION}")
if stage_fresh "${K8S_BIN}" "${hash}"; then
  log "binaries ${KUBERNETES_VERSION} are cached in ${K8S_BIN}"
  exit 0
fi

work="${BATON_CACHE}/k8s/${KUBERNETES_VERSION}/src"
rm -rf "${K8S_BIN}" "${work}"
mkdir -p "${K8S_BIN}" "${work}"

# wrapper_module DIR MODULE VERSION SIBLING_VERSION writes, in DIR, a module
# that requires MODULE@VERSION. Kubernetes and etcd replace their sibling
# modules with relative paths that do not exist in a module download (which
# is why `go install MODULE@VERSION` refuses them); the wrapper points each at
# the published copy of the same release instead (k8s.io/api v0.35.4 for
# Kubernetes v1.35.4, go.etcd.io/etcd/api/v3 v3.6.5 for etcd v3.6.5).
wrapper_module() {
  local dir=$1 module=$2 version=$3 sibling_version=$4 gomod
  gomod=$(go mod download -json "${module}@${version}" | jq -r .GoMod)
  mkdir -p "${dir}"
  {
    echo "module baton.local/build/$(basename "${dir}")"
    echo
    grep -m1 '^go ' "${gomod}"
    grep -E '^godebug' "${gomod}" || true
    echo
    echo "require ${module} ${version}"
    echo
    echo "replace ("
    sed -nE '/FORBIDDEN/d; s#^[[:space:]]*(replace[[:space:]]+)?([^[:space:]]+) => \.\.?/.*#\t\2 => \2 '"${sibling_version}"'#p' "${gomod}"
    echo ")"
  } >"${dir}/go.mod"
}

major=${KUBERNETES_VERSION#v}; major=${major%%.*}
minor=${KUBERNETES_VERSION#v*.}; minor=${minor%%.*}
pkg=k8s.io/component-base/version
ldflags="-s -w \
 -X ${pkg}.gitVersion=${KUBERNETES_VERSION} \
 -X ${pkg}.gitMajor=${major} -X ${pkg}.gitMinor=${minor} \
 -X ${pkg}.gitTreeState=clean -X ${pkg}.gitCommit=baton-local-build \
 -X ${pkg}.buildDate=1970-01-01T00:00:00Z \
 -X k8s.io/client-go/pkg/version.gitVersion=${KUBERNETES_VERSION} \
 -X k8s.io/client-go/pkg/version.gitMajor=${major} \
 -X k8s.io/client-go/pkg/version.gitMinor=${minor}"

components=(kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy)
log "compiling ${components[*]} (cold: ~7 min on 2 cores)"
wrapper_module "${work}/kubernetes" k8s.io/kubernetes "${KUBERNETES_VERSION}" "v0.${KUBERNETES_VERSION#v1.}"
(
  cd "${work}/kubernetes"
  pkgs=()
  for c in "${components[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/${c}"); done
  GOFLAGS="${GOFLAGS} -mod=mod" timed "kubernetes" go build -ldflags "${ldflags}" -o "${K8S_BIN}/" "${pkgs[@]}"
)

# go install names a binary after the last path element that is not a major
# version suffix; rename to what kubeadm, kind and envtest look for.
install_bin() { # module@version name-after-install final-name
  GOBIN="${work}/gobin" timed "$3" go install -ldflags "-s -w" "$1"
  mv "${work}/gobin/$2" "${K8S_BIN}/$3"
}
install_bin "github.com/coredns/coredns@${COREDNS_VERSION}" coredns coredns
install_bin "sigs.k8s.io/cri-tools/cmd/crictl@${CRICTL_VERSION}" crictl crictl
install_bin "github.com/rancher/local-path-provisioner@${LOCAL_PATH_PROVISIONER_VERSION}" local-path-provisioner local-path-provisioner

wrapper_module "${work}/etcd" go.etcd.io/etcd/server/v3 "${ETCD_MODULE_VERSION}" "${ETCD_MODULE_VERSION}"
(cd "${work}/etcd" && GOFLAGS="${GOFLAGS} -mod=mod" timed etcd go build -ldflags "-s -w" -o "${K8S_BIN}/etcd" go.etcd.io/etcd/server/v3)

"${K8S_BIN}/kubeadm" version -o short | grep -qx "${KUBERNETES_VERSION}" \
  || die "kubeadm reports $(wrapper_module "${work}/etcd" go.etcd.io/etcd/server/v3 "${ETCD_MODULE_VERSION}" "${ETCD_MODULE_VERSION}"
(cd "${work}/etcd" && GOFLAGS="${GOFLAGS} -mod=mod" timed etcd go build -ldflags "-s -w" -o "${K8S_BIN}/etcd" go.etcd.io/etcd/server/v3)

"${K8S_BIN}/kubeadm" version -o short), want ${KUBERNETES_VERSION}"
stage_done "${K8S_BIN}" "${hash}"
log "binaries ready in ${K8S_BIN}"
