#!/usr/bin/env python3
"""Compare two case traces (original vs ours) and list every difference.

usage: compare_traces.py original.json ours.json
exit: 0 when every case matches (same ids, same order, same definitions).
"""
import json
import sys


def norm(x):
    # JSON numbers: 1 and 1.0 compare equal
    if isinstance(x, float) and x.is_integer():
        return int(x)
    if isinstance(x, list):
        return [norm(i) for i in x]
    if isinstance(x, dict):
        return {k: norm(v) for k, v in x.items()}
    return x


def diff(a, b, path, out):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            diff(a.get(k), b.get(k), f"{path}.{k}", out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: length {len(a)} vs {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            diff(x, y, f"{path}[{i}]", out)
    elif a != b:
        sa, sb = json.dumps(a), json.dumps(b)
        out.append(f"{path}: original {sa[:200]} vs ours {sb[:200]}")


def main():
    orig = norm(json.load(open(sys.argv[1])))
    ours = norm(json.load(open(sys.argv[2])))
    oi = [c["id"] for c in orig]
    ui = [c["id"] for c in ours]
    bad = 0
    if oi != ui:
        print("case ids differ:")
        print("  only in original:", [i for i in oi if i not in ui])
        print("  only in ours:    ", [i for i in ui if i not in oi])
        if sorted(oi) == sorted(ui):
            print("  (same set, different order)")
        bad += 1
    ours_by = {c["id"]: c for c in ours}
    for c in orig:
        u = ours_by.get(c["id"])
        if u is None:
            continue
        out = []
        diff(c, u, c["id"], out)
        if out:
            bad += 1
            for line in out[:20]:
                print(line)
    print(f"{len(orig)} original cases, {len(ours)} ours, {bad} with differences")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
