#!/usr/bin/env python3
"""The join scenarios on the 3-broker cluster: examples/s1_logins.sql,
s3_corp.sql and s5_sessions.sql, unchanged, over 8-partition topics fed by
`runnel gen`, with `runnel run`; each output topic must equal the batch
oracle of tests/scenarios/oracle.py computed from the same generated files.

- s1: logins, unkeyed records; the last timers fire through the quiet-topic
  wall clock ('scan.watermark.quiet-timeout'). The event-time cases produce
  their input before runnel starts: a partition that delivers nothing for
  'scan.watermark.idle-timeout' after its assignment stops holding the
  watermark back, and its rows that come later are late (by design).
- s1quiet: the same pipeline with a 10 s timer and a 2 s quiet timeout over
  logins near the wall clock; nothing arrives after them, and every timer
  must still fire (event time follows the wall clock).
- s3: users x events with malformed records in both topics: the final
  upsert state of both tables equals the oracle, and the dead-letter topic
  'dlq' holds exactly the malformed records. Run by one process, by two
  processes in one consumer group (the join's inputs are repartitioned and
  co-assigned: docs/scale-out.md), and by one process with --workers 2.
- s5: user-events and purchases keyed by user_id (as `runnel gen
  --brokers` writes them); visits and suspicious-visits as multisets (a
  clean run has no duplicates); by one process, then by two (every keyed
  step behind a repartition topic, watermarks through its marks).

Each case copies its pipeline under a fresh name, so its consumer groups
and repartition topics are its own; the scenario topics themselves are
fixed by ../shared/SCENARIOS.md and re-created per case.

  python3 tests/kafka/test_joins.py [CASE...]     # s1 s1quiet s3 s3x2 s3w2 s5 s5x2
"""
import collections
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import harness
from harness import TestFailure, check, log

sys.path.insert(0, os.path.join(harness.ROOT, "tests", "scenarios"))
import oracle  # noqa: E402

RUN_ID = "%x" % (int(time.time()) % 0xFFFFFF)
TIMEOUT = 150            # s for an output to reach the oracle
RUNNEL = os.path.join(harness.ROOT, "build", "runnel")
TICK_USER = 999


def gen(scen, seed, count):
    d = tempfile.mkdtemp(prefix="runnel-joins-")
    subprocess.run([RUNNEL, "gen", scen, "--seed", str(seed), "--count", str(count), "--out", d],
                   check=True, stdout=subprocess.DEVNULL)
    out = {}
    for name in os.listdir(d):
        with open(os.path.join(d, name), encoding="utf-8") as f:
            out[name[:-len(".jsonl")]] = [l.rstrip("\n") for l in f if l.strip()]
    shutil.rmtree(d)
    return out


def keyed(lines, field, partitions=8):
    """ktool --kv lines keyed {field: value}, in Java's partition."""
    out = []
    for line in lines:
        v = json.loads(line)
        k = json.dumps({field: v[field]}, separators=(",", ":"))
        out.append(json.dumps({"key": {field: v[field]}, "value": v,
                               "partition": harness.java_partition(k.encode(), partitions)}))
    return out


def pipeline_copy(example, case):
    d = tempfile.mkdtemp(prefix="runnel-joins-sql-")
    path = os.path.join(d, "%s_%s_%s.sql" % (example[:-4], case, RUN_ID))
    shutil.copyfile(os.path.join(harness.ROOT, "examples", example), path)
    return path


def await_output(what, poll, want, procs, timeout=TIMEOUT):
    """Polls poll() until it equals want; fails with a short diff. procs:
    the processes that must stay up meanwhile, or a function that checks
    them."""
    deadline = time.time() + timeout
    got = None
    while time.time() < deadline:
        got = poll()
        if got == want:
            log("%s equals the oracle" % what)
            return
        if callable(procs):
            procs()
        for r in procs if not callable(procs) else ():
            check(r.running(), "runnel %s exited with %s:\n%s" % (r.name, r.proc.returncode,
                                                                  r.output()[-3000:]))
        time.sleep(2)
    if isinstance(want, collections.Counter):
        raise TestFailure("%s differs from the oracle after %d s: %d missing, %d duplicated or unexpected; "
                          "e.g. missing %s, unexpected %s" % (what, timeout, sum((want - got).values()),
                                                             sum((got - want).values()),
                                                             list((want - got))[:3], list((got - want))[:3]))
    diff = [k for k in set(got) | set(want) if got.get(k) != want.get(k)]
    raise TestFailure("%s differs from the oracle after %d s in %d keys, e.g. %s" % (
        what, timeout, len(diff), [(k, got.get(k), want.get(k)) for k in diff[:3]]))


def s3_user_counts(b):
    """user_event_counts as it stands: user_id -> (name, email, event_count)."""
    st = harness.upsert_state(harness.consume(b, "user_event_counts"))
    return {json.loads(v)["user_id"]: (json.loads(v)["name"], json.loads(v)["email"],
                                       json.loads(v)["event_count"]) for v in st.values()}


