#!/usr/bin/env python3
"""A quiet topic still closes sessions (docs/event-time.md, "Watermarks" 4):
when no partition has delivered anything for 'scan.watermark.quiet-timeout',
event time follows the wall clock, so a session closes although no later
event ever arrives. No heartbeat messages.

One 1-partition topic; SESSION windows per user with a 2 s gap; WATERMARK
ts - 1 s; quiet-timeout 1 s. Every input row is echoed to a second topic,
which tells the test when runnel has read a record.

1. A warm-up event of user 99 one minute in the past (its echo shows that
   runnel is consuming; its own session closes through the quiet timeout
   too and is checked at the end).
2. Four events of user 7 with event times from now - 1.2 s to now, one
   produce, then nothing. The session [first, last + 2 s) must be on the
   output topic within gap + delay + quiet-timeout + 3 s of the produce,
   with the right bounds, counts and first/last page, and not before the rule
   allows: the watermark is the last rowtime - 1 s plus the wall-clock time
   since the last record arrived, so it reaches last + 2 s no sooner than
   3 s (gap + delay) after the record arrived, which is after the produce
   started.
"""
import json
import os
import shutil
import tempfile
import time

import harness
from harness import check, log
from test_idle_partitions import KProducer, Tail, echoed, event, rowtime

IN, OUT, ECHO, DLQ = "wm-quiet-in", "wm-quiet-out", "wm-quiet-echo", "wm-quiet-dlq"
GAP_S, DELAY_S, QUIET_S, MARGIN_S = 2.0, 1.0, 1.0, 3.0

PIPELINE = """-- Kafka integration test (tests/kafka/test_quiet_topic.py): sessions per
-- user (gap 2 s) must close on a quiet topic, with no later events.
CREATE TABLE events (
  user_id INT,
  page STRING,
  `timestamp` DOUBLE,
  ts AS TO_TIMESTAMP_LTZ(CAST(`timestamp` * 1000 AS BIGINT), 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'kafka', 'topic' = '%(in)s',
        'scan.startup.mode' = 'earliest-offset',
        'scan.watermark.quiet-timeout' = '1 s',
        'dlq.topic' = '%(dlq)s');
CREATE TABLE echo (user_id INT, `timestamp` DOUBLE)
  WITH ('connector' = 'kafka', 'topic' = '%(echo)s');
CREATE TABLE sessions (
  window_start TIMESTAMP(3), window_end TIMESTAMP(3), user_id INT, n BIGINT,
  pages BIGINT, first_page STRING, last_page STRING
) WITH ('connector' = 'kafka', 'topic' = '%(out)s');

INSERT INTO echo SELECT user_id, `timestamp` FROM events;
INSERT INTO sessions
SELECT window_start, window_end, user_id, COUNT(*) AS n, COUNT(DISTINCT page) AS pages,
       FIRST_VALUE(page) AS first_page, LAST_VALUE(page) AS last_page
FROM TABLE(SESSION(TABLE events PARTITION BY user_id, DESCRIPTOR(ts), INTERVAL '2' SECOND))
GROUP BY window_start, window_end, user_id;
"""


def sessions_of(tail, user):
    return [(t, v) for t, v in tail.values() if v.get("user_id") == user]


def test(env):
    b = env["KAFKA_BOOTSTRAP"]
    rf = int(env.get("KAFKA_BROKERS", "3"))
    harness.fresh_topics(b, [IN, OUT, ECHO, DLQ], partitions=1, replication=rf)
    work = tempfile.mkdtemp(prefix="runnel-quiet-")
    sql = os.path.join(work, "quiet_topic.sql")
    with open(sql, "w") as f:
        f.write(PIPELINE % {"in": IN, "out": OUT, "echo": ECHO, "dlq": DLQ})

    out, echo, prod = Tail(b, OUT), Tail(b, ECHO), KProducer(b, IN)
    r = harness.Runnel("quiet-topic", sql, {}, ["--brokers", b])
    try:
        warm = round(time.time() - 60, 3)
        prod.send([event(99, warm, "/warm")], 0)
        harness.wait_for(lambda: echoed(echo, warm), 60, "runnel to read the warm-up event "
                         "(echo topic)")
        check(r.running(), "runnel stopped")

        t0 = time.time()
        evs = [(round(t0 - 1.2, 3), "/a"), (round(t0 - 0.8, 3), "/b"),
               (round(t0 - 0.4, 3), "/a"), (round(t0, 3), "/d")]
        prod.send([event(7, ts, page) for ts, page in evs], 0)
        t_last = time.time()
        limit = GAP_S + DELAY_S + QUIET_S + MARGIN_S
        got = harness.wait_for(lambda: sessions_of(out, 7), 60,
                               "user 7's session on the output topic",
                               interval=0.05)
        seen, v = got[0]
        log("user 7's session arrived %.2f s after the produce started, %.2f s after it "
            "returned (limit %.0f s)" % (seen - t0, seen - t_last, limit))
        check(seen - t_last <= limit,
              "the session arrived %.2f s after the last event was produced; on a quiet topic "
              "it must close within gap %.0f s + delay %.0f s + quiet-timeout %.0f s + %.0f s"
              % (seen - t_last, GAP_S, DELAY_S, QUIET_S, MARGIN_S))
        check(seen >= t0 + GAP_S + DELAY_S - 0.05,
              "the session arrived %.2f s after its last event was produced: before the "
              "watermark (last rowtime - %.0f s + wall-clock time since the last record, once "
              "quiet) could reach its end (last rowtime + %.0f s)"
              % (seen - t0, DELAY_S, GAP_S))
        want = {"window_start": rowtime(evs[0][0]), "window_end": rowtime(evs[-1][0]) + 2000,
                "user_id": 7, "n": 4, "pages": 3, "first_page": "/a", "last_page": "/d"}
        check(v == want, "user 7's session is %s, expected %s" % (v, want))

        want_warm = {"window_start": rowtime(warm), "window_end": rowtime(warm) + 2000,
                     "user_id": 99, "n": 1, "pages": 1, "first_page": "/warm",
                     "last_page": "/warm"}
        harness.wait_for(lambda: sessions_of(out, 99), 10, "the warm-up session")
        all_out = [v for _, v in out.values()]
        check(sorted(all_out, key=lambda d: d["user_id"]) == [want, want_warm],
              "output topic holds %s, expected exactly %s" % (all_out, [want, want_warm]))
        check(r.running(), "runnel stopped")
        rc = r.stop()
        check(rc == 0, "runnel exited with %d after SIGTERM" % rc)
        log("sessions closed on a quiet topic, as expected")
    except harness.TestFailure:
        log("runnel's log (%s), last lines:\n%s" % (r.log_path, r.output()[-6000:]))
        raise
    finally:
        if r.running():
            r.stop(timeout=30)
        out.close()
        echo.close()
        prod.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    harness.main(test)
