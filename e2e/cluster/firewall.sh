#!/usr/bin/env bash
# firewall.sh apply|remove: keeps pod traffic on this machine. Packets the
# host forwards from the kind network to anything but that network or one of
# the host's own addresses are dropped. The rules live in a chain of our own,
# jumped to first from FORWARD, so removing them leaves Docker's untouched.
source "$(dirname "$0")/lib.sh"
CHAIN=BATON-KIND-EGRESS
NETWORK="${KIND_EXPERIMENTAL_DOCKER_NETWORK:-kind}"

tool_for() { [[ "$1" == *:* ]] && echo ip6tables || echo iptables; }

remove() {
  local ipt
  for ipt in iptables ip6tables; do
    command -v "${ipt}" >/dev/null || continue
    while "${ipt}" -D FORWARD -j "${CHAIN}" 2>/dev/null; do :; done
    "${ipt}" -F "${CHAIN}" 2>/dev/null || true
    "${ipt}" -X "${CHAIN}" 2>/dev/null || true
  done
}

apply() {
  need_root "installing the egress firewall"
  local subnets
  subnets=$(docker network inspect "${NETWORK}" -f '{{range .IPAM.Config}}{{.Subnet}} {{end}}')
  [[ -n "${subnets// /}" ]] || die "docker network ${NETWORK} has no subnet"
  remove
  local subnet ipt
  for subnet in ${subnets}; do
    ipt=$(tool_for "${subnet}")
    "${ipt}" -N "${CHAIN}" 2>/dev/null || true
    "${ipt}" -A "${CHAIN}" -s "${subnet}" -d "${subnet}" -j RETURN
    "${ipt}" -A "${CHAIN}" -s "${subnet}" -m addrtype --dst-type LOCAL -j RETURN
    "${ipt}" -A "${CHAIN}" -s "${subnet}" -j DROP
    "${ipt}" -C FORWARD -j "${CHAIN}" 2>/dev/null || "${ipt}" -I FORWARD 1 -j "${CHAIN}"
    log "egress from ${subnet} is dropped unless it stays on this machine (${ipt} chain ${CHAIN})"
  done
}

case "${1:-}" in
  apply) apply ;;
  remove) remove ;;
  *) die "usage: $0 apply|remove" ;;
esac
