#!/usr/bin/env python3
"""Nexmark through the 3-broker cluster: `runnel gen nexmark --brokers`
writes the three topics, and Nexmark queries read them with `runnel run`;
their output topics equal the batch oracle of tests/nexmark/oracle.py.

1. `runnel gen nexmark --brokers` (person, auction, bid; 8 partitions
   each): what lands in Kafka must equal `runnel gen nexmark --out` with
   the same seed, as multisets per topic, spread over the partitions.
2. For each query (bench/nexmark/qN.sql, unchanged): `runnel run` with
   the source tables bounded ('scan.bounded.mode' = 'latest-offset') and
   the blackhole sink made a Kafka topic (`--connector`, `--set`).
3. The oracle reads the generated files (equal to the topics, step 1) and
   computes each query in plain Python; the output topic must hold the
   same rows as a multiset. Over Kafka a query's windows and joins see
   eight partitions with watermarks of their own, where the file run sees
   one: results must not change. q12's windows are of processing time,
   so only their shape (10 s on the grid, within the run's wall clock)
   and the bids per bidder over all windows are compared.
4. q5 again over a copy of bid with every record in partition 0 of 8:
   seven partitions end at once, empty. q5 chains four repartition topics
   and a join of two of them; a bounded run once hung there (the join's
   first input ended, and the shared consumer was never polled again for
   the second).

    test_nexmark_kafka.py [QUERY ...]      default: q0 q3 q5 q7 q8 q12
"""
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import harness
from harness import check, log

sys.path.insert(0, os.path.join(harness.ROOT, "tests", "nexmark"))
import oracle  # noqa: E402

SEED, COUNT = 5, 20000
TOPICS = ["person", "auction", "bid"]
QUERIES = sys.argv[1:] or ["q0", "q3", "q5", "q7", "q8", "q12"]


def canon(row):
    return json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}, sort_keys=True)


def sources(sql_path):
    """The names of the Kafka tables a query file declares."""
    with open(sql_path, encoding="utf-8") as f:
        text = f.read()
    return [m.group(1) for m in re.finditer(r"CREATE TABLE (\w+) \((?:[^;]*?)'connector' = 'kafka'", text)]


def check_proctime_windows(b, out, ev, started_ms, ended_ms):
    """q12 counts bids per bidder in 10 s windows of processing time, so
    which window holds a bid depends on when it was read: every window is
    10 s on the 10 s grid and lies within the run's wall clock, and per
    bidder the counts over all windows add up to the bidder's bids."""
    rows = [json.loads(m["value"]) for m in harness.consume(b, out)]
    size = 10000
    for r in rows:
        check(r["endtime"] - r["starttime"] == size and r["starttime"] % size == 0,
              "q12: window %s is not a 10 s TUMBLE window" % r)
        check(started_ms - size <= r["starttime"] <= ended_ms,
              "q12: window %s is not in the run's processing time [%d, %d]" % (r, started_ms, ended_ms))
    got = collections.Counter()
    for r in rows:
        got[r["bidder"]] += r["bid_count"]
    want = collections.Counter(bid["bidder"] for bid in ev["bid"])
    check(got == want, "q12: bids per bidder over all windows differ from the input: %d bidders, %d expected"
          % (len(got), len(want)))
    log("q12 -> %s: %d windows of processing time, %d bids per bidder equal the input"
        % (out, len(rows), sum(got.values())))


def test(env):
    b = env["KAFKA_BOOTSTRAP"]
    runnel = os.path.join(harness.ROOT, "build", "runnel")
    outs = ["it-nexmark-" + q for q in QUERIES]
    harness.fresh_topics(b, TOPICS + outs + ["it-nexmark-bid-p0", "it-nexmark-q5-p0"])

    log("gen nexmark to Kafka")
    gen = ["gen", "nexmark", "--seed", str(SEED), "--count", str(COUNT), "--event-rate", "1000"]
    subprocess.run([runnel] + gen + ["--brokers", b], check=True)
    files = tempfile.mkdtemp(prefix="runnel-nexmark-")
    subprocess.run([runnel] + gen + ["--out", files], check=True)
    for t in TOPICS:
        msgs = harness.consume(b, t)
        with open(os.path.join(files, t + ".jsonl"), encoding="utf-8") as f:
            want = collections.Counter(line.rstrip("\n") for line in f if line.strip())
        got = collections.Counter(m["value"] for m in msgs)
        check(got == want, "%s in Kafka differs from `runnel gen nexmark --out` (%d vs %d records)"
              % (t, sum(got.values()), sum(want.values())))
        # no key: librdkafka's sticky partitioner fills a partition at a
        # time, so a small topic may leave some empty
        parts = {m["partition"] for m in msgs}
        check(len(parts) > 1, "%s uses %d partition of 8" % (t, len(parts)))
    ev = oracle.load(files)

    harness.ktool("produce", "it-nexmark-bid-p0", os.path.join(files, "bid.jsonl"), "--partition", "0",
                  "--bootstrap", b)
    # the p0 run under a pipeline name of its own: its groups and
    # repartition topics are not the first q5 run's
    p0 = os.path.join(tempfile.mkdtemp(prefix="runnel-nexmark-p0-"), "q5_p0.sql")
    shutil.copyfile(os.path.join(harness.ROOT, "bench", "nexmark", "q5.sql"), p0)
    runs = [(q, out, [], os.path.join(harness.ROOT, "bench", "nexmark", q + ".sql")) for q, out in zip(QUERIES, outs)]
    runs.append(("q5", "it-nexmark-q5-p0", ["--set", "bid.topic=it-nexmark-bid-p0"], p0))
    for q, out, extra, sql in runs:
        sink = "nexmark_" + q
        args = ["--brokers", b, "--connector", sink + "=kafka", "--set", sink + ".topic=" + out] + extra
        for t in sources(sql):
            args += ["--set", t + ".scan.bounded.mode=latest-offset"]
        started_ms = time.time() * 1000
        r = harness.Runnel("nexmark-" + out, sql, {}, args)
        rc = r.wait(240)
        ended_ms = time.time() * 1000
        text = r.output()
        check(rc == 0, "%s: runnel exited with %d:\n%s" % (q, rc, text[-3000:]))
        check(" 0 undecodable" in text and not re.search(r"[1-9]\d* late rows", text),
              "%s: undecodable records or late rows:\n%s" % (q, text[-3000:]))
        if q == "q12":
            check_proctime_windows(b, out, ev, started_ms, ended_ms)
            continue
        got = collections.Counter(canon(json.loads(m["value"])) for m in harness.consume(b, out))
        want = collections.Counter(canon(row) for row in oracle.QUERIES[q](ev))
        extra, missing = got - want, want - got
        check(got == want, "%s: %d rows, the oracle %d; %d unexpected (e.g. %s), %d missing (e.g. %s)" % (
            q, sum(got.values()), sum(want.values()), sum(extra.values()), list(extra)[:2],
            sum(missing.values()), list(missing)[:2]))
        log("%s -> %s: %d rows equal the oracle" % (q, out, sum(got.values())))


if __name__ == "__main__":
    harness.main(test)
