#!/usr/bin/env bash
# Build every cargo-fuzz target (the parsers of network and user input) and run each for
# SECONDS (default 10) from its seeds: the targets stay buildable, and a short run finds the
# shallow bugs. Long campaigns: engine/fuzz/README.md, modes/fuzz/README.md.
#
# usage: scripts/fuzz-smoke.sh [SECONDS]
# A finding (crash, leak, timeout) or a target that does not build exits non-zero; the input
# is left in <crate>/fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked >/dev/null 2>&1 || {
    echo "fuzz-smoke: cargo-fuzz cannot be installed here: FUZZ TARGETS NOT RUN" >&2
    exit 3
  }
fi
# cargo-fuzz needs nightly features; the stable toolchain has them behind this switch.
export RUSTC_BOOTSTRAP=1
run() {
  local dir=$1 target=$2
  shift 2
  mkdir -p "$dir/corpus/$target"
  if [ -d "$dir/seeds/$target" ]; then
    cp -n "$dir/seeds/$target"/* "$dir/corpus/$target/" 2>/dev/null || true
  fi
  echo "fuzz-smoke: $target ($dir), ${secs} s"
  local log status=0
  log=$(mktemp)
  (cd "$dir" && cargo fuzz run --sanitizer none "$target" "corpus/$target" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 "$@") >"$log" 2>&1 || status=$?
  grep -E "^stat::(number_of_executed_units|peak_rss_mb)" "$log" || true
  if [ "$status" != 0 ]; then
    tail -40 "$log"
    echo "fuzz-smoke: $target failed (exit $status)" >&2
    exit "$status"
  fi
  rm -f "$log"
}
run engine/fuzz frame_decoder
run engine/fuzz handshake -dict=dict/handshake.dict
run engine/fuzz utf8
run modes/fuzz wamp
run modes/fuzz specs
echo "fuzz-smoke: every target ran ${secs} s without a finding"
