#!/usr/bin/env python3
"""A partition with records still to read is never idle (docs/event-time.md,
"Watermarks" 3), however long it has been silent.

A partition that cannot deliver for longer than the idle timeout while it
has a backlog (a loaded machine, a prefetch taken by the other partitions,
watermark alignment) used to go idle: the table watermark jumped ahead to
the other partitions and its records, once they came, were dropped as late.
This test makes the silence deterministic with a Kafka transaction: the
records of partition 1 are on the broker (below its high watermark) but
cannot be read until their transaction commits.

tests/kafka/pipelines/idle_lag.sql counts events per user in 10 s tumbling
windows ('scan.watermark.idle-timeout' = '2 s', no quiet timeout) and
echoes every row to a second topic. The 3-partition input topic holds:

- partition 0: N events an hour ahead, T+3600 .. T+3600+N-1 s;
- partition 1: one event at T (committed), then K events T+1 .. T+K s in a
  transaction left open: silent after it has delivered;
- partition 2: K events T+1 .. T+K s in the same transaction: silent from
  its assignment on.

The test runs twice: with 'earliest-offset' (partition 2's position before
its first record is the log start) and with 'group-offsets' after offset 0
of every partition was committed for runnel's group (its position is that
commit).

1. runnel reads partition 0 and the first event of partition 1 (their
   echoes show it), then partitions 1 and 2 stay silent with K records to
   read each. runnel must say at info level that they are not idle (they
   have records left to read), not that they have been idle: had one gone
   idle, the watermark would have jumped to T+3600 and its K records been
   late.
2. The transaction commits; runnel reads the records, then partitions 1
   and 2 are read to their end (past the transaction's commit marker,
   which is no record) and must now go idle, which lets partition 0's
   windows fire.
3. One more event in partition 0 at T+7200 moves the watermark past every
   window but its own: the output must then equal the batch oracle of all
   other events, with the windows of partitions 1 and 2 complete and no
   late rows.
"""
import collections
import json
import re
import signal
import subprocess
import uuid

import harness
from harness import check, log

T = 1714557600  # 2024-05-01 10:00:00 UTC, a window boundary
K = 100         # events of partitions 1 and 2 each in the open transaction
N = 100         # events of partition 0, an hour ahead
USERS = 3

# A transactional producer that stays up for the whole test: reads JSON
# commands on stdin ("begin", [[partition, value], ...] to send and flush,
# "commit") and answers each with one JSON line.
TXN_SRC = r"""
import json, sys
from confluent_kafka import Producer
bootstrap, topic, txn_id = sys.argv[1], sys.argv[2], sys.argv[3]
p = Producer({"bootstrap.servers": bootstrap, "transactional.id": txn_id, "linger.ms": 0})
p.init_transactions(30)
errors = []
def done(err, msg):
    if err is not None:
        errors.append(str(err))
for line in sys.stdin:
    cmd = json.loads(line)
    try:
        if cmd == "begin":
            p.begin_transaction()
        elif cmd == "commit":
            p.commit_transaction(30)
        else:
            for part, value in cmd:
                p.produce(topic, value=value.encode(), partition=part, on_delivery=done)
            left = p.flush(30)
            if left:
                errors.append("%d not delivered" % left)
    except Exception as e:
        errors.append(str(e))
    print(json.dumps({"errors": errors}), flush=True)
    del errors[:]
"""


