#!/usr/bin/env bash
# The gaps between a fuzzer's paced writes, on the wire: both fuzzers run CASE (default 3.4,
# one octet per write) against the same Python websockets echo server while tcpdump records
# loopback; the gaps between consecutive 1-octet segments from the fuzzer are summarised
# (count, quantiles in microseconds). Needs root, tcpdump, the oracle set up and
# target/release/wstest.
#
# usage: scripts/oracle/write_gaps.sh [CASE] [RUNS] [ORACLE_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
case_id="${1:-3.4}"
runs="${2:-5}"
oracle="$(cd "${3:-../shared/oracle}" && pwd)"
. scripts/oracle/echo_peer.sh

capture() { # NAME COMMAND...
  local name=$1; shift
  tcpdump -i lo -tt -n -l "tcp dst port $port and greater 1" >"$work/$name.txt" 2>/dev/null &
  local td=$!
  sleep 0.5
  "$@" >/dev/null 2>&1 || true
  sleep 0.3
  kill "$td"; wait "$td" 2>/dev/null || true
  cat "$work/$name.txt" >>"$work/$name.all"
  echo "--" >>"$work/$name.all"
}
python3 -c "import json,sys; json.dump({'outdir': sys.argv[1], 'servers': [{'agent': 'websockets', 'url': sys.argv[2]}], 'cases': [sys.argv[3]]}, open(sys.argv[1] + '.json', 'w'))" "$work/yc" "$url" "$case_id"
for _ in $(seq 1 "$runs"); do
  capture original "$oracle/run-fuzzingclient.sh" websockets "$url" "$work/oc" "$case_id"
  capture ours "$ours" -m fuzzingclient -s "$work/yc.json" --quiet
done
python3 - "$work/original.all" "$work/ours.all" <<'PY'
import re, sys
def gaps(path):
    out, last = [], None
    for line in open(path):
        if line.startswith("--"):
            last = None
            continue
        m = re.match(r"(\d+\.\d+) .* length (\d+)", line)
        if not m:
            continue
        t, n = float(m.group(1)), int(m.group(2))
        if n == 1:
            if last is not None:
                out.append((t - last) * 1e6)
            last = t
        else:
            last = None
    return sorted(out)
def q(v, p):
    return v[min(len(v) - 1, int(p * len(v)))] if v else float("nan")
print("fuzzer\tgaps\tp10_us\tp50_us\tp90_us\tp99_us")
for name, path in (("original", sys.argv[1]), ("ours", sys.argv[2])):
    g = gaps(path)
    print(f"{name}\t{len(g)}\t{q(g,.1):.0f}\t{q(g,.5):.0f}\t{q(g,.9):.0f}\t{q(g,.99):.0f}")
PY
