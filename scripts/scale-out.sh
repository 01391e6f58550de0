#!/usr/bin/env bash
# Two runway-server replicas sharing one S3 bucket and one PostgreSQL database
# behind a round-robin balancer, all on loopback: moto's S3 server (PyPI, pinned in
# deploy/requirements-moto.txt), Debian's PostgreSQL (scripts/postgres.sh), HAProxy
# (deploy/haproxy.cfg), and the release build of runway-server.
#
#   scripts/scale-out.sh up [DIR]    start everything; DIR/env holds the addresses
#   scripts/scale-out.sh down [DIR]  stop everything started by `up`
#   scripts/scale-out.sh test        up, the multi-replica tests, the load bench
#                                    through the balancer, down (what CI runs)
#
# Ports (loopback): S3 18090, PostgreSQL 18091, replicas 18081 and 18082, balancer
# 18080; override with RUNWAY_S3_PORT, RUNWAY_PG_PORT, RUNWAY_REPLICA_A_PORT,
# RUNWAY_REPLICA_B_PORT, RUNWAY_BALANCER_PORT. Needs haproxy and ffmpeg on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

s3_port="${RUNWAY_S3_PORT:-18090}"
a_port="${RUNWAY_REPLICA_A_PORT:-18081}"
b_port="${RUNWAY_REPLICA_B_PORT:-18082}"
lb_port="${RUNWAY_BALANCER_PORT:-18080}"
export RUNWAY_PG_PORT="${RUNWAY_PG_PORT:-18091}"
bucket="runway-media"
key="scale-out-key"
venv="target/moto-venv"
bin="target/release/runway-server"

wait_for() { # URL WHAT
  for _ in $(seq 1 150); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "$2 did not come up at $1" >&2
  return 1
}

up() {
  local dir="$1"
  mkdir -p "$dir"
  if [ ! -x "$venv/bin/moto_server" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r deploy/requirements-moto.txt
  fi
  cargo build --release --quiet -p runway-server

  # The bucket store. moto keeps objects in memory and takes any credentials.
  "$venv/bin/moto_server" -H 127.0.0.1 -p "$s3_port" > "$dir/s3.log" 2>&1 &
  echo $! > "$dir/s3.pid"
  wait_for "http://127.0.0.1:$s3_port/moto-api/" "the S3 server"
  curl -fsS -X PUT "http://127.0.0.1:$s3_port/$bucket" -o /dev/null

  # The database every replica shares.
  local database
  database=$(scripts/postgres.sh start)

  # What every replica needs: the bucket, and its endpoint and credentials.
  cat > "$dir/env" <<ENV
export AWS_ENDPOINT_URL=http://127.0.0.1:$s3_port
export AWS_ALLOW_HTTP=true
export AWS_ACCESS_KEY_ID=scale-out
export AWS_SECRET_ACCESS_KEY=scale-out
export AWS_REGION=us-east-1
export RUNWAY_STORAGE=s3://$bucket
export RUNWAY_DATABASE_URL=$database
export RUNWAY_PUBLIC_URL=http://127.0.0.1:$lb_port
export RUNWAY_API_KEYS=$key
export RUNWAY_TASK_LEASE_SECS=6
export RUNWAY_NO_REMOTE_FETCH=true
export RUNWAY_SCALE_OUT_BUCKET=$bucket
export RUNWAY_SCALE_OUT_BALANCER=http://127.0.0.1:$lb_port
export RUNWAY_SCALE_OUT_REPLICA_A=http://127.0.0.1:$a_port
export RUNWAY_SCALE_OUT_REPLICA_B=http://127.0.0.1:$b_port
export RUNWAY_SCALE_OUT_DIR=$(cd "$dir" && pwd)
export RUNWAY_SCALE_OUT_KEY=$key
ENV
  # shellcheck disable=SC1091
  . "$dir/env"

  for replica in a b; do
    local port="$a_port"
    [ "$replica" = b ] && port="$b_port"
    RUST_LOG=warn "$bin" --listen "127.0.0.1:$port" --data-dir "$dir/$replica" \
      > "$dir/$replica.log" 2>&1 &
    echo $! > "$dir/$replica.pid"
    wait_for "http://127.0.0.1:$port/readyz" "replica $replica"
  done

  RUNWAY_BALANCER_LISTEN="127.0.0.1:$lb_port" \
    RUNWAY_REPLICA_A="127.0.0.1:$a_port" RUNWAY_REPLICA_B="127.0.0.1:$b_port" \
    haproxy -f deploy/haproxy.cfg -db > "$dir/haproxy.log" 2>&1 &
  echo $! > "$dir/haproxy.pid"
  wait_for "http://127.0.0.1:$lb_port/readyz" "the balancer"
  echo "balancer http://127.0.0.1:$lb_port -> replicas :$a_port :$b_port -> s3://$bucket at :$s3_port, PostgreSQL at :$RUNWAY_PG_PORT"
  echo "key: $key    environment: . $dir/env"
}

down() {
  local dir="$1"
  for name in haproxy a b s3; do
    if [ -f "$dir/$name.pid" ]; then
      kill "$(cat "$dir/$name.pid")" 2>/dev/null || true
      rm -f "$dir/$name.pid"
    fi
  done
  scripts/postgres.sh stop 2>/dev/null || true
  wait 2>/dev/null || true
}

case "${1:-}" in
  up) up "${2:-target/scale-out}" ;;
  down) down "${2:-target/scale-out}" ;;
  test)
    dir="target/scale-out"
    rm -rf "$dir"
    trap 'down "$dir"' EXIT
    up "$dir"
    # shellcheck disable=SC1091
    . "$dir/env"
    echo "== multi-replica tests (runway-server/tests/scale_out.rs)"
    cargo test --release -p runway-server --test scale_out -- --ignored --test-threads 1
    for profile in images tasks; do
      echo "== load through the balancer (two replicas on S3 and PostgreSQL): $profile"
      LOAD_PROFILE="$profile" LOAD_TARGET="$RUNWAY_SCALE_OUT_BALANCER" LOAD_API_KEY="$key" \
        LOAD_REPLICAS="$RUNWAY_SCALE_OUT_REPLICA_A,$RUNWAY_SCALE_OUT_REPLICA_B" \
        LOAD_PIDS="$(cat "$dir/a.pid"),$(cat "$dir/b.pid")" \
        LOAD_SECONDS="${LOAD_SECONDS:-20}" \
        cargo bench -p runway-server --bench load
    done
    ;;
  *)
    sed -n '2,15p' "$0"
    exit 2
    ;;
esac
