#!/usr/bin/env python3
"""S5 data through the 3-broker cluster, 8-partition topics: runnel's output
topics equal a batch computation over the same input.

1. `runnel gen s5 --brokers` produces user-events and purchases (8
   partitions); what lands in Kafka must equal `runnel gen --out` with the
   same seed, keyed so that Java's murmur2 partitioner would agree.
2. `runnel run tests/kafka/pipelines/s5_counts.sql` reads both topics to
   their end and stops.
3. The oracle reads the input topics back with an independent client and
   computes page views, purchase events and spend per user in plain Python;
   the upsert topics' final state and the append topic's records must equal
   it exactly (a clean run has no duplicates).
"""
import collections
import json
import os
import shutil
import subprocess
import tempfile
import time

import harness
from harness import check, log

SEED, COUNT = 11, 20000
OUTPUTS = ["it-page-views", "it-purchase-events", "it-user-spend"]


def test(env):
    b = env["KAFKA_BOOTSTRAP"]
    runnel = os.path.join(harness.ROOT, "build", "runnel")
    for t in ["user-events", "purchases"] + OUTPUTS:
        harness.ktool("delete", t, "--bootstrap", b, check_rc=False)
    for t in OUTPUTS:
        harness.create_topic(b, t, partitions=8, replication=3)

    log("gen s5 to Kafka")
    subprocess.run([runnel, "gen", "s5", "--seed", str(SEED), "--count", str(COUNT),
                    "--brokers", b], check=True)
    files = tempfile.mkdtemp(prefix="runnel-s5-")
    subprocess.run([runnel, "gen", "s5", "--seed", str(SEED), "--count", str(COUNT), "--out", files],
                   check=True)

    events = harness.consume(b, "user-events")
    purchases = harness.consume(b, "purchases")
    for topic, msgs in (("user-events", events), ("purchases", purchases)):
        with open(os.path.join(files, topic + ".jsonl")) as f:
            want = collections.Counter(line.rstrip("\n") for line in f if line.strip())
        got = collections.Counter(m["value"] for m in msgs)
        check(got == want, "%s in Kafka differs from `runnel gen --out` (%d vs %d records)"
              % (topic, sum(got.values()), sum(want.values())))
        parts = {m["partition"] for m in msgs}
        check(len(parts) == 8, "%s uses %d partitions, not 8" % (topic, len(parts)))
        for m in msgs:
            uid = json.loads(m["value"])["user_id"]
            check(m["key"] == '{"user_id":%s}' % json.dumps(uid), "bad key %r" % m["key"])
            check(m["partition"] == harness.java_partition(m["key"].encode(), 8),
                  "%s: key %s is in partition %d, Java's murmur2 says %d"
                  % (topic, m["key"], m["partition"], harness.java_partition(m["key"].encode(), 8)))

    # a pipeline name of its own per run: its consumer groups, repartition
    # topics and checkpoints are new, as a fresh deployment's (the input
    # topics were re-created; an earlier run's commits and checkpoints
    # would otherwise be restored, as a restart's are)
    pipeline = os.path.join(tempfile.mkdtemp(prefix="runnel-s5-sql-"), "s5_counts_%x.sql" % (int(time.time()) % 0xFFFFFF))
    shutil.copyfile(os.path.join(harness.PIPELINES, "s5_counts.sql"), pipeline)
    log("runnel run %s" % pipeline)
    r = harness.Runnel("s5", pipeline, {}, ["--brokers", b])
    rc = r.wait(180)
    check(rc == 0, "runnel exited with %d:\n%s" % (rc, r.output()))

    # the oracle: a batch computation over what is in the input topics
    views, viewers = collections.Counter(), collections.defaultdict(set)
    purchase_events = collections.Counter()
    for m in events:
        e = json.loads(m["value"])
        if e["event_type"] == "page-view":
            views[e["page_id"]] += 1
            viewers[e["page_id"]].add(e["user_id"])
        if e["event_type"] == "purchase":
            purchase_events[harness.canon({"user_id": e["user_id"], "page_id": e["page_id"],
                                           "timestamp": e["timestamp"],
                                           "source_partition": m["partition"]})] += 1
    spend, count = collections.Counter(), collections.Counter()
    for m in purchases:
        p = json.loads(m["value"])
        spend[p["user_id"]] += p["amount"]
        count[p["user_id"]] += 1

    want_views = {harness.canon({"page_id": p}): harness.canon(
        {"page_id": p, "views": views[p], "users": len(viewers[p])}) for p in views}
    got = harness.upsert_state(harness.consume(b, "it-page-views"))
    got = {harness.canon(json.loads(k)): harness.canon(json.loads(v)) for k, v in got.items()}
    check(got == want_views, "it-page-views: %d keys differ from the oracle" %
          len(set(got.items()) ^ set(want_views.items())))

    want_spend = {harness.canon({"user_id": u}): harness.canon(
        {"user_id": u, "total": spend[u], "purchases": count[u]}) for u in spend}
    got = harness.upsert_state(harness.consume(b, "it-user-spend"))
    got = {harness.canon(json.loads(k)): harness.canon(json.loads(v)) for k, v in got.items()}
    check(got == want_spend, "it-user-spend: %d keys differ from the oracle" %
          len(set(got.items()) ^ set(want_spend.items())))

    out = harness.consume(b, "it-purchase-events")
    got = collections.Counter(harness.canon(json.loads(m["value"])) for m in out)
    check(got == purchase_events, "it-purchase-events: %d records, oracle %d; %d differ" % (
        sum(got.values()), sum(purchase_events.values()), len(set(got) ^ set(purchase_events))))
    for m in out:
        check(m["partition"] == harness.java_partition(m["key"].encode(), 8),
              "it-purchase-events: key %s in partition %d, Java's murmur2 says %d"
              % (m["key"], m["partition"], harness.java_partition(m["key"].encode(), 8)))
    log("%d page-view keys, %d purchase events, %d spend keys: all equal the oracle"
        % (len(want_views), sum(purchase_events.values()), len(want_spend)))


if __name__ == "__main__":
    harness.main(test)
