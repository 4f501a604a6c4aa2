#!/usr/bin/env bash
# Builds the JavaScript package in sdk/wasm/pkg: the tollgate-sdk-wasm crate for wasm32 (profile
# wasm-release: opt-level "z", LTO, one codegen unit), wasm-bindgen's ES module for `--target
# web` (browsers, bundlers and Node alike), then binaryen's wasm-opt -Oz (npm `binaryen`;
# Debian's 108 emits modules that fail to load).
#
# wasm-bindgen-cli must be the exact version of the wasm-bindgen crate in Cargo.lock; it is
# installed once into target/tools (≈ 5 min) and reused while target/ is kept.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print }' Cargo.lock)"
bindgen="$root/target/tools/bin/wasm-bindgen"
if ! "$bindgen" --version 2>/dev/null | grep -qx "wasm-bindgen $version"; then
  echo "installing wasm-bindgen-cli $version into target/tools (once)"
  cargo install --quiet --root "$root/target/tools" wasm-bindgen-cli --version "$version"
fi

cargo build --locked --profile wasm-release --target wasm32-unknown-unknown -p tollgate-sdk-wasm
"$bindgen" --target web --out-dir "$here/pkg" --out-name tollgate_sdk_wasm \
  "$root/target/wasm32-unknown-unknown/wasm-release/tollgate_sdk_wasm.wasm"

# The features rustc 1.95 enables for wasm32-unknown-unknown by default; wasm-opt must accept
# them and must not add others.
"$here/node_modules/.bin/wasm-opt" -Oz --strip-debug --strip-producers \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue \
  "$here/pkg/tollgate_sdk_wasm_bg.wasm" -o "$here/pkg/tollgate_sdk_wasm_bg.wasm"

wasm="$here/pkg/tollgate_sdk_wasm_bg.wasm"
echo "sdk/wasm/pkg: $(wc -c < "$wasm") bytes of wasm, $(gzip -9c "$wasm" | wc -c) gzipped"
