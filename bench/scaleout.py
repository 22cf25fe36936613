#!/usr/bin/env python3
"""bench/scaleout.py - page_views (bench/scaleout.sql) on a real Kafka
broker: the cost of the repartition hop and how throughput scales with
workers and processes (docs/scale-out.md), all in one run on the same data.

Setups, each BENCH_RUNS times (default 3), alternating:
  direct    input keyed by page_id (the GROUP BY's key): no repartition
  exchange  input keyed by user_id: the GROUP BY page_id repartitions
  workers2  as exchange, one process with --workers 2
  procs2    as exchange, two processes in one group

A run gets fresh topics and groups. The members start first, on the empty
8-partition input topic, and the data is produced only once every consumer
group involved is stable with all members assigned: a rebalance in the
middle would move partitions (and, with no checkpoints yet, lose the GROUP
BY state of the keys that move). Then BENCH_EVENTS (default 2,000,000) s5
user-events are produced at full speed by a second runnel pipeline (a file
copied to the topic, keyed as the setup needs). The run's time is from the
start of that produce to the last record runnel writes (its Kafka
timestamp) once the output's final state equals the Python baseline's; a
run whose final state differs fails the benchmark. The producer alone is
timed too, as the floor. On this 2-core machine the members, the producer
and the brokers share the cores: expect well under 2x from two members.

    bench/scaleout.py            # KAFKA_BOOTSTRAP, or a single broker started here
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "kafka"))
import harness  # noqa: E402

RUNNEL = os.path.join(ROOT, "build", "runnel")
EVENTS = int(os.environ.get("BENCH_EVENTS", "2000000"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SETUPS = [("direct", "page_id", 1, []), ("exchange", "user_id", 1, []),
          ("workers2", "user_id", 1, ["--workers", "2"]), ("procs2", "user_id", 2, [])]

COPY_SQL = """-- bench/scaleout.py: the data, copied to the input topic keyed by ${BENCH_KEY}
CREATE TABLE f (event_type STRING, user_id INT, page_id INT, `timestamp` DOUBLE)
  WITH ('connector' = 'filesystem', 'path' = '${BENCH_FILE}', 'format' = 'json');
CREATE TABLE k (event_type STRING, user_id INT, page_id INT, `timestamp` DOUBLE)
  WITH ('connector' = 'kafka', 'topic' = '${BENCH_TOPIC}', 'key.format' = 'json',
        'key.fields' = '${BENCH_KEY}');
