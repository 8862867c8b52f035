#!/usr/bin/env bash
# demo.sh: runs a Job of Baton's runner image on the cluster KUBECONFIG names
# (the local cluster by default) and prints its status and logs. `make demo`
# runs it after cluster-up and images.
source "$(dirname "$0")/cluster/lib.sh"
export KUBECONFIG="${KUBECONFIG:-${KUBECONFIG_PATH}}"
export PATH="${K8S_BIN}:${PATH}"
IMAGE="${BATON_RUNNER_IMAGE:-baton.local/runner:${IMAGE_TAG:-dev}}"
NS=baton-demo
JOB=baton-doctor

kubectl create namespace "${NS}" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n "${NS}" delete job "${JOB}" --ignore-not-found --cascade=foreground >/dev/null

log "running Job ${NS}/${JOB} (${IMAGE} doctor)"
kubectl apply -f - >/dev/null <<YAML
apiVersion: batch/v1
kind: Job
metadata:
  name: ${JOB}
  namespace: ${NS}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: runner
          image: ${IMAGE}
          args: [doctor]
YAML
start=${SECONDS}
state=""
until [[ "${state}" == *Complete* || "${state}" == *Failed* ]]; do
  ((SECONDS - start < 180)) || die "the demo Job did not finish in 180s"
  sleep 0.5
  state=$(kubectl -n "${NS}" get "job/${JOB}" -o jsonpath='{.status.conditions[?(@.status=="True")].type}')
done
if [[ "${state}" != *Complete* ]]; then
  kubectl -n "${NS}" describe "job/${JOB}"
  kubectl -n "${NS}" logs -l "job-name=${JOB}" --tail=-1 || true
  die "the demo Job failed"
fi
log "Job complete in $((SECONDS - start))s"

echo
echo "\$ kubectl get nodes"
kubectl get nodes -o wide
echo
echo "\$ kubectl -n ${NS} get job ${JOB}"
kubectl -n "${NS}" get job "${JOB}"
echo
echo "\$ kubectl -n ${NS} logs -l job-name=${JOB}"
kubectl -n "${NS}" logs -l "job-name=${JOB}" --tail=-1
