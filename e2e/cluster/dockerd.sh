#!/usr/bin/env bash
# dockerd.sh start|stop: makes sure a Docker engine answers, starting Debian's
# dockerd in the background when none runs (hosts without systemd), and stops
# only a dockerd this script started, by its recorded PID.
source "$(dirname "$0")/lib.sh"
PIDFILE="${BATON_STATE}/dockerd.pid"

# needs_capwrap: true when this host's capability bounding set lacks a
# capability the kernel has. Docker requests all of them for privileged
# containers (kind nodes are privileged), which runc cannot grant here.
needs_capwrap() {
  local last bnd full
  last=$(cat /proc/sys/kernel/cap_last_cap)
  bnd=$((16#$(awk '/^CapBnd:/ {print $2}' /proc/self/status)))
  full=$(( (1 << (last + 1)) - 1 ))
  (( (bnd & full) != full ))
}

ours_running() {
  [[ -f "${PIDFILE}" ]] && [[ "$(cat "/proc/$(cat "${PIDFILE}")/comm" 2>/dev/null)" == dockerd ]]
}

start() {
  if docker info >/dev/null 2>&1; then
    ours_running || log "using the Docker engine already running"
    return
  fi
  need_root "starting dockerd"
  command -v dockerd >/dev/null || die "dockerd is not installed (run e2e/cluster/deps.sh)"
  local args=(--log-level=warn)
  if needs_capwrap; then
    log "capability bounding set is partial: running containers through capwrap"
    (cd "${REPO_ROOT}" && go build -o "${BATON_BIN}/baton-capwrap" ./e2e/cluster/capwrap)
    # Flags, not /etc/docker/daemon.json: nothing of the host's configuration
    # is touched, and stopping dockerd undoes everything.
    args+=(--add-runtime "baton-capwrap=${BATON_BIN}/baton-capwrap" --default-runtime baton-capwrap)
  fi
  log "starting dockerd ${args[*]}"
  setsid nohup dockerd "${args[@]}" >"${BATON_STATE}/dockerd.log" 2>&1 </dev/null &
  echo $! >"${PIDFILE}"
  local deadline=$((SECONDS + 60))
  until docker info >/dev/null 2>&1; do
    ours_running || { tail -20 "${BATON_STATE}/dockerd.log" >&2; die "dockerd exited; log: ${BATON_STATE}/dockerd.log"; }
    ((SECONDS < deadline)) || die "dockerd did not answer within 60s; log: ${BATON_STATE}/dockerd.log"
    sleep 0.5
  done
  log "dockerd is up (pid $(cat "${PIDFILE}"))"
}

stop() {
  if ! ours_running; then
    rm -f "${PIDFILE}"
    return
  fi
  local pid
  pid=$(cat "${PIDFILE}")
  log "stopping dockerd (pid ${pid})"
  kill -TERM "${pid}"
  local deadline=$((SECONDS + 60))
  while kill -0 "${pid}" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "dockerd did not stop in 60s; killing it"
      kill -KILL "${pid}" 2>/dev/null || true
      break
    fi
    sleep 0.5
  done
  rm -f "${PIDFILE}"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) die "usage: $0 start|stop" ;;
esac
