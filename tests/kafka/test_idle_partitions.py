#!/usr/bin/env python3
"""Idle partitions stop holding the watermark back (docs/event-time.md,
"Watermarks" 2-3): an 8-partition topic with data in partition 0 only.

The pipeline counts events per user in 10 s tumbling windows of event time
('scan.watermark.idle-timeout' = '2 s', 'scan.watermark.quiet-timeout' =
'0' so the wall clock never moves event time, WATERMARK ts - 1 s) and
echoes every input row to a second topic, which tells the test when runnel
has read a record.

1. A warm-up event in partition 0 (its echo shows runnel is consuming).
2. Events of three consecutive windows [B, B+10), [B+10, B+20), [B+20,
   B+30) with event times just behind the wall clock, then one event at
   B+31.5 s: partition 0's watermark passes B+30. Partitions 1-7 have
   delivered nothing, so they hold the watermark back only until they are
   idle: the three windows (and the warm-up's) must be on the output topic
   within idle-timeout + 3 s of the last produce, with the right counts.
3. A partition counts again as soon as it delivers: one event (B+33 s) in
   partition 3, and once runnel has read it, one at B+42 s in partition 0,
   which then gets a keep-alive event (in window [B+40, B+50)) every 0.5 s
   so that it stays active. Window [B+30, B+40) may be emitted only after
   partition 3 has been idle for 2 s again (not before 2 s after its event
   was produced), and within idle-timeout + 3 s of the B+42 s event.
4. When every partition is idle, the most advanced one leads: partition 3
   delivers B+55 s while partition 0 keeps delivering for idle-timeout + 1
   s; window [B+40, B+50) must stay open while partition 0 is active, and
   be emitted within idle-timeout + 3 s once partition 0 stops (watermark
   B+54 s), but not before partition 0 can be idle.
Window [B+50, B+60) must never be emitted (no quiet timeout, no end of
input). Arrival times are measured by a consumer that runs for the whole
test (Tail), not by sleeping.
"""
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

import harness
from harness import check, log

IN, OUT, ECHO, DLQ = "wm-idle-in", "wm-idle-out", "wm-idle-echo", "wm-idle-dlq"
IDLE_S, MARGIN_S = 2.0, 3.0

PIPELINE = """-- Kafka integration test (tests/kafka/test_idle_partitions.py): 10 s
-- tumbling counts per user; idle partitions must not hold the watermark back.
CREATE TABLE events (
  user_id INT,
  page STRING,
  `timestamp` DOUBLE,
  ts AS TO_TIMESTAMP_LTZ(CAST(`timestamp` * 1000 AS BIGINT), 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'kafka', 'topic' = '%(in)s',
        'scan.startup.mode' = 'earliest-offset',
        'scan.watermark.idle-timeout' = '2 s',
        'scan.watermark.quiet-timeout' = '0',
        'dlq.topic' = '%(dlq)s');
CREATE TABLE echo (user_id INT, `timestamp` DOUBLE)
  WITH ('connector' = 'kafka', 'topic' = '%(echo)s');
CREATE TABLE counts (
  window_start TIMESTAMP(3), window_end TIMESTAMP(3), user_id INT, n BIGINT
) WITH ('connector' = 'kafka', 'topic' = '%(out)s');

INSERT INTO echo SELECT user_id, `timestamp` FROM events;
INSERT INTO counts
SELECT window_start, window_end, user_id, COUNT(*) AS n
FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, user_id;
"""

# A consumer of every partition from the beginning that prints each message
# as one JSON line the moment it arrives; run with the test venv's Python.
TAIL_SRC = r"""
import json, sys, uuid
from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
bootstrap, topic = sys.argv[1], sys.argv[2]
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "tail-" + uuid.uuid4().hex,
              "enable.auto.commit": False, "isolation.level": "read_committed",
              "fetch.wait.max.ms": 50})
parts = sorted(c.list_topics(topic, timeout=10).topics[topic].partitions)
c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
while True:
    m = c.poll(0.05)
    if m is None:
        continue
    if m.error():
        sys.stderr.write("tail %s: %s\n" % (topic, m.error()))
        continue
    v = m.value()
    print(json.dumps({"partition": m.partition(), "offset": m.offset(),
                      "value": None if v is None else v.decode("utf-8", "replace")}), flush=True)
"""


