#!/usr/bin/env bash
# Runs every Tollgate test: Rust (sdk, oracle), contracts in @ton/sandbox, and the cross-language
# checks that tie them together. Installs the contracts' npm packages from the lockfile when they
# are missing or stale. Exits non-zero when any test fails.
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

step "Contracts: npm packages"
cd "$root/contracts"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

step "Contracts and end to end: sandbox, golden vectors, differential, tests/e2e (jest)"
TOLLGATE_RANDOM_VECTORS="$random_json" npx jest --ci
