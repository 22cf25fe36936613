#!/usr/bin/env python3
"""A process restarted right after a SIGKILL says at once that it waits for
the consumer group, keeps saying so while it waits, and a bounded restart
reads everything before it exits 0.

The killed member stays in the group until its session times out, and
holds its partitions until then. Here a first bounded restart is killed
too while it waits, so the group's next generation still counts it: the
second restart may be assigned only half the partitions (the dead
restart's half stays unread until its session expires). A bounded reader
used to end as soon as its own share was done, and exited 0 having read
half the input, or nothing at all with an empty share.

Last, the same with static membership ('properties.group.instance.id'):
a restart under the same instance id takes the partitions over at once,
without waiting for the session timeout.
"""
import json
import os
import signal
import tempfile
import time

import harness
from harness import check, log

IN, OUT, DLQ, GROUP = "rak-in", "rak-out", "rak-dlq", "rak-test"
SESSION_MS = 10000
PROMPT_S = 5  # the "waiting for the group" line must come this soon
WAITING = "waiting for consumer group '%s'" % GROUP


def pipeline(static):
    """passthrough.sql with a SESSION_MS session, without static membership
    unless static."""
    with open(os.path.join(harness.PIPELINES, "passthrough.sql")) as f:
        sql = f.read().replace("'properties.session.timeout.ms' = '6000'",
                               "'properties.session.timeout.ms' = '%d'" % SESSION_MS)
    if not static:
        sql = "\n".join(l for l in sql.splitlines() if "group.instance.id" not in l)
    path = os.path.join(tempfile.mkdtemp(prefix="runnel-rak-"), "passthrough.sql")
    with open(path, "w") as f:
        f.write(sql)
    return path


def waiting_lines(r):
    return [l for l in r.output().splitlines() if WAITING in l]


def members(b):
    return json.loads(harness.ktool("group", GROUP, "--bootstrap", b).stdout)["members"]


def start(name, sql, b, bounded, instance=None):
    env_run = {"IN_TOPIC": IN, "OUT_TOPIC": OUT, "GROUP": GROUP, "DLQ_TOPIC": DLQ,
               "BOUNDED": "latest-offset" if bounded else "unbounded"}
    if instance:
        env_run["INSTANCE"] = instance
    r = harness.Runnel(name, sql, env_run, ["--brokers", b])
    r.t0 = time.time()
    return r


def prompt_waiting_line(r):
    harness.wait_for(lambda: waiting_lines(r), PROMPT_S,
                     "runnel %s to say that it waits for the group:\n%s" % (r.name, r.output()),
                     interval=0.2)
    log("%s said after %.1f s: %s" % (r.name, time.time() - r.t0, waiting_lines(r)[0][:100]))


def test(env):
    b = env["KAFKA_BOOTSTRAP"]
    harness.fresh_topics(b, (IN, OUT, DLQ))
    lines = harness.gen_user_events(seed=8, count=12000)
    first, second = lines[:6000], lines[6000:]
    harness.produce(b, IN, first, key_field="user_id")
    dynamic = pipeline(static=False)
    procs = []
    try:
        a = start("rak-a", dynamic, b, bounded=False)
        procs.append(a)
        harness.wait_for(lambda: harness.output_covers(b, OUT, harness.passthrough_expected(first)),
                         120, "rak-a to copy the first half")
        a.stop(signal.SIGKILL)
        log("killed rak-a; it stays in the group for up to %d ms" % SESSION_MS)
        harness.produce(b, IN, second, key_field="user_id")

        c = start("rak-b", dynamic, b, bounded=True)
        procs.append(c)
        prompt_waiting_line(c)
        harness.wait_for(lambda: members(b) >= 2, 30, "rak-b to join the group beside the dead rak-a")
        harness.wait_for(lambda: len(waiting_lines(c)) >= 2 or not c.running()
                         or "assigned" in c.output(), 15,
                         "rak-b to repeat that it waits:\n%s" % c.output())
        check(len(waiting_lines(c)) >= 2,
              "rak-b said only once that it waits for the group (it must repeat every few "
              "seconds):\n%s" % c.output())
        check(c.running() and "assigned" not in c.output(),
              "rak-b was assigned partitions before the dead rak-a's session expired:\n%s"
              % c.output())
        c.stop(signal.SIGKILL)
        log("killed rak-b while it waited: the group's next generation still counts it")

        d = start("rak-c", dynamic, b, bounded=True)
        procs.append(d)
        prompt_waiting_line(d)
        rc = d.wait(120)
        out = d.output()
        check(rc == 0, "bounded rak-c exited with %d:\n%s" % (rc, out))
        want = harness.passthrough_expected(lines)
        got = harness.output_covers(b, OUT, want)
        if not got:
            offs = harness.ktool("offsets", GROUP, IN, "--bootstrap", b).stdout.strip()
            raise harness.TestFailure("bounded rak-c exited 0 but %s lacks records of %s (group "
                                      "offsets %s):\n%s" % (OUT, IN, offs, out))
        log("rak-c read everything and exited 0 after %.1f s" % (time.time() - d.t0))

        # static membership: a restart under the same instance id needs no rebalance
        static = pipeline(static=True)
        harness.produce(b, IN, first[:1000], key_field="user_id")
        e = start("rak-static-1", static, b, bounded=False, instance="rak-member")
        procs.append(e)
        harness.wait_for(lambda: "assigned" in e.output(), 60, "rak-static-1 to be assigned")
        e.stop(signal.SIGKILL)
        f = start("rak-static-2", static, b, bounded=False, instance="rak-member")
        procs.append(f)
        limit = SESSION_MS / 1000.0 / 2
        harness.wait_for(lambda: "assigned" in f.output(), limit,
                         "the restart under the same group.instance.id to take the partitions "
                         "over (it must not wait for the %d ms session timeout):\n%s"
                         % (SESSION_MS, f.output()), interval=0.2)
        log("static member restarted and was assigned after %.1f s" % (time.time() - f.t0))
        rc = f.stop(signal.SIGTERM)
        check(rc == 0, "rak-static-2 exited with %d after SIGTERM:\n%s" % (rc, f.output()))
    finally:
        for r in procs:
            if r.running():
                r.stop(signal.SIGKILL)


if __name__ == "__main__":
    harness.main(test)
