#!/usr/bin/env python3
"""Scenario S2 under SIGKILL: examples/s2_activity.sql from a real Kafka
topic into the real Redis of the `redis` fixture, exactly-once with a
checkpoint every second (docs/checkpoints.md), SIGKILLed at random moments
KILLS times (20; RUNNEL_CKPT_KILLS) and restarted each time under the same
static member id. At the end Redis must equal tests/scenarios/oracle.py
exactly, as in tests/redis/test_s2_kafka.py without kills.

The pipeline is test_s2_kafka.py's copy of the example (a fresh topic of
one partition, the quiet timeout off) with three additions:
- SET 'state.checkpoints.dir' to a fresh directory, whose files the kill
  loop watches: each kill comes at a random moment after the process wrote
  a checkpoint since it started, so every incarnation restores one and
  makes progress;
- static member ids and a 6 s session timeout on the source, so a restart
  takes its partitions back at once;
- a Kafka sink, `views` (every view event's user and page), with
  'sink.delivery-guarantee' = 'exactly-once'. Exactly-once is asked for by
  a Kafka sink table (there is no pipeline-wide setting); with it every
  Kafka write of the pipeline, the repartition topics in front of the
  three aggregates included, is committed with the checkpoints, so the
  aggregates behind the Redis keys see each event once (under
  at-least-once docs/checkpoints.md allows them to count a replayed one
  twice). The topic must hold every view once.

The input arrives in SLICES slices, in the generator's order (one
partition: the order the oracle's watermark assumes), produced while the
kills go on (test_checkpoints.Feeder), so that each kill finds input read
since the last checkpoint, which the restart must count exactly once. The Redis keys may run ahead of the last checkpoint between a
write and a kill; the replay after the restart writes the same values
again (SET, ZADD and HSET of absolute values). Needs the `kafka` and
`redis` fixtures (tests/tests.cmake).

  python3 tests/redis/test_s2_kill.py
"""
import collections
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
for d in ("services", "kafka", "scenarios", "redis"):
    sys.path.insert(0, os.path.join(TESTS, d))
import common  # noqa: E402
import harness  # noqa: E402
import oracle  # noqa: E402
import test_checkpoints as ck  # noqa: E402
import test_s2_kafka as s2  # noqa: E402
from harness import TestFailure, check, log  # noqa: E402

DB = "6"  # test_s2_kafka.py writes database 5
SLICES = 80
PAUSE_S = 0.8  # between slices: the input spans the kills
TIMEOUT = 180

VIEWS_SINK = """
CREATE TABLE views (
  user_id BIGINT,
  page STRING
) WITH (
  'connector' = 'kafka',
  'topic' = '%s',
  'format' = 'json'
);

INSERT INTO views SELECT user_id, page FROM user_activity WHERE action = 'view';
"""


def kill_pipeline(work, topic, views_topic, name, ckdir):
    path = s2.pipeline(work, topic, name)
    with open(path) as f:
        sql = f.read()
    with open(path, "w") as f:
        f.write("SET 'state.checkpoints.dir' = '%s';\n%s%s" % (ckdir, sql, VIEWS_SINK % views_topic))
    return path


def test(kenv):
    b = kenv["KAFKA_BOOTSTRAP"]
    renv = common.service_env("redis")
    s2.DB = DB  # test_s2_kafka's redis-cli and redis_model on this test's database
    work = tempfile.mkdtemp(prefix="runnel-s2-kill-")
    ckdir = os.path.join(work, "checkpoints")
    os.makedirs(ckdir)
    subprocess.run([s2.RUNNEL, "gen", "s2", "--count", "20000", "--seed", "11", "--out-of-order", "0.2",
                    "--out", work], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(work, "user-activity.jsonl")) as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    events = [json.loads(l) for l in lines]
    want = oracle.s2(events, oracle.s2_watermark(events))
    want_views = collections.Counter((e["user_id"], e["page"]) for e in events if e["action"] == "view")
    check(len(want.get("user_views_1h", {})) > 100 and int(want.get("active_users", 0)) > 10,
          "the oracle's figures are too thin to test anything")

    kills = ck.KILLS
    rnd = random.Random("%d-s2kill" % ck.SEED)
    log("seed %d (RUNNEL_CKPT_SEED), %d kills" % (ck.SEED, kills))
    tag = "s2kill%s" % ck.RUN_ID
    topic, views_topic = tag + "-activity", tag + "-views"
    harness.fresh_topics(b, [topic], partitions=1)
    harness.fresh_topics(b, [views_topic])
    s2.cli(renv, "DEL", *s2.KEYS)
    url = "redis://%s:%s@%s:%s/%s" % (renv["REDIS_USER"], renv["REDIS_PASSWORD"], renv["REDIS_HOST"],
                                      renv["REDIS_PORT"], DB)
    n = len(lines)
    chunks = [lines[i * n // SLICES:(i + 1) * n // SLICES] for i in range(SLICES)]
    harness.produce(b, topic, chunks[0])
    chaos = ck.Chaos("s2kill", kill_pipeline(work, topic, views_topic, tag, ckdir), b,
                     ck.sets("user_activity.properties.group.instance.id=${INSTANCE}-u",
                             "user_activity.properties.session.timeout.ms=6000",
                             "views.sink.delivery-guarantee=exactly-once"),
                     {"REDIS_URL": url}, ckdir)
    t0 = time.time()
    chaos.start("a")
    try:
        feeder = ck.Feeder(lambda i: harness.produce(b, topic, chunks[i + 1]), SLICES - 1, PAUSE_S)
        chaos.kill_loop(kills, rnd)
        log("%d kills in %.0f s" % (kills, time.time() - t0))
        feeder.finish()
        await_redis(renv, want, chaos)
        log("Redis equals the oracle after %d kills (%d pages, %s active users, %d users with views in the "
            "last hour)" % (kills, len(want["top_pages"]), want["active_users"], len(want["user_views_1h"])))
        ck.await_equal("views after %d kills" % kills,
                       lambda: collections.Counter((v["user_id"], v["page"]) for v in
                                                   (json.loads(m["value"]) for m in harness.consume(b, views_topic))),
                       want_views, chaos)
        chaos.stop()
    finally:
        for r in chaos.procs.values():
            if r.running():
                r.proc.kill()
    s2.cli(renv, "DEL", *s2.KEYS)
    for t in (topic, views_topic):
        harness.ktool("delete", t, "--bootstrap", b, check_rc=False)
    shutil.rmtree(work)


def await_redis(renv, want, chaos):
    deadline = time.time() + TIMEOUT
    last = None
    while time.time() < deadline:
        last = s2.diff(s2.redis_model(renv), want)
        if last is None:
            return
        chaos.check_alive()
        time.sleep(1)
    raise TestFailure("Redis differs from the oracle %d s after the last kill: %s\n%s" % (
        TIMEOUT, last, chaos.procs["a"].output()[-3000:]))


if __name__ == "__main__":
    harness.main(test)
