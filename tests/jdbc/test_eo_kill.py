#!/usr/bin/env python3
"""Exactly-once into a PostgreSQL append table under SIGKILL
(docs/checkpoints.md, "Delivery guarantees"): a pipeline reads a Kafka
topic of 8 partitions and inserts a projection of its rows into a jdbc
table WITHOUT a primary key, with 'sink.delivery-guarantee' =
'exactly-once' and a checkpoint every second. Its process is SIGKILLed at
random moments KILLS times (20; RUNNEL_CKPT_KILLS) while the input keeps
arriving (test_checkpoints.Feeder), and restarted each time under the same
static member id. Each kill waits until that incarnation has written a
checkpoint, then a random 0-2.5 s (seeded, printed: RUNNEL_CKPT_SEED), so
kills land before a checkpoint, between its file and its commits, and
between the Kafka commit and the database commit.

At the end the table must hold exactly the oracle's rows as a multiset: no
row missing, none twice (the table has no key to absorb a replay: an
at-least-once sink repeats the rows written since the last checkpoint).
The sink's records of committed checkpoints (runnel_sink_commits) must
name this pipeline, and be pruned as its checkpoint files are.

With `x2` two processes (static member ids ...-a and ...-b) share the
topic, either of them killed; half the time the other takes its partitions
over first (restoring the killed one's checkpoint, so committing its rows
if the killed one did not), then the restart takes its share back.

Fresh topic, table and pipeline names per run. Needs the `kafka` and
`postgres` fixtures (tests/tests.cmake).

  python3 tests/jdbc/test_eo_kill.py [x2]
"""
import collections
import json
import os
import random
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
for d in ("services", "kafka", "jdbc"):
    sys.path.insert(0, os.path.join(TESTS, d))
import harness  # noqa: E402
import test_checkpoints as ck  # noqa: E402
import test_s4 as s4  # noqa: E402
from common import service_env  # noqa: E402
from harness import TestFailure, check, log  # noqa: E402

ROWS = 12000
SLICES = 80
PAUSE_S = 0.8  # between slices: the input spans the kills
TIMEOUT = 180

PIPELINE = """SET 'state.checkpoints.dir' = '%(ckdir)s';
CREATE TABLE orders (
  id BIGINT, user_id STRING, amount DOUBLE, note STRING
) WITH ('connector' = 'kafka', 'topic' = '%(topic)s',
        'properties.group.instance.id' = '${INSTANCE}',
        'properties.session.timeout.ms' = '6000',
        'properties.heartbeat.interval.ms' = '1000');
CREATE TABLE paid (
  id BIGINT, user_id STRING, amount DOUBLE, note STRING, big BOOLEAN
) WITH ('connector' = 'jdbc',
        'url' = 'jdbc:postgresql://${PGHOST}:${PGPORT}/${PGDATABASE}',
        'username' = '${PGUSER}', 'password' = '${PGPASSWORD}',
        'table-name' = '%(table)s',
        'sink.delivery-guarantee' = 'exactly-once');
INSERT INTO paid
SELECT id, user_id, amount * 2, note, amount > 50 FROM orders WHERE amount >= 1;
"""


def make_rows(seed):
    rnd = random.Random(seed)
    notes = ["", "plain", "it's \"quoted\"", "ünïcode ✓", None, "a\\tb"]
    rows = []
    for i in range(ROWS):
        note = rnd.choice(notes)
        rows.append({"id": i, "user_id": "u%d" % rnd.randrange(300), "amount": rnd.randrange(0, 10000) / 100.0,
                     "note": note})
    return rows


def oracle(rows):
    want = collections.Counter()
    for r in rows:
        if r["amount"] >= 1:
            want[(r["id"], r["user_id"], "%.2f" % (r["amount"] * 2), r["note"], r["amount"] > 50)] += 1
    return want


def table_rows(pg, table):
    got = collections.Counter()
    out = s4.psql(pg, "SELECT id, user_id, amount, coalesce(note, '<NULL>'), big FROM %s" % table)
    for line in out.splitlines():
        i, u, a, n, b = line.split("\t")
        got[(int(i), u, "%.2f" % float(a), None if n == "<NULL>" else n, b == "t")] += 1
    return got


NPROCS = 2 if sys.argv[1:] == ["x2"] else 1