class TxnProducer:
    """Writes to explicit partitions of one topic in Kafka transactions."""

    def __init__(self, bootstrap, topic):
        self.proc = subprocess.Popen([harness.PYTHON, "-u", "-c", TXN_SRC, bootstrap, topic,
                                      "idlelag-%s" % uuid.uuid4().hex],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def do(self, cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline()
        check(reply, "the transactional producer died")
        errors = json.loads(reply)["errors"]
        check(not errors, "transactional producer: %s" % errors)

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def event(user, ts):
    return json.dumps({"user_id": user, "timestamp": ts})


def oracle(events):
    """The windows of events ((user, ts) pairs) as Counter of canonical rows."""
    counts = collections.Counter((ts // 10 * 10, user) for user, ts in events)
    return collections.Counter({harness.canon({"window_start": s * 1000, "window_end": (s + 10) * 1000,
                                               "user_id": u, "n": n}): 1 for (s, u), n in counts.items()})


# Commits offset 0 of partitions 0-2 of a topic for a consumer group.
COMMIT_SRC = r"""
import sys
from confluent_kafka import Consumer, TopicPartition
bootstrap, topic, group = sys.argv[1], sys.argv[2], sys.argv[3]
c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
c.commit(offsets=[TopicPartition(topic, p, 0) for p in range(3)], asynchronous=False)
c.close()
"""


def test(env):
    b = env["KAFKA_BOOTSTRAP"]
    for mode in ("earliest-offset", "group-offsets"):
        run(b, mode)


def run(b, mode):
    IN, OUT, ECHO = ("idlelag-%s-%s" % (t, mode.split("-")[0]) for t in ("in", "out", "echo"))
    group = "idlelag-%s-%s" % (mode.split("-")[0], harness.RUN_TAG)
    log("startup mode %s" % mode)
    harness.fresh_topics(b, (IN,), partitions=3)
    harness.fresh_topics(b, (OUT, ECHO), partitions=1)
    warm = [(1, T)]
    late = [(1 + k % USERS, T + 1 + k) for k in range(K)]
    never = [(1 + USERS + k % USERS, T + 1 + k) for k in range(K)]  # partition 2's
    ahead = [(1 + k % USERS, T + 3600 + k) for k in range(N)]
    harness.produce(b, IN, [event(u, ts) for u, ts in warm], extra=("--partition", 1))
    harness.produce(b, IN, [event(u, ts) for u, ts in ahead], extra=("--partition", 0))
    txn = TxnProducer(b, IN)
    try:
        txn.do("begin")
        # on the broker, not readable yet
        txn.do([[1, event(u, ts)] for u, ts in late] + [[2, event(u, ts)] for u, ts in never])

        if mode == "group-offsets":
            subprocess.run([harness.PYTHON, "-c", COMMIT_SRC, b, IN, group], check=True, timeout=120)
        env_run = {"IN_TOPIC": IN, "OUT_TOPIC": OUT, "ECHO_TOPIC": ECHO, "MODE": mode,
                   "GROUP": group, "RUNNEL_LOG": "info"}
        r = harness.Runnel("idlelag-" + mode, "idle_lag.sql", env_run, ["--brokers", b])
        harness.consume(b, ECHO, expect=len(warm) + len(ahead), timeout=120)
        log("runnel has read partition 0 and the first event of partition 1")

        held = {p: re.compile(r"%s\[%d\] has delivered nothing for \d+ ms but has (\d+) records left"
                              % (IN, p)) for p in (1, 2)}
        idle = {p: re.compile(r"%s\[%d\] has been idle" % (IN, p)) for p in (1, 2)}

        def told(p):
            return held[p].search(r.output()) or idle[p].search(r.output())
        harness.wait_for(lambda: told(1) and told(2), 60,
                         "runnel to find partitions 1 and 2 silent for the idle timeout")
        early = [p for p in (1, 2) if idle[p].search(r.output())]
        for p in (1, 2):
            m = held[p].search(r.output())
            log("partition %d silent with an open transaction: %s" %
                (p, "went idle" if p in early else "not idle, %s records left" % m.group(1)))

        txn.do("commit")
        # read to their end, past the commit marker: now they are idle
        harness.wait_for(lambda: all(len(idle[p].findall(r.output())) > (p in early) for p in (1, 2)), 60,
                         "partitions 1 and 2 to go idle once their transaction was read")
        harness.produce(b, IN, [event(1, T + 7200)], extra=("--partition", 0))

        want = oracle(warm + late + never + ahead)
        got = None
        try:
            got = harness.wait_for(lambda: harness.output_covers(b, OUT, want), 60,
                                   "every window but the last on %s" % OUT, interval=2)
        except harness.TestFailure as e:
            log(str(e))
        rc = r.stop(signal.SIGTERM)
        text = r.output()
        check(rc == 0, "runnel failed:\n%s" % text)
        m = re.search(r"window #\d+: (\d+) late rows", text)
        check(m, "runnel printed no window statistics:\n%s" % text)
        late_rows = int(m.group(1))
        log("%d late rows" % late_rows)
        check(not early, "%s: partition(s) %s went idle while %d records of each waited in an open "
              "transaction" % (mode, early, K))
        check(late_rows == 0, "%s: %d rows dropped as late" % (mode, late_rows))
        if got is None:
            got = collections.Counter(harness.canon(json.loads(m["value"])) for m in harness.consume(b, OUT))
        missing = want - got
        extra = got - want
        check(not missing and not extra, "%s: the output differs from the oracle: %d windows missing "
              "(e.g. %s), %d unexpected (e.g. %s)"
              % (mode, len(missing), list(missing)[:3], len(extra), list(extra)[:3]))
    finally:
        txn.close()


if __name__ == "__main__":
    harness.main(test)
