#!/usr/bin/env bash
# Builds the kind node image ${NODE_IMAGE_REPO}:${KUBERNETES_VERSION} on this
# machine, without a registry: binaries and root filesystems from the cached
# stages, the images kubeadm expects written with imgtool and preloaded into
# the node's containerd, then the tree imported into Docker. Skipped when an
# image of the same recipe hash is already present.
source "$(dirname "$0")/../../e2e/cluster/lib.sh"
need_root "building the node image"
HERE="${REPO_ROOT}/images/node"
image="${NODE_IMAGE_REPO}:${KUBERNETES_VERSION}"

# The compile is CPU-bound and debootstrap mostly waits on the network and
# disk: run them side by side (cold: ~11 min instead of ~16).
mkdir -p "${BATON_STATE}"
bash "${HERE}/rootfs.sh" >"${BATON_STATE}/rootfs.log" 2>&1 &
rootfs_pid=$!
bash "${HERE}/binaries.sh"
wait "${rootfs_pid}" || { tail -20 "${BATON_STATE}/rootfs.log" >&2; die "building the root filesystems failed"; }
cat "${BATON_STATE}/rootfs.log" >&2

# Only what goes into the node image counts: a new MinIO version, say, must
# not rebuild it.
hash=$(cd "${REPO_ROOT}" && recipe_hash "${KUBERNETES_VERSION}" "${KIND_VERSION}" "${NODE_IMAGE_REPO}" "${BUSYBOX_IMAGE}" \
  "${LOCAL_PATH_PROVISIONER_VERSION}" images/node/*.sh images/node/files/* \
  images/imgtool/*.go images/pause/*.go "${K8S_BIN}/.baton-recipe" "${BATON_CACHE}"/rootfs/*/.baton-recipe)
if [[ "$(docker image inspect -f '{{ index .Config.Labels "dev.baton.recipe" }}' "${image}" 2>/dev/null)" == "${hash}" ]]; then
  log "node image ${image} is up to date (recipe ${hash})"
  exit 0
fi

work="${BATON_CACHE}/node-build"
# A previous run may have died with the throw-away containerd still running.
[[ -f "${work}/containerd.pid" ]] && kill "$(cat "${work}/containerd.pid")" 2>/dev/null || true
rm -rf "${work}"
mkdir -p "${work}/images" "${work}/bin"
rootfs="${work}/rootfs"

log "building imgtool and pause"
(cd "${REPO_ROOT}" && go build -o "${work}/bin/" ./images/imgtool ./images/pause)
imgtool="${work}/bin/imgtool"

