#!/usr/bin/env bash
# Verdict parity with the real Autobahn wstest (../shared/oracle), for any case selection:
# both fuzzers against the same peers, and the real fuzzingserver against our testeeclient.
# Prints one summary line per run and every case whose verdicts differ.
#
# usage: scripts/oracle/parity.sh OUTDIR [CASES] [EXCLUDE]
#   CASES / EXCLUDE: comma-separated patterns (default "*" and "")
#   e.g. scripts/oracle/parity.sh /tmp/parity "12.*,13.*"
# env: ORACLE (default ../shared/oracle), PEER_VENV (default /tmp/peer-venv),
#      PEERS (default "testee websockets node-ws-deflate"), CLIENTS (testee clients under both
#      fuzzingservers, default "testeeclient websockets-client"), WSTEST (default
#      target/release/wstest)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ORACLE="${ORACLE:-$ROOT/../shared/oracle}"
PEER_VENV="${PEER_VENV:-/tmp/peer-venv}"
WSTEST="${WSTEST:-$ROOT/target/release/wstest}"
PEERS="${PEERS:-testee websockets node-ws-deflate}"
CLIENTS="${CLIENTS:-testeeclient websockets-client}"
[ $# -ge 1 ] || { sed -n '2,13p' "$0"; exit 2; }
OUT="$1"; CASES="${2:-*}"; EXCLUDE="${3:-}"
mkdir -p "$OUT"; OUT="$(cd "$OUT" && pwd)"
[ -x "$WSTEST" ] || { echo "build first: cargo build --release" >&2; exit 2; }
"$ORACLE/setup.sh" >/dev/null

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "nothing on port $1" >&2; return 1; }

# Our fuzzingclient with the same selection (a JSON spec with the patterns as lists).
ours_client() { # AGENT URL DIR
  python3 - "$1" "$2" "$3" "$CASES" "$EXCLUDE" > "$3.spec.json" <<'PY'
import json, sys
agent, url, outdir, cases, exclude = sys.argv[1:6]
split = lambda s: [x.strip() for x in s.split(",") if x.strip()]
print(json.dumps({"outdir": outdir, "servers": [{"agent": agent, "url": url}],
                  "cases": split(cases) or ["*"], "exclude-cases": split(exclude)}))
PY
  local start end
  start=$(date +%s.%N)
  "$WSTEST" -m fuzzingclient -s "$3.spec.json" --quiet >/dev/null || true
  end=$(date +%s.%N)
  python3 "$ORACLE/lib/summarize.py" "$3/index.json" --agent "$1" \
    --wall "$(python3 -c "print(round($end - $start, 1))")" | sed 's/^/ours:     /'
}

compare() { # ORIGINAL_INDEX OURS_INDEX AGENT
  python3 - "$@" <<'PY'
import json, sys
a, b, agent = sys.argv[1:4]
x = json.load(open(a))[agent]; y = json.load(open(b))[agent]
diff = [k for k in sorted(set(x) | set(y))
        if (x.get(k, {}).get("behavior"), x.get(k, {}).get("behaviorClose"))
        != (y.get(k, {}).get("behavior"), y.get(k, {}).get("behaviorClose"))]
print("          %d cases, %d with different verdicts" % (len(x), len(diff)))
for k in diff:
    print("          %s: original %s/%s, ours %s/%s" % (k, x.get(k, {}).get("behavior"), x.get(k, {}).get("behaviorClose"),
                                                     y.get(k, {}).get("behavior"), y.get(k, {}).get("behaviorClose")))
PY
}

