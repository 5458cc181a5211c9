#!/usr/bin/env bash
# Sweep echo round trips over sizes x connections x threads (x targets) with wsperfcontrol,
# and write one TSV with a row per combination.
#
# usage: scripts/wsperf-sweep.sh [-t NAME=URL]... [-s SIZES] [-c CONNS] [-T THREADS]
#                                [-n COUNT] [-W WINDOW] [-o OUT.tsv]
#   -t NAME=URL  a target (repeatable); none: an echoserver of ours started on a free port
#   -s 64,1024   message sizes        -c 1,8,64  connections     -T 1,2  client threads
#   -n 1000      messages per connection   -W 1  messages in flight per connection (1: sync)
#   -o sweep.tsv output (default: stdout)
# env: WSTEST (default target/release/wstest, built when missing)
# Columns: target size connections threads window count outcome median_us p90_us p99_us
#          p999_us max_us msgs_per_s
# Plot with: wstest plot sweep.tsv -o sweep.svg (or -o sweep.html for a report)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WSTEST="${WSTEST:-$ROOT/target/release/wstest}"
SIZES=64,1024,16384 CONNS=1,8,64 THREADS=1 COUNT=1000 WINDOW=1 OUT=-
TARGETS=()
while getopts "t:s:c:T:n:W:o:h" opt; do
  case "$opt" in
    t) TARGETS+=("$OPTARG") ;;
    s) SIZES=$OPTARG ;; c) CONNS=$OPTARG ;; T) THREADS=$OPTARG ;;
    n) COUNT=$OPTARG ;; W) WINDOW=$OPTARG ;; o) OUT=$OPTARG ;;
    *) sed -n '2,15p' "$0"; exit 2 ;;
  esac
done
command -v jq >/dev/null || { echo "wsperf-sweep: needs jq" >&2; exit 2; }
if [ ! -x "$WSTEST" ]; then (cd "$ROOT" && cargo build --release --quiet); fi

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

if [ ${#TARGETS[@]} -eq 0 ]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 9311)
  "$WSTEST" -m echoserver -w "ws://127.0.0.1:$port" -u 0 --deflate off >/dev/null 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  TARGETS=("wstest=ws://127.0.0.1:$port")
fi

# The spec: one server per target, one case per size x connections x threads.
servers=$(printf '%s\n' "${TARGETS[@]}" | jq -R 'split("=") | {name: .[0], uri: (.[1:] | join("="))}' | jq -s .)
cases=$(jq -n --arg s "$SIZES" --arg c "$CONNS" --arg t "$THREADS" '
  [ ($s | split(",") | .[] | tonumber) as $size
  | ($c | split(",") | .[] | tonumber) as $conn
  | ($t | split(",") | .[] | tonumber) as $thr
  | {size: $size, connections: $conn, threads: $thr} ]')
jq -n --argjson servers "$servers" --argjson cases "$cases" --arg out "$WORK/r.tsv" \
  --argjson count "$COUNT" --argjson window "$WINDOW" '
  {servers: $servers,
   testsets: [{mode: "echo",
               options: {outfile: $out, count: $count, window: $window, sync: ($window == 1),
                         warmup: ([($count / 10 | floor), 1] | max), timeout: 600000},
               cases: $cases}]}' > "$WORK/spec.json"

"$WSTEST" -m wsperfcontrol -s "$WORK/spec.json" --quiet >/dev/null || true

{
  printf 'target\tsize\tconnections\tthreads\twindow\tcount\toutcome\tmedian_us\tp90_us\tp99_us\tp999_us\tmax_us\tmsgs_per_s\n'
  # Quantiles come from each row's merged HdrHistogram summary in the JSON beside the TSV.
  jq -r '.[] | [.server, .probe.size, .probe.connections, .probe.threads, .probe.window,
               .probe.count, .result.outcome,
               (.result.summary.median_us // ""), (.result.summary.p90_us // ""),
               (.result.summary.p99_us // ""), (.result.summary.p999_us // ""),
               (.result.summary.max_us // ""), (.result.msgs_per_sec | floor)] | @tsv' "$WORK/r.tsv.json"
} > "$WORK/sweep.tsv"
if [ "$OUT" = - ]; then cat "$WORK/sweep.tsv"; else cp "$WORK/sweep.tsv" "$OUT"; echo "wrote $OUT" >&2; fi
