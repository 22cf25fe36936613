#!/usr/bin/env python3
"""lookup_s4.py - S4's lookup join (tests/sql/cases/lookup_s4/pipeline.sql)
over generated data, once per cache setting, checked against a batch
oracle.

    lookup_s4.py RUNNEL [--seed S] [--count N]

1. `runnel gen s4 --seed S --count N --start T --out WORK/in`: campaigns and
   the rows of subscribers_restaurants (20 restaurants, 0..30 subscribers
   each, the last one none).
2. The pipeline with 'lookup.cache' NONE, PARTIAL (max-rows 1000), PARTIAL
   with max-rows 3 and a 1 s expiry (keys evicted and reloaded all the
   time), PARTIAL not caching missing keys, and FULL: `runnel test --now T`
   on the same input.
3. Each output must equal the oracle as a multiset: for every campaign
   active at T (start <= T <= end), one record per subscriber of its
   restaurant with the campaign's fields, client_id, and
   trigger_datetime_created = T.
"""
import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PIPELINE = os.path.join(ROOT, "tests", "sql", "cases", "lookup_s4", "pipeline.sql")
NOW = 1714557600

CACHES = {
    "none": "'lookup.cache' = 'NONE'",
    "partial": "'lookup.cache' = 'PARTIAL', 'lookup.partial-cache.max-rows' = '1000'",
    "partial_small": "'lookup.cache' = 'PARTIAL', 'lookup.partial-cache.max-rows' = '3', "
                     "'lookup.partial-cache.expire-after-access' = '1 s'",
    "partial_no_missing": "'lookup.cache' = 'PARTIAL', 'lookup.partial-cache.cache-missing-key' = 'false'",
    "full": "'lookup.cache' = 'FULL', 'lookup.full-cache.periodic-reload.interval' = '1 min'",
}


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def oracle(campaigns, subscribers):
    by_restaurant = collections.defaultdict(list)
    for s in subscribers:
        by_restaurant[s["restaurant_id"]].append(s["client_id"])
    out = []
    for c in campaigns:
        if not (c["adv_campaign_datetime_start"] <= NOW <= c["adv_campaign_datetime_end"]):
            continue
        for client in by_restaurant.get(c["restaurant_id"], []):
            row = dict(c)
            row["client_id"] = client
            row["trigger_datetime_created"] = NOW
            out.append(row)
    return out


def key(row):
    return json.dumps(row, sort_keys=True, ensure_ascii=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runnel")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=5000)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="runnel-lookup-s4-")
    try:
        in_dir = os.path.join(work, "in")
        subprocess.run([args.runnel, "gen", "s4", "--seed", str(args.seed), "--count", str(args.count),
                        "--start", str(NOW), "--out", in_dir], check=True, stdout=subprocess.DEVNULL)
        campaigns = read_jsonl(os.path.join(in_dir, "campaigns.jsonl"))
        subscribers = read_jsonl(os.path.join(in_dir, "subscribers_restaurants.jsonl"))
        want = collections.Counter(key(r) for r in oracle(campaigns, subscribers))
        if len(want) < 100:
            fail("the oracle expects only %d rows: the generated data does not exercise the join" % len(want))
        with open(PIPELINE, encoding="utf-8") as f:
            sql = f.read()
        cache_re = re.compile(r"'lookup\.cache' = 'PARTIAL',\s*'lookup\.partial-cache\.max-rows' = '1000',\s*"
                              r"'lookup\.partial-cache\.expire-after-write' = '1 min'")
        if not cache_re.search(sql):
            fail("the cache options of %s are not where this test expects them" % PIPELINE)
        for name, opts in CACHES.items():
            variant = os.path.join(work, "s4_%s.sql" % name)
            with open(variant, "w", encoding="utf-8") as f:
                f.write(cache_re.sub(opts, sql))
            out_dir = os.path.join(work, "out_" + name)
            p = subprocess.run([args.runnel, "test", variant, "--input", in_dir, "--output", out_dir,
                                "--now", str(NOW)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            stderr = p.stderr.decode("utf-8", errors="replace")
            if p.returncode != 0:
                fail("%s: runnel exited %d:\n%s" % (name, p.returncode, stderr))
            got = collections.Counter(key(r) for r in read_jsonl(os.path.join(out_dir, "campaign_notifications.jsonl")))
            if got != want:
                missing, extra = want - got, got - want
                fail("%s: %d rows missing, %d unexpected; e.g. missing %s, unexpected %s" % (
                    name, sum(missing.values()), sum(extra.values()), next(iter(missing), None),
                    next(iter(extra), None)))
            stats = re.search(r"lookup join #\d+ on subscribers_restaurants: (\d+) lookups, (\d+) cache hits", stderr)
            if not stats:
                fail("%s: no lookup join line on stderr:\n%s" % (name, stderr))
            lookups, hits = int(stats.group(1)), int(stats.group(2))
            if name == "none" and hits:
                fail("none: %d cache hits without a cache" % hits)
            if name == "full" and lookups:
                fail("full: %d lookups with the whole table cached" % lookups)
            if name == "partial" and not hits:
                fail("partial: no cache hit over %d campaigns" % len(campaigns))
            print("ok %s: %d rows, %d lookups, %d cache hits" % (name, sum(got.values()), lookups, hits))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
