#!/usr/bin/env bash
# Run the WebSocket conformance suite against a library's echo server, as a CI job does:
# start the server, run wstest's fuzzingclient against it (waiting for it to answer),
# compare the verdicts with the stored expected results and write JUnit XML.
#
# usage: run-autobahn.sh CONFIG_DIR -- SERVER_COMMAND [ARGS...]
#   CONFIG_DIR holds fuzzingclient.json (its server's url is where SERVER_COMMAND listens)
#   and expected-results.json (made once with UPDATE=1). Reports go to REPORTS (./reports).
# env: WSTEST    the wstest binary (default: wstest on PATH), or
#      IMAGE     a wstest image to run it in instead (docker, --network host)
#      UPDATE=1  write expected-results.json from this run instead of comparing
#      WAIT      seconds to wait for the server (default 30)
set -euo pipefail
config=$(cd "$1" && pwd)
shift
[ "${1:-}" = "--" ] && shift
reports=${REPORTS:-$PWD/reports}
mkdir -p "$reports"

"$@" &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT

check=(--expected "$config/expected-results.json")
[ "${UPDATE:-0}" = 1 ] && check+=(--update-expected)
args=(-m fuzzingclient -s "$config/fuzzingclient.json" --quiet --wait-for "${WAIT:-30}"
  --junit "$reports/junit.xml" "${check[@]}")
status=0
if [ -n "${IMAGE:-}" ]; then
  # The spec's outdir is relative: run where the reports volume is mounted.
  docker run --rm --network host -v "$config:$config" -v "$reports:/reports" -w / \
    "$IMAGE" wstest "${args[@]}" || status=$?
else
  "${WSTEST:-wstest}" "${args[@]}" || status=$?
fi
exit "$status"
