#!/usr/bin/env bash
# Server memory per idle connection: the slope of the server's resident memory between two
# plateaus of idle connections (N1, then N2), each server a fresh process, every server mode
# and every binary measured in the same run.
#
#   bench/idle-memory.sh [-n N1,N2] [-m MODES] [-s SETTLE] [-a 'SERVER ARGS'] BINARY [BINARY...]
#
# BINARY: wstest binaries to compare (this commit's and an older one's, e.g. built with
# `git worktree add /tmp/old HEAD~1 && cargo build --release --manifest-path /tmp/old/Cargo.toml`).
# MODES: echoserver,testeeserver,broadcastserver (default: all three). Each server runs on one
# thread; a massconnect client (this tree's first BINARY) opens the connections and holds them
# without pings. The server's VmRSS is read SETTLE seconds after each plateau (default 4:
# connections are set aside after 1 s of quiet, freed memory goes back after 1 s more).
# Output: one TSV line per binary and mode: binary, mode, N1, N2, RSS at N1 and N2 (KiB),
# and bytes per connection (the slope). -a: more arguments for each server (`--driver epoll`,
# `--park-after 0`).
set -euo pipefail

N1=5000 N2=15000 MODES=echoserver,testeeserver,broadcastserver SETTLE=4 ARGS=
while getopts "n:m:s:a:" o; do
  case $o in
    n) N1=${OPTARG%,*} N2=${OPTARG#*,} ;;
    m) MODES=$OPTARG ;;
    s) SETTLE=$OPTARG ;;
    a) ARGS=$OPTARG ;;
    *) echo "usage: $0 [-n N1,N2] [-m MODES] [-s SETTLE] [-a 'SERVER ARGS'] BINARY [BINARY...]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "$0: name at least one wstest binary" >&2; exit 2; }
(( N1 > 0 && N2 > N1 && N2 <= 19000 )) || { echo "$0: need 0 < N1 < N2 <= 19000 (one process's descriptors)" >&2; exit 2; }
CLIENT=$1
TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# Hold N more idle connections to PORT in the background (a massconnect process).
hold() {
  local port=$1 n=$2
  local spec=$TMP/mc-$port-$n.json
  cat >"$spec" <<EOF
{"servers": [{"name": "s", "uri": "ws://127.0.0.1:$port"}],
 "options": {"connections": $n, "batchsize": 500, "batchdelay": 10, "hold": 600,
             "ping_interval": 0, "threads": 1, "max_retries": 5}}
EOF
  "$CLIENT" -m massconnect -s "$spec" -o "$TMP/mc-$port-$n.out.json" >"$TMP/mc-$port-$n.log" 2>&1 &
  PIDS+=($!)
  # Wait until the server holds them: its connection count from /proc is not visible, so
  # wait for the client's sockets instead.
  local pid=$! want=$n t=0
  while :; do
    local have
    have=$(ls -l "/proc/$pid/fd" 2>/dev/null | grep -c socket || true)
    (( have >= want )) && break
    (( t++ > 600 )) && { echo "$0: massconnect reached only $have of $n connections" >&2; cat "$TMP/mc-$port-$n.log" >&2; exit 1; }
    sleep 0.1
  done
}

printf 'binary\tmode\tn1\tn2\trss1_kib\trss2_kib\tbytes_per_conn\n'
for bin in "$@"; do
  for mode in ${MODES//,/ }; do
    port=$(free_port)
    # shellcheck disable=SC2086 # ARGS are words on purpose
    "$bin" -m "$mode" -w "ws://127.0.0.1:$port" --threads 1 $ARGS >"$TMP/server.log" 2>&1 &
    spid=$!
    PIDS+=($spid)
    for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
    hold "$port" "$N1"; sleep "$SETTLE"; r1=$(rss_kib "$spid")
    hold "$port" $((N2 - N1)); sleep "$SETTLE"; r2=$(rss_kib "$spid")
    per=$(( (r2 - r1) * 1024 / (N2 - N1) ))
    printf '%s\t%s\t%d\t%d\t%d\t%d\t%d\n' "$bin" "$mode" "$N1" "$N2" "$r1" "$r2" "$per"
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    PIDS=()
  done
done
