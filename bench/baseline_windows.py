#!/usr/bin/env python3
"""baseline_windows.py - the window benchmark's pipelines as plain batch Python.

    baseline_windows.py tumble|session USER_EVENTS.jsonl [--out RESULT.jsonl]
        tumble:  events per (user_id, 10 s window), like bench/windows_tumble.sql
        session: events per user session, 20 s gap, like bench/windows_session.sql
        Reads the whole file (json.loads per line), counts with dicts, and
        writes one {"window_start", "window_end", "user_id", "events"} line
        per result to RESULT.jsonl (if given); prints the number of lines read.
    baseline_windows.py --compare RESULT.jsonl RUNNEL_OUTPUT.jsonl
        checks that runnel's rows and the baseline's are the same multiset
        (order aside); exit 1 if not.

Batch code, not a streaming engine: it sees the whole input before
answering, so it has no watermark and no late rows. bench/windows checks
that runnel reported 0 late rows, so both compute the same thing. Event
time is CAST(`timestamp` * 1000 AS BIGINT) epoch ms, as in the SQL.
"""
import json
import sys
from collections import Counter, defaultdict

SIZE_MS = 10_000
GAP_MS = 20_000


def rows(path):
    n = 0
    with open(path, "rb") as f:
        for line in f:
            n += 1
            ev = json.loads(line)
            yield ev["user_id"], int(ev["timestamp"] * 1000)
    rows.count = n


def tumble(path):
    counts = defaultdict(int)
    for user, ts in rows(path):
        start = ts - ts % SIZE_MS
        counts[(start, user)] += 1
    return [(s, s + SIZE_MS, u, n) for (s, u), n in counts.items()]


def session(path):
    times = defaultdict(list)
    for user, ts in rows(path):
        times[user].append(ts)
    out = []
    for user, ts in times.items():
        ts.sort()
        start = last = ts[0]
        n = 0
        for t in ts:
            if t - last >= GAP_MS:
                out.append((start, last + GAP_MS, user, n))
                start, n = t, 0
            last = t
            n += 1
        out.append((start, last + GAP_MS, user, n))
    return out


def load(path):
    c = Counter()
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            c[(r["window_start"], r["window_end"], r["user_id"], r["events"])] += 1
    return c


def main(argv):
    if len(argv) == 3 and argv[0] == "--compare":
        want, got = load(argv[1]), load(argv[2])
        if want == got:
            print("runnel's %d rows equal the baseline's" % sum(want.values()))
            return 0
        missing, extra = want - got, got - want
        print("MISMATCH: %d rows only in the baseline, %d only in runnel's output"
              % (sum(missing.values()), sum(extra.values())))
        for name, d in (("baseline only", missing), ("runnel only", extra)):
            for r in sorted(d)[:5]:
                print("  %s: window [%d, %d) user %d events %d" % ((name,) + r))
        return 1
    if len(argv) not in (2, 4) or argv[0] not in ("tumble", "session") or \
            (len(argv) == 4 and argv[2] != "--out"):
        sys.stderr.write(__doc__)
        return 2
    result = tumble(argv[1]) if argv[0] == "tumble" else session(argv[1])
    if len(argv) == 4:
        with open(argv[3], "w") as f:
            for s, e, u, n in result:
                f.write('{"window_start":%d,"window_end":%d,"user_id":%d,"events":%d}\n'
                        % (s, e, u, n))
    print(rows.count)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
