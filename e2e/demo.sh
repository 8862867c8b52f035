#!/usr/bin/env bash
# demo.sh: Baton end to end on the cluster KUBECONFIG names (the local
# cluster by default), with Baton installed (make deploy). `make demo` runs it.
#
#   1. a sample app is backed up by a 3-phase blueprint (every phase a Job);
#   2. a real PostgreSQL (examples/postgres) is dumped to a real S3 server
#      (MinIO, started here for this run on this machine's address on the
#      cluster's network), its table dropped, and restored from the dump.
#
# The ActionSets' status and per-phase logs are printed along the way.
source "$(dirname "$0")/cluster/lib.sh"
export KUBECONFIG="${KUBECONFIG:-${KUBECONFIG_PATH}}"
export PATH="${K8S_BIN}:${PATH}"
S3SERVER="${S3SERVER:-${REPO_ROOT}/_output/bin/s3server}"
PG_NAMESPACE=pg-demo

show() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

# wait_actionset NAME: until the ActionSet is complete or failed; fails the
# demo (describing the ActionSet) unless it completed.
wait_actionset() {
  local name=$1 start=${SECONDS} state=""
  until [[ "${state}" == complete || "${state}" == failed ]]; do
    ((SECONDS - start < 300)) || die "ActionSet ${name} did not finish in 300s"
    sleep 1
    state=$(kubectl -n baton get actionset "${name}" -o jsonpath='{.status.state}')
  done
  log "ActionSet ${name} ${state} in $((SECONDS - start))s"
  [[ "${state}" == complete ]] || { kubectl -n baton describe actionset "${name}"; die "ActionSet ${name} failed"; }
}

phase_logs() { # ACTIONSET PHASE...
  local name=$1 phase
  shift
  for phase in "$@"; do
    show kubectl -n baton logs -l "baton.dev/actionset=${name},baton.dev/phase=${phase}" --tail=-1
  done
}

demo_sample_app() {
  local examples="${REPO_ROOT}/examples/demo" name
  log "part 1: deploying the sample app (examples/demo/app.yaml)"
  kubectl apply -f "${examples}/app.yaml" >/dev/null
  kubectl -n baton-demo rollout status deployment/notes --timeout=120s >/dev/null
  log "creating the blueprint and an ActionSet"
  kubectl apply -f "${examples}/blueprint.yaml" >/dev/null
  name=$(kubectl create -f "${examples}/actionset.yaml" -o jsonpath='{.metadata.name}')
  wait_actionset "${name}"
  show kubectl -n baton get actionset "${name}"
  show kubectl -n baton get jobs -l "baton.dev/actionset=${name}" -L baton.dev/phase
  show kubectl -n baton get actionset "${name}" -o jsonpath='{range .status.actions[*].phases[*]}{.name}{"\t"}{.state}{"\t"}{.output}{"\n"}{end}{"artifacts: "}{.status.actions[0].artifacts}{"\n"}'
  phase_logs "${name}" snapshot archive report
}

# start_s3: MinIO on this machine's address on the route to the cluster's
# node, so pods reach it and nothing else does; stopped when the demo ends.
start_s3() {
  local node_ip host_ip dir
  node_ip=$(kubectl get nodes -o jsonpath='{.items[0].status.addresses[?(@.type=="InternalIP")].address}')
  host_ip=$(ip -o route get "${node_ip}" | sed -n 's/.* src \([^ ]*\).*/\1/p')
  [[ -n "${host_ip}" ]] || die "no address of this machine routes to the node ${node_ip}"
  dir=$(mktemp -d)
  "${S3SERVER}" --host "${host_ip}" --dir "${dir}/data" --env-file "${dir}/s3.env" &
  S3_PID=$!
  trap 'kill ${S3_PID} 2>/dev/null; wait ${S3_PID} 2>/dev/null; rm -rf "'"${dir}"'"' EXIT
  local deadline=$((SECONDS + 60))
  until [[ -f "${dir}/s3.env" ]]; do
    kill -0 "${S3_PID}" 2>/dev/null || die "the S3 server did not start"
    ((SECONDS < deadline)) || die "the S3 server did not start in 60s"
    sleep 0.5
  done
  # shellcheck disable=SC1091
  source "${dir}/s3.env"
  log "S3 server (MinIO) at ${S3_ENDPOINT}, bucket ${S3_BUCKET}, credentials made up for this run"
}

