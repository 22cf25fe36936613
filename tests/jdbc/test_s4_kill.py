#!/usr/bin/env python3
"""Scenario S4 under SIGKILL: examples/s4_campaigns.sql from a real Kafka
topic, subscribers looked up in and feedback upserted into the real
PostgreSQL of the `postgres` fixture, exactly-once with a checkpoint every
second (docs/checkpoints.md), SIGKILLed at random moments KILLS times (20;
RUNNEL_CKPT_KILLS) and restarted each time under the same static member
id. At the end subscribers_feedback must equal the batch oracle
(tests/scenarios/oracle.py) exactly: one row per (adv_campaign_id,
client_id), no row missing, none added by a replay (the table has no
unique index on that key: the sink upserts by UPDATE, then INSERT). The
notifications topic, written with 'sink.delivery-guarantee' =
'exactly-once', must hold every notification once.

The pipeline is the example with its topics renamed (fresh ones per run),
SET 'state.checkpoints.dir' to a fresh directory (each kill comes at a
random moment after the process wrote a checkpoint since it started), a
static member id and a 6 s session timeout on the source. The campaigns
are `runnel gen s4`'s around the wall clock, less those that start or end
during the test: a campaign is then active, or not, whenever it is
processed, as the oracle assumes. They arrive in SLICES slices produced
while the kills go on (test_checkpoints.Feeder), so that each kill finds
campaigns read since the last checkpoint, which the restart must write
exactly once. A replayed campaign gets a new
trigger_datetime_created; the comparison leaves it out, and checks it lies
within the test. Needs the `kafka` and `postgres` fixtures
(tests/tests.cmake).

  python3 tests/jdbc/test_s4_kill.py
"""
import collections
import datetime
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
for d in ("services", "kafka", "scenarios", "jdbc"):
    sys.path.insert(0, os.path.join(TESTS, d))
import harness  # noqa: E402
import oracle  # noqa: E402
import test_checkpoints as ck  # noqa: E402
import test_s4 as s4  # noqa: E402
from common import service_env  # noqa: E402
from harness import TestFailure, check, log  # noqa: E402

STABLE_S = 3600  # campaigns that start or end within this many seconds of the start are left out
TIMEOUT = 180
SLICES = 80
PAUSE_S = 0.8  # between slices: the input spans the kills


def kill_pipeline(work, name, ckdir, topics):
    with open(os.path.join(s4.ROOT, "examples", "s4_campaigns.sql")) as f:
        sql = f.read()
    for old, new in topics.items():
        opt = "'%s' = '%s'" % ("dlq.topic" if old == "dlq" else "topic", old)
        check(sql.count(opt) == 1, "examples/s4_campaigns.sql no longer has %s" % opt)
        sql = sql.replace(opt, "'%s' = '%s'" % ("dlq.topic" if old == "dlq" else "topic", new))
    path = os.path.join(work, name + ".sql")  # the file name makes the consumer group
    with open(path, "w") as f:
        f.write("SET 'state.checkpoints.dir' = '%s';\n%s" % (ckdir, sql))
    return path


