#!/usr/bin/env bash
# Many connections on one host, past the per-process descriptor limit: several echoserver
# processes share one port (SO_REUSEPORT), several massconnect shards each open their part
# from their own loopback source addresses, all start together (--start-at); the shards'
# results are merged (wstest merge) into one.
#
# usage: scripts/massconnect-local.sh [-n CONNECTIONS] [-c CLIENT_SHARDS] [-s SERVER_PROCS]
#                                     [-H HOLD_SECONDS] [-b BATCH] [-S SOURCES] [-r RATE]
#                                     [-p PING_SECONDS] [-o OUTDIR]
#   defaults: -n 100000 -c 6 -s 7 -H 5 -b 500 -S 127.0.0.0/27 -r 0 -p 0
#             -o ./massconnect-local
#   (-p: a ping on every held connection this often, 0 = none)
#   (-S: loopback source addresses, a CIDR with at least one address per client shard;
#   -r: handshakes started per second over all shards, 0 = as fast as they go: with many
#   processes on few cores, unpaced batches time out in the accept queues)
# While it runs, a sampler records once a second the kernel's slab, the TCP sockets in use
# and the server processes' resident memory; OUTDIR/memory.tsv has the samples and
# OUTDIR/summary.txt the per-connection figures at the plateau (the sample with the most
# sockets) against the one before the ramp.
# Each process must stay under RLIMIT_NOFILE (20,000 on the CI machines): pick -c and -s
# so that N/c and N/s (with some margin for uneven spreading) fit.
# env: WSTEST (default target/release/wstest), PORT (default 9700)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WSTEST="${WSTEST:-$ROOT/target/release/wstest}"
N=100000 C=6 S=7 HOLD=5 BATCH=500 SOURCES=127.0.0.0/27 RATE=0 PING=0 OUT=./massconnect-local
PORT="${PORT:-9700}"
while getopts "n:c:s:H:b:S:r:p:o:h" opt; do
  case "$opt" in
    n) N=$OPTARG ;; c) C=$OPTARG ;; s) S=$OPTARG ;; H) HOLD=$OPTARG ;; b) BATCH=$OPTARG ;;
    S) SOURCES=$OPTARG ;; r) RATE=$OPTARG ;; p) PING=$OPTARG ;; o) OUT=$OPTARG ;;
    *) sed -n '2,24p' "$0"; exit 2 ;;
  esac
done
[ -x "$WSTEST" ] || (cd "$ROOT" && cargo build --release --quiet)
mkdir -p "$OUT"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# Kernel slab (kB), TCP sockets in use, and the servers' resident kB, once a second.
slab() { awk '/^Slab:/ {print $2}' /proc/meminfo; }
tcp_inuse() { awk '/^TCP:/ {print $3}' /proc/net/sockstat; }
servers_rss() {
  local total=0 p kb
  for p in "${SERVERS[@]}"; do
    kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
    total=$((total + ${kb:-0}))
  done
  echo "$total"
}
sample() { printf '%s\t%s\t%s\t%s\n' "$(date +%s.%N | cut -c1-14)" "$(tcp_inuse)" "$(slab)" "$(servers_rss)"; }
SERVERS=()
for i in $(seq "$S"); do
  "$WSTEST" -m echoserver -w "ws://127.0.0.1:$PORT" -u 0 --threads 1 --deflate off --reuse-port \
    >"$OUT/server$i.log" 2>&1 &
  PIDS+=($!)
  SERVERS+=($!)
done
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

cat > "$OUT/spec.json" <<JSON
{
  "options": {"connections": $N, "batchsize": $BATCH, "batchdelay": 10, "retrydelay": 50,
              "sources": ["$SOURCES"], "hold": $HOLD, "max_retries": 20,
              "rate": $(awk -v r="$RATE" -v c="$C" 'BEGIN { printf "%.1f", r / c }'),
              "give_up_after": 60, "ping_interval": $PING},
  "servers": [{"name": "wstest-echoserver-x$S", "uri": "ws://127.0.0.1:$PORT"}]
}
JSON
start_at=$(python3 -c 'import time; print(round(time.time() + 2, 3))' 2>/dev/null || echo $(( $(date +%s) + 2 )))
printf 'unix_s\ttcp_inuse\tslab_kb\tservers_rss_kb\n' >"$OUT/memory.tsv"
sample >>"$OUT/memory.tsv"
( while sleep 1; do sample; done ) >>"$OUT/memory.tsv" &
SAMPLER=$!
PIDS+=("$SAMPLER")
AGENTS=()
for i in $(seq "$C"); do
  "$WSTEST" -m massconnect -s "$OUT/spec.json" --shard "$i/$C" --start-at "$start_at" --quiet \
    --threads 1 -o "$OUT/shard$i.json" >"$OUT/shard$i.log" 2>&1 &
  AGENTS+=($!)
done
fail=0
for p in "${AGENTS[@]}"; do wait "$p" || fail=1; done
kill "$SAMPLER" 2>/dev/null || true
"$WSTEST" merge "$OUT"/shard*.json -o "$OUT/merged.json" --tsv "$OUT/merged.tsv"
# Per connection at the plateau (the sample with the most TCP sockets) against the first.
awk -F'\t' -v n="$N" 'NR == 2 { t0 = $2; s0 = $3; r0 = $4 }
  NR > 2 && $2 > best { best = $2; s = $3; r = $4 }
  END {
    open = (best - t0) / 2
    if (open <= 0) { print "no plateau sampled"; exit }
    printf "sockets at the plateau: %d TCP (%d connections, both ends, of %d asked)\n", best - t0, open, n
    printf "kernel slab per connection (both ends): %.0f B\n", (s - s0) * 1024 / open
    printf "servers resident per connection: %.0f B\n", (r - r0) * 1024 / open
  }' "$OUT/memory.tsv" | tee "$OUT/summary.txt"
[ "$fail" = 0 ] || { echo "some shards did not reach their target: see $OUT/shard*.log" >&2; exit 1; }
