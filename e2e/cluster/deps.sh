#!/usr/bin/env bash
# Installs what the local cluster needs and is missing: Debian packages with
# apt-get and kind from the Go module proxy. Safe to run repeatedly.
source "$(dirname "$0")/lib.sh"

# command -> Debian package providing it.
declare -A PACKAGES=(
  [dockerd]=docker.io
  [debootstrap]=debootstrap
  [jq]=jq
  [iptables]=iptables
  [curl]=curl
  [git]=git
  [make]=make
  # the demo finds its address on the cluster's network with `ip route get`
  [ip]=iproute2
)

missing=()
for cmd in "${!PACKAGES[@]}"; do
  command -v "${cmd}" >/dev/null 2>&1 || missing+=("${PACKAGES[${cmd}]}")
done
# docker.io brings the engine; a client-only docker on PATH is not enough.
if [[ ${#missing[@]} -gt 0 ]]; then
  need_root "installing ${missing[*]}"
  log "apt-get install ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ "$(kind version 2>/dev/null | awk '{print $2}')" != "${KIND_VERSION}" ]]; then
  log "installing kind ${KIND_VERSION} from the Go module proxy"
  GOBIN="${BATON_BIN}" go install "sigs.k8s.io/kind@${KIND_VERSION}"
fi
