#!/bin/bash
# First-start initialisation compatible with the official image's documented interface: POSTGRES_USER,
# POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE), POSTGRES_DB, POSTGRES_INITDB_ARGS, PGDATA, and *.sh / *.sql / *.sql.gz
# scripts in /docker-entrypoint-initdb.d. Written for the lab (not copied from the official image); it differs in that
# there is no trust mode: without a password it refuses to start.
set -Eeuo pipefail

log() { echo "e2e3d-postgres: $*" >&2; }

file_env() {
  # VAR or VAR_FILE (Docker secrets), never both.
  local var="$1" file_var="${1}_FILE"
  if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
    log "both $var and $file_var are set; set only one"
    exit 1
  fi
  if [ -n "${!file_var:-}" ]; then
    export "$var"="$(<"${!file_var}")"
  fi
  unset "$file_var"
}

init_database() {
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER
  file_env POSTGRES_DB
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    log "the database is uninitialised and POSTGRES_PASSWORD is not set."
    log "set POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE); this stand-in has no default password and no trust mode."
    exit 1
  fi
  export POSTGRES_USER="${POSTGRES_USER:-postgres}"
  export POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"

  if [ ! -w "$PGDATA" ]; then
    log "$PGDATA is not writable by uid $(id -u); a bind mount must be owned by 999:999 (named volumes are set up by Docker)"
    exit 1
  fi
  chmod 0700 "$PGDATA"

  log "initialising $PGDATA for user $POSTGRES_USER"
  # The password goes through a file descriptor, never the command line.
  # shellcheck disable=SC2086
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
    --auth-local=trust --auth-host=scram-sha-256 ${POSTGRES_INITDB_ARGS:-} >/dev/null
  # Like the official image: the Unix socket inside the container is trusted, every TCP client needs the password.
  printf '\nhost all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
  {
    echo "listen_addresses = '*'"
  } >>"$PGDATA/postgresql.conf"

  # Temporary server on the Unix socket only, so nothing outside sees a half-initialised database.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  local psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres)
  if [ "$POSTGRES_DB" != "postgres" ]; then
    "${psql[@]}" --set db="$POSTGRES_DB" -q <<<'CREATE DATABASE :"db";'
  fi
  local f
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh) log "running $f"; if [ -x "$f" ]; then "$f"; else . "$f"; fi ;;
      *.sql) log "running $f"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
      *.sql.gz) log "running $f"; gunzip -c "$f" | "${psql[@]}" --dbname "$POSTGRES_DB" ;;
      *) [ -e "$f" ] && log "ignoring $f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  log "initialisation complete"
}

if [ "${1:-}" = "postgres" ] || [ "${1:0:1}" = "-" ]; then
  [ "${1:0:1}" = "-" ] && set -- postgres "$@"
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    init_database
  fi
  unset POSTGRES_PASSWORD
fi
exec "$@"
