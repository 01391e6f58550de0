#!/usr/bin/env bash
# Cold debug build of a small program that uses the SDK, once per feature choice
# of runway-api: the time a new user waits for the first `cargo run`, and how many
# crates it compiles. Dependencies are downloaded first, so the figure is compile
# time only.
#
#   scripts/sdk-build-weight.sh [COMMIT]
#
# With COMMIT, the SDK of that commit (default features) is measured too, as
# "before". Each build uses its own fresh target directory under target/sdk-weight.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work="$root/target/sdk-weight"
rm -rf "$work"
mkdir -p "$work"

configs=(
  "default|"
  "rustls-ring, no schemars|default-features = false, features = [\"rustls-ring\"]"
  "rustls, no schemars|default-features = false, features = [\"rustls\"]"
  "native-tls, no schemars|default-features = false, features = [\"native-tls\"]"
  "no TLS (http only), no schemars|default-features = false"
)
if [[ $# -ge 1 ]]; then
  git worktree add -q --detach "$work/before-src" "$1"
  configs=("before ($1), default|@before" "${configs[@]}")
fi

printf '| %-34s | %8s | %6s |\n' "runway-api features" "seconds" "crates"
printf '|%s|%s|%s|\n' "------------------------------------" "----------" "--------"
i=0
for config in "${configs[@]}"; do
  name=${config%%|*}
  options=${config#*|}
  dir="$work/p$i"
  i=$((i + 1))
  mkdir -p "$dir/src"
  sdk="$root/runway-api"
  if [[ $options == "@before" ]]; then
    sdk="$work/before-src/runway-api"
    options=""
  fi
  dep="runway-api = { path = \"$sdk\"${options:+, $options} }"
  cat >"$dir/Cargo.toml" <<TOML
[package]
name = "sdk-user"
version = "0.1.0"
edition = "2024"

[dependencies]
$dep
tokio = { version = "1", features = ["macros", "rt-multi-thread"] }

[workspace]
TOML
  cat >"$dir/src/main.rs" <<'RUST'
use runway_api::{Client, RunwayError};

#[tokio::main]
async fn main() -> Result<(), RunwayError> {
    let client = Client::from_env()?;
    let image = client
        .generate_image()
        .body_map(|b| b.prompt("a red fox in snow"))
        .send()
        .await?;
    client.download_to_file(&image.image_url, "fox.jpg").await?;
    Ok(())
}
RUST
  (cd "$dir" && cargo fetch -q)
  start=$(date +%s.%N)
  (cd "$dir" && cargo build -q 2>"$dir/build.log" || { cat "$dir/build.log"; exit 1; })
  end=$(date +%s.%N)
  crates=$(cd "$dir" && cargo build -v 2>&1 | grep -c "Fresh" || true)
  printf '| %-34s | %8.1f | %6s |\n' "$name" "$(echo "$end - $start" | bc)" "$crates"
done
if [[ $# -ge 1 ]]; then
  git worktree remove --force "$work/before-src"
fi