def test(kenv):
    b = kenv["KAFKA_BOOTSTRAP"]
    pg = service_env("postgres")
    now = int(time.time())
    work = tempfile.mkdtemp(prefix="runnel-s4-kill-")
    ckdir = os.path.join(work, "checkpoints")
    os.makedirs(ckdir)
    start = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    subprocess.run([s4.RUNNEL, "gen", "s4", "--seed", "5", "--count", "1000", "--start", start, "--out", work],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(work, "campaigns.jsonl")) as f:
        campaigns = [l.rstrip("\n") for l in f if l.strip()]
    with open(os.path.join(work, "subscribers_restaurants.jsonl")) as f:
        subscribers = [json.loads(l) for l in f if l.strip()]

    def stable(c):
        return all(not now - 60 <= c[k] <= now + STABLE_S
                   for k in ("adv_campaign_datetime_start", "adv_campaign_datetime_end"))
    campaigns = [l for l in campaigns if stable(json.loads(l))]
    want_rows, want_table = oracle.s4([json.loads(l) for l in campaigns], subscribers, now)
    want = collections.Counter({r[:-1]: n for r, n in want_rows.items()})
    check(len(want_table) > 500 and len({k[0] for k in want_table}) > 100,
          "the data exercise too little: %d feedback rows of %d campaigns" % (
              len(want_table), len({k[0] for k in want_table})))
    s4.setup_tables(pg, subscribers)

    kills = ck.KILLS
    rnd = random.Random("%d-s4kill" % ck.SEED)
    log("seed %d (RUNNEL_CKPT_SEED), %d kills; %d campaigns, %d notifications expected" % (
        ck.SEED, kills, len(campaigns), sum(want.values())))
    tag = "s4kill%s" % ck.RUN_ID
    topics = {t: "%s-%s" % (tag, t) for t in ("campaigns", "campaign_notifications", "dlq")}
    harness.fresh_topics(b, list(topics.values()))
    n = len(campaigns)
    chunks = [campaigns[i * n // SLICES:(i + 1) * n // SLICES] for i in range(SLICES)]
    harness.produce(b, topics["campaigns"], chunks[0])
    env = {k: pg[k] for k in ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD")}
    chaos = ck.Chaos("s4kill", kill_pipeline(work, tag, ckdir, topics), b,
                     ck.sets("campaigns.properties.group.instance.id=${INSTANCE}-c",
                             "campaigns.properties.session.timeout.ms=6000",
                             "campaign_notifications.sink.delivery-guarantee=exactly-once"),
                     env, ckdir)
    t0 = time.time()
    chaos.start("a")
    try:
        feeder = ck.Feeder(lambda i: harness.produce(b, topics["campaigns"], chunks[i + 1]), SLICES - 1, PAUSE_S)
        chaos.kill_loop(kills, rnd)
        log("%d kills in %.0f s" % (kills, time.time() - t0))
        feeder.finish()

        def table():
            got, nrows = s4.feedback_table(pg)
            return got if nrows == len(got) and set(got) == set(want_table) else None
        deadline = time.time() + TIMEOUT
        got = table()
        while got is None:
            chaos.check_alive()
            if time.time() > deadline:
                t, nrows = s4.feedback_table(pg)
                raise TestFailure("subscribers_feedback differs from the oracle %d s after the last kill: %d rows "
                                  "for %d keys, %d keys missing, %d unexpected; e.g. missing %s\n%s" % (
                                      TIMEOUT, nrows, len(t), len(set(want_table) - set(t)),
                                      len(set(t) - set(want_table)), list(set(want_table) - set(t))[:2],
                                      chaos.procs["a"].output()[-3000:]))
            time.sleep(1)
            got = table()
        t1 = int(time.time())
        check({k: v[:-1] for k, v in got.items()} == {k: v[:-1] for k, v in want_table.items()},
              "subscribers_feedback has the oracle's keys but other values")
        check(all(now <= v[-1] <= t1 for v in got.values()),
              "a trigger_datetime_created outside the test [%d, %d]" % (now, t1))
        log("subscribers_feedback equals the oracle after %d kills: %d rows, one per key" % (kills, len(got)))
        ck.await_equal("campaign_notifications after %d kills" % kills,
                       lambda: s4.strip_trigger(
                           [json.loads(m["value"]) for m in harness.consume(b, topics["campaign_notifications"])],
                           now, int(time.time())), want, chaos)
        chaos.stop()
    finally:
        for r in chaos.procs.values():
            if r.running():
                r.proc.kill()
    for t in topics.values():
        harness.ktool("delete", t, "--bootstrap", b, check_rc=False)
    shutil.rmtree(work)


if __name__ == "__main__":
    harness.main(test)
