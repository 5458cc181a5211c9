#!/usr/bin/env bash
# Fan-out of our broadcastserver and of a node `ws` broadcast server measured the same way
# (wstest -m broadcastclient --clients N --publish-rate R), one TSV row per run.
#
#   scripts/fanout-compare.sh OUT.tsv      (then: wstest plot OUT.tsv -o OUT.svg)
#
# Env: CLIENTS ("100 1000"), RATES ("100 1000"), DURATION (5), SIZE (64), SERVER_CPUS (0),
# CLIENT_CPUS (1): each server runs on SERVER_CPUS, the measuring client on CLIENT_CPUS
# (taskset), so both servers get the same cores. PEERS ("wstest node-ws").
set -euo pipefail
OUT="${1:?usage: $0 OUT.tsv}"
CLIENTS="${CLIENTS:-100 1000}"
RATES="${RATES:-100 1000}"
DURATION="${DURATION:-5}"
SIZE="${SIZE:-64}"
SERVER_CPUS="${SERVER_CPUS:-0}"
CLIENT_CPUS="${CLIENT_CPUS:-1}"
PEERS="${PEERS:-wstest node-ws}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WSTEST="${WSTEST:-$ROOT/target/release/wstest}"
[ -x "$WSTEST" ] || cargo build --release --manifest-path "$ROOT/Cargo.toml"
nthreads() { local c="$1"; echo $(( $(echo "$c" | tr ',' '\n' | wc -l) )); }

port=19700
pid=""
cleanup() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi; }
trap cleanup EXIT

start_peer() {
  case "$1" in
    wstest)
      taskset -c "$SERVER_CPUS" "$WSTEST" -m broadcastserver -w "ws://127.0.0.1:$port" -u 0 \
        --tick 0 --no-pin --threads "$(nthreads "$SERVER_CPUS")" >/dev/null 2>&1 &
      ;;
    node-ws)
      local d="${NODE_DIR:-/tmp/wstest-node-peer}"
      mkdir -p "$d"
      [ -d "$d/node_modules/ws" ] || npm install --silent --prefix "$d" ws@8 >/dev/null
      NODE_PATH="$d/node_modules" taskset -c "$SERVER_CPUS" node "$ROOT/bench/peers/broadcast-ws.js" "$port" >/dev/null 2>&1 &
      ;;
    *) echo "unknown peer $1" >&2; exit 2 ;;
  esac
  pid=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "peer $1 did not start on port $port" >&2
  exit 3
}

printf 'peer\turl\tclients\tconnected\trate\tsize\tduration_s\tpublished\texpected\tdelivered\tlost\tdropped\tmin_us\tp50_us\tp90_us\tp99_us\tp999_us\tmax_us\n' >"$OUT.tmp"
for peer in $PEERS; do
  for c in $CLIENTS; do
    for r in $RATES; do
      port=$((port + 1))
      start_peer "$peer"
      row=$(taskset -c "$CLIENT_CPUS" "$WSTEST" -m broadcastclient -w "ws://127.0.0.1:$port" \
        --clients "$c" --publish-rate "$r" --duration "$DURATION" --size "$SIZE" --no-pin \
        --threads "$(nthreads "$CLIENT_CPUS")" 2>/dev/null | tail -1) || true
      printf '%s\t%s\n' "$peer" "$row" >>"$OUT.tmp"
      printf '%s\t%s\n' "$peer" "$row" >&2
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      pid=""
    done
  done
done
mv "$OUT.tmp" "$OUT"
