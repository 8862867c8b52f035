#!/usr/bin/env bash
# up.sh: brings the local kind cluster up, building whatever is missing, and
# reuses a healthy one. See README.md "The local cluster".
source "$(dirname "$0")/lib.sh"
HERE="${REPO_ROOT}/e2e/cluster"
start=${SECONDS}

bash "${HERE}/deps.sh"
bash "${HERE}/dockerd.sh" start

if [[ -n "${KIND_NODE_IMAGE:-}" ]]; then
  log "using node image ${KIND_NODE_IMAGE} (KIND_NODE_IMAGE)"
  docker image inspect "${KIND_NODE_IMAGE}" >/dev/null 2>&1 || docker pull "${KIND_NODE_IMAGE}" \
    || die "cannot pull ${KIND_NODE_IMAGE}: is a registry reachable? Unset KIND_NODE_IMAGE to build the node image locally"
else
  timed "node image" bash "${REPO_ROOT}/images/node/build.sh"
fi

kc=(kubectl --kubeconfig "${KUBECONFIG_PATH}")
node="${CLUSTER_NAME}-control-plane"

healthy() {
  kind get clusters 2>/dev/null | grep -qx "${CLUSTER_NAME}" || return 1
  [[ "$(docker inspect -f '{{.State.Running}}' "${node}" 2>/dev/null)" == true ]] || return 1
  # A cluster of another node image (a rebuilt recipe) is stale.
  [[ "$(docker inspect -f '{{.Image}}' "${node}")" == "$(docker image inspect -f '{{.Id}}' "${NODE_IMAGE}")" ]] || return 1
  kind export kubeconfig --name "${CLUSTER_NAME}" --kubeconfig "${KUBECONFIG_PATH}" >/dev/null 2>&1 || return 1
  "${kc[@]}" get --raw /readyz --request-timeout=5s >/dev/null 2>&1
}

if healthy; then
  log "cluster ${CLUSTER_NAME} is healthy; reusing it"
else
  if kind get clusters 2>/dev/null | grep -qx "${CLUSTER_NAME}" || docker inspect "${node}" >/dev/null 2>&1; then
    log "cluster ${CLUSTER_NAME} is broken or stale; recreating it"
    kind delete cluster --name "${CLUSTER_NAME}" --kubeconfig "${KUBECONFIG_PATH}" >/dev/null 2>&1 || true
    docker rm -f "${node}" >/dev/null 2>&1 || true
  fi
  docker network inspect kind >/dev/null 2>&1 || touch "${BATON_STATE}/kind-network-ours"
  log "creating cluster ${CLUSTER_NAME} from ${NODE_IMAGE}"
  config="${REPO_ROOT}/kind-config.yaml"
  if [[ -n "${KIND_NODE_IMAGE:-}" ]]; then
    # kind's published node images bring kindnetd; ours bring a bridge CNI
    # config instead, which is why the repository's config turns kind's off.
    config="${BATON_STATE}/kind-config.yaml"
    sed 's/disableDefaultCNI: true/disableDefaultCNI: false/' "${REPO_ROOT}/kind-config.yaml" >"${config}"
  fi
  timed "kind create" kind create cluster --name "${CLUSTER_NAME}" --image "${NODE_IMAGE}" \
    --config "${config}" --kubeconfig "${KUBECONFIG_PATH}" --wait 0s
fi

bash "${HERE}/firewall.sh" apply

log "waiting for the node, CoreDNS and the default StorageClass"
"${kc[@]}" wait --for=condition=Ready node --all --timeout=180s >/dev/null
"${kc[@]}" -n kube-system rollout status deployment/coredns --timeout=180s >/dev/null
"${kc[@]}" -n local-path-storage rollout status deployment/local-path-provisioner --timeout=180s >/dev/null
[[ "$("${kc[@]}" get storageclass -o jsonpath='{range .items[?(@.metadata.annotations.storageclass\.kubernetes\.io/is-default-class=="true")]}{.metadata.name}{end}')" != "" ]] \
  || die "no default StorageClass"
# CoreDNS answers a query from a pod, through the cluster DNS Service.
if [[ -z "${KIND_NODE_IMAGE:-}" ]]; then
  "${kc[@]}" delete pod baton-dns-check --ignore-not-found --wait=true >/dev/null
  deadline=$((SECONDS + 120))
  until "${kc[@]}" run baton-dns-check --rm -i --restart=Never --quiet --image="${BUSYBOX_IMAGE}" \
      --image-pull-policy=Never --command -- nslookup kubernetes.default.svc.cluster.local >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "cluster DNS does not answer kubernetes.default.svc.cluster.local"
    "${kc[@]}" delete pod baton-dns-check --ignore-not-found --wait=true >/dev/null
    sleep 2
  done
fi

log "cluster ${CLUSTER_NAME} ready in $((SECONDS - start))s"
cat >&2 <<MSG

  Kubernetes ${KUBERNETES_VERSION} on kind, node image ${NODE_IMAGE}
  kubeconfig: ${KUBECONFIG_PATH}

    export KUBECONFIG=${KUBECONFIG_PATH}
    kubectl get nodes

  make cluster-down removes the cluster (and a dockerd this tooling started).
MSG
