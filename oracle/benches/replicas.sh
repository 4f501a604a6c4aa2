#!/usr/bin/env bash
# Durable attestations/s of replicas on one PostgreSQL against the sled node, same machine, same
# load generator (wrk, 64 connections in every case: 2 × 32 for two replicas, one wrk each, the
# requests/s summed), then `tollgate-oracle migrate` of a sled store into PostgreSQL (records/s).
#
# PostgreSQL is a throwaway cluster (Debian's postgresql: initdb + pg_ctl, run as the postgres
# user when this runs as root), default durability (fsync, synchronous_commit on).
# Nothing is pinned: node(s), PostgreSQL and wrk share the machine's cores. Say so, and give the
# load average, with the figures.
# Usage: oracle/benches/replicas.sh [DURATION] [LABELS]
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-10s}
LABELS=${2:-200000}
cargo build --release -p tollgate-oracle
BIN=${CARGO_TARGET_DIR:-target}/release/tollgate-oracle
PGBIN=${TOLLGATE_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
WORK=$(mktemp -d)
PGDIR=$(mktemp -d /tmp/tollgate-pg-bench-XXXX)
AS=()
if [ "$(id -u)" = 0 ]; then chown postgres: "$PGDIR"; AS=(runuser -u postgres --); fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "${AS[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK" "$PGDIR"
}
trap cleanup EXIT
"${AS[@]}" "$PGBIN/initdb" -D "$PGDIR/data" -A trust -U postgres >/dev/null
"${AS[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w \
  -o "-p $PORT -k $PGDIR -c listen_addresses=127.0.0.1" start >/dev/null
PG="postgres://postgres@127.0.0.1:$PORT"
psql_() { "${AS[@]}" "$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -qAt "$@"; }
"$BIN" keygen --out "$WORK/key" >/dev/null

# start NAME [ENV=VALUE...]: a node in the background; its URL in $STARTED. Not called in $(…):
# a subshell would keep the PID from PIDS, and stop_all would leave the node running.
start() {
  local name=$1; shift
  env "$@" "$BIN" serve --listen 127.0.0.1:0 --data-dir "$WORK/$name" --key-file "$WORK/key" \
    --no-default-data --max-concurrency 4096 > "$WORK/$name.out" 2> "$WORK/$name.err" &
  PIDS+=($!)
  for _ in $(seq 300); do grep -q listening "$WORK/$name.out" 2>/dev/null && break; sleep 0.1; done
  STARTED=$(sed -n 's/^tollgate-oracle listening on //p' "$WORK/$name.out")
  [ -n "$STARTED" ] || { cat "$WORK/$name.err"; exit 1; }
}
stop_all() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; PIDS=(); }
rps() { sed -n 's/^Requests\/sec: *//p' "$1"; }
p99() { awk '$1 == "99%" { print $2 }' "$1"; }

echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== sled node (embedded default)"
start sled; URL=$STARTED
wrk -t1 -c64 -d"$DURATION" --latency -s oracle/benches/wrk/attest.lua "$URL" > "$WORK/wrk.sled"
stop_all
SLED=$(rps "$WORK/wrk.sled"); echo "sled: $SLED req/s, p99 $(p99 "$WORK/wrk.sled")"

echo "== 1 replica on PostgreSQL"
psql_ -c "CREATE DATABASE one" postgres
start one TOLLGATE_STORE="$PG/one"; URL=$STARTED
wrk -t1 -c64 -d"$DURATION" --latency -s oracle/benches/wrk/attest.lua "$URL" > "$WORK/wrk.one"
curl -s "$URL/metrics" | grep -E '^tollgate_audit_batch_size(_sum|_count)' || true
stop_all
ONE=$(rps "$WORK/wrk.one"); echo "1 replica: $ONE req/s, p99 $(p99 "$WORK/wrk.one")"

echo "== 2 replicas on one PostgreSQL (2 × 32 connections)"
psql_ -c "CREATE DATABASE two" postgres
start a TOLLGATE_STORE="$PG/two"; URL_A=$STARTED
start b TOLLGATE_STORE="$PG/two"; URL_B=$STARTED
wrk -t1 -c32 -d"$DURATION" --latency -s oracle/benches/wrk/attest.lua "$URL_A" > "$WORK/wrk.a" &
WRK_A=$!
wrk -t1 -c32 -d"$DURATION" --latency -s oracle/benches/wrk/attest.lua "$URL_B" > "$WORK/wrk.b"
wait "$WRK_A"
stop_all
TWO=$(python3 -c "print(round($(rps "$WORK/wrk.a") + $(rps "$WORK/wrk.b"), 2))")
echo "2 replicas: $TWO req/s (A $(rps "$WORK/wrk.a"), p99 $(p99 "$WORK/wrk.a"); B $(rps "$WORK/wrk.b"), p99 $(p99 "$WORK/wrk.b"))"
RUST_LOG=error "$BIN" audit verify --store "$PG/two" --data-dir "$WORK/a"
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$SLED" "$ONE" "$TWO" <<'PY'
import sys
sled, one, two = map(float, sys.argv[1:])
print(f"ratio vs sled node: 1 replica {one / sled:.2f}x, 2 replicas {two / sled:.2f}x")
PY

echo "== migrate: a sled store with $LABELS labels and the sled run's audit log into PostgreSQL"
awk -v n="$LABELS" 'BEGIN { for (i = 0; i < n; i++) printf "0:%064x,scam,bench,label %d\n", i, i }' > "$WORK/labels.csv"
RUST_LOG=warn "$BIN" ingest --data-dir "$WORK/sled" csv "$WORK/labels.csv" > "$WORK/ingest.out"
head -2 "$WORK/ingest.out"
psql_ -c "CREATE DATABASE migrated" postgres
RUST_LOG=warn "$BIN" migrate --data-dir "$WORK/sled" --key-file "$WORK/key" --to "$PG/migrated"