def test(kenv):
    b = kenv["KAFKA_BOOTSTRAP"]
    pg = service_env("postgres")
    tag = "jdbceo%s%s" % ("x2" if NPROCS == 2 else "", ck.RUN_ID)
    topic, table = tag + "-orders", tag + "_paid"
    work = tempfile.mkdtemp(prefix="runnel-jdbc-eo-")
    ckdir = os.path.join(work, "checkpoints")
    os.makedirs(ckdir)
    s4.psql(pg, "DROP TABLE IF EXISTS %s; CREATE TABLE %s (id bigint, user_id text, amount float8, note text, "
                "big boolean)" % (table, table))
    rows = make_rows(ck.SEED)
    want = oracle(rows)
    check(any(r[3] is None for r in want) and any(not r[4] for r in want), "the data exercise too little")
    lines = [json.dumps(r) for r in rows]
    harness.fresh_topics(b, [topic])
    chunks = [lines[i * ROWS // SLICES:(i + 1) * ROWS // SLICES] for i in range(SLICES)]
    harness.produce(b, topic, chunks[0])
    path = os.path.join(work, tag + ".sql")  # the file name makes the consumer group and the pipeline
    with open(path, "w") as f:
        f.write(PIPELINE % {"ckdir": ckdir, "topic": topic, "table": table})
    env = {k: pg[k] for k in ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD")}
    rnd = random.Random("%d-jdbceo" % ck.SEED)
    log("seed %d (RUNNEL_CKPT_SEED), %d kills; %d rows expected in %s" % (ck.SEED, ck.KILLS, sum(want.values()),
                                                                        table))
    chaos = ck.Chaos("jdbceo", path, b, [], env, ckdir)
    t0 = time.time()
    slots = "ab"[:NPROCS]
    for slot in slots:
        chaos.start(slot)
    try:
        feeder = ck.Feeder(lambda i: harness.produce(b, topic, chunks[i + 1]), SLICES - 1, PAUSE_S)
        chaos.kill_loop(ck.KILLS, rnd)
        log("%d kills in %.0f s" % (ck.KILLS, time.time() - t0))
        feeder.finish()
        deadline = time.time() + TIMEOUT
        got = table_rows(pg, table)
        while got != want:
            chaos.check_alive()
            if sum(got.values()) > sum(want.values()) or time.time() > deadline:
                raise TestFailure("%s differs from the oracle: %d rows of %d, %d missing, %d duplicated or "
                                  "unexpected; e.g. missing %s, unexpected %s\n%s" % (
                                      table, sum(got.values()), sum(want.values()), sum((want - got).values()),
                                      sum((got - want).values()), list(want - got)[:2], list(got - want)[:2],
                                      "\n".join(r.output()[-2000:] for r in chaos.procs.values())))
            time.sleep(1)
            got = table_rows(pg, table)
        log("%s equals the oracle after %d kills (%d process%s): %d rows, none twice" % (
            table, ck.KILLS, NPROCS, "es" if NPROCS > 1 else "", sum(got.values())))
        # stays equal: nothing committed late adds a row
        time.sleep(3)
        check(table_rows(pg, table) == want, "%s changed after it equalled the oracle" % table)
        chaos.stop()
        # the pipeline is named after its file (harness.run_copy: "<tag>_<run tag>"), the writer after
        # the static member id (docs/checkpoints.md: the file tag)
        marks = s4.psql(pg, "SELECT writer, count(*), sum(rows) FROM runnel_sink_commits WHERE pipeline LIKE '%s%%' "
                            "AND sink = 'paid' GROUP BY writer" % tag).splitlines()
        log("commit records of %s: %s" % (tag, marks))
        writers = {m.split("\t")[0]: int(m.split("\t")[1]) for m in marks}
        check(set(writers) <= {"ck_jdbceo_%s_%s" % (ck.RUN_ID, s) for s in slots} and
              "ck_jdbceo_%s_a" % ck.RUN_ID in writers,
              "runnel_sink_commits should hold the records of the static members, not %s" % marks)
        for w, nmarks in writers.items():
            files = [f for f in os.listdir(ckdir) if f.startswith("ckpt-%s-" % w) and f.endswith(".rnck")]
            check(nmarks <= len(files) + 1, "%d commit records of %s but only %d checkpoint files: old records "
                  "are not pruned" % (nmarks, w, len(files)))
    finally:
        for r in chaos.procs.values():
            if r.running():
                r.proc.kill()
    s4.psql(pg, "DROP TABLE IF EXISTS %s; DELETE FROM runnel_sink_commits WHERE pipeline LIKE '%s%%'" % (table, tag))
    harness.ktool("delete", topic, "--bootstrap", b, check_rc=False)
    shutil.rmtree(work)


if __name__ == "__main__":
    harness.main(test)
