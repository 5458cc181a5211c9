#!/usr/bin/env bash
# Verdict distribution of the write-timing races (3.3, 3.4, 4.1.5, 4.2.5) over N runs, for the
# real fuzzer and ours, against Python websockets as a server (fuzzingclient) and as a client
# (fuzzingserver). Prints one TSV row per (direction, fuzzer, case, verdict) with its count.
#
# usage: scripts/oracle/race_dist.sh [RUNS] [ORACLE_DIR]   (default 20, ../shared/oracle)
# RACE_SIDES=server (or client) runs one direction only; RACE_SYNC_PAUSE=MICROSECONDS sets our
# fuzzingserver's syncPause.
# needs: the oracle set up (ORACLE_DIR/setup.sh), target/release/wstest built.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-20}"
oracle="$(cd "${2:-../shared/oracle}" && pwd)"
cases="${RACE_CASES:-3.3,3.4,4.1.5,4.2.5}"
sides="${RACE_SIDES:-client,server}"
. scripts/oracle/echo_peer.sh
tally() { # DIRECTION FUZZER INDEX.JSON
  python3 - "$1" "$2" "$3" >>"$work/rows" <<'PY'
import json, sys
d, f, path = sys.argv[1:4]
for agent, cases in json.load(open(path)).items():
    for cid, r in cases.items():
        print(f"{d}\t{f}\t{cid}\t{r['behavior']}/{r['behaviorClose']}")
PY
}
for i in $(seq 1 "$runs"); do
  # fuzzingclient: the real one, then ours, against the same websockets server.
  if [[ ",$sides," == *,client,* ]]; then
    "$oracle/run-fuzzingclient.sh" websockets "$url" "$work/oc" "$cases" >/dev/null 2>&1
    tally client original "$work/oc/index.json"
    python3 -c "import json,sys; json.dump({'outdir': sys.argv[1], 'servers': [{'agent': 'websockets', 'url': sys.argv[2]}], 'cases': sys.argv[3].split(',')}, open(sys.argv[1] + '.json', 'w'))" "$work/yc" "$url" "$cases"
    "$ours" -m fuzzingclient -s "$work/yc.json" --quiet >/dev/null 2>&1 || true
    tally client ours "$work/yc/index.json"
  fi
  [[ ",$sides," == *,server,* ]] || continue
  # fuzzingserver: a websockets client against the real one, then ours.
  fsport=$((port + 1))
  "$oracle/run-fuzzingserver.sh" websockets "$fsport" "$work/os" "$cases" "" -- \
    "$peer_py" "$oracle/peer/ws_fuzzingserver_client.py" "{url}" "{agent}" >/dev/null 2>&1
  tally server original "$work/os/index.json"
  python3 -c "import json,sys; json.dump({'url': sys.argv[2], 'outdir': sys.argv[1], 'cases': sys.argv[3].split(','), **({'options': {'syncPause': int(sys.argv[4])}} if sys.argv[4] else {})}, open(sys.argv[1] + '.json', 'w'))" "$work/ys" "ws://127.0.0.1:$((port + 2))" "$cases" "${RACE_SYNC_PAUSE:-}"
  "$ours" -m fuzzingserver -s "$work/ys.json" -u 0 >/dev/null 2>&1 &
  srv=$!
  for _ in $(seq 1 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $((port + 2))))" 2>/dev/null && break; sleep 0.1; done
  "$peer_py" "$oracle/peer/ws_fuzzingserver_client.py" "ws://127.0.0.1:$((port + 2))" websockets >/dev/null 2>&1 || true
  kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null || true
  tally server ours "$work/ys/index.json"
done
python3 - "$work/rows" <<'PY'
import collections, sys
rows = collections.Counter(l.rstrip("\n") for l in open(sys.argv[1]))
print("direction\tfuzzer\tcase\tverdict\truns")
for k in sorted(rows):
    print(f"{k}\t{rows[k]}")
PY
