#!/usr/bin/env bash
# demo.sh: Baton end to end on the cluster KUBECONFIG names (the local
# cluster by default), with Baton installed (make deploy): a sample app is
# deployed, a 3-phase blueprint backs it up (every phase a Job), and the
# ActionSet's status and per-phase logs are printed. `make demo` runs it.
source "$(dirname "$0")/cluster/lib.sh"
export KUBECONFIG="${KUBECONFIG:-${KUBECONFIG_PATH}}"
export PATH="${K8S_BIN}:${PATH}"
EXAMPLES="${REPO_ROOT}/examples/demo"

show() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

log "deploying the sample app (examples/demo/app.yaml)"
kubectl apply -f "${EXAMPLES}/app.yaml" >/dev/null
kubectl -n baton-demo rollout status deployment/notes --timeout=120s >/dev/null

log "creating the blueprint and an ActionSet"
kubectl apply -f "${EXAMPLES}/blueprint.yaml" >/dev/null
name=$(kubectl create -f "${EXAMPLES}/actionset.yaml" -o jsonpath='{.metadata.name}')
start=${SECONDS}
state=""
until [[ "${state}" == complete || "${state}" == failed ]]; do
  ((SECONDS - start < 300)) || die "ActionSet ${name} did not finish in 300s"
  sleep 1
  state=$(kubectl -n baton get actionset "${name}" -o jsonpath='{.status.state}')
done
log "ActionSet ${name} ${state} in $((SECONDS - start))s"

show kubectl -n baton get actionset "${name}"
show kubectl -n baton get jobs -l "baton.dev/actionset=${name}" -L baton.dev/phase
show kubectl -n baton get actionset "${name}" -o jsonpath='{range .status.actions[*].phases[*]}{.name}{"\t"}{.state}{"\t"}{.output}{"\n"}{end}{"artifacts: "}{.status.actions[0].artifacts}{"\n"}'
for phase in snapshot archive report; do
  show kubectl -n baton logs -l "baton.dev/actionset=${name},baton.dev/phase=${phase}" --tail=-1
done
[[ "${state}" == complete ]] || { kubectl -n baton describe actionset "${name}"; die "the demo ActionSet failed"; }
