#!/usr/bin/env bash
# Multi-core scaling of the engine: handshakes/s (massconnect against echoserver) and
# pipelined echo messages/s (wsperfcontrol against echoserver) at 1, 2, 4, ... worker threads,
# client and server each pinned to their own set of cores (server on cores 0..T-1, client
# on T..2T-1), as a ratio to linear (the figure at T threads over T times the figure at 1).
# Counts that need more than the machine's cores are skipped, and said so.
#
# usage: bench/scaling.sh [-t 1,2,4,8,16] [-n CONNECTIONS_PER_THREAD] [-d SECONDS]
#                         [-s SIZE] [-w WINDOW] [-o OUT.tsv]
#   defaults: -t 1,2,4,8,16 -n 4000 -d 5 -s 64 -w 32 -o - (standard output)
# env: WSTEST (default target/release/wstest, built if missing)
# Columns: threads handshakes_per_s handshakes_ratio_to_linear msgs_per_s msgs_ratio_to_linear
#          p50_us p99_us
# Draw it: wstest plot is for latency runs; the ratios are the point here.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WSTEST="${WSTEST:-$ROOT/target/release/wstest}"
LIST=1,2,4,8,16 PER=4000 SECS=5 SIZE=64 WINDOW=32 OUT=-
while getopts "t:n:d:s:w:o:h" opt; do
  case "$opt" in
    t) LIST=$OPTARG ;; n) PER=$OPTARG ;; d) SECS=$OPTARG ;; s) SIZE=$OPTARG ;;
    w) WINDOW=$OPTARG ;; o) OUT=$OPTARG ;; *) sed -n '2,14p' "$0"; exit 2 ;;
  esac
done
command -v jq >/dev/null || { echo "scaling: needs jq" >&2; exit 2; }
[ -x "$WSTEST" ] || (cd "$ROOT" && cargo build --release --quiet -p wstest)
CORES=$(nproc)
WORK="$(mktemp -d)"
SERVER=""
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
# A fresh echoserver on cores 0..T-1 for each measurement (no warm state carried over).
start_server() {
  local t=$1 port
  port=$(free_port)
  "$WSTEST" -m echoserver -w "ws://127.0.0.1:$port" -u 0 --deflate off --threads "$t" \
    --cpus "0-$((t - 1))" --backlog 65535 >"$WORK/server.log" 2>&1 &
  SERVER=$!
  wait_port "$port" || { echo "scaling: echoserver did not start (see $WORK/server.log)" >&2; exit 1; }
  echo "$port"
}
stop_server() { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; SERVER=""; }

handshakes() {
  local t=$1 port n
  n=$(( PER * t ))
  port=$(start_server "$t")
  jq -n --arg uri "ws://127.0.0.1:$port" --argjson n "$n" --argjson t "$t" '
    {options: {connections: $n, batchsize: 1000, batchdelay: 0, retrydelay: 10, threads: $t,
               sources: ["127.0.0.0/28"], hold: 0, max_retries: 5},
     servers: [{name: "echoserver", uri: $uri}]}' >"$WORK/mc.json"
  "$WSTEST" -m massconnect -s "$WORK/mc.json" --quiet --json --cpus "$t-$((2 * t - 1))" \
    >"$WORK/mc.out" 2>"$WORK/mc.err" || true
  stop_server
  jq -r '.servers[0].handshakes_per_sec // 0' "$WORK/mc.out" 2>/dev/null || echo 0
}

messages() {
  local t=$1 port
  port=$(start_server "$t")
  jq -n --arg uri "ws://127.0.0.1:$port" --arg out "$WORK/wp.tsv" --argjson t "$t" \
    --argjson d "$SECS" --argjson size "$SIZE" --argjson w "$WINDOW" '
    {servers: [{name: "echoserver", uri: $uri}],
     testsets: [{mode: "echo", options: {outfile: $out, window: $w, duration: $d, warmup: 1000},
                 cases: [{size: $size, connections: (16 * $t), threads: $t}]}]}' >"$WORK/wp.json"
  rm -f "$WORK/wp.tsv.json"
  "$WSTEST" -m wsperfcontrol -s "$WORK/wp.json" --quiet --cpus "$t-$((2 * t - 1))" \
    >"$WORK/wp.out" 2>"$WORK/wp.err" || true
  stop_server
  jq -r '.[0] | [(.result.msgs_per_sec // 0 | floor), (.result.summary.median_us // ""),
                 (.result.summary.p99_us // "")] | @tsv' "$WORK/wp.tsv.json" 2>/dev/null \
    || printf '0\t\t\n'
}

{
  printf 'threads\thandshakes_per_s\thandshakes_ratio_to_linear\tmsgs_per_s\tmsgs_ratio_to_linear\tp50_us\tp99_us\n'
  hs1="" ms1=""
  for t in ${LIST//,/ }; do
    if [ $(( 2 * t )) -gt "$CORES" ]; then
      echo "scaling: $t threads need $(( 2 * t )) cores (client and server apart); this machine has $CORES: skipped" >&2
      continue
    fi
    hs=$(handshakes "$t")
    IFS=$'\t' read -r ms p50 p99 <<<"$(messages "$t")"
    hs1=${hs1:-$hs} ms1=${ms1:-$ms}
    ratio() { awk -v v="$1" -v one="$2" -v t="$3" 'BEGIN { if (one > 0) printf "%.2f", v / (t * one); else printf "" }'; }
    printf '%s\t%.0f\t%s\t%s\t%s\t%s\t%s\n' "$t" "$hs" "$(ratio "$hs" "$hs1" "$t")" "$ms" \
      "$(ratio "$ms" "$ms1" "$t")" "$p50" "$p99"
    echo "scaling: $t threads done" >&2
  done
} >"$WORK/scaling.tsv"
if [ "$OUT" = - ]; then cat "$WORK/scaling.tsv"; else cp "$WORK/scaling.tsv" "$OUT"; echo "wrote $OUT" >&2; fi
