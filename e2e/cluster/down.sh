#!/usr/bin/env bash
# down.sh: deletes the local cluster and stops what up.sh started: the
# firewall chain, the kind network when up.sh created it, and dockerd when
# up.sh started it. Cached builds and the node image stay.
source "$(dirname "$0")/lib.sh"
HERE="${REPO_ROOT}/e2e/cluster"

if docker info >/dev/null 2>&1; then
  if kind get clusters 2>/dev/null | grep -qx "${CLUSTER_NAME}"; then
    log "deleting cluster ${CLUSTER_NAME}"
    kind delete cluster --name "${CLUSTER_NAME}" --kubeconfig "${KUBECONFIG_PATH}"
  fi
  # kind keys its clusters on a container label; a node left half-made by an
  # interrupted create is found by name.
  docker rm -f "${CLUSTER_NAME}-control-plane" >/dev/null 2>&1 || true
  if [[ -f "${BATON_STATE}/kind-network-ours" ]] \
    && [[ "$(docker network inspect kind -f '{{len .Containers}}' 2>/dev/null)" == 0 ]]; then
    docker network rm kind >/dev/null && log "removed the kind docker network"
  fi
  rm -f "${BATON_STATE}/kind-network-ours"
fi
bash "${HERE}/firewall.sh" remove
bash "${HERE}/dockerd.sh" stop
rm -f "${KUBECONFIG_PATH}"
log "cluster ${CLUSTER_NAME} is down"
