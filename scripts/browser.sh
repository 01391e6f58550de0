#!/usr/bin/env bash
# The reference page in a real browser: headless Chromium (Debian's) loads /docs
# from a runway-server on loopback, runs Redoc from the server's own copy, and the
# rendered DOM must show the contract's operations (the page's HTML source holds
# none of them: they exist only once the script has run). Playwright, driving the
# same Chromium, records every request the page makes: one that leaves the server
# fails the check (Redoc's telemetry is off; its CDN logo is refused by the page's
# Content-Security-Policy, so never sent). Screenshots go to target/browser/. Also
# checks that the embedded Redoc bundle is byte for byte the npm package it says
# it is. Then the cabinet, used as its user would (interop/browser/cabinet.py):
# its screenshots go to target/browser/ too. Needs Chromium, npm, Python, and a built server (default
# target/debug/runway-server); installs Playwright (pinned) in target/ci-venv.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
server_bin="${RUNWAY_SERVER_BIN:-$root/target/debug/runway-server}"
vendored="$root/runway-server/assets/redoc"

echo "--> the embedded Redoc is npm's redoc 3.0.1"
pack="$(mktemp -d)"
(cd "$pack" && npm pack redoc@3.0.1 --silent >/dev/null && tar xzf redoc-3.0.1.tgz)
cmp "$pack/package/bundles/redoc.standalone.js" "$vendored/redoc.standalone.js"
cmp "$pack/package/LICENSE" "$vendored/LICENSE"
rm -rf "$pack"

python="$root/target/ci-venv/bin/python"
[ -x "$python" ] || python3 -m venv "$root/target/ci-venv"
"$python" -m pip install --quiet --disable-pip-version-check playwright==1.65.3
shots="$root/target/browser"
mkdir -p "$shots"

source "$root/scripts/server.sh"
start_server "$server_bin" browser-key
chromium="$(command -v chromium || command -v chromium-browser)"
echo "--> $chromium renders $url/docs"
source_html="$(curl -s "$url/docs")"
# Redoc shows the overview at /docs and each tag's operations at /docs#/<tag>.
render() {
  "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$work/chromium-$2" --virtual-time-budget=30000 \
    --dump-dom "$url/docs$1" > "$work/dom-$2.html" 2>> "$work/chromium.log"
}
render "" overview
render "#/images" images
render "#/tasks" tasks
status=0
check() {
  local page="$1" text="$2"
  if grep -qF "$text" <<<"$source_html"; then
    echo "the page source already holds \"$text\": the check would prove nothing"; status=1
  elif grep -qF "$text" "$work/dom-$page.html"; then
    echo "    rendered ($page): $text"
  else
    echo "    NOT rendered ($page): $text"; status=1
  fi
}
# The title Redoc renders from the contract's info (its version read from it).
version="$(sed -n 's/^  version: \(.*\)$/\1/p' "$root/openapi/runway.yaml" | sed -n 1p)"
check overview "Runway AI API ($version)"
check overview "Every 4xx and 5xx answer carries the same body"
check images "Generate an image from a text prompt"
check images "Edit an image (colour adjustment, filter or resize)"
check tasks "Start a media operation as a task"
check tasks "Cancel a task, or delete a finished one"
echo "--> every request the page makes (Playwright, CDP) stays on $url"
"$python" "$root/interop/browser/requests.py" "$url" "$shots" || status=1
echo "--> the page's Content-Security-Policy allows only the server itself"
csp="$(curl -sI "$url/docs" | sed -n 's/^content-security-policy: //Ip' | tr -d '\r')"
case "$csp" in
  "default-src 'none'; "*) echo "    $csp" ;;
  *) echo "    missing or too wide: '$csp'"; status=1 ;;
esac
echo "--> the cabinet, used in Chromium (interop/browser/cabinet.py)"
alice_password="alice-browser-password"
eve_password="eve-browser-password"
"$server_bin" --data-dir "$work/data" accounts set-password alice <<<"$alice_password" >/dev/null
"$server_bin" --data-dir "$work/data" accounts set-password eve <<<"$eve_password" >/dev/null
"$python" "$root/interop/browser/cabinet.py" "$url" "$shots" "$alice_password" "$eve_password" \
  || status=1
if [ "$status" -ne 0 ]; then
  echo "--- chromium log"; grep -v dbus "$work/chromium.log" | tail -n 20
  echo "--- server log"; tail -n 30 "$work/server.log"
fi
exit "$status"
