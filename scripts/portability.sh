#!/usr/bin/env bash
# The contract in the generators other teams reach for first, at their default
# settings unless said otherwise, against a real runway-server on loopback:
#   1. openapi-generator `validate` (PyPI openapi-generator-cli, pinned; needs Java),
#   2. its Python client: generated, installed, driven through generate-image, both
#      edit unions, generate-video, metadata and delete-media (interop/python),
#   3. its Go client, twice: at its defaults (a union decoded by trying every
#      variant; it needs gopkg.in/validator.v2, taken from Debian's
#      golang-gopkg-validator.v2-dev) and with useOneOfDiscriminatorLookup=true
#      (decoded by its tag; no dependency); each compiled, and a test that decodes
#      every edit variant (interop/go; Go from Debian),
#   4. its Java client: generated (warnings checked; not compiled: Maven Central is
#      not reachable here),
#   5. @hey-api/openapi-ts: an SDK generated, strict tsc, a round trip
#      (interop/hey-api).
# Every warning a generator prints must be listed, with its reason, in
# interop/generator-warnings.txt. Needs a built server (default target/debug/runway-server).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
server_bin="${RUNWAY_SERVER_BIN:-$root/target/debug/runway-server}"
out="$root/target/portability"
venv="$out/venv"
spec="$root/openapi/runway.yaml"
rm -rf "$out/python" "$out/go" "$out/go-lookup" "$out/java" "$out/logs"
mkdir -p "$out/logs"

echo "--> openapi-generator-cli and the Python client's dependencies (PyPI, pinned)"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/interop/python/requirements.txt"
openapi_generator() { "$venv/bin/openapi-generator-cli" "$@"; }

# Fails on any warning in log $2 of generator $1 that generator-warnings.txt does not list.
check_warnings() {
  local generator="$1" log="$2" unknown=0 warning
  while IFS= read -r warning; do
    [ -z "$warning" ] && continue
    if grep -qF "$generator | $warning |" "$root/interop/generator-warnings.txt"; then
      echo "    known warning ($generator): $warning"
    else
      echo "    NEW WARNING ($generator): $warning"; unknown=1
    fi
  done < <(sed -n 's/^\[main\] WARN  [^ ]* - //p' "$log" | sort -u)
  return "$unknown"
}

echo "--> openapi-generator validate"
openapi_generator validate -i "$spec"

generate() {
  local generator="$1" dir="$2"; shift 2
  echo "--> openapi-generator generate -g $generator $*"
  openapi_generator generate -g "$generator" -i "$spec" -o "$dir" "$@" > "$out/logs/$generator.log" 2>&1 \
    || { cat "$out/logs/$generator.log"; return 1; }
  check_warnings "$generator" "$out/logs/$generator.log"
}

generate python "$out/python" --additional-properties packageName=runway_client
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps "$out/python"

generate go "$out/go" --additional-properties packageName=runway
generate go "$out/go-lookup" --additional-properties packageName=runway,useOneOfDiscriminatorLookup=true
generate java "$out/java"

# The Go module proxy is not reachable here: the defaults' one dependency comes
# from Debian's copy of its source, as a local module.
validator="$out/validator.v2"
rm -rf "$validator" && mkdir -p "$validator"
cp /usr/share/gocode/src/gopkg.in/validator.v2/*.go "$validator/"
rm -f "$validator"/*_test.go
printf 'module gopkg.in/validator.v2\n\ngo 1.18\n' > "$validator/go.mod"
(cd "$out/go" && go mod edit -replace "gopkg.in/validator.v2=$validator")

for client in go go-lookup; do
  echo "--> Go client ($client): compile and decode every variant of the unions"
  # The generated test/ stubs need testify, which is not reachable here; ours needs nothing.
  rm -rf "$out/$client/test"
  cp "$root/interop/go/edit_unions_test.go" "$out/$client/"
  (cd "$out/$client" && GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod go vet . && \
    GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod go test -count=1 .)
done

echo "--> @hey-api/openapi-ts SDK (npm, pinned), strict tsc"
hey="$root/interop/hey-api"
(cd "$hey" && npm install --silent --no-audit --no-fund --no-package-lock)
(cd "$hey" && npm run -s generate) > "$out/logs/hey-api.log" 2>&1 || { cat "$out/logs/hey-api.log"; exit 1; }
if grep -i "warn" "$out/logs/hey-api.log"; then echo "@hey-api/openapi-ts warned about the contract"; exit 1; fi
(cd "$hey" && npm run -s build)

echo "--> round trips against runway-server"
source "$root/scripts/server.sh"
start_server "$server_bin" portability-key
echo "    Python (openapi-generator)"
RUNWAY_BASE_URL="$url" RUNWAY_API_KEY=portability-key "$venv/bin/python" "$root/interop/python/roundtrip.py"
echo "    TypeScript (@hey-api/openapi-ts)"
(cd "$hey" && RUNWAY_BASE_URL="$url" RUNWAY_API_KEY=portability-key npm run -s roundtrip)