def s3_event_counts(b):
    """event_type_counts as it stands: event -> count."""
    st = harness.upsert_state(harness.consume(b, "event_type_counts"))
    return {json.loads(v)["event"]: json.loads(v)["count"] for v in st.values()}


def s5_visits(b):
    """The visits written so far, as a multiset (the tick user left out)."""
    return collections.Counter(
        (v["session_id"], v["user_id"], v["event_type"], v["page_id"], v["timestamp"], v["amount"])
        for v in (json.loads(m["value"]) for m in harness.consume(b, "visits")) if v["user_id"] != TICK_USER)


def s5_suspicious(b):
    """The suspicious visits written so far, as a multiset."""
    return collections.Counter((v["session_id"], v["user_id"], v["type"]) for v in
                               (json.loads(m["value"]) for m in harness.consume(b, "suspicious-visits"))
                               if v["user_id"] != TICK_USER)


def start(name, pipeline, b, n=1, args=()):
    procs = [harness.Runnel("%s-%d" % (name, i), pipeline, {}, ["--brokers", b] + list(args)) for i in range(n)]
    return procs


def stop(procs):
    for r in procs:
        rc = r.stop(signal.SIGTERM)
        check(rc == 0, "runnel %s exited with %d after SIGTERM:\n%s" % (r.name, rc, r.output()[-3000:]))


def assigned_everywhere(r):
    """Whether every reader of process r that waited for its consumer
    group (a table's or a repartition topic's) has been assigned
    partitions."""
    out = r.output()
    waiting = set(re.findall(r"runnel: (.+?): waiting for consumer group", out))
    assigned = set(re.findall(r"runnel: (.+?): assigned", out))
    return len(assigned) >= 2 and waiting <= assigned


def await_assigned(procs, what):
    harness.wait_for(lambda: all(assigned_everywhere(r) or not r.running() for r in procs),
                     90, "%s: every reader of every process assigned partitions" % what)
    for r in procs:
        check(r.running(), "runnel %s exited:\n%s" % (r.name, r.output()[-3000:]))


def case_s1(b):
    data = gen("s1", 5, 6000)
    harness.fresh_topics(b, ["user_actions", "notifications"])
    # the stream goes on: a later action of another user moves event time
    # past the last timers (a quiet topic would follow the wall clock,
    # which takes as long in real time as the timers last)
    last = max(oracle.parse_ts_ms(json.loads(l)["timestamp"]) for l in data["user_actions"])
    tick = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(last / 1000 + 11 * 60))
    data["user_actions"].append(json.dumps({"user_id": 999999, "action": "view", "timestamp": tick}))
    want = oracle.s1([json.loads(l) for l in data["user_actions"]])
    # produced before the start: a partition that delivers nothing for the
    # idle timeout after its assignment stops holding the watermark back,
    # and rows that arrive after others moved it on are late (by design)
    harness.produce(b, "user_actions", data["user_actions"])
    procs = start("s1", pipeline_copy("s1_logins.sql", "s1"), b)

    def poll():
        return collections.Counter((v["user_id"], v["login_ts"]) for v in
                                   (json.loads(m["value"]) for m in harness.consume(b, "notifications")))
    await_output("notifications", poll, want, procs)
    stop(procs)


def case_s1_quiet(b):
    """The timer fires on a quiet topic: S1 with a 10 s timer and a 2 s
    quiet timeout; after the last action nothing more arrives, and event
    time must follow the wall clock until every timer has fired."""
    with open(os.path.join(harness.ROOT, "examples", "s1_logins.sql")) as f:
        sql = f.read()
    for old, new in (("INTERVAL '10' MINUTE", "INTERVAL '10' SECOND"),
                     ("'scan.watermark.quiet-timeout' = '30 s'", "'scan.watermark.quiet-timeout' = '2 s'")):
        check(old in sql, "examples/s1_logins.sql no longer has %s" % old)
        sql = sql.replace(old, new)
    path = pipeline_copy("s1_logins.sql", "s1quiet")
    with open(path, "w") as f:
        f.write(sql)
    t0 = int(time.time())
    actions, rnd = [], random.Random(4)
    for u in range(1, 41):  # a login each; half buy 1..8 s later, a few log in again
        t = t0 + rnd.randint(0, 20)
        actions.append({"user_id": u, "action": "login", "timestamp": t})
        if u % 2 == 0:
            actions.append({"user_id": u, "action": "purchase", "timestamp": t + rnd.randint(1, 8)})
        elif u % 5 == 0:
            actions.append({"user_id": u, "action": "login", "timestamp": t + rnd.randint(1, 9)})
    actions.sort(key=lambda a: a["timestamp"])
    lines = [json.dumps(dict(a, timestamp=time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(a["timestamp"]))))
             for a in actions]
    harness.fresh_topics(b, ["user_actions", "notifications"])
    want = oracle.s1([json.loads(l) for l in lines], timer_ms=10000)
    check(sum(want.values()) >= 15, "the quiet case has only %d notifications to wait for" % sum(want.values()))
    harness.produce(b, "user_actions", lines)
    procs = start("s1quiet", path, b)

    def poll():
        return collections.Counter((v["user_id"], v["login_ts"]) for v in
                                   (json.loads(m["value"]) for m in harness.consume(b, "notifications")))
    await_output("notifications of a quiet topic", poll, want, procs, timeout=90)
    check("event time follows the wall clock" in procs[0].output(),
          "runnel did not say that event time follows the wall clock:\n" + procs[0].output()[-2000:])
    stop(procs)


