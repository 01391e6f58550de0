#!/usr/bin/env bash
# Contract conformance: schemathesis (pinned in interop/schemathesis/requirements.txt)
# drives a release runway-server on loopback with every check, positive and negative
# data, all phases (examples, coverage, fuzzing, stateful through the contract's
# links) and a fixed seed. Any failure fails the script.
#
#   bash scripts/conformance.sh              # the CI run
#   ST_MAX_EXAMPLES=50 bash scripts/conformance.sh
#
# The server never fetches remote media here (--no-remote-fetch), so no case can
# make it resolve a name or leave the machine. interop/schemathesis/hooks.py gives
# schema-valid requests real media (see its docstring); checks are all on, as shipped.
# One worker: Python 3.11's ast.parse, which hypothesis calls to describe
# strategies, can fail under concurrent threads ("AST constructor recursion depth
# mismatch"), and the server is the bottleneck anyway.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
here="$root/interop/schemathesis"
venv="$root/target/conformance-venv"
max_examples="${ST_MAX_EXAMPLES:-50}"
seed="${ST_SEED:-1}"

echo "--> schemathesis (PyPI, pinned)"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"

echo "--> release runway-server"
(cd "$root" && cargo build --release --quiet -p runway-server)

key="conformance-key"
source "$root/scripts/server.sh"
start_server "$root/target/release/runway-server" "$key"

echo "--> schemathesis run against $url (seed $seed, up to $max_examples examples per operation)"
mkdir -p "$root/target/conformance"
status=0
(
  cd "$work"
  RUNWAY_BASE_URL="$url" RUNWAY_API_KEY="$key" PYTHONPATH="$here" SCHEMATHESIS_HOOKS=hooks \
    "$venv/bin/schemathesis" run "$root/openapi/runway.yaml" \
      --url "$url" \
      --header "Authorization: Bearer $key" \
      --checks all \
      --mode all \
      --phases examples,coverage,fuzzing,stateful \
      --max-examples "$max_examples" \
      --seed "$seed" \
      --workers 1 \
      --request-timeout 120 \
      --report junit --report-dir "$root/target/conformance"
) || status=$?
if grep -q "panicked" "$work/server.log"; then
  echo "the server panicked:"; grep -A5 "panicked" "$work/server.log"; status=1
fi
exit "$status"
