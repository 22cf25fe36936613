#!/usr/bin/env python3
"""An updating pipeline that resumes from its group's committed offsets
warns, in one line, that its aggregates restart from zero; one that starts
on a fresh group does not.

page_counts.sql counts views per page (GROUP BY into an upsert topic) and
copies purchases (stateless). Run 1 on a fresh group reads the first batch,
commits and is stopped with SIGTERM: no warning. Run 2 (bounded) in the same group resumes after it: exactly
one warning, naming the source table, the repartition topic its GROUP BY
reads it back through (named after the group), that topic's group and
partitions and the updating sink (not the stateless one). Its counts then start from zero, as the warning says:
a page's upserted views are those of the second batch alone.
"""
import collections
import json
import re
import signal

import harness
from harness import check, log

IN, OUT, COPY, GROUP = "rw-in", "rw-out", "rw-copy", "rw-test"
WARNING = "aggregate state is not restored"
# the GROUP BY's repartition topic is <group>-<operator id>-repartition
# (docs/scale-out.md); the id is read from runnel's log
REPARTITION = re.compile(r"repartition topic (%s-\d+-repartition): assigned" % GROUP)


def warnings(r):
    return [l for l in r.output().splitlines() if WARNING in l]


def start(name, b, bounded):
    env_run = {"IN_TOPIC": IN, "OUT_TOPIC": OUT, "COPY_TOPIC": COPY, "GROUP": GROUP,
               "BOUNDED": "latest-offset" if bounded else "unbounded", "INSTANCE": "rw-member"}
    return harness.Runnel(name, "page_counts.sql", env_run, ["--brokers", b])


def committed(b):
    offs = json.loads(harness.ktool("offsets", GROUP, IN, "--bootstrap", b).stdout)
    return sum(int(v or 0) for v in offs.values())


def views(lines):
    return collections.Counter(json.loads(l)["page_id"] for l in lines
                               if json.loads(l)["event_type"] == "page-view")


def test(env):
    b = env["KAFKA_BOOTSTRAP"]
    # the repartition topic too: a fresh start has none (runnel creates it)
    harness.fresh_topics(b, (IN, OUT, COPY))
    old = harness.ktool("topics", "--prefix", GROUP + "-", "--bootstrap", b).stdout.split()
    for t in old:
        if t.endswith("-repartition"):
            harness.ktool("delete", t, "--bootstrap", b, check_rc=False)
    lines = harness.gen_user_events(seed=9, count=6000)
    first, second = lines[:3000], lines[3000:]
    harness.produce(b, IN, first, key_field="user_id")

    r1 = start("resume-1", b, bounded=False)
    try:
        harness.wait_for(lambda: committed(b) == len(first), 60,
                         "run 1 to commit all %d records" % len(first))
        rc = r1.stop()
    finally:
        if r1.running():
            r1.stop(signal.SIGKILL)
    check(rc == 0, "run 1 exited with %d after SIGTERM:\n%s" % (rc, r1.output()))
    check(not warnings(r1), "the first run on a fresh group warned about resuming:\n%s" % r1.output())
    log("run 1 on a fresh group, stopped with SIGTERM: no warning, committed %d records" % len(first))

    harness.produce(b, IN, second, key_field="user_id")
    r2 = start("resume-2", b, bounded=True)
    rc = r2.wait(120)
    check(rc == 0, "run 2 exited with %d:\n%s" % (rc, r2.output()))
    w = warnings(r2)
    check(len(w) == 1, "run 2 resumed from committed offsets and must warn once, warned %d "
          "times:\n%s" % (len(w), r2.output()))
    line = w[0]
    # the GROUP BY page_id reads its rows back through a repartition topic
    # (docs/scale-out.md) named after the group: that is what resumes
    m = REPARTITION.search(r1.output())
    check(m is not None, "run 1 named no repartition topic of group %s:\n%s" % (GROUP, r1.output()))
    rp = m.group(1)
    for want in ("table 'events' (read back through repartition topic %s)" % rp, "group '%s'" % rp,
                 "%s[0-7]" % rp, "sink 'page_views'"):
        check(want in line, "the warning lacks %s: %s" % (want, line))
    check("purchases" not in line, "the warning names the stateless sink 'purchases': %s" % line)
    log("run 2 warned: %s" % line)

    # what the warning says: page counts restarted from zero at the resume point
    state = harness.upsert_state(harness.consume(b, OUT))
    second_views = views(second)
    for page, n in second_views.items():
        got = json.loads(state[harness.canon({"page_id": page})])["views"]
        check(got == n, "page %d: upserted views %d, expected %d counted from the resume point"
              % (page, got, n))
    log("upserted counts are those of the second batch alone (%d pages)" % len(second_views))


if __name__ == "__main__":
    harness.main(test)
