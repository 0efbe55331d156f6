#!/bin/sh
# Like the official image: `redis-server` without a config file runs with protected mode off, so other containers
# on the network can connect (the official image patches the default instead). With a config file, it is untouched.
set -eu
if [ "${1:-}" = "redis-server" ]; then
  case "${2:-}" in
    *.conf) ;;
    *)
      shift
      set -- redis-server --protected-mode no "$@"
      ;;
  esac
fi
exec "$@"