# checksum of the demo table: row count and an md5 of every row in order.
pg_checksum() {
  kubectl -n "${PG_NAMESPACE}" exec -i pg-postgresql-0 -c postgresql -- psql -q -At -U postgres \
    -c "SELECT count(*) || ' rows, md5 ' || md5(string_agg(id || ':' || body, ',' ORDER BY id)) FROM notes"
}

demo_postgres() {
  local examples="${REPO_ROOT}/examples/postgres" backup restore before after location
  log "part 2: PostgreSQL (examples/postgres/app.yaml) in namespace ${PG_NAMESPACE}"
  kubectl create namespace "${PG_NAMESPACE}" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  kubectl apply -n "${PG_NAMESPACE}" -f "${examples}/app.yaml" >/dev/null
  kubectl -n "${PG_NAMESPACE}" rollout status statefulset/pg-postgresql --timeout=180s >/dev/null
  kubectl -n "${PG_NAMESPACE}" exec -i pg-postgresql-0 -c postgresql -- psql -q -v ON_ERROR_STOP=1 -U postgres >/dev/null <<'SQL'
SET client_min_messages = warning;
DROP TABLE IF EXISTS notes;
CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL);
INSERT INTO notes SELECT i, 'note ' || md5(i::text) FROM generate_series(1, 10000) AS i;
SQL
  before=$(pg_checksum)
  log "seeded table notes: ${before}"

  start_s3
  kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Secret
metadata: {name: s3-credentials, namespace: baton}
type: secrets.kanister.io/aws
stringData: {aws_access_key_id: "${S3_ACCESS_KEY}", aws_secret_access_key: "${S3_SECRET_KEY}"}
---
apiVersion: baton.dev/v1alpha1
kind: Profile
metadata: {name: s3-profile, namespace: baton}
location: {type: s3Compliant, endpoint: "${S3_ENDPOINT}", bucket: "${S3_BUCKET}", region: us-east-1, prefix: baton}
credential:
  type: keyPair
  keyPair:
    idField: aws_access_key_id
    secretField: aws_secret_access_key
    secret: {kind: Secret, name: s3-credentials, namespace: baton}
YAML
  kubectl apply -n baton -f "${examples}/blueprint.yaml" >/dev/null

  log "backup: pg_dumpall | gzip | kando location push, one KubeTask Job (examples/postgres/actionset-backup.yaml)"
  backup=$(kubectl create -f "${examples}/actionset-backup.yaml" -o jsonpath='{.metadata.name}')
  wait_actionset "${backup}"
  phase_logs "${backup}" pgDump
  location=$(kubectl -n baton get actionset "${backup}" -o jsonpath='{.status.actions[0].artifacts.cloudObject.keyValue.backupLocation}')
  log "the dump is s3://${S3_BUCKET}/baton/${location}"

  show kubectl -n "${PG_NAMESPACE}" exec pg-postgresql-0 -c postgresql -- psql -q -U postgres -c "DROP TABLE notes"

  log "restore: kando location pull | gunzip | psql, with the backup's artifact as input"
  restore=$(kubectl create -o jsonpath='{.metadata.name}' -f - <<YAML
apiVersion: baton.dev/v1alpha1
kind: ActionSet
metadata: {generateName: pg-restore-, namespace: baton}
spec:
  actions:
    - name: restore
      blueprint: postgres-bp
      object: {kind: StatefulSet, name: pg-postgresql, namespace: ${PG_NAMESPACE}}
      profile: {name: s3-profile, namespace: baton}
      artifacts:
        cloudObject:
          keyValue: {backupLocation: "${location}"}
YAML
)
  wait_actionset "${restore}"
  show kubectl -n baton get actionsets "${backup}" "${restore}"
  after=$(pg_checksum)
  log "after restore: ${after}"
  [[ "${after}" == "${before}" ]] || die "restored table differs: before ${before}, after ${after}"
  log "PostgreSQL went to S3 and came back intact"
}

demo_sample_app
demo_postgres
