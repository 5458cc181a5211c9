#!/usr/bin/env bash
# Many connections on one host, past the per-process descriptor limit: several echoserver
# processes share one port (SO_REUSEPORT), several massconnect shards each open their part
# from their own loopback source addresses, all start together (--start-at); the shards'
# results are merged (wstest merge) into one.
#
# usage: scripts/massconnect-local.sh [-n CONNECTIONS] [-c CLIENT_SHARDS] [-s SERVER_PROCS]
#                                     [-H HOLD_SECONDS] [-b BATCH] [-o OUTDIR]
#   defaults: -n 100000 -c 6 -s 7 -H 5 -b 500 -o ./massconnect-local
# Each process must stay under RLIMIT_NOFILE (20,000 on the CI machines): pick -c and -s
# so that N/c and N/s (with some margin for uneven spreading) fit.
# env: WSTEST (default target/release/wstest), PORT (default 9700)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WSTEST="${WSTEST:-$ROOT/target/release/wstest}"
N=100000 C=6 S=7 HOLD=5 BATCH=500 OUT=./massconnect-local PORT="${PORT:-9700}"
while getopts "n:c:s:H:b:o:h" opt; do
  case "$opt" in
    n) N=$OPTARG ;; c) C=$OPTARG ;; s) S=$OPTARG ;; H) HOLD=$OPTARG ;; b) BATCH=$OPTARG ;;
    o) OUT=$OPTARG ;; *) sed -n '2,13p' "$0"; exit 2 ;;
  esac
done
[ -x "$WSTEST" ] || (cd "$ROOT" && cargo build --release --quiet)
mkdir -p "$OUT"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

for i in $(seq "$S"); do
  "$WSTEST" -m echoserver -w "ws://127.0.0.1:$PORT" -u 0 --threads 1 --deflate off --reuse-port \
    >"$OUT/server$i.log" 2>&1 &
  PIDS+=($!)
done
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

cat > "$OUT/spec.json" <<JSON
{
  "options": {"connections": $N, "batchsize": $BATCH, "batchdelay": 10, "retrydelay": 50,
              "sources": ["127.0.0.0/27"], "hold": $HOLD, "max_retries": 20},
  "servers": [{"name": "wstest-echoserver-x$S", "uri": "ws://127.0.0.1:$PORT"}]
}
JSON
start_at=$(python3 -c 'import time; print(round(time.time() + 2, 3))' 2>/dev/null || echo $(( $(date +%s) + 2 )))
AGENTS=()
for i in $(seq "$C"); do
  "$WSTEST" -m massconnect -s "$OUT/spec.json" --shard "$i/$C" --start-at "$start_at" --quiet \
    --threads 1 -o "$OUT/shard$i.json" >"$OUT/shard$i.log" 2>&1 &
  AGENTS+=($!)
done
fail=0
for p in "${AGENTS[@]}"; do wait "$p" || fail=1; done
"$WSTEST" merge "$OUT"/shard*.json -o "$OUT/merged.json" --tsv "$OUT/merged.tsv"
[ "$fail" = 0 ] || { echo "some shards did not reach their target: see $OUT/shard*.log" >&2; exit 1; }
