#!/usr/bin/env python3
"""test_s4.py - scenario S4 (examples/s4_campaigns.sql, unchanged) on the
real Kafka cluster and the real PostgreSQL server of the test fixtures.

1. PostgreSQL gets SCENARIOS.md's two tables as they are (subscribers_
   feedback has only `id serial primary key`, no unique index on the
   pipeline's key) and `runnel gen s4`'s subscribers; `runnel run` reads
   the campaigns topic, generated around the wall clock so that most
   campaigns are active when processed.
2. campaign_notifications and subscribers_feedback equal the batch
   oracle (tests/scenarios/oracle.py); the trigger time is the processing
   time, within the run.
3. A subscriber inserted while the pipeline runs is used within the
   cache's refresh interval ('lookup.partial-cache.expire-after-write' =
   10 s): campaigns of its restaurant are sent until its notification
   comes, which must be within the interval and a margin.
4. Every campaign replayed: the topic gets every notification again, the
   table keeps one row per (adv_campaign_id, client_id).
5. PostgreSQL stopped while campaigns arrive, then started again: nothing
   is lost, the table still equals the oracle.
6. The SQLite variant (examples/s4_campaigns_sqlite.sql, its schema and
   loader) on the same campaigns: the feedback table equals the oracle,
   and again after a replay.
"""
import collections
import datetime
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "kafka"))
sys.path.insert(0, os.path.join(ROOT, "tests", "scenarios"))
sys.path.insert(0, os.path.join(ROOT, "tests", "services"))
import harness  # noqa: E402
import oracle  # noqa: E402
from harness import TestFailure, check, log  # noqa: E402
from common import service_env  # noqa: E402

RUNNEL = os.path.join(ROOT, "build", "runnel")
RUN_ID = "%d%d" % (os.getpid(), int(time.time()))
FIELDS = oracle.S4_FIELDS + ("client_id",)
REFRESH_S = 10  # the example's 'lookup.partial-cache.expire-after-write'


def psql(pg, sql):
    env = dict(os.environ, PGPASSWORD=pg["PGPASSWORD"], PGCONNECT_TIMEOUT="10")
    p = subprocess.run(["psql", "-X", "-w", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-h", pg["PGHOST"],
                        "-p", pg["PGPORT"], "-U", pg["PGUSER"], "-d", pg["PGDATABASE"], "-c", sql],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, timeout=60)
    check(p.returncode == 0, "psql failed: %s\n%s" % (p.stderr.strip(), sql[:300]))
    return p.stdout


def pg_ctl(pg, *args):
    """pg_ctl on the fixture's cluster as its owner: stops or starts the
    server keeping its data and port (scripts/postgres stop removes both)."""
    state = pg["POSTGRES_DIR"]
    conf = dict(line.split("=", 1) for line in open(os.path.join(state, "server.env")).read().split())
    cmd = [os.path.join(conf["BINDIR"], "pg_ctl"), "-D", os.path.join(state, "data")] + list(args)
    if os.getuid() == 0:
        import pwd
        pw = pwd.getpwnam(conf["OWNER"])
        cmd = ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid, "--init-groups", "env", "HOME=/"] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd="/")
    check(p.returncode == 0, "pg_ctl %s: %s" % (args, p.stderr))
    if args[0] == "start":  # scripts/postgres stop kills the pid it keeps
        with open(os.path.join(state, "data", "postmaster.pid")) as f:
            pid = f.readline().strip()
        with open(os.path.join(state, "pid"), "w") as f:
            f.write(pid + "\n")


def sql_text(v):
    return "'" + str(v).replace("'", "''") + "'"


def setup_tables(pg, subscribers):
    psql(pg, """
DROP TABLE IF EXISTS subscribers_restaurants, subscribers_feedback;
CREATE TABLE subscribers_restaurants (id serial primary key, client_id varchar not null,
                                      restaurant_id varchar not null);
CREATE TABLE subscribers_feedback (id serial primary key, restaurant_id text, adv_campaign_id text,
    adv_campaign_content text, adv_campaign_owner text, adv_campaign_owner_contact text,
    adv_campaign_datetime_start int8, adv_campaign_datetime_end int8, datetime_created int8,
    client_id text, trigger_datetime_created int4, feedback varchar null);""")
    values = ",".join("(%s, %s)" % (sql_text(s["client_id"]), sql_text(s["restaurant_id"])) for s in subscribers)
    psql(pg, "INSERT INTO subscribers_restaurants (client_id, restaurant_id) VALUES " + values)


def feedback_table(pg):
    """subscribers_feedback as {(campaign, client): (fields..., trigger)} and its row count."""
    cols = ", ".join(FIELDS + ("trigger_datetime_created",))
    rows = [line.split("\t") for line in psql(pg, "SELECT %s FROM subscribers_feedback" % cols).splitlines()]
    table = {}
    for r in rows:
        vals = tuple(int(v) if f.startswith("adv_campaign_datetime") or f == "datetime_created" else v
                     for f, v in zip(FIELDS, r[:-1]))
        table[(vals[1], vals[-1])] = vals + (int(r[-1]),)
    return table, len(rows)


