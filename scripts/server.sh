# Sourced by the contract-check scripts: start a runway-server on 127.0.0.1 with a
# fresh data directory, and stop it (and remove the directory) when the script exits.
#
#   start_server BINARY KEY     sets $url (the server's base URL), $work and $pid

start_server() {
  local bin="$1" key="$2"
  work="$(mktemp -d)"
  trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
  "$bin" --listen 127.0.0.1:0 --data-dir "$work/data" --api-key "$key" \
    --no-remote-fetch > "$work/server.log" 2>&1 &
  pid=$!
  url=""
  for _ in $(seq 1 100); do
    url="$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/server.log" | sed -n 1p)"
    [ -n "$url" ] && return 0
    sleep 0.1
  done
  cat "$work/server.log"
  echo "server did not start"
  exit 1
}
