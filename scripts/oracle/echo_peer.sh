# Sourced by race_dist.sh and write_gaps.sh (from the repository root, with `oracle` set to
# the oracle's directory): the Python websockets echo server of the oracle's peer venv on a
# random port, a work directory, and a cleanup on exit (KEEP=DIR keeps the work directory).
# Sets: peer_py, ours (WSTEST_BIN, default target/release/wstest), work, port, url.
peer_py="${PEER_VENV:-/tmp/peer-venv}/bin/python"
ours="${WSTEST_BIN:-$PWD/target/release/wstest}"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; [ -n "${KEEP:-}" ] && cp -r "$work" "$KEEP"; rm -rf "$work"' EXIT
port=$((20000 + RANDOM % 20000))
"$peer_py" "$oracle/peer/ws_echo_server.py" "$port" >/dev/null 2>&1 &
sleep 1
url="ws://127.0.0.1:$port"
