# shellcheck shell=bash
# Common settings for the local-cluster tooling. Sourced, never executed.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../../images/versions.env
source "${REPO_ROOT}/images/versions.env"

# Everything expensive is cached outside the repository so a fresh clone on a
# warm machine reuses it, and `git clean` never throws hours of compiling away.
BATON_CACHE="${BATON_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/baton}"
# Runtime state of what cluster-up started (dockerd PID, firewall rule, logs).
BATON_STATE="${BATON_STATE:-${BATON_CACHE}/state}"
BATON_BIN="${BATON_CACHE}/bin"
CLUSTER_NAME="${CLUSTER_NAME:-baton}"
KUBECONFIG_PATH="${BATON_KUBECONFIG:-${BATON_CACHE}/kubeconfig}"
K8S_BIN="${BATON_CACHE}/k8s/${KUBERNETES_VERSION}/bin"
NODE_IMAGE="${KIND_NODE_IMAGE:-${NODE_IMAGE_REPO}:${KUBERNETES_VERSION}}"

export PATH="${BATON_BIN}:${PATH}"
export GOFLAGS="${GOFLAGS:-} -trimpath"
export CGO_ENABLED=0

mkdir -p "${BATON_CACHE}" "${BATON_STATE}" "${BATON_BIN}"

log() { printf '\033[1m[%s] %s\033[0m\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '\033[31merror: %s\033[0m\n' "$*" >&2; exit 1; }

# recipe_hash INPUT... prints a short hash of a build stage's inputs: an
# argument naming a file counts by its content, any other as the string
# itself (versions, package lists). A stage stores the hash next to its output
# and is rebuilt only when it changes, so editing one version rebuilds only
# what depends on it.
recipe_hash() {
  local input
  for input in "$@"; do
    if [[ -f "${input}" ]]; then cat "${input}"; else printf '%s\n' "${input}"; fi
  done | sha256sum | cut -c1-16
}

# stage_fresh DIR HASH: true when DIR holds a completed build of recipe HASH.
stage_fresh() { [[ -f "$1/.baton-recipe" && "$(cat "$1/.baton-recipe")" == "$2" ]]; }
stage_done() { echo "$2" >"$1/.baton-recipe"; }

need_root() {
  [[ "$(id -u)" == 0 ]] || die "$1 needs root (run as root or with sudo)"
}

# timed NAME CMD... runs CMD and logs how long it took.
timed() {
  local name=$1 start
  shift
  start=$(date +%s)
  "$@"
  log "${name}: $(( $(date +%s) - start ))s"
}

# quietly LOGFILE CMD... runs CMD with its output in LOGFILE, showing the
# end of it only when CMD fails.
quietly() {
  local logfile=$1
  shift
  "$@" >"${logfile}" 2>&1 || { tail -30 "${logfile}" >&2; die "$1 failed; full log in ${logfile}"; }
}

# debian_mirror prints the Debian mirror to debootstrap from: DEBIAN_MIRROR
# when set, else the first non-security mirror apt is configured with (deb822
# or one-line sources), else deb.debian.org.
debian_mirror() {
  if [[ -n "${DEBIAN_MIRROR:-}" ]]; then echo "${DEBIAN_MIRROR}"; return; fi
  local uri
  uri=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list 2>/dev/null \
    | grep -v security | head -1 | sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//; s/[[:space:]].*//' || true)
  echo "${uri:-http://deb.debian.org/debian}"
}