start_peer() { # NAME -> prints URL, records PID
  local port; port=$(free_port)
  case "$1" in
    testee) "$WSTEST" -m testeeserver -w "ws://127.0.0.1:$port" >/dev/null 2>&1 & ;;
    websockets) "$PEER_VENV/bin/python" "$ORACLE/peer/ws_echo_server.py" "$port" >/dev/null 2>&1 & ;;
    node-ws-deflate|node-ws)
      local d="$OUT/node"; mkdir -p "$d"
      [ -d "$d/node_modules/ws" ] || npm install --silent --prefix "$d" ws@8 >/dev/null
      local z=false; [ "$1" = node-ws-deflate ] && z=true
      cat > "$d/echo-$z.js" <<JS
const { WebSocketServer } = require('ws');
const wss = new WebSocketServer({ host: '127.0.0.1', port: parseInt(process.argv[2], 10), maxPayload: 64 * 1024 * 1024, perMessageDeflate: $z });
wss.on('connection', (ws) => { ws.on('message', (d, b) => ws.send(d, { binary: b })); ws.on('error', () => {}); });
JS
      NODE_PATH="$d/node_modules" node "$d/echo-$z.js" "$port" >/dev/null 2>&1 & ;;
    *) echo "unknown peer $1" >&2; return 1 ;;
  esac
  PIDS+=($!)
  wait_port "$port"
  echo "ws://127.0.0.1:$port"
}

for peer in $PEERS; do
  url=$(start_peer "$peer")
  echo "== $peer ($url)"
  "$ORACLE/run-fuzzingclient.sh" "$peer" "$url" "$OUT/original-$peer" "$CASES" "$EXCLUDE" | sed 's/^/original: /'
  ours_client "$peer" "$url" "$OUT/ours-$peer"
  compare "$OUT/original-$peer/index.json" "$OUT/ours-$peer/index.json" "$peer"
done

# A testee client's command line (in CMD) for URL and AGENT: our testeeclient or the
# websockets client.
client_argv() { # NAME URL AGENT
  case "$1" in
    testeeclient) CMD=("$WSTEST" -m testeeclient -w "$2" -i "$3") ;;
    websockets-client) CMD=("$PEER_VENV/bin/python" "$ORACLE/peer/ws_fuzzingserver_client.py" "$2" "$3") ;;
    *) echo "unknown client $1" >&2; return 1 ;;
  esac
}

for client in $CLIENTS; do
  agent="wstest-$client"; [ "$client" = websockets-client ] && agent=websockets
  echo "== real fuzzingserver, $client"
  port=$(free_port)
  client_argv "$client" '{url}' '{agent}'
  "$ORACLE/run-fuzzingserver.sh" "$agent" "$port" "$OUT/original-fs-$client" "$CASES" "$EXCLUDE" -- \
    "${CMD[@]}" | sed 's/^/original: /'
  echo "== our fuzzingserver, $client"
  port=$(free_port)
  python3 - "$port" "$OUT/ours-fs-$client" "$CASES" "$EXCLUDE" > "$OUT/ours-fs-$client.spec.json" <<'PY'
import json, sys
port, outdir, cases, exclude = sys.argv[1:5]
split = lambda s: [x.strip() for x in s.split(",") if x.strip()]
print(json.dumps({"url": "ws://127.0.0.1:%s" % port, "outdir": outdir,
                  "cases": split(cases) or ["*"], "exclude-cases": split(exclude)}))
PY
  "$WSTEST" -m fuzzingserver -s "$OUT/ours-fs-$client.spec.json" -u 0 >/dev/null 2>&1 &
  fs=$!
  PIDS+=("$fs")
  wait_port "$port"
  start=$(date +%s.%N)
  client_argv "$client" "ws://127.0.0.1:$port" "$agent"
  "${CMD[@]}" >/dev/null 2>&1 || true
  end=$(date +%s.%N)
  kill "$fs" 2>/dev/null || true
  python3 "$ORACLE/lib/summarize.py" "$OUT/ours-fs-$client/index.json" \
    --wall "$(python3 -c "print(round($end - $start, 1))")" | sed 's/^/ours:     /'
  compare "$OUT/original-fs-$client/index.json" "$OUT/ours-fs-$client/index.json" "$agent"
done
