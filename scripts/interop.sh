#!/usr/bin/env bash
# Checks the contract with tools nobody here wrote, and proves it serves other
# languages:
#   1. Redocly lint (recommended rules) of openapi/runway.yaml,
#   2. the one-page HTML reference, target/docs/runway-api.html (redocly build-docs),
#   3. a TypeScript client generated from the contract (openapi-typescript +
#      openapi-fetch), type-checked, driving a real runway-server through
#      generate -> edit -> metadata -> download -> delete.
# Needs Node.js and npm, and a built server (default target/debug/runway-server).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
server_bin="${RUNWAY_SERVER_BIN:-$root/target/debug/runway-server}"
ts="$root/interop/typescript"

echo "--> npm tools (pinned in interop/typescript/package.json)"
(cd "$ts" && npm install --silent --no-audit --no-fund --no-package-lock)
redocly() { "$ts/node_modules/.bin/redocly" "$@"; }

echo "--> redocly lint"
redocly lint "$root/openapi/runway.yaml" --config "$root/openapi/redocly.yaml" --format stylish
echo "--> redocly build-docs"
mkdir -p "$root/target/docs"
redocly build-docs "$root/openapi/runway.yaml" --config "$root/openapi/redocly.yaml" \
  -o "$root/target/docs/runway-api.html"

echo "--> TypeScript client from the contract"
(cd "$ts" && npm run -s generate && npm run -s build)

echo "--> round trip against runway-server"
work="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
"$server_bin" --listen 127.0.0.1:0 --data-dir "$work/data" --api-key interop-key \
  --no-remote-fetch > "$work/server.log" 2>&1 &
pid=$!
url=""
for _ in $(seq 1 100); do
  url="$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/server.log" | head -n 1)"
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$work/server.log"; echo "server did not start"; exit 1; }
(cd "$ts" && RUNWAY_BASE_URL="$url" RUNWAY_API_KEY=interop-key npm run -s roundtrip)
