#!/bin/bash
# Entrypoint of baton.local/postgres. Runs as the postgres user.
#
#   postgres-entrypoint [postgres] [-c name=value]...
#       initialises $PGDATA when it holds no cluster yet, then execs the
#       server in the foreground (it is PID 1 and gets the stop signal
#       itself; the image's StopSignal is SIGINT, PostgreSQL's fast
#       shutdown).
#   postgres-entrypoint COMMAND [ARG]...
#       runs COMMAND (psql, pg_dump, bash, ...) unchanged.
#
# Environment:
#   POSTGRES_PASSWORD     required: the password of the superuser "postgres"
#                         (set when the cluster is initialised; a cluster that
#                         already exists keeps its own)
#   PGDATA                the cluster directory, default
#                         /var/lib/postgresql/data/pgdata: a directory below
#                         the volume mount, so lost+found and the like in the
#                         volume's root are no obstacle
#   POSTGRES_INITDB_ARGS  extra initdb arguments (split on spaces)
set -Eeuo pipefail

die() { echo "postgres-entrypoint: $*" >&2; exit 1; }

# Options only: they are the server's.
if [[ $# -eq 0 || "$1" == -* ]]; then
  set -- postgres "$@"
fi
if [[ "$1" != postgres ]]; then
  exec "$@"
fi

[[ "$(id -u)" != 0 ]] || die "refusing to run the server as root; run the image as its postgres user"
[[ -n "${POSTGRES_PASSWORD:-}" ]] || die "POSTGRES_PASSWORD is not set: refusing to start without a superuser password"
export PGDATA="${PGDATA:-/var/lib/postgresql/data/pgdata}"

if [[ ! -s "${PGDATA}/PG_VERSION" ]]; then
  echo "postgres-entrypoint: initialising a new cluster in ${PGDATA}"
  mkdir -p "${PGDATA}"
  chmod 0700 "${PGDATA}"
  pwfile=$(mktemp)
  trap 'rm -f "${pwfile}"' EXIT
  printf '%s\n' "${POSTGRES_PASSWORD}" >"${pwfile}"
  # Sockets in the pod: the OS user must be the database user (peer).
  # Over the network: passwords, hashed with SCRAM.
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of words
  initdb --username=postgres --pwfile="${pwfile}" --encoding=UTF8 --locale=C.UTF-8 \
    --auth-local=peer --auth-host=scram-sha-256 ${POSTGRES_INITDB_ARGS:-}
  rm -f "${pwfile}"
  trap - EXIT
  cat >>"${PGDATA}/pg_hba.conf" <<'HBA'

# Added by postgres-entrypoint: clients on any address, with a password.
host    all             all             all                     scram-sha-256
HBA
  cat >>"${PGDATA}/postgresql.conf" <<'CONF'

# Added by postgres-entrypoint.
listen_addresses = '*'
password_encryption = scram-sha-256
# The image has no LLVM: queries run interpreted.
jit = off
CONF
fi

exec "$@"
