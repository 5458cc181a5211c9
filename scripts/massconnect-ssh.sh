#!/usr/bin/env bash
# Run massconnect from several machines at once over ssh, then merge the results.
#
# usage: scripts/massconnect-ssh.sh HOSTS_FILE SPEC.json [OUTDIR]
#   HOSTS_FILE: one ssh destination per line (user@host), '#' comments allowed.
#   Each host needs wstest on its PATH (or set WSTEST_REMOTE) and gets the spec copied to
#   /tmp. Agent I of N runs --shard I/N; all start at the same time (--start-at, now + 10 s:
#   keep the clocks in sync with NTP). Results: OUTDIR/host-I.json and OUTDIR/merged.json.
# env: WSTEST (local binary for the merge; default target/release/wstest), WSTEST_REMOTE
#      (default wstest), SSH (default ssh), SCP (default scp), DELAY (seconds, default 10)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ $# -ge 2 ] || { sed -n '2,11p' "$0"; exit 2; }
HOSTS_FILE="$1" SPEC="$2" OUT="${3:-./massconnect-ssh}"
WSTEST="${WSTEST:-$ROOT/target/release/wstest}" WSTEST_REMOTE="${WSTEST_REMOTE:-wstest}"
SSH="${SSH:-ssh}" SCP="${SCP:-scp}" DELAY="${DELAY:-10}"
mapfile -t HOSTS < <(grep -Ev '^[[:space:]]*(#|$)' "$HOSTS_FILE")
N=${#HOSTS[@]}
[ "$N" -gt 0 ] || { echo "no hosts in $HOSTS_FILE" >&2; exit 2; }
mkdir -p "$OUT"
start_at=$(( $(date +%s) + DELAY ))
PIDS=()
for i in $(seq "$N"); do
  h="${HOSTS[$((i - 1))]}"
  (
    "$SCP" -q "$SPEC" "$h:/tmp/wstest-massconnect.json"
    "$SSH" "$h" "$WSTEST_REMOTE -m massconnect -s /tmp/wstest-massconnect.json --shard $i/$N \
      --start-at $start_at --quiet -o /tmp/wstest-massconnect-result.json" > "$OUT/host-$i.log" 2>&1 || true
    "$SCP" -q "$h:/tmp/wstest-massconnect-result.json" "$OUT/host-$i.json"
  ) &
  PIDS+=($!)
done
for p in "${PIDS[@]}"; do wait "$p" || true; done
"$WSTEST" merge "$OUT"/host-*.json -o "$OUT/merged.json" --tsv "$OUT/merged.tsv"