INSERT INTO k SELECT * FROM f;
"""


def log(msg):
    sys.stderr.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), msg))


def group_stable(b, group, members):
    g = json.loads(harness.ktool("group", group, "--bootstrap", b).stdout)
    return g["state"] == "STABLE" and g["members"] >= members


def last_timestamp_and_state(b, topic):
    """(max record timestamp in ms, final upsert state) of the output topic."""
    msgs = harness.consume(b, topic)
    state, last = {}, 0
    for m in msgs:
        last = max(last, int(m.get("timestamp") or 0))
        key = str(json.loads(m["key"])["page_id"])
        if m["value"] is None:
            state.pop(key, None)
        else:
            v = json.loads(m["value"])
            state[key] = [v["views"], v["users"]]
    return last, state


def one_run(b, work, setup, key, procs, args, want, tag):
    group = "bench-so-%s-%s" % (setup, tag)
    topic, out = group + "-in", group + "-out"
    harness.ktool("create", topic, "--partitions", 8, "--replication", 1, "--bootstrap", b)
    harness.ktool("create", out, "--partitions", 1, "--replication", 1, "--bootstrap", b)
    env = dict(os.environ, BENCH_TOPIC=topic, BENCH_KEY=key, BENCH_GROUP=group, BENCH_OUT=out,
               BENCH_BOUNDED="unbounded")
    members = procs * (int(args[1]) if args else 1)
    logs = [open(os.path.join(work, "%s.%d.log" % (group, i)), "wb") for i in range(procs)]
    ps = [subprocess.Popen([RUNNEL, "run", os.path.join(ROOT, "bench", "scaleout.sql"), "--brokers", b] + args,
                           stdout=subprocess.DEVNULL, stderr=logs[i], env=env) for i in range(procs)]
    try:
        groups = [group] + (["%s-4-repartition" % group] if key != "page_id" else [])
        harness.wait_for(lambda: all(p.poll() is None for p in ps) and
                         all(group_stable(b, g, members) for g in groups), 120,
                         "%s: groups %s stable with %d members" % (setup, groups, members))
        copy_env = dict(os.environ, BENCH_TOPIC=topic, BENCH_KEY=key,
                        BENCH_FILE=os.path.join(work, "user-events.jsonl"))
        t0 = time.time()
        subprocess.run([RUNNEL, "run", os.path.join(work, "copy.sql"), "--brokers", b], env=copy_env,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        produced = time.time() - t0
        result = {}

        def done():
            for p in ps:
                if p.poll() is not None:
                    raise SystemExit("%s: runnel exited early (%s)" % (setup, p.returncode))
            result["last"], result["state"] = last_timestamp_and_state(b, out)
            return result["state"] == want
        harness.wait_for(done, 300, "%s: the output to equal the baseline's" % setup, interval=2)
        return result["last"] / 1000.0 - t0, produced
    finally:
        for p in ps:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in ps:
            p.wait(timeout=60)
        for t in (topic, out):
            harness.ktool("delete", t, "--bootstrap", b, check_rc=False)


def main():
    started = False
    b = os.environ.get("KAFKA_BOOTSTRAP")
    if not b:
        b = subprocess.run([os.path.join(ROOT, "scripts", "kafka"), "start", "--brokers", "1"], check=True,
                           stdout=subprocess.PIPE, text=True).stdout.strip()
        started = True
    work = tempfile.mkdtemp(prefix="runnel-bench-scaleout-")
    try:
        subprocess.run([RUNNEL, "gen", "s5", "--count", str(EVENTS), "--seed", "1", "--out", work], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(os.path.join(work, "copy.sql"), "w") as f:
            f.write(COPY_SQL)
        want_path = os.path.join(work, "want.json")
        subprocess.run([harness.PYTHON, os.path.join(ROOT, "bench", "baseline_page_views.py"),
                        os.path.join(work, "user-events.jsonl"), "--out", want_path], check=True,
                       stdout=subprocess.DEVNULL)
        want = json.load(open(want_path))
        best, floor = {}, None
        tag = "%d%d" % (os.getpid(), int(time.time()))
        for r in range(RUNS):
            for setup, key, procs, args in SETUPS:
                secs, produced = one_run(b, work, setup, key, procs, args, want, "%s-%d" % (tag, r))
                log("run %d: %s %.3f s (the produce alone %.3f s)" % (r + 1, setup, secs, produced))
                best[setup] = min(best.get(setup, secs), secs)
                floor = min(floor or produced, produced)
        n = EVENTS
        print("page_views on Kafka, %d events, 8 partitions, best of %d (from the start of the produce to the "
              "last result):" % (n, RUNS))
        print("  producer alone                              %7.3f s %10.0f events/s" % (floor, n / floor))
        for setup, what in (("direct", "keyed by page_id, no repartition"), ("exchange", "keyed by user_id, repartition"),
                            ("workers2", "exchange, --workers 2"), ("procs2", "exchange, 2 processes")):
            print("  %-8s %-34s %7.3f s %10.0f events/s" % (setup, "(" + what + ")", best[setup], n / best[setup]))
        print("  repartition hop: direct is %.2fx exchange" % (best["exchange"] / best["direct"]))
        print("  scaling against exchange: --workers 2 %.2fx, 2 processes %.2fx"
              % (best["exchange"] / best["workers2"], best["exchange"] / best["procs2"]))
    finally:
        subprocess.run(["rm", "-rf", work])
        if started:
            subprocess.run([os.path.join(ROOT, "scripts", "kafka"), "stop"])


if __name__ == "__main__":
    main()
