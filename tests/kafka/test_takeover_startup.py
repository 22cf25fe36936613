#!/usr/bin/env python3
"""A member that takes partitions over from another member of the same run
continues from that member's commits, even with 'scan.startup.mode' =
'earliest-offset': the startup mode says where the run starts, not where
each new owner of a partition starts (docs/kafka.md, "Offsets").

Process A alone reads the first half of an 8-partition topic (earliest-
offset, dynamic membership) and commits it. Process B then joins the
group: the rebalance moves about half of the partitions to B. The second
half is produced, both read it, both stop with SIGTERM. Each record must
have been read once: the records both processes report having read add up
to what was produced (a member that restarted the taken-over partitions
from the earliest offset would read the first half of them again).
"""
import json
import os
import re
import signal
import tempfile

import harness
from harness import check, log

IN, OUT, GROUP = "to-in", "to-out", "to-test"

PIPELINE = """-- Kafka integration test (tests/kafka/test_takeover_startup.py)
CREATE TABLE events (
  event_type STRING, user_id INT, page_id INT, `timestamp` DOUBLE
) WITH ('connector' = 'kafka', 'topic' = '${IN_TOPIC}',
        'scan.startup.mode' = 'earliest-offset',
        'properties.group.id' = '${GROUP}',
        'properties.session.timeout.ms' = '6000',
        'properties.heartbeat.interval.ms' = '1000');
CREATE TABLE copied (user_id INT, page_id INT) WITH ('connector' = 'kafka', 'topic' = '${OUT_TOPIC}');
INSERT INTO copied SELECT user_id, page_id FROM events;
"""


def records_read(r):
    m = re.findall(r"source events: (\d+) records", r.output())
    check(m, "%s reported no record count:\n%s" % (r.name, r.output()[-2000:]))
    return int(m[-1])


def test(env):
    b = env["KAFKA_BOOTSTRAP"]
    harness.fresh_topics(b, (IN, OUT))
    lines = harness.gen_user_events(seed=9, count=20000)
    first, second = lines[: len(lines) // 2], lines[len(lines) // 2:]
    harness.produce(b, IN, first, key_field="user_id")
    work = tempfile.mkdtemp(prefix="runnel-takeover-")
    sql = os.path.join(work, "takeover.sql")
    with open(sql, "w") as f:
        f.write(PIPELINE)
    env_run = {"IN_TOPIC": IN, "OUT_TOPIC": OUT, "GROUP": GROUP}
    a = harness.Runnel("takeover-a", sql, env_run, ["--brokers", b])
    c = None
    try:
        def committed(n):
            offs = json.loads(harness.ktool("offsets", GROUP, IN, "--bootstrap", b).stdout)
            return sum(int(v or 0) for v in offs.values()) >= n
        harness.wait_for(lambda: committed(len(first)), 60, "process A to commit the first half")
        log("A read and committed the first %d records; B joins" % len(first))
        c = harness.Runnel("takeover-b", sql, env_run, ["--brokers", b])
        harness.wait_for(lambda: "assigned" in c.output(), 60, "B to be assigned partitions")
        harness.produce(b, IN, second, key_field="user_id")
        harness.wait_for(lambda: committed(len(lines)), 60, "the group to commit everything")
        for r in (a, c):
            rc = r.stop(signal.SIGTERM)
            check(rc == 0, "%s exited with %d:\n%s" % (r.name, rc, r.output()[-2000:]))
        na, nb = records_read(a), records_read(c)
        log("A read %d records, B %d; %d were produced" % (na, nb, len(lines)))
        check(na + nb == len(lines), "A and B read %d records for %d produced: B restarted the partitions "
              "it took over from the earliest offset instead of A's commits" % (na + nb, len(lines)))
    finally:
        for r in (a, c):
            if r and r.running():
                r.stop(signal.SIGKILL)


if __name__ == "__main__":
    harness.main(test)
