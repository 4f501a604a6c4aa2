#!/usr/bin/env bash
# HTTP benchmarks of a release node with wrk (Debian: apt-get install wrk), 64 connections, the
# node pinned to CPU 0 and wrk to CPU 1 (as the issue asks: server on one core, load on the other):
#   1. POST /v1/attestations with the durable audit log;
#   2. GET /v1/risk/{address} over LABELS labels (default 2,000,000).
# Compare with the raw baselines: cargo bench -p tollgate-oracle --bench baseline
# Usage: oracle/benches/http.sh [LABELS] [DURATION]
set -euo pipefail
cd "$(dirname "$0")/../.."
LABELS=${1:-2000000}
DURATION=${2:-10s}
cargo build --release -p tollgate-oracle
BIN=${CARGO_TARGET_DIR:-target}/release/tollgate-oracle
NODE_CPU=(taskset -c 0)
LOAD_CPU=(taskset -c 1)
WORK=$(mktemp -d)
NODE=
cleanup() { [ -n "$NODE" ] && kill "$NODE" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

start() { # data dir, extra flags...
  local data=$1; shift
  "${NODE_CPU[@]}" "$BIN" serve --listen 127.0.0.1:0 --data-dir "$data" "$@" > "$WORK/out" 2> "$WORK/err" &
  NODE=$!
  for _ in $(seq 100); do grep -q listening "$WORK/out" 2>/dev/null && break; sleep 0.1; done
  URL=$(sed -n 's/^tollgate-oracle listening on //p' "$WORK/out")
  [ -n "$URL" ] || { cat "$WORK/err"; exit 1; }
}
stop() { kill "$NODE"; wait "$NODE" || true; NODE=; }

echo "== POST /v1/attestations (durable audit log, group commit), 64 connections"
start "$WORK/attest" --max-concurrency 4096
"${LOAD_CPU[@]}" wrk -t1 -c64 -d"$DURATION" --latency -s oracle/benches/wrk/attest.lua "$URL"
curl -s "$URL/metrics" | grep -E '^tollgate_audit_batch_size(_sum|_count)' || true
stop
RUST_LOG=error "$BIN" audit verify --data-dir "$WORK/attest"

echo "== GET /v1/risk/{address}, $LABELS labels, 64 connections"
awk -v n="$LABELS" 'BEGIN { for (i = 0; i < n; i++) printf "0:%064x,scam,bench,label %d\n", i, i }' > "$WORK/labels.csv"
time RUST_LOG=warn "$BIN" ingest --data-dir "$WORK/risk" csv "$WORK/labels.csv" | head -3
start "$WORK/risk" --no-default-data --max-concurrency 4096
LABELS=$LABELS "${LOAD_CPU[@]}" wrk -t1 -c64 -d"$DURATION" --latency -s oracle/benches/wrk/risk.lua "$URL"
stop
