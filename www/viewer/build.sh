#!/bin/sh
# Builds the wasm viewer into www/viewer/pkg/ (gitignored), which `veilmark serve` serves at
# /viewer/pkg/. Needs `rustup target add wasm32-unknown-unknown` and wasm-bindgen-cli at the
# version in Cargo.lock (0.2.130).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
cargo build --release --target wasm32-unknown-unknown -p veilmark-viewer-wasm
wasm-bindgen --target web --no-typescript --out-dir www/viewer/pkg \
  target/wasm32-unknown-unknown/release/veilmark_viewer_wasm.wasm
ls -l www/viewer/pkg/veilmark_viewer_wasm_bg.wasm