# A producer that stays up for the whole test, so a produce takes
# milliseconds, not a Python start: reads [[partition, value], ...] lines on
# stdin, produces them in order, flushes, answers one JSON line.
PRODUCER_SRC = r"""
import json, sys
from confluent_kafka import Producer
bootstrap, topic = sys.argv[1], sys.argv[2]
p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
              "linger.ms": 0})
errors = []
def done(err, msg):
    if err is not None:
        errors.append(str(err))
for line in sys.stdin:
    for part, value in json.loads(line):
        p.produce(topic, value=value.encode(), partition=part, on_delivery=done)
    left = p.flush(30)
    print(json.dumps({"errors": errors + (["%d not delivered" % left] if left else [])}),
          flush=True)
    del errors[:]
"""


class KProducer:
    """Produces to explicit partitions of one topic through a long-lived
    confluent-kafka producer; send() returns once the brokers acknowledged."""

    def __init__(self, bootstrap, topic):
        self.topic = topic
        self.proc = subprocess.Popen([harness.PYTHON, "-u", "-c", PRODUCER_SRC, bootstrap, topic],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def send(self, values, partition):
        self.proc.stdin.write(json.dumps([[partition, v] for v in values]) + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline()
        check(reply, "the producer for %s died" % self.topic)
        errors = json.loads(reply)["errors"]
        check(not errors, "producing to %s[%d] failed: %s" % (self.topic, partition, errors))

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class Tail:
    """Every message of a topic, each with the wall-clock time it reached
    this test (time.time()), read by a consumer running in the background."""

    def __init__(self, bootstrap, topic):
        self.topic = topic
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([harness.PYTHON, "-u", "-c", TAIL_SRC, bootstrap, topic],
                                     stdout=subprocess.PIPE, stderr=self.err, text=True)
        self.lock = threading.Lock()
        self.msgs = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            now = time.time()
            m = json.loads(line)
            with self.lock:
                self.msgs.append((now, m))

    def values(self):
        """[(arrival time, decoded JSON value)], in arrival order."""
        with self.lock:
            return [(t, json.loads(m["value"])) for t, m in self.msgs if m["value"] is not None]

    def stderr(self):
        self.err.seek(0)
        return self.err.read().decode(errors="replace")

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def rowtime(ts):
    """What CAST(`timestamp` * 1000 AS BIGINT) makes of a DOUBLE."""
    return int(float(ts) * 1000)


def event(user, ts, page="/p"):
    return json.dumps({"user_id": user, "page": page, "timestamp": ts})


def window_rows(tail, start_ms, end_ms):
    """{user_id: [(arrival, n)]} of the output rows of window [start, end)."""
    out = {}
    for t, v in tail.values():
        if v.get("window_start") == start_ms and v.get("window_end") == end_ms:
            out.setdefault(v.get("user_id"), []).append((t, v.get("n")))
    return out


def windows_seen(tail, want):
    """The time the last of want's (start, end, user) windows arrived on
    the output topic, or None while some are missing."""
    times = []
    for (s, e, u) in want:
        rows = window_rows(tail, s, e).get(u)
        if not rows:
            return None
        times.append(rows[0][0])
    return max(times)


def wait_windows(tail, want, timeout, what):
    return harness.wait_for(lambda: windows_seen(tail, want), timeout, what, interval=0.05)


def echoed(tail, ts):
    return any(v.get("timestamp") == ts for _, v in tail.values())


def test(env):
    b = env["KAFKA_BOOTSTRAP"]
    rf = int(env.get("KAFKA_BROKERS", "3"))
    harness.fresh_topics(b, [IN], partitions=8, replication=rf)
    harness.fresh_topics(b, [OUT, ECHO, DLQ], partitions=1, replication=rf)
    work = tempfile.mkdtemp(prefix="runnel-idle-")
    sql = os.path.join(work, "idle_partitions.sql")
    with open(sql, "w") as f:
        f.write(PIPELINE % {"in": IN, "out": OUT, "echo": ECHO, "dlq": DLQ})

    out, echo, prod = Tail(b, OUT), Tail(b, ECHO), KProducer(b, IN)
    r = harness.Runnel("idle-partitions", sql, {}, ["--brokers", b])
    try:
        base = (int(time.time()) // 10) * 10 - 30          # B, in seconds
        W = lambda k: ((base + 10 * k) * 1000, (base + 10 * k + 10) * 1000)  # noqa: E731

        # 1. warm-up: runnel is up and reading
        warm = base - 15.0
        prod.send([event(9, warm)], 0)
        harness.wait_for(lambda: echoed(echo, warm), 60, "runnel to read the warm-up event "
                         "(echo topic)")
        check(r.running(), "runnel stopped")

        # 2. three windows in partition 0, then an event past their ends
        plan = {0: {1: 3, 2: 2}, 1: {1: 1, 3: 4}, 2: {2: 2}}  # window -> user -> events
        lines = []
        for k in sorted(plan):
            i = 0
            for u in sorted(plan[k]):
                for _ in range(plan[k][u]):
                    i += 1
                    lines.append(event(u, round(base + 10 * k + 0.7 * i + 0.123, 3)))
        prod.send(lines, 0)
        adv = base + 31.5
        prod.send([event(1, adv)], 0)
        t_last = time.time()
        want = {(W(k)[0], W(k)[1], u): n for k in plan for u, n in plan[k].items()}
        want[(W(-2)[0], W(-2)[1], 9)] = 1
        seen = wait_windows(out, want, 60, "windows [B, B+30) after the last produce")
        delay = seen - t_last
        log("windows [B, B+30) arrived %.2f s after the last produce (limit %.0f s)"
            % (delay, IDLE_S + MARGIN_S))
        check(delay <= IDLE_S + MARGIN_S,
              "the first windows arrived %.2f s after the last produce; idle partitions 1-7 "
              "should have stopped holding the watermark back within %.0f s + %.0f s"
              % (delay, IDLE_S, MARGIN_S))
        check(not window_rows(out, *W(3)), "window [B+30, B+40) was emitted, but the "
              "watermark (B+30.5 s) has not reached its end")

        # 3. partition 3 delivers: it holds the watermark back again until idle.
        # Partition 0 keeps delivering (events in the open window [B+40, B+50))
        # so that it is not idle itself when partition 3 goes idle.
        t3 = time.time()
        ev3 = base + 33.0
        prod.send([event(2, ev3)], 3)
        harness.wait_for(lambda: echoed(echo, ev3), 30, "runnel to read the event in partition 3",
                         interval=0.02)
        prod.send([event(1, base + 42.0)], 0)
        t_p0 = time.time()
        if t_p0 >= t3 + IDLE_S:
            log("note: partition 0's event came %.2f s after partition 3's, when partition 3 "
                "could already be idle again; the hold-back check below is inconclusive"
                % (t_p0 - t3))
        want4 = {(W(3)[0], W(3)[1], 1): 1, (W(3)[0], W(3)[1], 2): 1}
        keep = {"n": 0, "next": t_p0 + 0.5}

        def window4_with_keepalive():
            seen = windows_seen(out, want4)
            if not seen and time.time() >= keep["next"] and keep["n"] < 100:
                keep["n"] += 1
                prod.send([event(5, round(base + 42.0 + 0.05 * keep["n"], 3), "/keep")], 0)
                keep["next"] = time.time() + 0.5
            return seen
        seen4 = harness.wait_for(window4_with_keepalive, 60, "window [B+30, B+40)",
                                 interval=0.05)
        first4 = min(t for rows in window_rows(out, *W(3)).values() for t, _ in rows)
        log("window [B+30, B+40) arrived %.2f s after partition 3's event was produced, %.2f s "
            "after partition 0's event at B+42 s (%d keep-alive events in partition 0)"
            % (first4 - t3, seen4 - t_p0, keep["n"]))
        check(first4 >= t3 + IDLE_S,
              "window [B+30, B+40) arrived %.2f s after partition 3 delivered an event at B+33 "
              "s; while partition 3 is active (for %.0f s after it delivers) the watermark "
              "cannot pass B+32" % (first4 - t3, IDLE_S))
        check(seen4 - t_p0 <= IDLE_S + MARGIN_S,
              "window [B+30, B+40) arrived %.2f s after partition 0's event at B+42 s (limit "
              "%.0f s)" % (seen4 - t_p0, IDLE_S + MARGIN_S))

        def keepalive():
            keep["n"] += 1
            prod.send([event(5, round(base + 42.0 + 0.05 * keep["n"], 3), "/keep")], 0)

        # 4. every partition idle: the most advanced one leads. Partition 3
        # delivers B+55 s while partition 0 (watermark about B+41 s) stays
        # active for idle-timeout + 1 s: partition 3 goes idle, yet while
        # partition 0 is active the watermark follows partition 0 and window
        # [B+40, B+50) stays open. Then partition 0 stops: once it is idle
        # too, the watermark moves up to B+54 s and the window fires.
        keepalive()
        ev3b = base + 55.0
        prod.send([event(3, ev3b)], 3)
        harness.wait_for(lambda: echoed(echo, ev3b), 30, "runnel to read partition 3's B+55 s "
                         "event", interval=0.02)
        keep_until = time.time() + IDLE_S + 1.0
        while time.time() < keep_until:
            t_ka = time.time()
            keepalive()
            check(not window_rows(out, *W(4)), "window [B+40, B+50) was emitted while partition "
                  "0 (watermark about B+41 s) was active; an idle partition must not pull the "
                  "watermark up while another one is active")
            time.sleep(0.3)   # pacing the keep-alive events, not a synchronization
        t_stop = time.time()
        want5 = {(W(4)[0], W(4)[1], 1): 1, (W(4)[0], W(4)[1], 5): keep["n"]}
        seen5 = wait_windows(out, want5, 60, "window [B+40, B+50) once every partition is idle")
        first5 = min(t for rows in window_rows(out, *W(4)).values() for t, _ in rows)
        log("window [B+40, B+50) arrived %.2f s after partition 0's last event (limit %.0f s)"
            % (seen5 - t_stop, IDLE_S + MARGIN_S))
        check(first5 >= t_ka + IDLE_S,
              "window [B+40, B+50) arrived %.2f s after partition 0's last event, before "
              "partition 0 (watermark about B+41 s) could be idle" % (first5 - t_ka))
        check(seen5 - t_stop <= IDLE_S + MARGIN_S,
              "window [B+40, B+50) arrived %.2f s after partition 0's last event; once every "
              "partition is idle the watermark must move up to the highest partition watermark "
              "(B+54 s) within %.0f s + %.0f s" % (seen5 - t_stop, IDLE_S, MARGIN_S))

        # everything, exactly once; nothing of the open window [B+50, B+60)
        want.update(want4)
        want.update(want5)
        got = {}
        for _, v in out.values():
            k = (v.get("window_start"), v.get("window_end"), v.get("user_id"))
            got.setdefault(k, []).append(v.get("n"))
        check(not any(k[0] == W(5)[0] for k in got),
              "window [B+50, B+60) was emitted, but the watermark (B+54 s) has not reached its end")
        bad = {k: v for k, v in got.items() if k not in want or v != [want[k]]}
        missing = [k for k in want if k not in got]
        check(not bad and not missing,
              "output differs (relative to B = %d s): unexpected or wrong %s; missing %s"
              % (base, {(s // 1000 - base, e // 1000 - base, u): v
                        for (s, e, u), v in bad.items()},
                 [(s // 1000 - base, e // 1000 - base, u) for (s, e, u) in missing]))
        check(r.running(), "runnel stopped")
        rc = r.stop()
        check(rc == 0, "runnel exited with %d after SIGTERM" % rc)
        log("%d windows, all as expected" % len(want))
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
        for t in (out, echo):
            if t.stderr().strip():
                log("tail %s stderr: %s" % (t.topic, t.stderr().strip()[-2000:]))


if __name__ == "__main__":
    harness.main(test)
