#!/usr/bin/env python3
"""Reading an upsert-kafka table: keyed records, updates and tombstones in
an 8-partition topic (each key in the partition a Java producer would pick)
read by `runnel run` to the end of the topic (tests/kafka/pipelines/
upsert_source.sql). The copy of the table must equal the table the topic
stands for (last value per key, tombstones delete), and the products per
category (an updating GROUP BY behind a repartition topic) must equal a
count over that table: every update of a product's category retracts it
from its old category, every delete removes it, a tombstone of an unknown
key and a repeated identical record change nothing.

The values leave the id out ('value.fields-include' = 'EXCEPT_KEY'); some
carry a wrong "id" anyway, which must be ignored (the key wins). Prices are
whole numbers, so the sums compare exactly.

It runs twice over the same input, each time in a fresh group into fresh
output topics: by one process reading to the end of the topic (bounded),
then by one process with `--workers 2` (each worker normalizes the keys of
its own partitions), unbounded and stopped once its output is complete.

  python3 tests/kafka/test_upsert_source.py
"""
import json
import random
import signal
import time

import harness
from harness import check, log

IN = "upsrc-in"
PARTITIONS = 8
KEYS = 300
RECORDS = 6000
CATEGORIES = ["books", "toys", "games", "food", "tools"]


def key_json(k):
    return json.dumps({"id": k}, separators=(",", ":"))


def make_input(seed):
    """The records ({"key", "value", "partition"} for ktool --kv) and the
    table they stand for (id -> (category, price))."""
    rnd = random.Random(seed)
    table, recs = {}, []
    for _ in range(RECORDS):
        k = rnd.randrange(KEYS + 20)  # ids >= KEYS are rarely upserted: unknown-key tombstones
        part = harness.java_partition(key_json(k).encode(), PARTITIONS)
        what = rnd.random()
        if what < 0.15 or k >= KEYS:
            recs.append({"key": {"id": k}, "value": None, "partition": part})
            table.pop(k, None)
            continue
        if what < 0.25 and k in table:
            cat, price = table[k]  # the same row again
        else:
            cat, price = rnd.choice(CATEGORIES), float(rnd.randrange(1, 100))
        value = {"category": cat, "price": price}
        if rnd.random() < 0.3:
            value["id"] = k + 100000  # not a column of the value: ignored
        recs.append({"key": {"id": k}, "value": value, "partition": part})
        table[k] = (cat, price)
    return recs, table


def test(env):
    b = env["KAFKA_BOOTSTRAP"]
    runs = [("one", []), ("workers", ["--workers", "2"])]
    outputs = ["upsrc-%s-%s" % (kind, name) for name, _ in runs for kind in ("counts", "copy")]
    old = [t for t in harness.ktool("topics", "--prefix", "upsrc-", "--bootstrap", b).stdout.split()
           if t.endswith("-repartition")]
    for t in old + [IN] + outputs:
        harness.ktool("delete", t, "--bootstrap", b, check_rc=False)
    for t in [IN] + outputs:
        harness.create_topic(b, t, partitions=PARTITIONS, replication=3)
    recs, table = make_input(20260101)
    harness.produce(b, IN, [json.dumps(r) for r in recs], extra=["--kv"])
    log("produced %d records over %d keys; %d keys remain" % (len(recs), KEYS, len(table)))
    for name, args in runs:
        check_run(b, name, args, table)


def check_run(b, name, args, table):
    """Runs the pipeline in a fresh group into its own output topics and
    compares them with the table."""
    counts_topic, copy_topic = "upsrc-counts-%s" % name, "upsrc-copy-%s" % name
    group = "upsrc-%s-%d" % (name, time.time() * 1000)
    # Workers run unbounded and are stopped once the output is complete: a
    # bounded worker that finishes before the other joins its groups stops
    # polling, and the group then waits for it (max.poll.interval.ms).
    bounded = "--workers" not in args
    r = harness.Runnel("upsrc-%s" % name, "upsert_source.sql",
                       {"IN_TOPIC": IN, "COUNTS_TOPIC": counts_topic, "COPY_TOPIC": copy_topic,
                        "GROUP": group, "BOUNDED": "latest-offset" if bounded else "unbounded"},
                       ["--brokers", b] + args)
    want_copy = {key_json(k): {"id": k, "category": c, "price": p} for k, (c, p) in table.items()}
    if bounded:
        rc = r.wait(300)
    else:
        def complete():
            check(r.running(), "runnel exited with %s:\n%s" % (r.proc.returncode, r.output()))
            got = harness.upsert_state(harness.consume(b, copy_topic))
            return {k: json.loads(v) for k, v in got.items()} == want_copy
        harness.wait_for(complete, 120, "%s: the copy of the table to be complete" % name, interval=2)
        rc = r.stop(signal.SIGTERM)
    check(rc == 0, "runnel exited with %d:\n%s" % (rc, r.output()))
    check("undecodable" not in r.output() or ", 0 undecodable" in r.output(),
          "dead letters in a clean input:\n%s" % r.output())

    copy = harness.upsert_state(harness.consume(b, copy_topic))
    got_copy = {k: json.loads(v) for k, v in copy.items()}
    missing = sorted(set(want_copy) - set(got_copy))[:5]
    extra = sorted(set(got_copy) - set(want_copy))[:5]
    wrong = [(k, got_copy[k], want_copy[k]) for k in want_copy
             if k in got_copy and got_copy[k] != want_copy[k]][:5]
    check(not missing and not extra and not wrong,
          name + ": copy of the table differs: missing %s, extra %s, wrong %s" % (missing, extra, wrong))

    counts = harness.upsert_state(harness.consume(b, counts_topic))
    want = {}
    for c, p in table.values():
        n, total = want.get(c, (0, 0.0))
        want[c] = (n + 1, total + p)
    want_counts = {json.dumps({"category": c}, separators=(",", ":")): {"category": c, "n": n, "total": t}
                   for c, (n, t) in want.items()}
    got_counts = {k: json.loads(v) for k, v in counts.items()}
    check(got_counts == want_counts, "%s: products per category %s, expected %s"
          % (name, json.dumps(got_counts, sort_keys=True), json.dumps(want_counts, sort_keys=True)))
    log("%s: copy of %d products and %d category counts equal the table the topic stands for"
        % (name, len(got_copy), len(got_counts)))


if __name__ == "__main__":
    harness.main(test)
