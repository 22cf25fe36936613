#!/usr/bin/env python3
"""baseline_joins.py - the plain-Python batch baselines of bench/joins:
S5 (interval join of purchase events with purchases, nearest within +-5 s;
sessions with a 20 s gap; visits and suspicious sessions) and S3 (latest
user record per user_id joined with the events, counted per user and per
event type), reading the `runnel gen` files once with json.loads per line.

    baseline_joins.py s5 DIR [--check OUT]   # DIR/user-events.jsonl, DIR/purchases.jsonl
    baseline_joins.py s3 DIR [--check OUT]   # DIR/CorpAppsTopic.jsonl, DIR/test.jsonl

Prints the result sizes. With --check, compares with runnel's output
directory OUT (visits/suspicious-visits as multisets; the upsert tables'
final state) and exits 1 on a difference.
"""
import bisect
import collections
import json
import os
import sys


def ms(v):
    return int(round(v * 1000))


def s5(d):
    pur = collections.defaultdict(list)
    with open(os.path.join(d, "purchases.jsonl")) as f:
        for line in f:
            p = json.loads(line)
            pur[p["user_id"]].append((ms(p["timestamp"]), p["amount"]))
    for v in pur.values():
        v.sort()
    per_user = collections.defaultdict(list)
    with open(os.path.join(d, "user-events.jsonl")) as f:
        for line in f:
            e = json.loads(line)
            t = ms(e["timestamp"])
            amount = None
            if e["event_type"] == "purchase":
                ps = pur[e["user_id"]]
                i = bisect.bisect_left(ps, (t - 5000, -1))
                best = None
                while i < len(ps) and ps[i][0] <= t + 5000:
                    c = (abs(t - ps[i][0]), ps[i][0], ps[i][1])
                    if best is None or c < best:
                        best = c
                    i += 1
                if best:
                    amount = best[2]
            per_user[e["user_id"]].append((t, e["event_type"], e["page_id"], amount))
    visits, suspicious = collections.Counter(), collections.Counter()
    for uid, rs in per_user.items():
        rs.sort(key=lambda r: r[0])
        start = 0
        for i in range(1, len(rs) + 1):
            if i < len(rs) and rs[i][0] - rs[i - 1][0] < 20000:
                continue
            s = rs[start:i]
            sid = "%s-%d" % (uid, s[0][0])
            last = None
            for r in s:
                if r[3] is not None and (last is None or r[0] >= last[0]):
                    last = r
            amount = last[3] if last else 0
            for r in s:
                visits[(sid, uid, r[1], r[2], r[0], amount)] += 1
            if len(s) > 5:
                suspicious[(sid, uid, 1)] += 1
            elif not any(r[1] == "page-view" for r in s):
                suspicious[(sid, uid, 2)] += 1
            start = i
    return visits, suspicious


def s3(d):
    users = {}
    with open(os.path.join(d, "CorpAppsTopic.jsonl")) as f:
        for line in f:
            u = json.loads(line)
            users[u["user_id"]] = (u["name"], u["email"])
    per_user, per_event = collections.Counter(), collections.Counter()
    with open(os.path.join(d, "test.jsonl")) as f:
        for line in f:
            e = json.loads(line)
            if e["user_id"] in users:
                per_user[e["user_id"]] += 1
                per_event[e["event"]] += 1
    return {u: users[u] + (n,) for u, n in per_user.items()}, dict(per_event)


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def upsert_table(path):
    t = {}
    for r in read_jsonl(path):
        k = json.dumps(r["key"], sort_keys=True)
        if r["value"] is None:
            t.pop(k, None)
        else:
            t[k] = r["value"]
    return t


def main():
    scen, d = sys.argv[1], sys.argv[2]
    out = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--check" else None
    if scen == "s5":
        visits, suspicious = s5(d)
        print("visits %d, suspicious sessions %d" % (sum(visits.values()), sum(suspicious.values())))
        if out:
            got = collections.Counter((v["session_id"], v["user_id"], v["event_type"], v["page_id"],
                                       v["timestamp"], v["amount"]) for v in read_jsonl(os.path.join(out, "visits.jsonl")))
            sus = collections.Counter((v["session_id"], v["user_id"], v["type"])
                                      for v in read_jsonl(os.path.join(out, "suspicious-visits.jsonl")))
            if got != visits or sus != suspicious:
                print("runnel's output differs from the baseline (visits %d vs %d, suspicious %d vs %d)" % (
                    sum(got.values()), sum(visits.values()), sum(sus.values()), sum(suspicious.values())))
                sys.exit(1)
    else:
        counts, per_event = s3(d)
        print("users %d, event types %d" % (len(counts), len(per_event)))
        if out:
            got = {v["user_id"]: (v["name"], v["email"], v["event_count"])
                   for v in upsert_table(os.path.join(out, "user_event_counts.jsonl")).values()}
            ev = {v["event"]: v["count"] for v in upsert_table(os.path.join(out, "event_type_counts.jsonl")).values()}
            if got != counts or ev != per_event:
                print("runnel's output differs from the baseline")
                sys.exit(1)


if __name__ == "__main__":
    main()
