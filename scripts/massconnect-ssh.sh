#!/usr/bin/env bash
# Run massconnect from several machines at once over ssh, then merge the results.
#
# usage: scripts/massconnect-ssh.sh HOSTS_FILE SPEC.json [OUTDIR]
#   HOSTS_FILE: one ssh destination per line (user@host, or a Host of an ssh config given in
#   SSH_OPTS), '#' comments allowed; a host listed twice runs two agents. Each host needs
#   wstest (on its PATH, or WSTEST_REMOTE) and a POSIX shell; only ssh is used (no scp/sftp).
#   1. The spec goes to every host (over ssh's stdin, to a file in REMOTE_DIR), which also
#      reports its clock: a host more than a second off ours is named (keep clocks in NTP).
#   2. Agent I of N runs `--shard I/N --start-at T`, T = now + DELAY s, all at once.
#   3. Each result comes back to OUTDIR/host-I.json (its output: host-I.log), the remote files
#      are removed, and `wstest merge` writes OUTDIR/merged.json and OUTDIR/merged.tsv.
#   Exit 1 when an agent failed or a result is missing (what did come back is still merged).
# env: WSTEST (local binary for the merge; default target/release/wstest), WSTEST_REMOTE
#      (default wstest), SSH (default ssh), SSH_OPTS (options for every ssh, split on spaces,
#      e.g. "-F ./ssh_config" or "-i key -o StrictHostKeyChecking=accept-new"), DELAY
#      (seconds between the start command and the start, default 10), REMOTE_DIR (default
#      /tmp), MASSCONNECT_ARGS (more massconnect options for every agent, e.g. "--threads 4")
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ $# -ge 2 ] || { sed -n '2,19p' "$0"; exit 2; }
HOSTS_FILE="$1" SPEC="$2" OUT="${3:-./massconnect-ssh}"
WSTEST="${WSTEST:-$ROOT/target/release/wstest}" WSTEST_REMOTE="${WSTEST_REMOTE:-wstest}"
DELAY="${DELAY:-10}" REMOTE_DIR="${REMOTE_DIR:-/tmp}"
read -ra SSH_CMD <<<"${SSH:-ssh}"
read -ra SSH_ARGS <<<"${SSH_OPTS:-}"
# Never prompt: a host that wants a password fails instead of hanging the run.
SSH_CMD+=(-o BatchMode=yes "${SSH_ARGS[@]}")
[ -f "$SPEC" ] || { echo "no spec $SPEC" >&2; exit 2; }
[ -x "$WSTEST" ] || { echo "no local wstest at $WSTEST (cargo build --release, or set WSTEST)" >&2; exit 2; }
mapfile -t HOSTS < <(grep -Ev '^[[:space:]]*(#|$)' "$HOSTS_FILE" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
N=${#HOSTS[@]}
[ "$N" -gt 0 ] || { echo "no hosts in $HOSTS_FILE" >&2; exit 2; }
mkdir -p "$OUT"
rm -f "$OUT"/host-*.json "$OUT"/host-*.log "$OUT"/host-*.rc "$OUT"/merged.json "$OUT"/merged.tsv
# Remote file names unique to this run and agent: agents sharing a host (or a file system)
# must not overwrite each other's spec or result.
RUN="wstest-mc-$(date +%s)-$$"
remote_spec() { echo "$REMOTE_DIR/$RUN-$1.json"; }
remote_result() { echo "$REMOTE_DIR/$RUN-$1.result.json"; }
now_ms() { date +%s%3N; }

PIDS=()
stop_agents() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap 'stop_agents; exit 130' INT TERM

echo "massconnect-ssh: $N agents (run $RUN)"

# 1. The spec to every host, and its clock.
for i in $(seq "$N"); do
  (
    before=$(now_ms)
    remote=$("${SSH_CMD[@]}" "${HOSTS[$((i - 1))]}" \
      "cat > '$(remote_spec "$i")' && date +%s%3N" <"$SPEC") || exit 1
    after=$(now_ms)
    if [[ "$remote" =~ ^[0-9]+$ ]]; then
      off=$(( remote - (before + after) / 2 ))
      if [ "${off#-}" -gt $(( 1000 + (after - before) / 2 )) ]; then
        echo "warning: ${HOSTS[$((i - 1))]}'s clock is ${off} ms off ours: --start-at will not start it with the others" >&2
      fi
    fi
  ) &
  PIDS+=($!)
done
copied=0 COPIED=()
for i in $(seq "$N"); do
  if wait "${PIDS[$((i - 1))]}"; then
    copied=$((copied + 1)) COPIED+=("$i")
  else
    echo "agent $i (${HOSTS[$((i - 1))]}): cannot copy the spec over ssh" >&2
  fi
done
if [ "$copied" -ne "$N" ]; then
  echo "$((N - copied)) of $N hosts unreachable; nothing started" >&2
  for i in "${COPIED[@]}"; do
    "${SSH_CMD[@]}" -n "${HOSTS[$((i - 1))]}" "rm -f '$(remote_spec "$i")'" 2>/dev/null || true
  done
  exit 1
fi

# 2. Every agent, all starting at the same time.
# Milliseconds: whole seconds would take up to one off DELAY.
start_ms=$(( $(now_ms) + DELAY * 1000 ))
start_at="${start_ms%???}.${start_ms: -3}"
echo "massconnect-ssh: the agents start at $(date -d "@$start_at" '+%F %T.%3N %Z' 2>/dev/null || echo "$start_at")"
PIDS=()
for i in $(seq "$N"); do
  h="${HOSTS[$((i - 1))]}"
  (
    rc=0
    "${SSH_CMD[@]}" -n "$h" "$WSTEST_REMOTE -m massconnect -s '$(remote_spec "$i")' --shard $i/$N \
      --start-at $start_at --quiet ${MASSCONNECT_ARGS:-} -o '$(remote_result "$i")'" >"$OUT/host-$i.log" 2>&1 \
      || rc=$?
    echo "$rc" >"$OUT/host-$i.rc"
    # 3. The result back, and the remote files go (one session).
    if ! "${SSH_CMD[@]}" -n "$h" "cat '$(remote_result "$i")'; rc=\$?; \
      rm -f '$(remote_spec "$i")' '$(remote_result "$i")'; exit \$rc" \
      >"$OUT/host-$i.json.part" 2>>"$OUT/host-$i.log" || [ ! -s "$OUT/host-$i.json.part" ]; then
      rm -f "$OUT/host-$i.json.part"
    else
      mv "$OUT/host-$i.json.part" "$OUT/host-$i.json"
    fi
  ) &
  PIDS+=($!)
done
for p in "${PIDS[@]}"; do wait "$p" || true; done
PIDS=()

failed=0 files=()
for i in $(seq "$N"); do
  rc=$(cat "$OUT/host-$i.rc" 2>/dev/null || echo "?")
  if [ -f "$OUT/host-$i.json" ]; then
    files+=("$OUT/host-$i.json")
  else
    echo "agent $i (${HOSTS[$((i - 1))]}): no result (exit $rc); its output: $OUT/host-$i.log" >&2
    failed=$((failed + 1))
    continue
  fi
  # massconnect exits 3 when no handshake succeeded: a result, but a failed agent.
  if [ "$rc" != 0 ]; then
    echo "agent $i (${HOSTS[$((i - 1))]}): exit $rc; its output: $OUT/host-$i.log" >&2
    failed=$((failed + 1))
  fi
done
[ ${#files[@]} -gt 0 ] || { echo "no agent's result came back" >&2; exit 1; }
"$WSTEST" merge "${files[@]}" -o "$OUT/merged.json" --tsv "$OUT/merged.tsv"
if [ "$failed" -gt 0 ]; then
  echo "$failed of $N agents failed: $OUT/merged.json has ${#files[@]} agents' results" >&2
  exit 1
fi
