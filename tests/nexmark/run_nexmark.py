#!/usr/bin/env python3
"""run_nexmark.py - the Nexmark queries of bench/nexmark on `runnel test`
checked against the batch oracle (oracle.py).

    run_nexmark.py RUNNEL [--seed S] [--count N] [--event-rate R] [--start T] [--keep] [QUERY ...]

1. `runnel gen nexmark --seed S --count N --event-rate R --start T --out WORK/in`;
   the three files must hold persons, auctions and bids 1:3:46.
2. For each query (default: every one oracle.py knows):
   `runnel test bench/nexmark/qN.sql --input WORK/in --output WORK/qN
   --connector nexmark_qN=print --now oracle.NOW_S` (the file's blackhole
   sink made a file; processing time fixed, for q12's windows).
3. The sink's rows (for an updating query, its changes replayed to the
   final table) must equal the oracle's as multisets (DOUBLEs to 3
   decimals, the sink's DECIMAL(23, 3)); the run must log no undecodable
   record and no late row. Exit 0 if every query matched, 1 otherwise.
"""
import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile

import oracle

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def canon(row):
    return json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}, sort_keys=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runnel")
    ap.add_argument("queries", nargs="*")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=50000)
    ap.add_argument("--event-rate", default="1000")
    ap.add_argument("--start", default="2024-05-01T10:00:00Z")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_intermixed_args()
    queries = a.queries or list(oracle.QUERIES)
    work = tempfile.mkdtemp(prefix="runnel-nexmark-")
    failed = []
    try:
        inp = os.path.join(work, "in")
        subprocess.run([a.runnel, "gen", "nexmark", "--seed", str(a.seed), "--count", str(a.count),
                        "--event-rate", a.event_rate, "--start", a.start, "--out", inp], check=True)
        ev = oracle.load(inp)
        n = {t: len(ev[t]) for t in ev}
        if sum(n.values()) != a.count or n["person"] * 50 != a.count or n["auction"] * 50 != 3 * a.count:
            failed.append("gen")
            print(f"FAIL gen: {n} for --count {a.count}: not 1:3:46")
        for q in queries:
            sink = "nexmark_" + q
            out = os.path.join(work, q)
            sql = os.path.join(ROOT, "bench", "nexmark", q + ".sql")
            r = subprocess.run([a.runnel, "test", sql, "--input", inp, "--output", out, "--connector", sink + "=print",
                                "--now", oracle.NOW_S], capture_output=True, text=True)
            log = r.stderr
            if r.returncode != 0:
                failed.append(q)
                print(f"FAIL {q}: runnel test exited {r.returncode}\n{log}")
                continue
            if " 0 undecodable" not in log or any("late rows" in l and " 0 late rows" not in l for l in log.splitlines()):
                failed.append(q)
                print(f"FAIL {q}: undecodable records or late rows\n{log}")
                continue
            # print's lines: the rows of an insert-only query, or the changes
            # {"op", "value"} of an updating one, replayed to the final table
            got = collections.Counter()
            with open(os.path.join(out, sink + ".jsonl"), encoding="utf-8") as f:
                for line in f:
                    r = json.loads(line)
                    if "op" in r:
                        got[canon(r["value"])] += 1 if r["op"] in ("+I", "+U") else -1
                    else:
                        got[canon(r)] += 1
            got = +got
            want = collections.Counter(canon(row) for row in oracle.QUERIES[q](ev))
            if got != want:
                failed.append(q)
                extra, missing = got - want, want - got
                print(f"FAIL {q}: {sum(got.values())} rows, the oracle {sum(want.values())}; "
                      f"{sum(extra.values())} unexpected, {sum(missing.values())} missing")
                for row in list(extra)[:3]:
                    print("  unexpected:", row)
                for row in list(missing)[:3]:
                    print("  missing:   ", row)
            else:
                print(f"ok {q}: {sum(got.values())} rows")
    finally:
        if a.keep:
            print("kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    if failed:
        print("FAILED:", " ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
