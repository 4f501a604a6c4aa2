#!/usr/bin/env bash
# CPU per unit of work of two node binaries, alternating, on one data dir: the server's user +
# sys time (from /proc) over an 8 s wrk run (64 connections; server on CPU 0, wrk on CPU 1),
# divided by the requests (GET /v1/risk), addresses (POST /v1/screen of 1,000) or attestations
# (POST /v1/attestations/batch of 256) served. On a shared VM throughput moves ±20 % between
# runs of one binary; CPU per unit moves far less, so a before/after comparison uses this.
#
# Usage: oracle/benches/cpu_ab.sh BIN_BEFORE BIN_AFTER [LABELS (default 1000000)] [ROUNDS (2)]
# (release binaries of tollgate-oracle; needs wrk). The label data dir is made once per run.
set -euo pipefail
cd "$(dirname "$0")/../.."
BEFORE=$1 AFTER=$2 LABELS=${3:-1000000} ROUNDS=${4:-2}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
WORK=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
HZ=$(getconf CLK_TCK)
awk -v n="$LABELS" 'BEGIN { for (i = 0; i < n; i++) printf "0:%064x,scam,bench,label %d\n", i, i }' > "$WORK/labels.csv"
RUST_LOG=error "$AFTER" ingest --data-dir "$WORK/risk" csv "$WORK/labels.csv" > /dev/null
sync
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# run BIN DATA_DIR SCRIPT UNITS_PER_REQUEST [SERVE FLAGS...]
run() {
  local bin=$1 dir=$2 script=$3 units=$4; shift 4
  RUST_LOG=warn taskset -c 0 "$bin" serve --listen 127.0.0.1:0 --data-dir "$dir" "$@" \
    --max-concurrency 4096 > "$WORK/out" 2> /dev/null &
  PID=$!
  until grep -q "listening on" "$WORK/out"; do sleep 0.2; done
  local url c0 c1 reqs
  url=$(sed -n 's/^tollgate-oracle listening on //p' "$WORK/out")
  LABELS=$LABELS taskset -c 1 wrk -t1 -c64 -d2s -s "oracle/benches/wrk/$script" "$url" > /dev/null
  c0=$(cpu "$PID")
  reqs=$(LABELS=$LABELS taskset -c 1 wrk -t1 -c64 -d8s -s "oracle/benches/wrk/$script" "$url" | awk '/requests in/ { print $1 }')
  c1=$(cpu "$PID")
  awk -v n="$script" -v c=$((c1 - c0)) -v r="$reqs" -v hz="$HZ" -v u="$units" \
    'BEGIN { printf "  %-11s %8d requests  %8.2f us CPU per unit\n", n, r, c / hz * 1e6 / (r * u) }'
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
}
for round in $(seq 1 "$ROUNDS"); do
  for side in before after; do
    bin=$BEFORE; [ "$side" = after ] && bin=$AFTER
    echo "round $round, $side ($bin)"
    run "$bin" "$WORK/risk" risk.lua 1 --no-default-data
    run "$bin" "$WORK/risk" screen.lua 1000 --no-default-data
    rm -rf "$WORK/attest"; run "$bin" "$WORK/attest" batch.lua 256
  done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"
