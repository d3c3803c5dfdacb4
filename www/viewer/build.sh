#!/bin/sh
# Builds the wasm viewer into www/viewer/pkg/ (gitignored), which `veilmark serve` serves at
# /viewer/pkg/, with .gz and .br copies it sends to browsers that accept them. Needs
# `rustup target add wasm32-unknown-unknown`, wasm-bindgen-cli at the version in Cargo.lock
# (0.2.130) and, for the .br copies, Debian's brotli. `cargo xtask test` does the same
# (xtask/src/viewer.rs); docs/viewer.md#performance says why there is no wasm-opt pass.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
cargo build --profile wasm-release --target wasm32-unknown-unknown -p veilmark-viewer-wasm
wasm-bindgen --target web --no-typescript --remove-name-section --out-dir www/viewer/pkg \
  target/wasm32-unknown-unknown/wasm-release/veilmark_viewer_wasm.wasm
for f in www/viewer/pkg/veilmark_viewer_wasm_bg.wasm www/viewer/pkg/veilmark_viewer_wasm.js; do
  gzip -9 --no-name --keep --force "$f"
  if command -v brotli >/dev/null; then brotli -q 9 --keep --force "$f"; fi
done
ls -l www/viewer/pkg/