def notifications(b):
    return [json.loads(m["value"]) for m in harness.consume(b, "campaign_notifications")]


def strip_trigger(rows, t0, t1):
    """The rows without their trigger time, which must lie in [t0, t1]."""
    out = collections.Counter()
    for r in rows:
        trig = r[-1] if isinstance(r, tuple) else r["trigger_datetime_created"]
        check(t0 <= trig <= t1, "trigger_datetime_created %s outside the run [%d, %d]" % (trig, t0, t1))
        out[r[:-1] if isinstance(r, tuple) else tuple(r[f] for f in FIELDS)] += 1
    return out


def wait_for(what, cond, proc, timeout=120):
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        check(proc.running(), "runnel exited with %s:\n%s" % (proc.proc.returncode, proc.output()[-3000:]))
        if time.time() > deadline:
            raise TestFailure("timed out after %d s waiting for %s\n%s" % (timeout, what, proc.output()[-3000:]))
        time.sleep(0.5)


def test(kenv):
    b = kenv["KAFKA_BOOTSTRAP"]
    pg = service_env("postgres")
    now = int(time.time())
    d = tempfile.mkdtemp(prefix="runnel-s4-")
    start = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    subprocess.run([RUNNEL, "gen", "s4", "--seed", "4", "--count", "300", "--start", start, "--out", d],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(d, "campaigns.jsonl")) as f:
        campaigns = [l.rstrip("\n") for l in f if l.strip()]
    with open(os.path.join(d, "subscribers_restaurants.jsonl")) as f:
        subscribers = [json.loads(l) for l in f if l.strip()]
    shutil.rmtree(d)
    setup_tables(pg, subscribers)
    harness.fresh_topics(b, ["campaigns", "campaign_notifications", "dlq"])

    pipeline = os.path.join(tempfile.mkdtemp(prefix="runnel-s4-sql-"), "s4_campaigns_%s.sql" % RUN_ID)
    shutil.copyfile(os.path.join(ROOT, "examples", "s4_campaigns.sql"), pipeline)
    env = {k: pg[k] for k in ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD")}
    proc = harness.Runnel("s4", pipeline, env, ["--brokers", b])
    try:
        run_s4(b, pg, proc, campaigns, subscribers, now)
    finally:
        if proc.running():
            proc.stop(signal.SIGKILL)
    run_sqlite(b, campaigns, subscribers, now)


def run_s4(b, pg, proc, campaigns, subscribers, now):

    # 1-2: every campaign once
    first = campaigns[:200]
    harness.produce(b, "campaigns", first)
    want_rows, want_table = oracle.s4([json.loads(l) for l in first], subscribers, now)
    want = strip_trigger(list(want_rows.elements()), now, now)
    check(sum(want.values()) > 100 and len({k[1] for k in want}) > 20,
          "the data exercise too little: %d notifications" % sum(want.values()))
    wait_for("%d notifications" % sum(want.values()),
             lambda: len(notifications(b)) >= sum(want.values()), proc)
    t1 = int(time.time())
    got = strip_trigger(notifications(b), now, t1)
    harness_diff("campaign_notifications", got, want)
    table = wait_for("subscribers_feedback holds %d rows" % len(want_table),
                     lambda: (lambda t: t if t[1] == len(want_table) else None)(feedback_table(pg)), proc)[0]
    check({k: v[:-1] for k, v in table.items()} == {k: v[:-1] for k, v in want_table.items()},
          "subscribers_feedback differs from the oracle")
    log("%d notifications and %d feedback rows equal the oracle" % (sum(want.values()), len(want_table)))

    # 3: a new subscriber is seen within the refresh interval
    camp = json.loads(first[0])
    rest = camp["restaurant_id"]
    new_client = "new-client-%s" % RUN_ID
    psql(pg, "INSERT INTO subscribers_restaurants (client_id, restaurant_id) VALUES (%s, %s)" % (
        sql_text(new_client), sql_text(rest)))
    inserted = time.time()
    active = [c for c in (json.loads(l) for l in first)
              if c["restaurant_id"] == rest and c["adv_campaign_datetime_start"] <= now <= c["adv_campaign_datetime_end"]]
    check(active, "no active campaign of restaurant %s" % rest)
    seen = None
    n = 0
    while seen is None:
        n += 1
        probe = dict(active[0], adv_campaign_id="probe-%s-%d" % (RUN_ID, n))
        harness.produce(b, "campaigns", [json.dumps(probe)])
        rows = notifications(b)
        if any(r["client_id"] == new_client for r in rows):
            seen = time.time() - inserted
        check(time.time() - inserted < REFRESH_S + 30,
              "the subscriber inserted %d s ago is still not used" % (time.time() - inserted))
        check(proc.running(), "runnel exited:\n" + proc.output()[-3000:])
    check(seen <= REFRESH_S + 8, "the new subscriber was used after %.1f s (refresh %d s)" % (seen, REFRESH_S))
    log("the new subscriber was used %.1f s after its insert" % seen)

    # 4: a replay updates the rows it wrote before; only the new
    # subscriber's rows are added
    subscribers = subscribers + [{"client_id": new_client, "restaurant_id": rest}]
    probe_keys = {(r["adv_campaign_id"], r["client_id"]) for r in notifications(b)
                  if r["adv_campaign_id"].startswith("probe-")}
    before_msgs = len(notifications(b))
    harness.produce(b, "campaigns", first)
    _, want_table = oracle.s4([json.loads(l) for l in first], subscribers, now)
    want_keys = set(want_table) | probe_keys
    wait_for("the replay's notifications", lambda: len(notifications(b)) >= before_msgs + sum(want.values()), proc)
    table, nrows = wait_for("subscribers_feedback after the replay",
                            lambda: (lambda t: t if set(t[0]) == want_keys else None)(feedback_table(pg)), proc)
    check(nrows == len(table), "the table has %d rows for %d keys: a replay added rows" % (nrows, len(table)))
    log("after the replay: %d rows, one per key" % nrows)

    # 5: PostgreSQL down while the rest arrives, then back
    rest_lines = campaigns[200:]
    warnings = proc.output().count("PostgreSQL table")
    pg_ctl(pg, "stop", "-m", "fast", "-w")
    try:
        harness.produce(b, "campaigns", rest_lines)
        wait_for("the sink's retry warning", lambda: proc.output().count("PostgreSQL table") > warnings, proc,
                 timeout=60)
    finally:
        pg_ctl(pg, "start", "-w", "-l", os.path.join(pg["POSTGRES_DIR"], "data", "restart.log"))
    _, want_table = oracle.s4([json.loads(l) for l in campaigns], subscribers, now)
    want_keys = set(want_table) | probe_keys
    table, nrows = wait_for("subscribers_feedback after the outage",
                            lambda: (lambda t: t if set(t[0]) == want_keys else None)(feedback_table(pg)), proc, 180)
    check(nrows == len(table), "the table has %d rows for %d keys" % (nrows, len(table)))
    check({k: v[:-1] for k, v in table.items() if k in want_table} == {k: v[:-1] for k, v in want_table.items()},
          "subscribers_feedback differs from the oracle after the outage")
    log("after the outage: %d rows equal the oracle" % nrows)
    rc = proc.stop()
    check(rc == 0, "runnel exited with %d after SIGTERM:\n%s" % (rc, proc.output()[-3000:]))


def run_sqlite(b, campaigns, subscribers, now):
    work = tempfile.mkdtemp(prefix="runnel-s4-sqlite-")
    os.makedirs(os.path.join(work, "data"))
    with open(os.path.join(work, "data", "subscribers_restaurants.jsonl"), "w") as f:
        f.write("".join(json.dumps(s) + "\n" for s in subscribers))
    db = os.path.join(work, "s4.db")
    with sqlite3.connect(db) as c:
        c.executescript(open(os.path.join(ROOT, "examples", "s4_sqlite_schema.sql")).read())
    env = dict(os.environ, S4_DB=db, S4_DATA=os.path.join(work, "data"))
    p = subprocess.run([RUNNEL, "run", os.path.join(ROOT, "examples", "s4_sqlite_load.sql")], env=env,
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, "s4_sqlite_load.sql: %s" % p.stderr)
    harness.fresh_topics(b, ["campaigns", "campaign_notifications"])
    pipeline = os.path.join(work, "s4_campaigns_sqlite_%s.sql" % RUN_ID)
    shutil.copyfile(os.path.join(ROOT, "examples", "s4_campaigns_sqlite.sql"), pipeline)
    proc = harness.Runnel("s4-sqlite", pipeline, {"S4_DB": db}, ["--brokers", b])
    _, want = oracle.s4([json.loads(l) for l in campaigns], subscribers, now)
    check(len(want) > 1000, "the SQLite case exercises too little: %d rows" % len(want))

    def table():
        with sqlite3.connect(db) as c:
            rows = c.execute("SELECT %s FROM subscribers_feedback" % ", ".join(FIELDS)).fetchall()
        got = {(r[1], r[-1]): tuple(r) for r in rows}
        return len(rows) == len(want) and got == {k: v[:-1] for k, v in want.items()}
    try:
        nwant = len(want)  # campaign ids are unique: one notification per feedback row
        for n, round_ in ((1, "first"), (2, "replay")):
            harness.produce(b, "campaigns", campaigns)
            wait_for("the notifications (%s)" % round_, lambda: len(notifications(b)) >= n * nwant, proc)
            wait_for("the SQLite feedback table (%s)" % round_, table, proc)
            log("SQLite: %d feedback rows equal the oracle (%s)" % (nwant, round_))
        rc = proc.stop()
        check(rc == 0, "runnel exited with %d after SIGTERM:\n%s" % (rc, proc.output()[-3000:]))
    finally:
        if proc.running():
            proc.stop(signal.SIGKILL)
    shutil.rmtree(work)


def harness_diff(name, got, want):
    if got != want:
        missing, extra = want - got, got - want
        raise TestFailure("%s: %d missing, %d unexpected; e.g. %s / %s" % (
            name, sum(missing.values()), sum(extra.values()), list(missing)[:2], list(extra)[:2]))


if __name__ == "__main__":
    harness.main(test)
