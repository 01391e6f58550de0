#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback for the tests and the scale-out
# topology: Debian's postgresql (installed when missing), run as the `postgres`
# user from a fresh data directory, trusting local connections.
#
#   scripts/postgres.sh start   # a new cluster; prints its URL: postgres://postgres@127.0.0.1:PORT/postgres
#   scripts/postgres.sh stop
#   scripts/postgres.sh resume  # starts the stopped cluster again, its data kept
#   scripts/postgres.sh url
#
# RUNWAY_PG_PORT (default 55432) sets the port; the data lives in
# ${TMPDIR:-/tmp}/runway-pg-PORT (outside the checkout, which the postgres user
# may not be able to enter) and is removed at the next start.
set -euo pipefail

port=${RUNWAY_PG_PORT:-55432}
dir="${TMPDIR:-/tmp}/runway-pg-$port"
url="postgres://postgres@127.0.0.1:$port/postgres"

pg_bin() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$found" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    found=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  fi
  echo "$found"
}

as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi
}

# Starts the cluster in $dir/data and prints its URL.
run_cluster() {
  as_postgres "$1/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
    >/dev/null
  echo "$url"
}

case "${1:-}" in
  start)
    bin=$(pg_bin)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_postgres "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    chown postgres "$dir"
    as_postgres "$bin/initdb" -D "$dir/data" --auth=trust -U postgres --no-sync >/dev/null
    run_cluster "$bin"
    ;;
  resume)
    run_cluster "$(pg_bin)"
    ;;
  stop)
    bin=$(pg_bin)
    as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null
    ;;
  url)
    echo "$url"
    ;;
  *)
    echo "usage: scripts/postgres.sh start|stop|resume|url" >&2
    exit 2
    ;;
esac
