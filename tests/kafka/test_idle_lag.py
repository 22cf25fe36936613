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
windows ('scan.watermark.idle-timeout' = '1 s', no quiet timeout) and
echoes every row to a second topic. The 2-partition input topic holds:

- partition 1: one event at T (committed), then K events T+1 .. T+K s in a
  transaction left open;
- partition 0: N events an hour ahead, T+3600 .. T+3600+N-1 s.

1. runnel reads partition 0 and the first event of partition 1 (their
   echoes show it), then partition 1 falls silent with K records to read.
   runnel must say at info level that partition 1 is not idle (it has
   records left to read), not that it has been idle: had it gone idle, the
   watermark would have jumped to T+3600 and the K records been late.
2. The transaction commits; runnel reads the K records, then partition 1
   is read to its end (past the transaction's commit marker, which is no
   record) and must now go idle, which lets partition 0's windows fire.
3. One more event in partition 0 at T+7200 moves the watermark past every
   window but its own: the output must then equal the batch oracle of all
   other events, with partition 1's windows complete and no late rows.
"""
import collections
import json
import re
import signal
import subprocess
import uuid

import harness
from harness import check, log

IN, OUT, ECHO = "idlelag-in", "idlelag-out", "idlelag-echo"
T = 1714557600  # 2024-05-01 10:00:00 UTC, a window boundary
K = 100         # events of partition 1 in the open transaction
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


def test(env):
    b = env["KAFKA_BOOTSTRAP"]
    harness.fresh_topics(b, (IN,), partitions=2)
    harness.fresh_topics(b, (OUT, ECHO), partitions=1)
    warm = [(1, T)]
    late = [(1 + k % USERS, T + 1 + k) for k in range(K)]
    ahead = [(1 + k % USERS, T + 3600 + k) for k in range(N)]
    harness.produce(b, IN, [event(u, ts) for u, ts in warm], extra=("--partition", 1))
    harness.produce(b, IN, [event(u, ts) for u, ts in ahead], extra=("--partition", 0))
    txn = TxnProducer(b, IN)
    try:
        txn.do("begin")
        txn.do([[1, event(u, ts)] for u, ts in late])  # on the broker, not readable yet

        env_run = {"IN_TOPIC": IN, "OUT_TOPIC": OUT, "ECHO_TOPIC": ECHO,
                   "GROUP": "idlelag-%s" % harness.RUN_TAG, "RUNNEL_LOG": "info"}
        r = harness.Runnel("idlelag", "idle_lag.sql", env_run, ["--brokers", b])
        harness.consume(b, ECHO, expect=len(warm) + len(ahead), timeout=120)
        log("runnel has read partition 0 and the first event of partition 1")

        held = re.compile(r"%s\[1\] has delivered nothing for \d+ ms but has (\d+) records left" % IN)
        idle = re.compile(r"%s\[1\] has been idle" % IN)
        harness.wait_for(lambda: held.search(r.output()) or idle.search(r.output()), 60,
                         "runnel to find partition 1 silent for the idle timeout")
        went_idle_early = bool(idle.search(r.output()))
        m = held.search(r.output())
        log("partition 1 silent with an open transaction: %s" %
            ("went idle" if went_idle_early else "not idle, %s records left" % m.group(1)))

        txn.do("commit")
        # read to its end, past the commit marker: now it is idle
        harness.wait_for(lambda: len(idle.findall(r.output())) > (1 if went_idle_early else 0), 60,
                         "partition 1 to go idle once its transaction was read")
        harness.produce(b, IN, [event(1, T + 7200)], extra=("--partition", 0))

        want = oracle(warm + late + ahead)
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
        check(not went_idle_early,
              "partition 1 went idle while %d records of it waited in an open transaction" % K)
        check(late_rows == 0, "%d rows dropped as late" % late_rows)
        if got is None:
            got = collections.Counter(harness.canon(json.loads(m["value"])) for m in harness.consume(b, OUT))
        missing = want - got
        extra = got - want
        check(not missing and not extra, "the output differs from the oracle: %d windows missing (e.g. %s), "
              "%d unexpected (e.g. %s)" % (len(missing), list(missing)[:3], len(extra), list(extra)[:3]))
    finally:
        txn.close()


if __name__ == "__main__":
    harness.main(test)