# Tag every image exactly as this kubeadm will look for it.
declare -A want
while read -r ref; do
  n=${ref%:*}; n=${n##*/}
  want[${n}]=${ref}
done < <("${K8S_BIN}/kubeadm" config images list --kubernetes-version "${KUBERNETES_VERSION}")
for n in kube-apiserver kube-controller-manager kube-scheduler kube-proxy etcd coredns pause; do
  [[ -n "${want[${n}]:-}" ]] || die "kubeadm does not list a ${n} image"
done
provisioner_image="baton.local/local-path-provisioner:${LOCAL_PATH_PROVISIONER_VERSION}"
helper_image="baton.local/local-path-helper:${hash}"

PATH_ENV=PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
static_image() { # ref file-name binary [extra imgtool args]
  local ref=$1 out="${work}/images/$2.tar" bin=$3
  shift 3
  "${imgtool}" build --tag "${ref}" --out "${out}" --file "${bin}=/usr/local/bin/$(basename "${bin}")" --env "${PATH_ENV}" "$@"
}
log "writing images"
for c in kube-apiserver kube-controller-manager kube-scheduler; do
  static_image "${want[${c}]}" "${c}" "${K8S_BIN}/${c}"
done
static_image "${want[etcd]}" etcd "${K8S_BIN}/etcd"
# kubeadm's CoreDNS Deployment passes only arguments; the image supplies the binary.
static_image "${want[coredns]}" coredns "${K8S_BIN}/coredns" --entrypoint /usr/local/bin/coredns
"${imgtool}" build --tag "${want[pause]}" --out "${work}/images/pause.tar" --file "${work}/bin/pause=/pause" --entrypoint /pause
# kube-proxy programs iptables through the iptables/conntrack userland.
"${imgtool}" build --tag "${want[kube-proxy]}" --out "${work}/images/kube-proxy.tar" --env "${PATH_ENV}" \
  --layer-dir "${BATON_CACHE}/rootfs/kube-proxy" --file "${K8S_BIN}/kube-proxy=/usr/local/bin/kube-proxy"
static_image "${provisioner_image}" local-path-provisioner "${K8S_BIN}/local-path-provisioner"
"${imgtool}" build --tag "${helper_image}" --tag "${BUSYBOX_IMAGE}" --out "${work}/images/local-path-helper.tar" \
  --env PATH=/bin --layer-dir "${BATON_CACHE}/rootfs/busybox"

log "assembling the node root filesystem"
cp -a "${BATON_CACHE}/rootfs/node" "${rootfs}"
rm -f "${rootfs}/.baton-recipe"
kind_files="$(go env GOMODCACHE)/sigs.k8s.io/kind@${KIND_VERSION}/images/base/files"
[[ -d "${kind_files}" ]] || go mod download "sigs.k8s.io/kind@${KIND_VERSION}"
# kind's node entrypoint, systemd units, kubelet drop-ins and containerd
# config, laid out the way kind's own base image does.
install -m 0755 "${kind_files}"/usr/local/bin/* "${rootfs}/usr/local/bin/"
mkdir -p "${rootfs}/kind/bin" "${rootfs}/kind/manifests" "${rootfs}/etc/kubernetes/manifests" \
  "${rootfs}/etc/systemd/system/kubelet.service.d" "${rootfs}/etc/cni/net.d" "${rootfs}/opt"
install -m 0755 "${kind_files}"/kind/bin/* "${rootfs}/kind/bin/"
install -m 0644 "${kind_files}"/etc/crictl.yaml "${rootfs}/etc/"
install -m 0644 "${kind_files}"/etc/default/* "${rootfs}/etc/default/"
install -m 0644 "${kind_files}"/etc/sysctl.d/* "${rootfs}/etc/sysctl.d/"
install -m 0644 "${kind_files}"/etc/systemd/system/*.service "${kind_files}"/etc/systemd/system/*.slice "${rootfs}/etc/systemd/system/"
install -m 0644 "${kind_files}"/etc/systemd/system/kubelet.service.d/* "${rootfs}/etc/systemd/system/kubelet.service.d/"
rm -f "${rootfs}/etc/systemd/system/containerd-fuse-overlayfs.service"

# Trim systemd to what a node needs, as kind's base image does.
find "${rootfs}/lib/systemd/system/sysinit.target.wants/" -name systemd-tmpfiles-setup.service -delete
rm -f "${rootfs}"/lib/systemd/system/multi-user.target.wants/* "${rootfs}"/etc/systemd/system/*.wants/* \
  "${rootfs}"/lib/systemd/system/local-fs.target.wants/* "${rootfs}"/lib/systemd/system/sockets.target.wants/*udev* \
  "${rootfs}"/lib/systemd/system/sockets.target.wants/*initctl* "${rootfs}"/lib/systemd/system/basic.target.wants/*
echo "ReadKMsg=no" >>"${rootfs}/etc/systemd/journald.conf"
ln -sf /usr/lib/systemd/systemd "${rootfs}/sbin/init"
chroot "${rootfs}" systemctl enable kubelet.service containerd.service undo-mount-hacks.service >/dev/null 2>&1
chroot "${rootfs}" systemctl mask systemd-binfmt.service >/dev/null 2>&1

# Debian's containerd, runc and CNI plugins where kind's units expect them.
ln -sf /usr/bin/containerd "${rootfs}/usr/local/bin/containerd"
rm -rf "${rootfs}/opt/cni"
mkdir -p "${rootfs}/opt/cni"
ln -sf /usr/lib/cni "${rootfs}/opt/cni/bin"
chroot "${rootfs}" ctr oci spec \
  | jq '.hooks.createContainer[.hooks.createContainer | length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \
  | jq 'del(.process.rlimits)' >"${rootfs}/etc/containerd/cri-base.json"
# containerd 1.6 needs restrict_oom_score_adj on this kind of host or every
# sandbox fails to start; no fuse-overlayfs proxy here; our pause image.
sed -e 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' \
    -e "s#sandbox_image = .*#sandbox_image = \"${want[pause]}\"#" \
    -e '/^\[proxy_plugins\]/,/^$/d' -e '/^# fuse-overlayfs/d' -e '/^\[proxy_plugins."fuse-overlayfs"\]/,/^$/d' \
    "${kind_files}/etc/containerd/config.toml" >"${rootfs}/etc/containerd/config.toml"
grep -q 'restrict_oom_score_adj = true' "${rootfs}/etc/containerd/config.toml" || die "containerd config patch failed"

for b in kubeadm kubelet kubectl; do install -m 0755 "${K8S_BIN}/${b}" "${rootfs}/usr/bin/${b}"; done
install -m 0755 "${K8S_BIN}/crictl" "${rootfs}/usr/local/bin/crictl"
install -m 0644 "${HERE}/files/10-baton-bridge.conflist" "${rootfs}/etc/cni/net.d/"
echo "${KUBERNETES_VERSION}" >"${rootfs}/kind/version"
sed -e "s#@PROVISIONER_IMAGE@#${provisioner_image}#g" -e "s#@HELPER_IMAGE@#${helper_image}#g" \
  "${HERE}/files/default-storage.yaml.in" >"${rootfs}/kind/manifests/default-storage.yaml"

log "preloading images into the node's containerd"
cat >"${work}/containerd.toml" <<TOML
version = 2
root = "${rootfs}/var/lib/containerd"
state = "${work}/containerd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "${work}/containerd.sock"
TOML
containerd --config "${work}/containerd.toml" >"${work}/containerd.log" 2>&1 &
echo $! >"${work}/containerd.pid"
trap 'kill "$(cat "${work}/containerd.pid")" 2>/dev/null || true' EXIT
for _ in $(seq 100); do [[ -S "${work}/containerd.sock" ]] && break; sleep 0.1; done
for tarball in "${work}"/images/*.tar; do
  ctr --address "${work}/containerd.sock" -n k8s.io images import --label=io.cri-containerd.pinned=pinned \
    --all-platforms --no-unpack "${tarball}" >/dev/null
done
ctr --address "${work}/containerd.sock" -n k8s.io images ls -q | sed 's/^/  preloaded /' >&2
kill "$(cat "${work}/containerd.pid")"
wait "$(cat "${work}/containerd.pid")" 2>/dev/null || true
trap - EXIT

log "importing ${image} into Docker"
tar -C "${rootfs}" -c . | docker import \
  --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' \
  --change 'ENV container=docker' \
  --change "LABEL dev.baton.recipe=${hash}" - "${image}" >/dev/null
rm -rf "${work}"
log "node image ${image} ready (recipe ${hash})"
