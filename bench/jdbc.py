#!/usr/bin/env python3
"""bench/jdbc.py - the PostgreSQL half of the stores benchmark (bench/jdbc
runs it; bench/README.md has the figures). Needs psycopg2 (the .cache/venv
Python) and PGHOST/PGPORT/PGDATABASE/PGUSER/PGPASSWORD of a server.

  jdbc.py upsert RUNNEL DATA_DIR   runnel's sink against psycopg2, two tables
  jdbc.py lookup RUNNEL DATA_DIR   S4's lookup join against psycopg2

upsert: BENCH_ROWS (200000) S4-feedback-shaped upserts over BENCH_KEYS
(50000) keys (adv_campaign_id, client_id), generated once (seeded) into
DATA_DIR, written by `runnel run` (a 'filesystem' source, a 'jdbc' upsert
sink with its default 'sink.buffer-flush.max-rows' of 100) into
 - fb_unique: a PRIMARY KEY on the key (the INSERT .. ON CONFLICT path),
 - fb_serial: S4's subscribers_feedback, a serial id the only unique key
   (the UPDATE-then-INSERT path), with a plain (not unique) index on
   (adv_campaign_id, client_id); BENCH_SERIAL_INDEX=0 leaves it out, as
   SCENARIOS.md's table has none (then the baseline's UPDATE per row reads
   the whole table: hundreds of rows/s),
and by the seeds' approach, a psycopg2 consumer: per line json.loads and
one cursor.execute of INSERT .. ON CONFLICT (key) DO UPDATE (fb_unique) or
of an UPDATE by key followed by an INSERT when it touched no row
(fb_serial), a commit every 100 rows and at the end. Each table is emptied
(TRUNCATE) before each run; after each run it must equal the last value
per key of the input, or the benchmark fails before printing any speed.

lookup: BENCH_CAMPAIGNS (20000) S4 campaigns over BENCH_RESTAURANTS (2200)
restaurant ids, 2000 of which have 0..49 subscribers (49,000 in all) in
subscribers_restaurants (S4's table, with an index on restaurant_id);
1 in 20 campaigns expired. `runnel run` of examples/s4_campaigns.sql's
join from a file to a 'blackhole' sink with 'lookup.cache' NONE (every
input batch queries its keys: cold), PARTIAL (each restaurant queried once,
then hits: warm) and FULL (the table read once); the seeds' approach:
psycopg2, per campaign json.loads, the active check and one SELECT of its
restaurant's client_id (rows kept in a list). A run of each cache mode to a
file must give the same (campaign, client) pairs as the Python baseline.

Times are wall clock of the whole process (connecting and reading the
input included), best of BENCH_RUNS (3) for runnel; the baseline runs once
when a run takes over 3 s. Peak RSS and CPU time (user + system: what
runnel itself spends, the rest of the wall time is the server's and the
round trips') of runnel from /usr/bin/time -v.
"""
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time

import psycopg2

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SERIAL_INDEX = os.environ.get("BENCH_SERIAL_INDEX", "1") != "0"
HAVE_TIME = os.path.exists("/usr/bin/time")


def die(msg):
    print("bench/jdbc: " + msg, file=sys.stderr)
    sys.exit(1)


def connect():
    return psycopg2.connect(host=os.environ["PGHOST"], port=os.environ["PGPORT"], dbname=os.environ["PGDATABASE"],
                            user=os.environ["PGUSER"], password=os.environ["PGPASSWORD"])


def url():
    return "jdbc:postgresql://%s:%s/%s" % (os.environ["PGHOST"], os.environ["PGPORT"], os.environ["PGDATABASE"])


def jdbc(table, extra=""):
    return ("'connector' = 'jdbc', 'url' = '%s', 'table-name' = '%s', 'username' = '%s', "
            "'password' = '${PGPASSWORD}'%s" % (url(), table, os.environ["PGUSER"], extra))


def sql(conn, text, fetch=False):
    with conn.cursor() as cur:
        cur.execute(text)
        rows = cur.fetchall() if fetch else None
    conn.commit()
    return rows


