#!/usr/bin/env python3
"""A window that is still open when runnel stops is not lost: runnel
commits a partition's offset only up to the first record of a window whose
result it has not emitted, so the next run reads that record again.

Phase 1 fills window [T, T+10) and puts one record into [T+10, T+20); the
watermark (max - 1 s) passes T+10, so the first window is emitted and the
second stays open. After a clean stop (SIGTERM) the group's committed offset
must point at that open window's record, not past it. Phase 2 restarts
runnel in the same group and produces a record at T+25: the second window
then fires with both of its records, and the first is not emitted again.
"""
import collections
import json
import signal

import harness
from harness import check, log

IN, OUT, GROUP = "wr-in", "wr-out", "wr-test"
T = 1714557600  # 2024-05-01 10:00:00 UTC, a window boundary


def event(user, t):
    return json.dumps({"user_id": user, "timestamp": t})


def windows(bootstrap):
    rows = [json.loads(m["value"]) for m in harness.consume(bootstrap, OUT)]
    return collections.Counter(harness.canon(r) for r in rows)


def row(start, user, n):
    return harness.canon({"window_start": start * 1000, "window_end": (start + 10) * 1000,
                          "user_id": user, "n": n})


def test(env):
    b = env["KAFKA_BOOTSTRAP"]
    harness.fresh_topics(b, (IN, OUT), partitions=1)
    phase1 = [event(1, T + 1), event(2, T + 2), event(1, T + 3.5), event(1, T + 9),
              event(2, T + 12), event(1, T + 11.5)]
    first_open = 4  # offset of the first record of window [T+10, T+20)
    harness.produce(b, IN, phase1)
    # one static member: the restart takes the partition back without a rebalance
    env_run = {"IN_TOPIC": IN, "OUT_TOPIC": OUT, "GROUP": GROUP, "INSTANCE": "wr-member"}
    r = harness.Runnel("window-restart-1", "window_restart.sql", env_run, ["--brokers", b])
    try:
        want1 = collections.Counter([row(T, 1, 3), row(T, 2, 1)])
        harness.wait_for(lambda: windows(b) == want1 or None, 60, "window [T, T+10) only")
        rc = r.stop(signal.SIGTERM)
        check(rc == 0, "runnel exited with %d after SIGTERM:\n%s" % (rc, r.output()))
        offs = json.loads(harness.ktool("offsets", GROUP, IN, "--bootstrap", b).stdout)
        got = sum(int(v) for v in offs.values())
        check(got == first_open,
              "committed offset is %d; it must stop at %d, the first record of the open window"
              % (got, first_open))
        log("committed offset %d: the open window's records will be read again" % got)

        harness.produce(b, IN, [event(3, T + 25)])
        r = harness.Runnel("window-restart-2", "window_restart.sql", env_run, ["--brokers", b])
        want2 = want1 + collections.Counter([row(T + 10, 2, 1), row(T + 10, 1, 1)])
        harness.wait_for(lambda: windows(b) == want2 or None, 60,
                         "window [T+10, T+20) with both of its records, nothing emitted twice")
        rc = r.stop(signal.SIGTERM)
        check(rc == 0, "runnel exited with %d after SIGTERM:\n%s" % (rc, r.output()))
    finally:
        if r.running():
            r.stop(signal.SIGKILL)


if __name__ == "__main__":
    harness.main(test)
