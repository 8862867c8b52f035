#!/usr/bin/env bash
# Builds Baton's own images without Docker (imgtool, go-containerregistry)
# as docker-archive tarballs in _output/images/, and loads them into the
# local kind cluster when it exists (IMAGES_LOAD=0 to skip).
#
#   baton.local/controller:${IMAGE_TAG} the ActionSet controller (static, scratch)
#   baton.local/runner:${IMAGE_TAG}     the generic phase runner (static, scratch), with restic
#   baton.local/e2e-tools:${IMAGE_TAG}  busybox, for e2e tests of the cluster
#   baton.local/postgres:15             PostgreSQL (images/postgres/build.sh)
source "$(dirname "$0")/../e2e/cluster/lib.sh"
IMAGE_TAG="${IMAGE_TAG:-dev}"
RUNNER_IMAGE="${RUNNER_IMAGE:-baton.local/runner:${IMAGE_TAG}}"
CONTROLLER_IMAGE="${CONTROLLER_IMAGE:-baton.local/controller:${IMAGE_TAG}}"
E2E_TOOLS_IMAGE="${E2E_TOOLS_IMAGE:-baton.local/e2e-tools:${IMAGE_TAG}}"
out="${REPO_ROOT}/_output"
mkdir -p "${out}/bin" "${out}/images"

version=$(git -C "${REPO_ROOT}" describe --tags --always --dirty 2>/dev/null || echo dev)
log "building binaries (${version})"
(cd "${REPO_ROOT}" && go build -ldflags "-s -w -X github.com/batonhq/baton/internal/version.Version=${version}" \
  -o "${out}/bin/" ./cmd/runner ./cmd/controller ./images/imgtool)
imgtool="${out}/bin/imgtool"

# restic, the data functions' mover (a static build: `make restic`), and a
# world-writable /tmp, where restic stages the packs it uploads.
RESTIC="${RESTIC:?RESTIC must name a static restic binary (make images builds one)}"
runner_extra="${out}/runner-rootfs"
rm -rf "${runner_extra}" && mkdir -p "${runner_extra}/tmp" && chmod 1777 "${runner_extra}/tmp"

"${imgtool}" build --tag "${RUNNER_IMAGE}" --out "${out}/images/runner.tar" \
  --layer-dir "${runner_extra}" \
  --file "${out}/bin/runner=/usr/local/bin/baton-runner" \
  --file "${RESTIC}=/usr/local/bin/restic" \
  --file /etc/ssl/certs/ca-certificates.crt=/etc/ssl/certs/ca-certificates.crt \
  --entrypoint /usr/local/bin/baton-runner --user 65532:65532 \
  --label org.opencontainers.image.version="${version}"

"${imgtool}" build --tag "${CONTROLLER_IMAGE}" --out "${out}/images/controller.tar" \
  --file "${out}/bin/controller=/usr/local/bin/baton-controller" \
  --entrypoint /usr/local/bin/baton-controller --user 65532:65532 \
  --label org.opencontainers.image.version="${version}"

bash "${REPO_ROOT}/images/node/rootfs.sh" busybox
"${imgtool}" build --tag "${E2E_TOOLS_IMAGE}" --out "${out}/images/e2e-tools.tar" \
  --layer-dir "${BATON_CACHE}/rootfs/busybox" --env PATH=/bin

# PostgreSQL from Debian's packages, for the examples and the data e2e tests.
IMAGES_LOAD=0 bash "${REPO_ROOT}/images/postgres/build.sh"

log "images written to ${out}/images: ${CONTROLLER_IMAGE} ${RUNNER_IMAGE} ${E2E_TOOLS_IMAGE} baton.local/postgres:15"
if [[ "${IMAGES_LOAD:-1}" == 1 ]] && kind get clusters 2>/dev/null | grep -qx "${CLUSTER_NAME}"; then
  for archive in "${out}"/images/*.tar; do
    kind load image-archive --name "${CLUSTER_NAME}" "${archive}" >/dev/null
  done
  log "images loaded into kind cluster ${CLUSTER_NAME}"
fi
