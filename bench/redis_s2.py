#!/usr/bin/env python3
"""redis_s2.py - scenario S2 into a real Redis: runnel against the seed's
approach, on one server in one run (bench/redis starts the server).

runnel: examples/s2_activity.sql with its Kafka table replaced by the
events file ('filesystem' connector), under `runnel run`, so every write
really goes to Redis (database 1): coalesced, absolute, pipelined flushes
at each commit (every second) and at the end.

Seed: the hand-written Python consumer the scenario replaces, with
redis-py: per event, INCR active_users, and for a view ZINCRBY top_pages 1
page and HINCRBY user_views_1h user_id 1 (database 2), one round trip
each.

Before any speed is printed: top_pages (all-time views per page: the
figure both compute the same way) must be equal in both databases and
equal to a count in Python; runnel's other keys must equal
tests/scenarios/oracle.py (the seed's active_users and user_views_1h
count something else: events, not distinct users; all time, not the last
hour). Then: events/s, Redis commands/s as the server counted them
(INFO stats total_commands_processed), commands per event, and the ratio.

    redis_s2.py RUNNEL EVENTS_FILE REDIS_HOST REDIS_PORT
"""
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "scenarios"))
import oracle  # noqa: E402

KEYS = ["active_users", "top_pages", "user_views_1h"]


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def commands(r):
    return r.info("stats")["total_commands_processed"]


def model(r):
    out = {}
    v = r.get("active_users")
    if v is not None:
        out["active_users"] = v
    z = r.zrange("top_pages", 0, -1, withscores=True)
    if z:
        out["top_pages"] = {m: int(s) for m, s in z}
    h = r.hgetall("user_views_1h")
    if h:
        out["user_views_1h"] = h
    return out


def file_pipeline(events_path, work):
    with open(os.path.join(ROOT, "examples", "s2_activity.sql")) as f:
        sql = f.read()
    start = sql.index("'connector' = 'kafka'")
    end = sql.index(");", start)
    sql = sql[:start] + "'connector' = 'filesystem', 'path' = '%s', 'format' = 'json'\n" % events_path + sql[end:]
    path = os.path.join(work, "s2_file.sql")
    with open(path, "w") as f:
        f.write(sql)
    return path


def main():
    runnel, events_path, host, port = sys.argv[1:5]
    with open(events_path) as f:
        events = [json.loads(l) for l in f if l.strip()]
    n = len(events)
    work = tempfile.mkdtemp(prefix="runnel-bench-redis-")

    rr = redis.Redis(host=host, port=int(port), db=1, decode_responses=True)
    rr.flushdb()
    c0, t0 = commands(rr), time.perf_counter()
    p = subprocess.run([runnel, "run", file_pipeline(events_path, work)], capture_output=True, text=True,
                       env=dict(os.environ, REDIS_URL="redis://%s:%s/1" % (host, port)))
    t_runnel, c_runnel = time.perf_counter() - t0, commands(rr) - c0 - 1
    if p.returncode != 0:
        fail("runnel run exited %d: %s" % (p.returncode, p.stderr[-2000:]))

    rs = redis.Redis(host=host, port=int(port), db=2, decode_responses=True)
    rs.flushdb()
    c0, t0 = commands(rs), time.perf_counter()
    for e in events:  # the seed: one INCR-style round trip per figure per event
        rs.incr("active_users")
        if e["action"] == "view":
            rs.zincrby("top_pages", 1, e["page"])
            rs.hincrby("user_views_1h", str(e["user_id"]), 1)
    t_seed, c_seed = time.perf_counter() - t0, commands(rs) - c0 - 1

    got, seed = model(rr), model(rs)
    want = oracle.s2(events)
    views = collections.Counter(e["page"] for e in events if e["action"] == "view")
    if got != want:
        fail("runnel's Redis differs from the oracle: %s" % [k for k in KEYS if got.get(k) != want.get(k)])
    if seed.get("top_pages") != dict(views) or got.get("top_pages") != dict(views):
        fail("top_pages differs between runnel, the seed and a count in Python")
    print("S2 into Redis %s:%s, %d events (%d views), results checked equal" % (host, port, n, sum(views.values())))
    print("  %-34s %8.2f s %10.0f events/s %9d commands %9.0f commands/s %7.3f commands/event" % (
        "runnel run examples/s2_activity.sql", t_runnel, n / t_runnel, c_runnel, c_runnel / t_runnel, c_runnel / n))
    print("  %-34s %8.2f s %10.0f events/s %9d commands %9.0f commands/s %7.3f commands/event" % (
        "seed: redis-py INCR per event", t_seed, n / t_seed, c_seed, c_seed / t_seed, c_seed / n))
    print("  runnel/seed: %.1fx events/s, %.0fx fewer Redis commands" % (t_seed / t_runnel, c_seed / max(c_runnel, 1)))
    rr.flushdb()
    rs.flushdb()


if __name__ == "__main__":
    main()
