#!/usr/bin/env python3
"""Compares the matches of `cepheus replay --matches` with those of `FlinkCepBench --dump`.

    compare_matches.py CEPHEUS_MATCHES.jsonl FLINK_DUMP.tsv

A match is its key and the `event_id`s it took, stages in pattern order. Prints how many
matches each side has, how many they share, and up to ten that only one side has; exits 1 when
the two multisets differ.
"""
import json
import sys
from collections import Counter


def cepheus(path):
    out = Counter()
    with open(path) as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("timeout"):
                continue
            ids = [e["event_id"] for stage in rec["match"].values() for e in stage]
            out[(rec["key"], ",".join(ids))] += 1
    return out


def flink(path):
    out = Counter()
    with open(path) as f:
        for line in f:
            key, _, ids = line.rstrip("\n").partition("\t")
            out[(key, ids)] += 1
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    c, f = cepheus(sys.argv[1]), flink(sys.argv[2])
    only_c, only_f = c - f, f - c
    shared = sum((c & f).values())
    print(json.dumps({"cepheus": sum(c.values()), "flink": sum(f.values()), "shared": shared,
                      "only_cepheus": sum(only_c.values()), "only_flink": sum(only_f.values())}))
    for name, diff in (("only cepheus", only_c), ("only flink", only_f)):
        for (key, ids), n in list(diff.items())[:10]:
            print(f"{name}: {key} {ids} x{n}")
    sys.exit(1 if only_c or only_f else 0)


if __name__ == "__main__":
    main()
