#!/usr/bin/env bash
# Runs every Tollgate test: Rust (sdk, oracle), contracts in @ton/sandbox, the JavaScript package
# (sdk/wasm, in Node and in headless Chromium), and the cross-language checks that tie them
# together. Installs the npm packages from their lockfiles when they are missing or stale, the
# wasm32 target and wasm-bindgen-cli (into target/tools, once). Exits non-zero when any test fails.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

step() { printf '\n==> %s\n' "$*"; }

step "Rust: cargo test --workspace (also builds the examples used below)"
cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked

step "Binaries for the end-to-end tests (tollgate-oracle, tollgate)"
cargo build --workspace --bins --locked

step "Differential input: 10,000 random attestations from Rust"
mkdir -p target/tollgate
random_json="$root/target/tollgate/random-attestations.json"
cargo run --quiet --locked -p tollgate-sdk --example random_attestations -- 10000 42 > "$random_json"
payloads_json="$root/target/tollgate/random-payloads.json"
cargo run --quiet --locked -p tollgate-sdk --example random_payloads -- 1000 7 > "$payloads_json"

# npm ci when node_modules is missing or older than the lockfile.
npm_ci() {
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
  fi
}

step "JavaScript package (sdk/wasm): npm packages, wasm32 build, wasm-bindgen, wasm-opt -Oz"
cd "$root/sdk/wasm"
npm_ci
bash build.sh

step "JavaScript package: vectors, @ton/core, 1,000 random payloads from Rust; the demo in Chromium against three nodes"
if [ -z "${CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ]; then
  echo "the browser test needs Chromium: apt-get install -y chromium (or set CHROMIUM=/path/to/chromium)" >&2
  exit 1
fi
TOLLGATE_RANDOM_PAYLOADS="$payloads_json" npm test

step "Contracts: npm packages"
cd "$root/contracts"
npm_ci

step "Contracts: type-check once (jest only transpiles, see tsconfig.json)"
npm run --silent typecheck

step "Contracts and end to end: sandbox, golden vectors, differential, tests/e2e (jest, two workers)"
TOLLGATE_RANDOM_VECTORS="$random_json" npx jest --ci --maxWorkers=2
