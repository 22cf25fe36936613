#!/usr/bin/env python3
"""Two `runnel run` processes in one consumer group split an 8-partition
topic; together they produce the complete answer. Then one is killed
(SIGKILL: no chance to commit or leave the group), its partitions move to
the survivor, more input arrives, and still nothing is lost: every expected
output record is present (duplicates are allowed until checkpoints arrive)
and nothing unexpected is.
"""
import json
import signal

import harness
from harness import check, log

IN, OUT, GROUP = "grp-in", "grp-out", "grp-test"


def test(env):
    b = env["KAFKA_BOOTSTRAP"]
    harness.fresh_topics(b, (IN, OUT, "grp-dlq"))
    lines = harness.gen_user_events(seed=5, count=12000)
    first, second = lines[: len(lines) // 2], lines[len(lines) // 2:]
    harness.produce(b, IN, first, key_field="user_id")

    env_run = {"IN_TOPIC": IN, "OUT_TOPIC": OUT, "GROUP": GROUP, "BOUNDED": "unbounded",
               "DLQ_TOPIC": "grp-dlq"}
    a = harness.Runnel("group-a", "passthrough.sql", env_run, ["--brokers", b])
    c = harness.Runnel("group-b", "passthrough.sql", env_run, ["--brokers", b])
    try:
        want = harness.passthrough_expected(first)
        harness.wait_for(lambda: harness.output_covers(b, OUT, want), 120,
                         "the first half's %d records" % sum(want.values()))
        for r in (a, c):
            check(r.running(), "runnel %s stopped early:\n%s" % (r.name, r.output()))
        # both members own partitions (each says so when it is assigned some)
        harness.wait_for(lambda: all("assigned" in r.output() for r in (a, c)), 30,
                                  "both processes to report an assignment")
        log("both members got partitions; killing group-b")
        c.stop(signal.SIGKILL)
        harness.produce(b, IN, second, key_field="user_id")
        want = harness.passthrough_expected(lines)
        got = harness.wait_for(lambda: harness.output_covers(b, OUT, want), 120,
                               "all %d records after group-b died" % sum(want.values()))
        extra = [k for k in got if k not in want]
        check(not extra, "%d unexpected output records, e.g. %s" % (len(extra), extra[:1]))
        dups = sum(got.values()) - sum(want.values())
        log("complete: %d records, %d duplicates (allowed before checkpoints)"
            % (sum(want.values()), dups))
        check(a.running(), "group-a died:\n%s" % a.output())
        rc = a.stop(signal.SIGTERM)
        check(rc == 0, "group-a exited with %d after SIGTERM:\n%s" % (rc, a.output()))
        # the survivor committed everything on its clean stop
        offs = json.loads(harness.ktool("offsets", GROUP, IN, "--bootstrap", b).stdout)
        total = sum(int(v) for v in offs.values())
        check(total == len(lines), "group offsets sum to %d, not %d" % (total, len(lines)))
    finally:
        for r in (a, c):
            if r.running():
                r.stop(signal.SIGKILL)


if __name__ == "__main__":
    harness.main(test)
