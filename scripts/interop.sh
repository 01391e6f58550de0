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
source "$root/scripts/server.sh"
start_server "$server_bin" interop-key
(cd "$ts" && RUNWAY_BASE_URL="$url" RUNWAY_API_KEY=interop-key npm run -s roundtrip)
