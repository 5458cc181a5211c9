#!/usr/bin/env bash
# Add (or remove) source addresses for massconnect's "sources" option.
#
# usage: tuning/add-sources.sh add|del DEV PREFIX FIRST LAST [--dry-run]
#   e.g. tuning/add-sources.sh add eth0 10.0.0 11 30   -> 10.0.0.11/32 .. 10.0.0.30/32 on eth0
# Loopback needs nothing: every 127.x.y.z address already answers on lo, so
# "sources": ["127.0.0.0/28"] works as is.
set -euo pipefail
[ $# -ge 5 ] || { sed -n '2,8p' "$0"; exit 2; }
op="$1" dev="$2" prefix="$3" first="$4" last="$5" dry="${6:-}"
case "$op" in add|del) ;; *) echo "add-sources.sh: add or del, not $op" >&2; exit 2 ;; esac
for i in $(seq "$first" "$last"); do
  if [ "$dry" = --dry-run ]; then echo "+ ip addr $op $prefix.$i/32 dev $dev"
  else ip addr "$op" "$prefix.$i/32" dev "$dev"; fi
done
echo "sources: [\"$prefix.$first\" .. \"$prefix.$last\"] ($op on $dev)"
