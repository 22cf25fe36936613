#!/usr/bin/env python3
"""test_demo_services.py - `runnel demo` on real services: with REDIS_URL
and PGHOST set (docs/cli.md, "runnel demo") S2 writes the fixture's Redis
and S4 runs examples/s4_campaigns.sql on the fixture's PostgreSQL instead
of the blackhole and SQLite stand-ins.

PostgreSQL gets S4's two tables and the demo's subscribers (the demo's S4
generator has seed 4: `runnel gen s4 --seed 4` gives the same
subscribers). Checks, while the demo runs:
- its header says that S2 writes the Redis and S4 uses the PostgreSQL;
- Redis holds S2's keys: top_pages a sorted set of pages (paths) with
  positive whole view counts, user_views_1h a hash of user ids to
  positive counts, active_users a whole number;
- subscribers_feedback in PostgreSQL fills with rows, each a campaign of a
  restaurant sent to one of that restaurant's subscribers;
- S2 and S4 report no sink errors on /api/status;
then SIGINT stops the demo with exit 0, and the keys and rows are still
there.

    test_demo_services.py RUNNEL
(needs the redis and postgres fixtures: scripts/redis and scripts/postgres
env; RUNNEL_REDIS_ENV / RUNNEL_POSTGRES_ENV in tests/tests.cmake)
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "services"))
sys.path.insert(0, os.path.join(ROOT, "tests", "jdbc"))
import common  # noqa: E402
from common import check, log  # noqa: E402
from test_s4 import psql, setup_tables  # noqa: E402  (S4's tables, as jdbc.s4_kafka makes them)

KEYS = ["top_pages", "active_users", "user_views_1h"]


def rcli(r, *args):
    p = subprocess.run(["redis-cli", "-h", r["REDIS_HOST"], "-p", r["REDIS_PORT"], "--user", r["REDIS_USER"],
                        "--pass", r["REDIS_PASSWORD"], "--no-auth-warning"] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    check(p.returncode == 0, "redis-cli %s: %s" % (args, p.stderr))
    return p.stdout.splitlines()


def wait_for(cond, timeout, what, proc, log_path):
    deadline = time.time() + timeout
    while True:
        check(proc.poll() is None, "runnel demo exited %s while waiting for %s:\n%s"
              % (proc.returncode, what, open(log_path, errors="replace").read()[-3000:]))
        v = cond()
        if v:
            return v
        check(time.time() < deadline, "timed out after %d s waiting for %s" % (timeout, what))
        time.sleep(0.5)


def main():
    runnel = sys.argv[1]
    r = common.service_env("redis")
    pg = common.service_env("postgres")
    work = tempfile.mkdtemp(prefix="runnel-demo-services-")

    # S4's tables and the demo's subscribers (seed 1 + S4's index 3)
    subprocess.run([runnel, "gen", "s4", "--seed", "4", "--count", "1", "--out", work], check=True,
                   stderr=subprocess.DEVNULL)
    with open(os.path.join(work, "subscribers_restaurants.jsonl")) as f:
        subs = [json.loads(l) for l in f if l.strip()]
    check(len(subs) > 10, "runnel gen s4 gave %d subscribers" % len(subs))
    setup_tables(pg, subs)
    pairs = {(s["restaurant_id"], s["client_id"]) for s in subs}
    rcli(r, "DEL", *KEYS)

    env = dict(os.environ, REDIS_URL=r["REDIS_URL"])
    for k in ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD"):
        env[k] = pg[k]
    log_path = os.path.join(work, "demo.log")
    with open(log_path, "wb") as logf:
        p = subprocess.Popen([runnel, "demo", "--rate", "2000"], stdout=logf, stderr=subprocess.STDOUT, env=env)
    try:
        head = wait_for(lambda: (lambda t: t if "dashboard at " in t and "Ctrl-C" in t else None)(
            open(log_path, errors="replace").read()), 60, "the demo's header", p, log_path)
        check("S2 writes the Redis at $REDIS_URL" in head and "S4 uses the PostgreSQL at $PGHOST" in head,
              "the header does not name Redis and PostgreSQL:\n" + head[:1500])
        url = head.split("dashboard at ", 1)[1].split()[0]

        def redis_filled():
            z = rcli(r, "ZRANGE", "top_pages", "0", "-1", "WITHSCORES")
            h = rcli(r, "HGETALL", "user_views_1h")
            a = rcli(r, "GET", "active_users")
            return (z, h, a) if len(z) >= 10 and h and a and a[0] else None
        z, h, a = wait_for(redis_filled, 120, "S2's keys in Redis", p, log_path)
        pages = dict(zip(z[0::2], z[1::2]))
        check(all(k.startswith("/") and re.fullmatch(r"[1-9]\d*", v) for k, v in pages.items()),
              "top_pages is not pages with positive counts: %s" % list(pages.items())[:5])
        views = dict(zip(h[0::2], h[1::2]))
        check(all(re.fullmatch(r"\d+", k) and re.fullmatch(r"[1-9]\d*", v) for k, v in views.items()),
              "user_views_1h is not user ids with positive counts: %s" % list(views.items())[:5])
        check(re.fullmatch(r"\d+", a[0]) is not None, "active_users is %r" % a[0])
        log("Redis: %d pages, %d users with views, active_users %s" % (len(pages), len(views), a[0]))

        def feedback():
            rows = [l.split("\t") for l in psql(pg, "SELECT restaurant_id, client_id, adv_campaign_id "
                                                    "FROM subscribers_feedback").splitlines()]
            return rows if len(rows) >= 20 else None
        rows = wait_for(feedback, 120, "S4's rows in subscribers_feedback", p, log_path)
        bad = [x for x in rows if (x[0], x[1]) not in pairs or not x[2]]
        check(not bad, "%d of %d subscribers_feedback rows are no campaign of a subscriber's restaurant, e.g. %s"
              % (len(bad), len(rows), bad[:2]))
        log("PostgreSQL: %d subscribers_feedback rows" % len(rows))

        wants = (("s2_activity", "top_pages", "redis"), ("s4_campaigns", "subscribers_feedback", "jdbc"))

        def sinks_reported():
            # the status is a snapshot published every 500 ms: the rows may
            # be in the database before a snapshot counts them
            with urllib.request.urlopen(url + "api/status", timeout=10) as resp:
                status = json.load(resp)
            sinks = {(ps["name"], s["table"], s["connector"]): s for ps in status["pipelines"] for s in ps["sinks"]}
            for want in wants:
                check(want in sinks, "no sink %s on /api/status: %s" % (want, sorted(sinks)))
                check(sinks[want]["errors"] == 0, "sink %s: %s" % (want, sinks[want]))
            return all(sinks[w]["records"] > 0 for w in wants) and sinks
        wait_for(sinks_reported, 30, "/api/status to count the Redis and PostgreSQL sinks' records", p, log_path)
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                check(False, "runnel demo did not stop within 60 s of SIGINT")
    check(p.returncode == 0, "runnel demo exited %d after SIGINT:\n%s"
          % (p.returncode, open(log_path, errors="replace").read()[-3000:]))
    check(rcli(r, "EXISTS", "top_pages")[0] == "1", "top_pages is gone after the demo stopped")
    n = int(psql(pg, "SELECT count(*) FROM subscribers_feedback").strip())
    check(n >= len(rows), "subscribers_feedback has %d rows after the stop, %d before" % (n, len(rows)))
    rcli(r, "DEL", *KEYS)


if __name__ == "__main__":
    common.run_main(main)
