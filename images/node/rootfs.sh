#!/usr/bin/env bash
# Builds the Debian root filesystems the local images are made of, with
# debootstrap from the mirror apt already uses. Cached by recipe hash in
# ${BATON_CACHE}/rootfs/<name>; each tree is built once and only read after.
#
#   node        the kind node: systemd, containerd, runc, CNI plugins and the
#               userland kind's own base image installs
#   kube-proxy  iptables/conntrack userland kube-proxy shells out to
#   busybox     a static busybox with its applets, for local-path's helper pods
source "$(dirname "$0")/../../e2e/cluster/lib.sh"
need_root "debootstrap"

# Kind's base image package list (kind images/base/Dockerfile), minus what the
# node here does not use (nfs, iscsi), plus Debian's container runtime.
NODE_PACKAGES=(
  systemd conntrack iptables nftables iproute2 ethtool util-linux mount kmod
  libseccomp2 pigz e2fsprogs bash ca-certificates curl jq procps fuse-overlayfs
  containerd runc containernetworking-plugins
)
KUBE_PROXY_PACKAGES=(iptables conntrack nftables kmod)

mirror() {
  if [[ -n "${DEBIAN_MIRROR:-}" ]]; then echo "${DEBIAN_MIRROR}"; return; fi
  local uri
  uri=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list 2>/dev/null \
    | grep -v security | head -1 | sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//; s/[[:space:]].*//')
  echo "${uri:-http://deb.debian.org/debian}"
}

bootstrap() { # name packages...
  local name=$1 dir="${BATON_CACHE}/rootfs/$1" hash
  shift
  hash=$(recipe_hash "$0" "${DEBIAN_SUITE}" "$*")
  if stage_fresh "${dir}" "${hash}"; then
    log "rootfs ${name} is cached"
    return
  fi
  rm -rf "${dir}"
  mkdir -p "${dir}"
  local pkgs
  pkgs=$(IFS=,; echo "$*")
  log "debootstrap ${name} (${DEBIAN_SUITE}, $(mirror))"
  timed "rootfs ${name}" quietly "${dir}.log" debootstrap --variant=minbase --include="${pkgs}" \
    "${DEBIAN_SUITE}" "${dir}" "$(mirror)"
  # Package caches are useless in an image and weigh ~100 MB.
  rm -rf "${dir}"/var/cache/apt/archives/*.deb "${dir}"/var/lib/apt/lists/*
  stage_done "${dir}" "${hash}"
}

busybox_tree() {
  local dir="${BATON_CACHE}/rootfs/busybox" hash
  hash=$(recipe_hash "$0" "${DEBIAN_SUITE}" busybox-static)
  if stage_fresh "${dir}" "${hash}"; then
    log "rootfs busybox is cached"
    return
  fi
  rm -rf "${dir}" "${dir}.deb"
  mkdir -p "${dir}.deb" "${dir}/bin"
  # apt's package lists may be missing on a fresh machine: fetch them once.
  (cd "${dir}.deb" && { apt-get download -qq busybox-static >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get download -qq busybox-static >/dev/null 2>&1; }; }) \
    || die "apt-get download busybox-static failed"
  dpkg-deb -x "${dir}.deb"/busybox-static_*.deb "${dir}.deb/x"
  cp "${dir}.deb/x/bin/busybox" "${dir}/bin/busybox"
  rm -rf "${dir}.deb"
  # busybox-static runs anywhere, so ask it for its applets here.
  local applet
  for applet in $("${dir}/bin/busybox" --list); do
    [[ "${applet}" == busybox ]] || ln -sf busybox "${dir}/bin/${applet}"
  done
  stage_done "${dir}" "${hash}"
}

mkdir -p "${BATON_CACHE}/rootfs"
case "${1:-all}" in
  node) bootstrap node "${NODE_PACKAGES[@]}" ;;
  kube-proxy) bootstrap kube-proxy "${KUBE_PROXY_PACKAGES[@]}" ;;
  busybox) busybox_tree ;;
  all)
    busybox_tree
    bootstrap kube-proxy "${KUBE_PROXY_PACKAGES[@]}"
    bootstrap node "${NODE_PACKAGES[@]}"
    ;;
  *) die "unknown rootfs $1" ;;
esac
