#!/usr/bin/env bash
# How far a pipelined client can get ahead of the tokio-tungstenite one per client core, from
# where each spends its core: wstest's probe (wsperfcontrol) and bench/peer-tungstenite each
# run alone on the client core against one echoserver on the server core, 16 connections x
# window 32, under `perf record -C CLIENT_CORE`. Per message it prints the kernel and user
# microseconds of each client and the bound: the peer's whole time per message over our
# kernel time per message, the ratio ours would reach if its user space cost nothing while
# the kernel's work (the copies, TCP, the echo server socket's receive path, which loopback
# runs on the sender's core) stayed as it is.
#
# usage: bench/kernel-bound.sh [-s SIZES] [-t SECONDS] [WSTEST] [PEER]
#   SIZES: comma-separated payload sizes (default 64,1024,16384,65536,262144,1048576)
#   WSTEST: the wstest binary (default target/release/wstest)
#   PEER: the peer binary (default bench/peer-tungstenite/target/release/peer-tungstenite;
#         `cargo run --release -p wstest-bench --bin e2e` builds it)
# Needs perf, taskset and two cores (server on core 0, clients on core 1).
set -euo pipefail

sizes=64,1024,16384,65536,262144,1048576
secs=3
while getopts "s:t:" o; do
  case $o in
    s) sizes=$OPTARG ;;
    t) secs=$OPTARG ;;
    *) sed -n '2,16p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
here=$(cd "$(dirname "$0")/.." && pwd)
wstest=${1:-$here/target/release/wstest}
peer=${2:-$here/bench/peer-tungstenite/target/release/peer-tungstenite}
for b in "$wstest" "$peer"; do
  [ -x "$b" ] || { echo "kernel-bound: no executable at $b" >&2; exit 2; }
done
command -v perf >/dev/null || { echo "kernel-bound: perf is not installed" >&2; exit 2; }

work=$(mktemp -d)
port=$(( 20000 + RANDOM % 10000 ))
taskset -c 0 "$wstest" -m echoserver -w "ws://127.0.0.1:$port" -u 0 --threads 1 --cpus 0 \
  --deflate off >/dev/null 2>"$work/server.err" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do
  grep -q listening "$work/server.err" && break
  sleep 0.1
done
grep -q listening "$work/server.err" || { echo "kernel-bound: the echoserver did not start: $(cat "$work/server.err")" >&2; exit 1; }

# Kernel and user shares of COMM's samples in a perf record of the client core.
shares() { # perf.data comm-prefix
  perf report -i "$1" --no-children --sort comm,dso 2>/dev/null |
    awk -v c="$2" '$1 ~ /%$/ && index($2, c) == 1 {
      v = $1; sub("%", "", v); if ($3 == "[kernel.kallsyms]") k += v; else u += v
    } END { printf "%.4f %.4f\n", k / 100, u / 100 }'
}

# Run "$@" on core 1 under perf for SECS - 0.5 s (inside the run); msgs/s on stdout.
measure() { # perf.data comm-prefix cmd...
  local data=$1 comm=$2; shift 2
  perf record -q -C 1 -o "$data" sleep "$(awk -v s="$secs" 'BEGIN { print s - 0.5 }')" >/dev/null 2>&1 &
  local rec=$!
  local rate
  rate=$(taskset -c 1 "$@")
  wait $rec || true
  echo "$rate $(shares "$data" "$comm")"
}

printf 'size\tpeer_msgs_s\tours_msgs_s\tratio\tpeer_kernel_us\tpeer_user_us\tours_kernel_us\tours_user_us\tbound\n'
for size in ${sizes//,/ }; do
  read -r prate pk pu < <(measure "$work/peer.data" peer-tung \
    sh -c "'$peer' ws://127.0.0.1:$port 16 32 $size $secs | grep -o '\"msgs_per_sec\": [0-9]*' | grep -o '[0-9]*\$'")
  cat >"$work/spec.json" <<EOF
{"servers": [{"name": "ours", "uri": "ws://127.0.0.1:$port"}],
 "testsets": [{"mode": "echo", "options": {"connections": 16, "window": 32, "threads": 1,
   "duration": $secs, "count": 1000000000}, "cases": [{"size": $size}]}]}
EOF
  read -r orate ok ou < <(measure "$work/ours.data" wstest-w \
    sh -c "'$wstest' -m wsperfcontrol -s '$work/spec.json' --cpus 1 2>&1 | grep -o '[0-9]* msg/s' | grep -o '^[0-9]*'")
  awk -v s="$size" -v pr="$prate" -v pk="$pk" -v pu="$pu" -v or="$orate" -v ok="$ok" -v ou="$ou" 'BEGIN {
    pku = pk / pr * 1e6; puu = pu / pr * 1e6; oku = ok / or * 1e6; ouu = ou / or * 1e6
    printf "%s\t%d\t%d\t%.2f\t%.3f\t%.3f\t%.3f\t%.3f\t%.2f\n", s, pr, or, or / pr, pku, puu, oku, ouu, (pku + puu) / oku
  }'
done