def corrupt_some(lines, rnd):
    out, bad = [], 0
    for line in lines:
        if rnd.random() < 0.01:
            out.append(rnd.choice(["not json", line[: len(line) // 2],
                                   json.dumps({k: v for k, v in json.loads(line).items() if k != "user_id"})]))
            bad += 1
        out.append(line)
    return out, bad


def case_s3(b, nprocs, workers=1):
    data = gen("s3", 7, 8000)
    harness.fresh_topics(b, ["CorpAppsTopic", "test", "user_event_counts", "event_type_counts", "dlq"])
    rnd = random.Random(3)
    users, bad_u = corrupt_some(data["CorpAppsTopic"], rnd)
    events, bad_e = corrupt_some(data["test"], rnd)
    counts, per_event = oracle.s3([json.loads(l) for l in data["CorpAppsTopic"]],
                                  [json.loads(l) for l in data["test"]])
    name = "s3x%d" % nprocs + ("w%d" % workers if workers > 1 else "")
    procs = start(name, pipeline_copy("s3_corp.sql", name), b, nprocs,
                  ["--workers", str(workers)] if workers > 1 else [])
    if nprocs > 1 or workers > 1:
        await_assigned(procs, name)
    # users keyed by user_id keep a user's records in order (one partition);
    # events unkeyed, spread over all partitions
    harness.produce(b, "CorpAppsTopic", users, key_field="user_id")
    harness.produce(b, "test", events)
    await_output("user_event_counts (%d processes)" % nprocs, lambda: s3_user_counts(b), counts, procs)
    await_output("event_type_counts (%d processes)" % nprocs, lambda: s3_event_counts(b), per_event, procs)
    dlq = harness.consume(b, "dlq")
    check(len(dlq) == bad_u + bad_e, "dlq holds %d records, want %d" % (len(dlq), bad_u + bad_e))
    stop(procs)


def case_s5(b, nprocs=1):
    data = gen("s5", 9, 6000)
    harness.fresh_topics(b, ["user-events", "purchases", "visits", "suspicious-visits", "late-visits"])
    # a later event and purchase of user TICK_USER move event time past the
    # last sessions (their own session stays open and is not compared)
    last = max(json.loads(l)["timestamp"] for l in data["user-events"] + data["purchases"])
    data["user-events"].append(json.dumps({"event_type": "click", "user_id": TICK_USER, "page_id": 1,
                                           "timestamp": round(last + 600, 3)}))
    data["purchases"].append(json.dumps({"amount": 1, "user_id": TICK_USER, "page_id": 1,
                                         "timestamp": round(last + 600, 3)}))
    visits, suspicious = oracle.s5([json.loads(l) for l in data["user-events"]],
                                   [json.loads(l) for l in data["purchases"]])
    visits = collections.Counter({k: n for k, n in visits.items() if k[1] != TICK_USER})
    suspicious = collections.Counter({k: n for k, n in suspicious.items() if k[1] != TICK_USER})
    name = "s5x%d" % nprocs
    pipeline = pipeline_copy("s5_sessions.sql", name)
    procs = []
    if nprocs > 1:
        # every process in the groups first, so none reads alone and hands
        # partitions over mid-stream; the input follows at once, well
        # within the 10 s idle timeout of the partitions just assigned
        procs = start(name, pipeline, b, nprocs)
        await_assigned(procs, name)
    harness.produce(b, "user-events", keyed(data["user-events"], "user_id"), extra=["--kv"])
    harness.produce(b, "purchases", keyed(data["purchases"], "user_id"), extra=["--kv"])
    if nprocs == 1:
        procs = start(name, pipeline, b)
    await_output("visits (%d processes)" % nprocs, lambda: s5_visits(b), visits, procs)
    await_output("suspicious-visits (%d processes)" % nprocs, lambda: s5_suspicious(b), suspicious, procs)
    check(not harness.consume(b, "late-visits"), "late-visits is not empty in a clean run")
    stop(procs)


CASES = {"s1": case_s1, "s1quiet": case_s1_quiet, "s3": lambda b: case_s3(b, 1), "s3x2": lambda b: case_s3(b, 2),
         "s3w2": lambda b: case_s3(b, 1, workers=2), "s5": case_s5,
         "s5x2": lambda b: case_s5(b, 2)}


def test(env):
    b = env["KAFKA_BOOTSTRAP"]
    names = [a for a in sys.argv[1:] if not a.startswith("-")] or list(CASES)
    failures = []
    for n in names:
        log("case %s" % n)
        try:
            CASES[n](b)
        except TestFailure as e:
            log("case %s FAILED: %s" % (n, e))
            failures.append(n)
    check(not failures, "failed cases: %s" % ", ".join(failures))


if __name__ == "__main__":
    harness.main(test)
