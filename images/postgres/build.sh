#!/usr/bin/env bash
# Builds a PostgreSQL 15 image without Docker: a Debian minbase root
# filesystem (debootstrap) with Debian's postgresql-15 and its client, plus
# images/postgres/entrypoint.sh, written with imgtool as a docker-archive at
# _output/images/postgres.tar and loaded into the local kind cluster when it
# exists (IMAGES_LOAD=0 to skip).
#
#   baton.local/postgres:15 (POSTGRES_IMAGE)  server (entrypoint) and the
#       client tools a blueprint's KubeTask uses: psql, pg_dump, pg_dumpall,
#       bash, gzip, tar, coreutils
#
# The tree is cached by recipe hash in ${BATON_CACHE}/rootfs/postgres; it is
# rebuilt only when the package list, the suite or the functions below that
# make it change. Needs root (debootstrap, and reading the tree it made).
source "$(dirname "$0")/../../e2e/cluster/lib.sh"
need_root "the postgres image build"

POSTGRES_IMAGE="${POSTGRES_IMAGE:-baton.local/postgres:15}"
PG_MAJOR=15
PACKAGES=("postgresql-${PG_MAJOR}" "postgresql-client-${PG_MAJOR}" bash coreutils gzip tar)
here="${REPO_ROOT}/images/postgres"
out="${REPO_ROOT}/_output"
rootfs="${BATON_CACHE}/rootfs/postgres"

# strip_tree DIR removes what a server image never reads: package caches and
# lists, documentation, manual pages, translations, logs of the build, and the
# "main" cluster postgresql-common's postinst initialises (the entrypoint
# makes its own in $PGDATA).
strip_tree() {
  local dir=$1
  rm -rf "${dir}"/var/cache/apt/archives/*.deb "${dir}"/var/cache/apt/*.bin \
    "${dir}"/var/lib/apt/lists/* "${dir}"/var/cache/debconf/*-old \
    "${dir}"/usr/share/doc/* "${dir}"/usr/share/man/* "${dir}"/usr/share/info/* \
    "${dir}"/usr/share/lintian "${dir}"/usr/share/postgresql/*/man \
    "${dir}/etc/postgresql/${PG_MAJOR}/main" "${dir}/var/lib/postgresql/${PG_MAJOR}/main" \
    "${dir}"/var/log/*.log "${dir}"/var/log/apt/* "${dir}"/var/log/postgresql/*
  # Keep glibc's alias table, drop every message catalogue.
  [[ ! -d "${dir}/usr/share/locale" ]] || find "${dir}/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  # PostgreSQL's JIT compiler (LLVM and its solver, ~155 MB, half the tree):
  # without llvmjit.so the server runs every query interpreted, as with
  # jit = off, which is what the entrypoint configures.
  rm -rf "${dir}/usr/lib/postgresql/${PG_MAJOR}/lib/bitcode" "${dir}/usr/lib/postgresql/${PG_MAJOR}"/lib/llvmjit*.so \
    "${dir}"/usr/lib/x86_64-linux-gnu/libLLVM-*.so* "${dir}"/usr/lib/x86_64-linux-gnu/libz3.so*
  # ssl-cert's postinst made a key pair at build time; a key baked into an
  # image is shared by everyone who runs it, so none ships.
  find "${dir}/etc/ssl" -name 'ssl-cert-snakeoil*' -exec rm -f {} +
  find "${dir}/etc/ssl/certs" -lname "*snakeoil*" -delete
  # The build host's name and resolver are not the image's business; the
  # runtime provides both.
  rm -f "${dir}/etc/resolv.conf"
  echo localhost >"${dir}/etc/hostname"
}

build_tree() {
  local hash
  hash=$(recipe_hash "$(declare -f build_tree strip_tree)" "${DEBIAN_SUITE}" "${PACKAGES[*]}")
  if stage_fresh "${rootfs}" "${hash}"; then
    log "rootfs postgres is cached"
    return
  fi
  rm -rf "${rootfs}"
  mkdir -p "${rootfs}"
  log "debootstrap postgres (${DEBIAN_SUITE}, $(debian_mirror))"
  timed "rootfs postgres" quietly "${rootfs}.log" debootstrap --variant=minbase \
    --include="$(IFS=,; echo "${PACKAGES[*]}")" "${DEBIAN_SUITE}" "${rootfs}" "$(debian_mirror)"
  strip_tree "${rootfs}"
  # What was removed must not be what the programs load.
  local tool
  for tool in postgres initdb pg_ctl psql pg_dump pg_dumpall pg_isready; do
    chroot "${rootfs}" "/usr/lib/postgresql/${PG_MAJOR}/bin/${tool}" --version >/dev/null \
      || die "${tool} does not run in ${rootfs}"
  done
  stage_done "${rootfs}" "${hash}"
}

mkdir -p "${BATON_CACHE}/rootfs" "${out}/bin" "${out}/images"
build_tree

# Run as the postgres account the packages created, by number, so that
# runAsNonRoot can be checked and a pod's fsGroup can match it.
ids=$(awk -F: '$1 == "postgres" { print $3 ":" $4 }' "${rootfs}/etc/passwd")
[[ "${ids}" =~ ^[0-9]+:[0-9]+$ ]] || die "no postgres user in ${rootfs}/etc/passwd"
# examples/postgres/app.yaml sets its fsGroup to this group.
[[ "${ids}" == 100:102 ]] || log "warning: postgres is ${ids} in this image, not 100:102: update fsGroup in examples/postgres/app.yaml"

(cd "${REPO_ROOT}" && go build -o "${out}/bin/" ./images/imgtool)
timed "image postgres" "${out}/bin/imgtool" build --tag "${POSTGRES_IMAGE}" --out "${out}/images/postgres.tar" \
  --layer-dir "${rootfs}" \
  --file "${here}/entrypoint.sh=/usr/local/bin/postgres-entrypoint" \
  --entrypoint /usr/local/bin/postgres-entrypoint --cmd postgres \
  --user "${ids}" --workdir /var/lib/postgresql --stop-signal SIGINT \
  --env "PATH=/usr/lib/postgresql/${PG_MAJOR}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --env PGDATA=/var/lib/postgresql/data/pgdata --env LANG=C.UTF-8 \
  --label org.opencontainers.image.title="PostgreSQL ${PG_MAJOR} (Debian ${DEBIAN_SUITE})" \
  --label dev.baton.image.user="${ids}"

log "image ${POSTGRES_IMAGE} (user ${ids}) written to ${out}/images/postgres.tar ($(du -h "${out}/images/postgres.tar" | cut -f1))"
if [[ "${IMAGES_LOAD:-1}" == 1 ]] && kind get clusters 2>/dev/null | grep -qx "${CLUSTER_NAME}"; then
  kind load image-archive --name "${CLUSTER_NAME}" "${out}/images/postgres.tar" >/dev/null
  log "image loaded into kind cluster ${CLUSTER_NAME}"
fi