def run_runnel(runnel, pipeline, work):
    """One `runnel run`: (wall seconds, peak RSS KiB or 0, CPU seconds
    (user + system) or 0, stderr)."""
    path = os.path.join(work, "p.sql")
    with open(path, "w", encoding="utf-8") as f:
        f.write(pipeline)
    cmd = [runnel, "run", path]
    tfile = os.path.join(work, "time.txt")
    if HAVE_TIME:
        cmd = ["/usr/bin/time", "-v", "-o", tfile] + cmd
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=work)
    secs = time.monotonic() - t0
    if p.returncode != 0:
        die("runnel run failed (%d):\n%s" % (p.returncode, p.stderr[-3000:]))
    rss, cpu = 0, 0.0
    if HAVE_TIME:
        t = open(tfile).read()
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", t)
        rss = int(m.group(1)) if m else 0
        cpu = sum(float(x) for x in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", t))
    return secs, rss, cpu, p.stderr


def best(times):
    return min(times)


# ---- upsert ----------------------------------------------------------------------

FB_COLS = ["restaurant_id", "adv_campaign_id", "adv_campaign_content", "adv_campaign_owner",
           "adv_campaign_owner_contact", "adv_campaign_datetime_start", "adv_campaign_datetime_end",
           "datetime_created", "client_id", "trigger_datetime_created"]
FB_TYPES = ["STRING", "STRING", "STRING", "STRING", "STRING", "BIGINT", "BIGINT", "BIGINT", "STRING", "INT"]
PG_TYPES = ["text", "text", "text", "text", "text", "int8", "int8", "int8", "text", "int4"]
KEY = ("adv_campaign_id", "client_id")


def gen_upserts(path, n, keys, seed):
    rng = random.Random(seed)
    campaigns = max(1, keys // 100)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        for i in range(n):
            k = rng.randrange(keys)
            c, cl = k % campaigns, k // campaigns
            f.write(json.dumps({"restaurant_id": "r-%d" % (c % 300), "adv_campaign_id": "camp-%d" % c,
                                "adv_campaign_content": "%d%% off, version %d" % (c % 50, i),
                                "adv_campaign_owner": "owner-%d" % (c % 17),
                                "adv_campaign_owner_contact": "owner%d@example.com" % (c % 17),
                                "adv_campaign_datetime_start": 1714550000 + c, "adv_campaign_datetime_end": 1714650000 + c,
                                "datetime_created": 1714540000 + c, "client_id": "client-%d" % cl,
                                "trigger_datetime_created": 1714557600 + i}) + "\n")
    os.rename(path + ".tmp", path)


def upsert_oracle(path):
    last = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            last[(r["adv_campaign_id"], r["client_id"])] = tuple(r[c] for c in FB_COLS)
    return sorted(last.values())


def table_rows(conn, table):
    return sorted(tuple(r) for r in sql(conn, "SELECT %s FROM %s" % (", ".join(FB_COLS), table), fetch=True))


def make_fb_tables(conn):
    cols = ", ".join("%s %s NOT NULL" % (c, t) for c, t in zip(FB_COLS, PG_TYPES))
    sql(conn, """
DROP TABLE IF EXISTS fb_unique, fb_serial;
CREATE TABLE fb_unique (%s, feedback varchar NULL, PRIMARY KEY (adv_campaign_id, client_id));
CREATE TABLE fb_serial (id serial PRIMARY KEY, %s, feedback varchar NULL);
""" % (cols, cols))
    if SERIAL_INDEX:  # not unique: runnel still takes the UPDATE-then-INSERT path
        sql(conn, "CREATE INDEX ON fb_serial (adv_campaign_id, client_id)")


def psycopg_upsert(conn, path, table, batch=100):
    """The seeds' consumer: one statement per row, a commit per batch."""
    names = ", ".join(FB_COLS)
    marks = ", ".join(["%s"] * len(FB_COLS))
    others = [c for c in FB_COLS if c not in KEY]
    upsert = "INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (adv_campaign_id, client_id) DO UPDATE SET %s" % (
        table, names, marks, ", ".join("%s = EXCLUDED.%s" % (c, c) for c in others))
    update = "UPDATE %s SET %s WHERE adv_campaign_id = %%s AND client_id = %%s" % (
        table, ", ".join("%s = %%s" % c for c in others))
    insert = "INSERT INTO %s (%s) VALUES (%s)" % (table, names, marks)
    t0 = time.monotonic()
    cur = conn.cursor()
    n = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            vals = [r[c] for c in FB_COLS]
            if table == "fb_unique":
                cur.execute(upsert, vals)
            else:
                cur.execute(update, [r[c] for c in others] + [r["adv_campaign_id"], r["client_id"]])
                if cur.rowcount == 0:
                    cur.execute(insert, vals)
            n += 1
            if n % batch == 0:
                conn.commit()
    conn.commit()
    cur.close()
    return time.monotonic() - t0


def upsert_pipeline(data, table, extra=""):
    cols = ", ".join("%s %s" % (c, t) for c, t in zip(FB_COLS, FB_TYPES))
    return """
CREATE TABLE feedback_in (%s) WITH ('connector' = 'filesystem', 'path' = '%s');
CREATE TABLE sink_t (%s, PRIMARY KEY (adv_campaign_id, client_id) NOT ENFORCED) WITH (%s);
INSERT INTO sink_t SELECT * FROM feedback_in;
""" % (cols, data, cols, jdbc(table, extra))


def bench_upsert(runnel, cache):
    n = int(os.environ.get("BENCH_ROWS", "200000"))
    keys = int(os.environ.get("BENCH_KEYS", "50000"))
    seed = int(os.environ.get("BENCH_SEED", "1"))
    data = os.path.join(cache, "jdbc-upserts-n%d-k%d-seed%d.jsonl" % (n, keys, seed))
    if not os.path.exists(data):
        print("generating %d upserts into %s ..." % (n, data), file=sys.stderr)
        gen_upserts(data, n, keys, seed)
    want = upsert_oracle(data)
    conn = connect()
    make_fb_tables(conn)
    work = tempfile.mkdtemp(prefix="runnel-bench-jdbc-")
    results = []
    for table, path in (("fb_unique", "INSERT .. ON CONFLICT"), ("fb_serial", "UPDATE then INSERT")):
        for label, extra in (("runnel", ""), ("runnel, max-rows 5000", ", 'sink.buffer-flush.max-rows' = '5000'")):
            times, rss, cpus = [], 0, []
            for _ in range(RUNS):
                sql(conn, "TRUNCATE %s RESTART IDENTITY" % table)
                secs, kb, cpu, _err = run_runnel(runnel, upsert_pipeline(data, table, extra), work)
                times.append(secs)
                cpus.append(cpu)
                rss = max(rss, kb)
                got = table_rows(conn, table)
                if got != want:
                    die("%s: %s left %d rows that differ from the last value per key (%d keys)"
                        % (table, label, len(got), len(want)))
            results.append((table, path, label, best(times), rss, cpus[times.index(best(times))]))
        times = []
        for _ in range(RUNS):
            sql(conn, "TRUNCATE %s RESTART IDENTITY" % table)
            times.append(psycopg_upsert(conn, data, table))
            got = table_rows(conn, table)
            if got != want:
                die("%s: the psycopg2 baseline left %d rows that differ from the oracle" % (table, len(got)))
            if times[-1] > 3:
                break
        results.append((table, path, "psycopg2, a statement per row", best(times), 0, 0))
    conn.close()
    print("PostgreSQL upserts: %d rows over %d keys (%s); every table equals the last value per key"
          % (n, len(want), data))
    print("  %-11s %-22s %-30s %8s %7s %10s %9s %7s" % ("table", "path", "writer", "s", "CPU s", "rows/s",
                                                        "peak RSS", "ratio"))
    base = {}
    for table, path, label, secs, rss, cpu in results:
        if label.startswith("psycopg2"):
            base[table] = secs
    for table, path, label, secs, rss, cpu in results:
        print("  %-11s %-22s %-30s %8.3f %7s %10.0f %9s %6.1fx" % (
            table, path, label, secs, "%.2f" % cpu if cpu else "-", n / secs,
            "%.1f MiB" % (rss / 1024) if rss else "-", base[table] / secs))
    if not SERIAL_INDEX:
        print("  (fb_serial without any index on the key: BENCH_SERIAL_INDEX=0)")


# ---- lookup ----------------------------------------------------------------------

CAMP_COLS = ["restaurant_id", "adv_campaign_id", "adv_campaign_content", "adv_campaign_owner",
             "adv_campaign_owner_contact", "adv_campaign_datetime_start", "adv_campaign_datetime_end",
             "datetime_created"]
NOW = 1714557600  # processing time is real: campaigns run 2024..2040, 1 in 20 ended in 2024


def gen_campaigns(path, n, restaurants, seed):
    rng = random.Random(seed)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps({"restaurant_id": "r-%d" % rng.randrange(restaurants),
                                "adv_campaign_id": "camp-%d" % i, "adv_campaign_content": "%d%% off" % (i % 50),
                                "adv_campaign_owner": "owner-%d" % (i % 17),
                                "adv_campaign_owner_contact": "owner%d@example.com" % (i % 17),
                                "adv_campaign_datetime_start": NOW - 3600,
                                "adv_campaign_datetime_end": NOW + 3600 if i % 20 == 0 else 2200000000,
                                "datetime_created": NOW - 7200 + i}) + "\n")
    os.rename(path + ".tmp", path)


def lookup_pipeline(data, out, cache):
    cols = ", ".join("%s %s" % (c, "BIGINT" if c.startswith(("adv_campaign_datetime", "datetime")) else "STRING")
                     for c in CAMP_COLS)
    sink = ("'connector' = 'filesystem', 'path' = '%s'" % out) if out else "'connector' = 'blackhole'"
    return """
CREATE TABLE campaigns (%s, proc_time AS PROCTIME()) WITH ('connector' = 'filesystem', 'path' = '%s');
CREATE TABLE subscribers_restaurants (id INT, client_id STRING, restaurant_id STRING) WITH (%s);
CREATE TABLE notifications (%s, client_id STRING, trigger_datetime_created INT) WITH (%s);
INSERT INTO notifications
SELECT c.restaurant_id, c.adv_campaign_id, c.adv_campaign_content, c.adv_campaign_owner,
       c.adv_campaign_owner_contact, c.adv_campaign_datetime_start, c.adv_campaign_datetime_end,
       c.datetime_created, s.client_id, CAST(UNIX_TIMESTAMP() AS INT) AS trigger_datetime_created
FROM campaigns AS c
JOIN subscribers_restaurants FOR SYSTEM_TIME AS OF c.proc_time AS s
  ON s.restaurant_id = c.restaurant_id
WHERE c.adv_campaign_datetime_start <= UNIX_TIMESTAMP()
  AND UNIX_TIMESTAMP() <= c.adv_campaign_datetime_end;
""" % (cols, data, jdbc("subscribers_restaurants", cache), cols, sink)


def psycopg_lookup(conn, path):
    """The seeds' approach: one SELECT per active campaign."""
    t0 = time.monotonic()
    out = []
    cur = conn.cursor()
    now = int(time.time())
    with open(path, encoding="utf-8") as f:
        for line in f:
            c = json.loads(line)
            if not c["adv_campaign_datetime_start"] <= now <= c["adv_campaign_datetime_end"]:
                continue
            cur.execute("SELECT client_id FROM subscribers_restaurants WHERE restaurant_id = %s",
                        (c["restaurant_id"],))
            for (client,) in cur.fetchall():
                out.append((c["adv_campaign_id"], client))
    conn.commit()
    cur.close()
    return time.monotonic() - t0, out


def bench_lookup(runnel, cache):
    n = int(os.environ.get("BENCH_CAMPAIGNS", "20000"))
    nrest = int(os.environ.get("BENCH_RESTAURANTS", "2200"))
    seed = int(os.environ.get("BENCH_SEED", "1"))
    data = os.path.join(cache, "jdbc-campaigns-n%d-r%d-seed%d.jsonl" % (n, nrest, seed))
    if not os.path.exists(data):
        print("generating %d campaigns into %s ..." % (n, data), file=sys.stderr)
        gen_campaigns(data, n, nrest, seed)
    with_subs = nrest * 10 // 11
    conn = connect()
    sql(conn, """
DROP TABLE IF EXISTS subscribers_restaurants;
CREATE TABLE subscribers_restaurants (id serial PRIMARY KEY, client_id varchar NOT NULL,
                                      restaurant_id varchar NOT NULL);
INSERT INTO subscribers_restaurants (client_id, restaurant_id)
SELECT 'client-' || r || '-' || j, 'r-' || r FROM generate_series(0, %d) AS r, generate_series(1, r %% 50) AS j;
CREATE INDEX ON subscribers_restaurants (restaurant_id);
ANALYZE subscribers_restaurants;
""" % (with_subs - 1))
    nsubs = sql(conn, "SELECT count(*) FROM subscribers_restaurants", fetch=True)[0][0]
    work = tempfile.mkdtemp(prefix="runnel-bench-jdbc-")
    times = []
    for _ in range(RUNS):
        secs, pairs = psycopg_lookup(conn, data)
        times.append(secs)
        if secs > 3:
            break
    py = best(times)
    want = sorted(pairs)
    modes = (("NONE (cold)", ", 'lookup.cache' = 'NONE'"),
             ("PARTIAL (warm)", ", 'lookup.cache' = 'PARTIAL', 'lookup.partial-cache.max-rows' = '10000', "
                                "'lookup.partial-cache.expire-after-write' = '10 min'"),
             ("FULL", ", 'lookup.cache' = 'FULL'"))
    rows = []
    for label, opts in modes:
        out = os.path.join(work, "out.jsonl")
        if os.path.exists(out):
            os.remove(out)
        run_runnel(runnel, lookup_pipeline(data, out, opts), work)
        with open(out, encoding="utf-8") as f:
            got = sorted((r["adv_campaign_id"], r["client_id"]) for r in map(json.loads, f))
        if got != want:
            die("%s: runnel's %d (campaign, client) pairs differ from the baseline's %d" % (label, len(got), len(want)))
        times, rss, counters, cpus = [], 0, "", []
        for _ in range(RUNS):
            secs, kb, cpu, err = run_runnel(runnel, lookup_pipeline(data, None, opts), work)
            times.append(secs)
            cpus.append(cpu)
            rss = max(rss, kb)
            counters = " ".join(l.split(": ", 2)[-1] for l in err.splitlines() if "lookup join" in l)
        rows.append((label, best(times), rss, counters, cpus[times.index(best(times))]))
    conn.close()
    print("S4 lookup join: %d campaigns (%s), %d subscribers of %d restaurants (%d restaurant ids), "
          "%d notifications; each cache mode's pairs equal the baseline's" % (n, data, nsubs, with_subs, nrest, len(want)))
    print("  %-34s %8s %7s %12s %12s %9s %7s" % ("", "s", "CPU s", "in rows/s", "out rows/s", "peak RSS", "ratio"))
    for label, secs, rss, counters, cpu in rows:
        print("  %-34s %8.3f %7s %12.0f %12.0f %9s %6.1fx" % (
            "runnel, cache " + label, secs, "%.2f" % cpu if cpu else "-", n / secs, len(want) / secs,
            "%.1f MiB" % (rss / 1024) if rss else "-", py / secs))
        print("      %s" % counters)
    print("  %-34s %8.3f %7s %12.0f %12.0f %9s %6.1fx" % ("psycopg2, a SELECT per campaign", py, "-", n / py,
                                                          len(want) / py, "-", 1.0))


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("upsert", "lookup"):
        die("usage: jdbc.py upsert|lookup RUNNEL DATA_DIR")
    os.makedirs(sys.argv[3], exist_ok=True)
    (bench_upsert if sys.argv[1] == "upsert" else bench_lookup)(os.path.abspath(sys.argv[2]), sys.argv[3])


if __name__ == "__main__":
    main()
