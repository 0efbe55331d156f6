#!/bin/bash
# Maps MinIO's command line and credentials onto versitygw, so a compose service written for MinIO runs unchanged:
#   [minio] server [--address <addr>] [--console-address <addr>] <dir>
# Credentials come only from MINIO_ROOT_USER / MINIO_ROOT_PASSWORD (or their *_FILE variants); there are no defaults.
# They reach versitygw through its environment (ROOT_ACCESS_KEY / ROOT_SECRET_KEY), never through its arguments.
set -Eeuo pipefail

fail() {
  echo "e2e3d-s3: $*" >&2
  exit 1
}

file_env() {
  local var="$1" file_var="${1}_FILE"
  if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then fail "both $var and $file_var are set; set only one"; fi
  if [ -n "${!file_var:-}" ]; then export "$var"="$(<"${!file_var}")"; fi
  unset "$file_var"
}

[ "${1:-}" = "minio" ] && shift
if [ "${1:-}" != "server" ]; then
  exec "$@"
fi
shift

address=":9000"
dirs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --address) address="${2:?--address needs a value}"; shift 2 ;;
    --address=*) address="${1#*=}"; shift ;;
    --console-address) echo "e2e3d-s3: no MinIO console in this stand-in; ignoring --console-address $2" >&2; shift 2 ;;
    --console-address=*) echo "e2e3d-s3: no MinIO console in this stand-in; ignoring $1" >&2; shift ;;
    --*) fail "unsupported MinIO option $1 (this is versitygw standing in for MinIO; see docker/lab/README.md)" ;;
    *) dirs+=("$1"); shift ;;
  esac
done
[ "${#dirs[@]}" -eq 1 ] || fail "exactly one data directory is supported, got ${#dirs[@]}: ${dirs[*]:-none}"
data="${dirs[0]}"
[ -d "$data" ] && [ -w "$data" ] || fail "$data must be a directory writable by uid $(id -u)"

file_env MINIO_ROOT_USER
file_env MINIO_ROOT_PASSWORD
[ -n "${MINIO_ROOT_USER:-}" ] || fail "MINIO_ROOT_USER is not set; there is no default access key"
[ -n "${MINIO_ROOT_PASSWORD:-}" ] || fail "MINIO_ROOT_PASSWORD is not set; there is no default secret key"
[ "${#MINIO_ROOT_USER}" -ge 3 ] || fail "MINIO_ROOT_USER must be at least 3 characters (as in MinIO)"
[ "${#MINIO_ROOT_PASSWORD}" -ge 8 ] || fail "MINIO_ROOT_PASSWORD must be at least 8 characters (as in MinIO)"

export ROOT_ACCESS_KEY="$MINIO_ROOT_USER" ROOT_SECRET_KEY="$MINIO_ROOT_PASSWORD"
unset MINIO_ROOT_USER MINIO_ROOT_PASSWORD
export VGW_HEALTH=/minio/health/live
# With its internal IAM service on (no users in it: the root account comes from the environment), an unknown access
# key is answered like AWS and MinIO do (403 InvalidAccessKeyId); without it versitygw answers 404 XAdminUserNotFound.
export VGW_IAM_DIR="${VGW_IAM_DIR:-/var/lib/versitygw/iam}"
export VGW_REGION="${MINIO_REGION:-us-east-1}"
exec versitygw --port "$address" posix "$data"
