#!/usr/bin/env python3
"""baseline_page_views.py - the page_views pipeline as the simplest Python.

    baseline_page_views.py USER_EVENTS.jsonl [--out RESULT.json]
        counts page views and distinct users per page, like
        examples/page_views.sql, and writes {"<page_id>": [views, users]}
        to RESULT.json (if given); prints the number of lines read.
    baseline_page_views.py --compare RESULT.json PAGE_VIEWS.jsonl
        replays runnel's upsert output (last value per key, null = delete)
        and checks its final state equals RESULT.json; exit 1 if not.

This is what our users run today (a json.loads loop over the topic): the
benchmark reports runnel's speed relative to it.
"""
import json
import sys
from collections import defaultdict


def count(path):
    views = defaultdict(int)
    users = defaultdict(set)
    n = 0
    with open(path, "rb") as f:
        for line in f:
            n += 1
            ev = json.loads(line)
            if ev.get("event_type") == "page-view":
                page = ev.get("page_id")
                views[page] += 1
                if ev.get("user_id") is not None:
                    users[page].add(ev["user_id"])
    return n, {str(p): [views[p], len(users[p])] for p in views}


def replay(path):
    state = {}
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            rec = json.loads(line)
            key = str(rec["key"]["page_id"])
            if rec["value"] is None:
                state.pop(key, None)
            else:
                v = rec["value"]
                if str(v["page_id"]) != key:
                    raise SystemExit("%s:%d: key and value disagree" % (path, i))
                state[key] = [v["views"], v["users"]]
    return state


def main(argv):
    if len(argv) == 3 and argv[0] == "--compare":
        with open(argv[1]) as f:
            want = json.load(f)
        got = replay(argv[2])
        if got == want:
            print("runnel's final state equals the baseline's (%d pages)" % len(want))
            return 0
        bad = sorted(set(want) | set(got), key=lambda k: (len(k), k))
        bad = [k for k in bad if want.get(k) != got.get(k)]
        print("MISMATCH on %d pages; first ones (page: baseline [views, users] vs runnel):"
              % len(bad))
        for k in bad[:10]:
            print("  %s: %s vs %s" % (k, want.get(k), got.get(k)))
        return 1
    if len(argv) not in (1, 3) or (len(argv) == 3 and argv[1] != "--out"):
        sys.stderr.write(__doc__)
        return 2
    n, result = count(argv[0])
    if len(argv) == 3:
        with open(argv[2], "w") as f:
            json.dump(result, f)
    print(n)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
