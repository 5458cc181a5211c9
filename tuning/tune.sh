#!/usr/bin/env bash
# Check, apply or revert the kernel settings wstest's load modes need.
#
# usage: tuning/tune.sh check  [--role loadgen|server]
#        tuning/tune.sh apply  [--role loadgen|server] [--dry-run]
#        tuning/tune.sh revert [--dry-run]
#
# check   compare the running values with tuning/sysctl-ROLE.conf and the open-files limit;
#         prints one line per setting (ok / low / missing) and exits 0 (advisory).
# apply   save the current values to $STATE (default /var/tmp/wstest-tune.saved), then set
#         the file's values with sysctl -w (root). Values already higher are kept.
# revert  restore what apply saved.
# --dry-run prints the commands instead of running them.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="${STATE:-/var/tmp/wstest-tune.saved}"
cmd="${1:-check}"
shift || true
role=loadgen
dry=0
while [ $# -gt 0 ]; do
  case "$1" in
    --role) role="${2:?--role needs loadgen or server}"; shift 2 ;;
    --dry-run) dry=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "tune.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
conf="$HERE/sysctl-$role.conf"
[ -f "$conf" ] || { echo "tune.sh: no $conf (role is loadgen or server)" >&2; exit 2; }

# name = value lines of the file, comments and blanks dropped.
settings() { grep -Ev '^[[:space:]]*(#|$)' "$conf" | sed -E 's/[[:space:]]*=[[:space:]]*/=/'; }
path_of() { echo "/proc/sys/${1//.//}"; }
current() { local p; p="$(path_of "$1")"; [ -r "$p" ] && tr -s '[:space:]' ' ' < "$p" | sed 's/ $//'; }

# Is the running value at least the wanted one? Multi-field values compare field by field;
# ip_local_port_range wants a range at least as wide.
enough() { # NAME CURRENT WANTED
  local name="$1" cur="$2" want="$3"
  case "$name" in
    net.ipv4.ip_local_port_range)
      read -r clo chi <<<"$cur"; read -r wlo whi <<<"$want"
      [ $((chi - clo)) -ge $((whi - wlo)) ]; return ;;
    net.ipv4.tcp_fin_timeout) [ "$cur" -le "$want" ]; return ;;   # lower is better
    net.ipv4.tcp_tw_reuse) [ "$cur" = "$want" ]; return ;;        # 2 = loopback only
    net.ipv4.tcp_fastopen) [ $((cur & want)) -eq "$want" ]; return ;;  # bits, not a size
  esac
  local -a c w
  read -r -a c <<<"$cur"; read -r -a w <<<"$want"
  local i
  for i in "${!w[@]}"; do
    [ "${c[$i]:-0}" -ge "${w[$i]}" ] 2>/dev/null || return 1
  done
}

# The value apply sets: the wanted one, or for a bit mask the running bits plus the wanted.
target() { # NAME CURRENT WANTED
  case "$1" in
    net.ipv4.tcp_fastopen) echo $(($2 | $3)) ;;
    *) echo "$3" ;;
  esac
}

run() { if [ "$dry" = 1 ]; then echo "+ $*"; else "$@"; fi; }

case "$cmd" in
  check)
    low=0
    while IFS='=' read -r name want; do
      if ! cur="$(current "$name")"; then
        echo "missing  $name (module not loaded or not in this namespace)"; continue
      fi
      if enough "$name" "$cur" "$want"; then echo "ok       $name = $cur"
      else echo "low      $name = $cur (want $want)"; low=$((low + 1)); fi
    done < <(settings)
    soft="$(ulimit -Sn)"; hard="$(ulimit -Hn)"
    if [ "$hard" != unlimited ] && [ "$hard" -lt 1048576 ]; then
      echo "low      nofile hard limit = $hard (want 1048576: tuning/limits.conf)"; low=$((low + 1))
    else
      echo "ok       nofile soft $soft, hard $hard"
    fi
    echo "$low setting(s) below the $role profile; 'tuning/tune.sh apply --role $role' raises them"
    ;;
  apply)
    [ "$dry" = 1 ] || [ "$(id -u)" = 0 ] || { echo "tune.sh apply: needs root (or --dry-run)" >&2; exit 1; }
    tmp="$(mktemp)"
    while IFS='=' read -r name want; do
      cur="$(current "$name")" || { echo "skip     $name (not available here)"; continue; }
      echo "$name=$cur" >> "$tmp"
      if enough "$name" "$cur" "$want"; then echo "keep     $name = $cur"; continue; fi
      new="$(target "$name" "$cur" "$want")"
      run sysctl -q -w "$name=$new" && echo "set      $name = $new (was $cur)"
    done < <(settings)
    if [ "$dry" = 1 ]; then echo "+ save old values to $STATE"; rm -f "$tmp"
    elif [ -f "$STATE" ]; then echo "kept the values saved earlier in $STATE"; rm -f "$tmp"
    else mv "$tmp" "$STATE"; echo "old values saved in $STATE ('tuning/tune.sh revert' restores them)"; fi
    echo "open files: install tuning/limits.conf as /etc/security/limits.d/wstest.conf and log in again"
    ;;
  revert)
    [ -f "$STATE" ] || { echo "tune.sh revert: nothing saved ($STATE)"; exit 0; }
    [ "$dry" = 1 ] || [ "$(id -u)" = 0 ] || { echo "tune.sh revert: needs root (or --dry-run)" >&2; exit 1; }
    while IFS='=' read -r name old; do
      run sysctl -q -w "$name=$old" && echo "restored $name = $old"
    done < "$STATE"
    run rm -f "$STATE"
    ;;
  *) echo "tune.sh: unknown command $cmd (check, apply, revert)" >&2; exit 2 ;;
esac
