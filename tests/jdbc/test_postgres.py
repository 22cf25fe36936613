#!/usr/bin/env python3
"""The 'jdbc' connector against the real PostgreSQL server of the `postgres`
fixture (scripts/postgres; docs/jdbc.md). Each test is one CTest
(jdbc.postgres.NAME, label 'postgres'):

  python3 test_postgres.py RUNNEL NAME

`runnel run` reads a 'filesystem' source (no Kafka needed) and writes
PostgreSQL tables, which psql then reads and compares with an oracle
computed here from the same input. Every test works in a schema of its
own (dropped at the end), so tests and earlier runs do not see each other.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "services"))
import common  # noqa: E402

RUNNEL = None
ENV = None

EVIL = ["x'); DROP TABLE order_log; --", 'Robert"; DROP TABLE totals; --', "semi;colon",
        "back\\slash", "quote''s", "\u00e9t\u00e9 \u2603", "$1::text"]
CUSTOMERS = ["ann", "bob", "cy", "dee", "whale"] + EVIL
THRESHOLD = 2000.0


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def psql(sql, user=None, password=None):
    """Runs sql as the fixture's role; returns the rows as lists of strings
    (NULL as None)."""
    env = dict(os.environ, PGPASSWORD=password or ENV["PGPASSWORD"], PGCONNECT_TIMEOUT="10")
    p = subprocess.run(["psql", "-X", "-w", "-q", "-A", "-t", "-F", "\x1f", "-P", "null=\x1e",
                        "-v", "ON_ERROR_STOP=1", "-h", ENV["PGHOST"], "-p", ENV["PGPORT"],
                        "-U", user or ENV["PGUSER"], "-d", ENV["PGDATABASE"], "-c", sql],
                       capture_output=True, text=True, env=env, timeout=60)
    check(p.returncode == 0, "psql failed: %s\n%s" % (p.stderr.strip(), sql))
    return [[None if v == "\x1e" else v for v in line.split("\x1f")] for line in p.stdout.split("\n") if line]


def url():
    return "jdbc:postgresql://%s:%s/%s" % (ENV["PGHOST"], ENV["PGPORT"], ENV["PGDATABASE"])


def run(args, cwd, timeout=120, password=None):
    env = dict(os.environ, PG_TEST_PASSWORD=password or ENV["PGPASSWORD"])
    p = subprocess.run([RUNNEL] + args, cwd=cwd, capture_output=True, timeout=timeout, env=env)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def orders(n=3000):
    """n orders: every customer orders early, 'whale' goes over THRESHOLD
    late (its totals row is deleted), order ids repeat."""
    rows = []
    for i in range(n):
        cust = CUSTOMERS[i % len(CUSTOMERS)]
        amount = 0.5 * (i % 7) + 1
        if cust == "whale" and i >= n * 5 // 6:
            amount = 500.0
        rows.append({"order_id": i % 1100, "customer": cust, "amount": amount, "paid": i % 3 == 0,
                     "qty": i % 5 if i % 11 else None, "ts": 1700000000000 + i * 1001})
    return rows


def write_lines(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def jdbc(table, extra=""):
    return ("'connector' = 'jdbc', 'url' = '%s', 'table-name' = '%s', 'username' = '%s', "
            "'password' = '${PG_TEST_PASSWORD}'%s" % (url(), table.replace("'", "''"), ENV["PGUSER"], extra))


SOURCE = """
CREATE TABLE orders (order_id BIGINT, customer STRING, amount DOUBLE, paid BOOLEAN, qty INT, ts BIGINT)
WITH ('connector' = 'filesystem', 'path' = '%s');
"""


def schema_sql(s):
    return """
DROP SCHEMA IF EXISTS {s} CASCADE;
CREATE SCHEMA {s};
CREATE TABLE {s}.order_log (id serial PRIMARY KEY, order_id int8, customer text, amount float8, paid bool,
                            qty int4, ts timestamptz, comment text DEFAULT 'none');
CREATE TABLE {s}.totals (customer text PRIMARY KEY, orders int8, total numeric);
CREATE TABLE {s}.latest (order_id int8 NOT NULL, customer varchar(100), amount float8, UNIQUE (order_id));
CREATE TABLE {s}.feedback (id serial PRIMARY KEY, customer text, order_id int8, amount float8, note varchar NULL);
""".format(s=s)


def pipeline(s, inp):
    return SOURCE % inp + """
CREATE TABLE order_log (order_id BIGINT, customer STRING, amount DOUBLE, paid BOOLEAN, qty INT,
                        ts TIMESTAMP_LTZ(3))
WITH ({log});
CREATE TABLE totals (customer STRING, orders BIGINT, total DOUBLE, PRIMARY KEY (customer) NOT ENFORCED)
WITH ({tot});
CREATE TABLE latest (order_id BIGINT, customer STRING, amount DOUBLE, PRIMARY KEY (order_id) NOT ENFORCED)
WITH ({lat});
CREATE TABLE feedback (customer STRING, order_id BIGINT, amount DOUBLE,
                       PRIMARY KEY (customer, order_id) NOT ENFORCED)
WITH ({fb});
INSERT INTO order_log SELECT order_id, customer, amount, paid, qty, TO_TIMESTAMP_LTZ(ts, 3) FROM orders;
INSERT INTO totals SELECT customer, COUNT(*), SUM(amount) FROM orders GROUP BY customer HAVING SUM(amount) < {th};
INSERT INTO latest SELECT order_id, customer, amount FROM orders;
INSERT INTO feedback SELECT customer, order_id, amount FROM orders;
""".format(log=jdbc(s + ".order_log", ", 'sink.buffer-flush.max-rows' = '7'"), tot=jdbc(s + ".totals"),
           lat=jdbc(s + ".latest", ", 'sink.buffer-flush.max-rows' = '0', 'sink.buffer-flush.interval' = '0'"),
           fb=jdbc(s + ".feedback"), th=THRESHOLD)


def oracle(rows):
    log = sorted((r["order_id"], r["customer"], r["amount"], r["paid"], r["qty"], r["ts"]) for r in rows)
    totals = {}
    for r in rows:
        n, t = totals.get(r["customer"], (0, 0.0))
        totals[r["customer"]] = (n + 1, t + r["amount"])
    tot = sorted((c, n, t) for c, (n, t) in totals.items() if t < THRESHOLD)
    latest, fb = {}, {}
    for r in rows:
        latest[r["order_id"]] = (r["order_id"], r["customer"], r["amount"])
        fb[(r["customer"], r["order_id"])] = (r["customer"], r["order_id"], r["amount"])
    return log, tot, sorted(latest.values()), sorted(fb.values())


def compare(s, rows, log_runs=1, log_rows=None):
    log, tot, latest, fb = oracle(rows)
    if log_rows is not None:
        log = sorted(log_rows)
    got = sorted((int(a), b, float(c), d == "t", None if e is None else int(e), int(f))
                 for a, b, c, d, e, f in psql(
                     "SELECT order_id, customer, amount, paid, qty, "
                     "(extract(epoch FROM ts) * 1000)::int8 FROM %s.order_log" % s))
    check(got == sorted(log * log_runs), "order_log: %d rows, want %d" % (len(got), len(log) * log_runs))
    check(psql("SELECT count(*) FROM %s.order_log WHERE comment = 'none'" % s) == [[str(len(got))]],
          "order_log: the column runnel does not write lost its default")
    got = sorted((a, int(b), float(c)) for a, b, c in psql("SELECT customer, orders, total FROM %s.totals" % s))
    check(got == tot, "totals differ:\n got %r\nwant %r" % (got, tot))
    check("whale" not in [c for c, _, _ in got], "the whale's row was not deleted")
    got = sorted((int(a), b, float(c)) for a, b, c in psql("SELECT order_id, customer, amount FROM %s.latest" % s))
    check(got == latest, "latest differs (%d rows, want %d)" % (len(got), len(latest)))
    got = sorted((a, int(b), float(c)) for a, b, c in psql("SELECT customer, order_id, amount FROM %s.feedback" % s))
    check(got == fb, "feedback differs (%d rows, want %d: duplicates or missing keys)" % (len(got), len(fb)))
    names = {c for (c,) in psql("SELECT customer FROM %s.totals" % s)}
    for evil in EVIL:
        check(evil in names, "customer %r not stored verbatim" % evil)


def t_sink_oracle_and_replay(d, s):
    """Append, upsert by ON CONFLICT (a PRIMARY KEY, a UNIQUE constraint),
    upsert into a table with no index on the key (UPDATE then INSERT, the
    S4 feedback shape), deletes on retraction, SQL-looking values stored
    verbatim; a second run leaves the upsert tables as they were (no
    duplicate per key) and appends the log again."""
    rows = orders()
    inp = os.path.join(d, "orders.jsonl")
    write_lines(inp, rows)
    psql(schema_sql(s))
    with open(os.path.join(d, "p.sql"), "w", encoding="utf-8") as f:
        f.write(pipeline(s, inp))
    for n in (1, 2):
        rc, out, err = run(["run", "p.sql"], d)
        check(rc == 0, "run %d exited %d: %s" % (n, rc, err[-3000:]))
        compare(s, rows, n)
        check(ENV["PGPASSWORD"] not in err + out or ENV["PGPASSWORD"] in "runnel", "the password was printed")
    rc, out, err = run(["explain", "p.sql"], d)
    check(rc == 0 and "table-name=%s.totals" % s in out, "explain: %s %s" % (out, err))
    check("PG_TEST_PASSWORD" not in out and "password" not in out.lower(), "explain shows the password: %s" % out)


def run_fails(d, sql, *want, password=None):
    with open(os.path.join(d, "bad.sql"), "w", encoding="utf-8") as f:
        f.write(sql)
    rc, out, err = run(["run", "bad.sql"], d, password=password)
    check(rc != 0, "runnel run should have failed: %s" % err)
    for w in want:
        check(w in err, "stderr lacks %r:\n%s" % (w, err))
    return err


def sink_sql(d, table, cols, pk=None, select=None):
    inp = os.path.join(d, "orders.jsonl")
    return SOURCE % inp + """
CREATE TABLE sink_t (%s%s) WITH (%s);
INSERT INTO sink_t SELECT %s FROM orders;
""" % (", ".join("`%s` %s" % c for c in cols), ", PRIMARY KEY (%s) NOT ENFORCED" % pk if pk else "",
       jdbc(table), select or ", ".join("`%s`" % c[0] for c in cols))


def t_open_errors(d, s):
    """Mismatches, a wrong password and an unreachable server are one clear
    error at start, exit non-zero, nothing written."""
    write_lines(os.path.join(d, "orders.jsonl"), orders(50))
    psql(schema_sql(s))
    cols = [("order_id", "BIGINT"), ("customer", "STRING")]
    run_fails(d, sink_sql(d, s + ".nope", cols), "PostgreSQL table '%s.nope'" % s, "does not exist",
              "table 'sink_t'")
    run_fails(d, sink_sql(d, s + ".order_log", cols + [("colour", "STRING")], select="order_id, customer, customer"),
              "has no column 'colour'", "table 'sink_t'", "PostgreSQL table '%s.order_log'" % s)
    run_fails(d, sink_sql(d, s + ".order_log", [("order_id", "STRING")], select="customer"),
              "column 'order_id' is bigint, which cannot hold column 'order_id' (STRING) of table 'sink_t'")
    err = run_fails(d, sink_sql(d, s + ".order_log", cols), "password authentication failed",
                    "cannot connect to PostgreSQL at %s:%s" % (ENV["PGHOST"], ENV["PGPORT"]),
                    password="wrong-secret-123")
    check("wrong-secret-123" not in err, "the password was printed: %s" % err)
    check(len([l for l in err.splitlines() if l.strip()]) == 1, "more than one line: %s" % err)
    # nothing listens on port 1
    bad = sink_sql(d, s + ".order_log", cols).replace(":%s/" % ENV["PGPORT"], ":1/")
    err = run_fails(d, bad, "cannot connect to PostgreSQL at %s:1 for table '%s.order_log'" % (ENV["PGHOST"], s))
    check(psql("SELECT count(*) FROM %s.order_log" % s) == [["0"]], "a failed run wrote rows")


def t_injection(d, s):
    """A table name with SQL in it is one quoted identifier: it names a
    table literally so named, or none; nothing else changes. Columns named
    like SQL are quoted too."""
    write_lines(os.path.join(d, "orders.jsonl"), orders(60))
    psql(schema_sql(s))
    evil = 'order_log"; DROP TABLE %s.totals; --' % s
    run_fails(d, sink_sql(d, s + "." + evil, [("order_id", "BIGINT")]), "does not exist")
    tables = {t for (t,) in psql("SELECT tablename FROM pg_tables WHERE schemaname = '%s'" % s)}
    check({"order_log", "totals", "latest", "feedback"} <= tables, "tables were dropped: %r" % tables)
    # a table literally named with a quote, columns named like SQL
    psql('CREATE TABLE %s."we""ird" ("a""b" int8, "select" text, "x\'); DROP TABLE z; --" text)' % s)
    sql = sink_sql(d, s + '.we"ird', [('a"b', "BIGINT"), ("select", "STRING"), ("x'); DROP TABLE z; --", "STRING")],
                   select="order_id, customer, customer")
    with open(os.path.join(d, "odd.sql"), "w", encoding="utf-8") as f:
        f.write(sql.replace("`a\"b`", "`a\"b`"))
    rc, out, err = run(["run", "odd.sql"], d)
    check(rc == 0, "runnel run exited %d: %s" % (rc, err))
    got = psql('SELECT count(*), count(DISTINCT "select") FROM %s."we""ird"' % s)
    check(got == [["60", str(len(CUSTOMERS))]], "we\"ird: %r" % got)
    got = {c for (c,) in psql('SELECT "select" FROM %s."we""ird"' % s)}
    check(set(EVIL) <= got, "values not stored verbatim: %r" % got)


def t_refused_rows(d, s):
    """Rows the server refuses (NOT NULL, CHECK, int4 overflow) go to the
    dead-letter file with the server's message and SQLSTATE; the rest is
    written and the run succeeds."""
    rows = orders(400)
    for i, r in enumerate(rows):
        if i % 50 == 7:
            r["customer"] = None          # NOT NULL
        elif i % 50 == 21:
            r["amount"] = 999.0           # CHECK (amount < 600)
        elif i % 50 == 33:
            r["qty"] = 5000000000         # over int4
    write_lines(os.path.join(d, "orders.jsonl"), rows)
    psql(schema_sql(s) + "CREATE TABLE %s.strict (order_id int8 PRIMARY KEY, customer text NOT NULL, "
                         "amount float8 CHECK (amount < 600), qty int4);" % s)
    sql = SOURCE.replace("qty INT", "qty BIGINT") % os.path.join(d, "orders.jsonl") + """
CREATE TABLE strict_log (order_id BIGINT, customer STRING, amount DOUBLE, qty BIGINT,
                         PRIMARY KEY (order_id) NOT ENFORCED) WITH (%s);
INSERT INTO strict_log SELECT order_id, customer, amount, qty FROM orders;
""" % jdbc(s + ".strict")
    with open(os.path.join(d, "p.sql"), "w", encoding="utf-8") as f:
        f.write(sql)
    dlq = os.path.join(d, "dead.jsonl")
    rc, out, err = run(["run", "p.sql", "--dlq", dlq], d)
    check(rc == 0, "runnel run exited %d: %s" % (rc, err[-3000:]))
    bad = [r for i, r in enumerate(rows) if i % 50 in (7, 21, 33)]
    good = {r["order_id"]: r for r in rows if r not in bad}
    got = sorted(int(a) for (a,) in psql("SELECT order_id FROM %s.strict" % s))
    check(got == sorted(good), "strict holds %d rows, want %d" % (len(got), len(good)))
    with open(dlq, encoding="utf-8") as f:
        dead = [json.loads(line) for line in f]
    check(len(dead) == len(bad), "%d dead letters, want %d" % (len(dead), len(bad)))
    msgs = " ".join(x["error"] for x in dead)
    for want in ("23502", "23514", "22003", "violates not-null constraint", "violates check constraint",
                 "out of range"):
        check(want in msgs, "dead letters lack %r: %s" % (want, msgs[:500]))
    ids = sorted(json.loads(x["value"])["order_id"] for x in dead)
    check(ids == sorted(r["order_id"] for r in bad), "dead letters are of rows %r" % ids)
    check(all(x["source"] == "strict_log" for x in dead), "dead letters name %r" % dead[0])


def t_scan_source(d, s):
    """A 'jdbc' table as a bounded source: every row once, as JSON with the
    declared types (timestamps as epoch ms), SQL-looking text verbatim,
    NULLs kept; read in chunks smaller than the table."""
    psql(schema_sql(s) + """
CREATE TABLE {s}.subs (id serial PRIMARY KEY, restaurant_id varchar NOT NULL, client_id text,
                       score numeric, active bool, since timestamptz, n int4);
INSERT INTO {s}.subs (restaurant_id, client_id, score, active, since, n)
SELECT 'r' || (i % 7), 'c' || i, i * 0.25, i % 2 = 0, to_timestamp(1700000000 + i * 0.001), i
FROM generate_series(1, 2500) AS i;
INSERT INTO {s}.subs (restaurant_id, client_id) VALUES ($q$x'); DROP TABLE subs; --$q$, NULL);
""".format(s=s))
    out = os.path.join(d, "out.jsonl")
    sql = """
CREATE TABLE subs (restaurant_id STRING, client_id STRING, score DOUBLE, active BOOLEAN,
                   since TIMESTAMP_LTZ(3), n INT) WITH (%s);
CREATE TABLE copy (restaurant_id STRING, client_id STRING, score DOUBLE, active BOOLEAN,
                   since TIMESTAMP_LTZ(3), n INT)
WITH ('connector' = 'filesystem', 'path' = '%s');
INSERT INTO copy SELECT * FROM subs;
""" % (jdbc(s + ".subs", ", 'scan.fetch-size' = '300'"), out)
    with open(os.path.join(d, "p.sql"), "w", encoding="utf-8") as f:
        f.write(sql)
    rc, o, err = run(["run", "p.sql"], d)
    check(rc == 0, "runnel run exited %d: %s" % (rc, err[-3000:]))
    with open(out, encoding="utf-8") as f:
        got = sorted((json.loads(line) for line in f), key=lambda r: (r["n"] is None, r["n"] or 0))
    want = [{"restaurant_id": "r%d" % (i % 7), "client_id": "c%d" % i, "score": i * 0.25, "active": i % 2 == 0,
             "since": 1700000000000 + i, "n": i} for i in range(1, 2501)]
    want.append({"restaurant_id": "x'); DROP TABLE subs; --", "client_id": None, "score": None, "active": None,
                 "since": None, "n": None})
    check(len(got) == len(want), "%d rows read, want %d" % (len(got), len(want)))
    for g, w in zip(got, want):
        check(g == w, "row differs:\n got %r\nwant %r" % (g, w))


def t_s4_feedback(d, s):
    """S4's subscribers_feedback table exactly as SCENARIOS.md creates it
    (a serial id its only key): campaign notifications keyed by
    (adv_campaign_id, client_id) are upserted by UPDATE then INSERT; a
    replay of the same campaigns (twice, the second time with changed
    contents) leaves one row per key with the latest values, and the
    column runnel does not write (feedback) keeps what was set there."""
    psql("""
DROP SCHEMA IF EXISTS {s} CASCADE;
CREATE SCHEMA {s};
CREATE TABLE {s}.subscribers_feedback (id serial PRIMARY KEY, restaurant_id text NOT NULL,
    adv_campaign_id text NOT NULL, adv_campaign_content text NOT NULL, adv_campaign_owner text NOT NULL,
    adv_campaign_owner_contact text NOT NULL, adv_campaign_datetime_start int8 NOT NULL,
    adv_campaign_datetime_end int8 NOT NULL, datetime_created int8 NOT NULL, client_id text NOT NULL,
    trigger_datetime_created int4 NOT NULL, feedback varchar NULL);
""".format(s=s))
    cols = ("restaurant_id STRING, adv_campaign_id STRING, adv_campaign_content STRING, adv_campaign_owner STRING, "
            "adv_campaign_owner_contact STRING, adv_campaign_datetime_start BIGINT, adv_campaign_datetime_end BIGINT, "
            "datetime_created BIGINT, client_id STRING, trigger_datetime_created INT")
    sql = """
CREATE TABLE notes (%s) WITH ('connector' = 'filesystem', 'path' = 'notes.jsonl');
CREATE TABLE subscribers_feedback (%s, PRIMARY KEY (adv_campaign_id, client_id) NOT ENFORCED) WITH (%s);
INSERT INTO subscribers_feedback SELECT * FROM notes;
""" % (cols, cols, jdbc(s + ".subscribers_feedback"))
    with open(os.path.join(d, "p.sql"), "w", encoding="utf-8") as f:
        f.write(sql)

    def notes(version):
        out = []
        for c in range(40):
            for client in range(25):
                out.append({"restaurant_id": "r%d" % (c % 7), "adv_campaign_id": "camp-%d" % c,
                            "adv_campaign_content": "v%d: 10%% off" % version, "adv_campaign_owner": "owner",
                            "adv_campaign_owner_contact": "o@example.com",
                            "adv_campaign_datetime_start": 1700000000, "adv_campaign_datetime_end": 1800000000,
                            "datetime_created": 1700000000 + c, "client_id": "client-%d" % client,
                            "trigger_datetime_created": 1700000100 + version})
        return out
    for version in (1, 1, 2):
        write_lines(os.path.join(d, "notes.jsonl"), notes(version))
        rc, out, err = run(["run", "p.sql"], d)
        check(rc == 0, "run of version %d exited %d: %s" % (version, rc, err[-3000:]))
        if version == 1:
            psql("UPDATE %s.subscribers_feedback SET feedback = 'liked' WHERE client_id = 'client-3'" % s)
    got = psql("SELECT count(*), count(DISTINCT (adv_campaign_id, client_id)), min(adv_campaign_content), "
               "max(adv_campaign_content), min(trigger_datetime_created), count(feedback) "
               "FROM %s.subscribers_feedback" % s)
    check(got == [["1000", "1000", "v2: 10% off", "v2: 10% off", "1700000102", "40"]],
          "subscribers_feedback: %r" % got)


S4_COLS = ("restaurant_id STRING NOT NULL, adv_campaign_id STRING NOT NULL, adv_campaign_content STRING, "
           "adv_campaign_owner STRING, adv_campaign_owner_contact STRING, adv_campaign_datetime_start BIGINT NOT NULL, "
           "adv_campaign_datetime_end BIGINT NOT NULL, datetime_created BIGINT")


def s4_lookup_sql(s, campaigns, out, cache):
    """examples/s4_campaigns.sql's lookup join from a file of campaigns to
    a file of notifications, with the given 'lookup.cache' options."""
    return """
CREATE TABLE campaigns ({cols}, proc_time AS PROCTIME())
WITH ('connector' = 'filesystem', 'path' = '{inp}');
CREATE TABLE subscribers_restaurants (id INT, client_id STRING, restaurant_id STRING) WITH ({subs});
CREATE TABLE notifications ({cols}, client_id STRING, trigger_datetime_created INT)
WITH ('connector' = 'filesystem', 'path' = '{out}');
INSERT INTO notifications
SELECT c.restaurant_id, c.adv_campaign_id, c.adv_campaign_content, c.adv_campaign_owner,
       c.adv_campaign_owner_contact, c.adv_campaign_datetime_start, c.adv_campaign_datetime_end,
       c.datetime_created, s.client_id, CAST(UNIX_TIMESTAMP() AS INT) AS trigger_datetime_created
FROM campaigns AS c
JOIN subscribers_restaurants FOR SYSTEM_TIME AS OF c.proc_time AS s
  ON s.restaurant_id = c.restaurant_id
WHERE c.adv_campaign_datetime_start <= UNIX_TIMESTAMP()
  AND UNIX_TIMESTAMP() <= c.adv_campaign_datetime_end;
""".format(cols=S4_COLS, inp=campaigns, out=out, subs=jdbc(s + ".subscribers_restaurants", cache))


def t_fanout(d, s):
    """S4's lookup join through `runnel run` with one restaurant of 10,000
    subscribers (a fan-out larger than any output batch), a campaign of a
    restaurant nobody subscribes to (a missing key), one of a restaurant
    with one subscriber, many small ones between them (the big restaurant's
    campaigns fall in several input batches) and an expired campaign of the
    big one: with every 'lookup.cache' setting the notifications equal a
    Python oracle exactly, 10,000 per active campaign of the big
    restaurant, none for the missing key or the expired campaign."""
    big = 10000
    psql("""
DROP SCHEMA IF EXISTS {s} CASCADE;
CREATE SCHEMA {s};
CREATE TABLE {s}.subscribers_restaurants (id serial PRIMARY KEY, client_id varchar NOT NULL,
                                          restaurant_id varchar NOT NULL);
INSERT INTO {s}.subscribers_restaurants (client_id, restaurant_id)
SELECT 'client-' || i, 'r-big' FROM generate_series(1, {big}) AS i;
INSERT INTO {s}.subscribers_restaurants (client_id, restaurant_id) VALUES ('solo', 'r-one');
INSERT INTO {s}.subscribers_restaurants (client_id, restaurant_id)
SELECT 'small-' || i || '-' || j, 'r-small-' || i FROM generate_series(0, 59) AS i, generate_series(1, i % 4) AS j;
""".format(s=s, big=big))
    subs = {}
    for client, rest in psql("SELECT client_id, restaurant_id FROM %s.subscribers_restaurants" % s):
        subs.setdefault(rest, []).append(client)
    check(len(subs["r-big"]) == big and "r-none" not in subs, "subscribers: %r" % {k: len(v) for k, v in subs.items()})

    def campaign(i, rest, end=1900000000):
        return {"restaurant_id": rest, "adv_campaign_id": "camp-%d" % i, "adv_campaign_content": "%d%% off" % i,
                "adv_campaign_owner": "owner-%d" % (i % 5), "adv_campaign_owner_contact": "o%d@example.com" % i,
                "adv_campaign_datetime_start": 1700000000, "adv_campaign_datetime_end": end,
                "datetime_created": 1700000000 + i}
    camps = [campaign(i, "r-small-%d" % (i % 60)) for i in range(3000)]
    for at, c in ((0, campaign(10000, "r-big")), (1500, campaign(10001, "r-none")), (1600, campaign(10002, "r-one")),
                  (1700, campaign(10003, "r-big")), (2999, campaign(10004, "r-big", end=1700000001)),
                  (3000, campaign(10005, "r-big"))):
        camps.insert(at, c)
    write_lines(os.path.join(d, "campaigns.jsonl"), camps)
    want = sorted(tuple(c.values()) + (client,) for c in camps if c["adv_campaign_datetime_end"] > 1800000000
                  for client in subs.get(c["restaurant_id"], []))
    per_big = sum(1 for c in camps if c["restaurant_id"] == "r-big" and c["adv_campaign_datetime_end"] > 1800000000)
    check(per_big == 3, "oracle: %d active campaigns of r-big" % per_big)
    for name, cache in (("none", ", 'lookup.cache' = 'NONE'"),
                        ("partial", ", 'lookup.cache' = 'PARTIAL', 'lookup.partial-cache.max-rows' = '10000', "
                                    "'lookup.partial-cache.expire-after-write' = '10 min'"),
                        ("partial_evicting", ", 'lookup.cache' = 'PARTIAL', 'lookup.partial-cache.max-rows' = '1'"),
                        ("full", ", 'lookup.cache' = 'FULL'")):
        out = os.path.join(d, "out-%s.jsonl" % name)
        with open(os.path.join(d, "p.sql"), "w", encoding="utf-8") as f:
            f.write(s4_lookup_sql(s, os.path.join(d, "campaigns.jsonl"), out, cache))
        t0 = int(time.time())
        rc, o, err = run(["run", "p.sql"], d, timeout=240)
        t1 = int(time.time()) + 1
        check(rc == 0, "%s: runnel run exited %d: %s" % (name, rc, err[-3000:]))
        check("lookup join" in err, "%s: no lookup counters on stderr: %s" % (name, err[-2000:]))
        got = []
        with open(out, encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                trig = r.pop("trigger_datetime_created")
                check(t0 <= trig <= t1, "%s: trigger_datetime_created %r outside [%d, %d]" % (name, trig, t0, t1))
                got.append(tuple(r.values()))
        got.sort()
        big_got = {}
        for g in got:
            if g[0] == "r-big":
                big_got[g[1]] = big_got.get(g[1], 0) + 1
        check(big_got == {"camp-10000": big, "camp-10003": big, "camp-10005": big},
              "%s: notifications of r-big per campaign: %r" % (name, big_got))
        check(not [g for g in got if g[0] == "r-none"], "%s: rows for the missing key" % name)
        check([g[8] for g in got if g[0] == "r-one"] == ["solo"], "%s: r-one's notifications differ" % name)
        check(len(got) == len(want), "%s: %d notifications, want %d" % (name, len(got), len(want)))
        check(got == want, "%s: notifications differ from the oracle (first difference: %r)"
              % (name, next(((a, b) for a, b in zip(got, want) if a != b), None)))


def pg_ctl(*args):
    """pg_ctl on the fixture's cluster, as its owner."""
    state = ENV["POSTGRES_DIR"]
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


def wait_for(cond, what, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return
        time.sleep(0.05)
    raise Fail("timed out waiting for " + what)


def t_outage(d, s):
    """PostgreSQL stopped and started again mid-run: the sink holds its rows
    (RN_ERR_RETRY) while the server is away and writes them when it is back;
    the final tables equal the oracle. Input comes through stdin so the run
    outlives the outage. Needs the sink operator's retry loop for
    RN_ERR_RETRY (op/sink.c), which warns on stderr with the sink's message
    while it retries."""
    rows = orders(3000)
    psql(schema_sql(s))
    sql = pipeline(s, "-")
    with open(os.path.join(d, "p.sql"), "w", encoding="utf-8") as f:
        f.write(sql)
    env = dict(os.environ, PG_TEST_PASSWORD=ENV["PGPASSWORD"])
    p = subprocess.Popen([RUNNEL, "run", "p.sql"], cwd=d, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env=env)
    stopped = False
    errlines = []
    import threading
    reader = threading.Thread(target=lambda: errlines.extend(line.decode("utf-8", "replace") for line in p.stderr),
                              daemon=True)
    reader.start()
    try:
        def feed(part):
            p.stdin.write("".join(json.dumps(r) + "\n" for r in part).encode())
            p.stdin.flush()
        feed(rows[:1000])
        wait_for(lambda: int(psql("SELECT count(*) FROM %s.order_log" % s)[0][0]) >= 1000, "the first rows")
        pg_ctl("stop", "-m", "fast", "-w")
        stopped = True
        # from a thread: these rows are more than a pipe holds, and runnel
        # stops reading its input while the sink retries (backpressure), so
        # the write may only finish once the server is back
        feeder = threading.Thread(target=feed, args=(rows[1000:2000],), daemon=True)
        feeder.start()
        # the sink finds the server gone: the retry loop warns with the sink's message
        wait_for(lambda: p.poll() is not None or any("PostgreSQL table" in line for line in list(errlines)),
                 "a warning that the sink retries")
        check(p.poll() is None, "runnel exited while the server was away: %s" % "".join(errlines)[-2000:])
        pg_ctl("start", "-w", "-l", os.path.join(ENV["POSTGRES_DIR"], "data", "restart.log"))
        stopped = False
        feeder.join(timeout=120)
        check(not feeder.is_alive(), "runnel read no more input after the server came back")
        feed(rows[2000:])
        p.stdin.close()
        rc = p.wait(timeout=120)
        reader.join(timeout=30)
        check(rc == 0, "runnel run exited %d: %s" % (rc, "".join(errlines)[-3000:]))
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=30)
        if stopped:
            pg_ctl("start", "-w", "-l", os.path.join(ENV["POSTGRES_DIR"], "data", "restart.log"))
    compare(s, rows, 1)


TESTS = {"sink_oracle_and_replay": t_sink_oracle_and_replay, "open_errors": t_open_errors,
         "injection": t_injection, "refused_rows": t_refused_rows, "scan_source": t_scan_source,
         "s4_feedback": t_s4_feedback, "outage": t_outage, "fanout": t_fanout}


def main():
    global RUNNEL, ENV
    if len(sys.argv) != 3 or sys.argv[2] not in TESTS:
        sys.exit("usage: test_postgres.py RUNNEL {%s}" % "|".join(TESTS))
    RUNNEL = os.path.abspath(sys.argv[1])
    ENV = common.service_env("postgres")
    s = "rt_%s_%d" % (sys.argv[2], os.getpid())
    with tempfile.TemporaryDirectory(prefix="runnel-jdbc-pg-") as d:
        try:
            TESTS[sys.argv[2]](d, s)
            psql("DROP SCHEMA IF EXISTS %s CASCADE" % s)
        except (Fail, common.TestFailure) as e:
            print("FAIL %s: %s" % (sys.argv[2], e))
            sys.exit(1)
    print("ok %s" % sys.argv[2])


# ---- TLS -----------------------------------------------------------------
# scripts/postgres runs the server with ssl = on and a certificate for
# 127.0.0.1 signed by a CA of its own (POSTGRES_CA); its role runnel_tls may
# log in over TLS only (pg_hba hostssl, hostnossl ... reject), so a run as
# runnel_tls that succeeds was encrypted, and pg_stat_ssl shows it.

def tls_jdbc(table, sslmode="verify-full", ca=None, url_query=None, extra=""):
    """The WITH options of a jdbc table as runnel_tls: sslmode and
    sslrootcert as options, or (url_query) in the url's query instead."""
    u = url() + ("?" + url_query if url_query else "")
    opts = ("'connector' = 'jdbc', 'url' = '%s', 'table-name' = '%s', 'username' = '%s', "
            "'password' = '${PG_TEST_PASSWORD}'" % (u, table, ENV["POSTGRES_TLS_USER"]))
    if sslmode:
        opts += ", 'sslmode' = '%s'" % sslmode
    if ca or (sslmode and not url_query):
        opts += ", 'sslrootcert' = '%s'" % (ca or ENV["POSTGRES_CA"])
    return opts + extra


def tls_psql(sql):
    """sql as runnel_tls over TLS with the server verified (verify-full)."""
    env = dict(os.environ, PGPASSWORD=ENV["POSTGRES_TLS_PASSWORD"], PGCONNECT_TIMEOUT="10")
    conn = "host=%s port=%s dbname=%s user=%s sslmode=verify-full sslrootcert=%s" % (
        ENV["PGHOST"], ENV["PGPORT"], ENV["PGDATABASE"], ENV["POSTGRES_TLS_USER"], ENV["POSTGRES_CA"])
    p = subprocess.run(["psql", "-X", "-w", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", conn, "-c", sql],
                       capture_output=True, text=True, env=env, timeout=60)
    check(p.returncode == 0, "psql as runnel_tls failed: %s\n%s" % (p.stderr.strip(), sql))
    return [line.split("|") for line in p.stdout.split("\n") if line]


def tls_sink_sql(inp, opts):
    return SOURCE % inp + """
CREATE TABLE tls_log (order_id BIGINT, customer STRING, amount DOUBLE) WITH (%s);
INSERT INTO tls_log SELECT order_id, customer, amount FROM orders;
""" % opts


def t_tls(d, s):
    """A jdbc sink as runnel_tls with sslmode verify-full and the fixture's
    CA: the rows arrive, and while the run is live pg_stat_ssl shows its
    session encrypted. runnel_tls without TLS (sslmode disable, also as an
    option overriding the url's verify-full) and verify-full against
    another CA are one clear error line naming host:port and the table,
    nothing written. The url form (?sslmode=verify-full&sslrootcert=...)
    works too."""
    rows = orders(600)
    inp = os.path.join(d, "orders.jsonl")
    write_lines(inp, rows)
    psql(schema_sql(s) + "CREATE TABLE %s.tls_log (order_id int8, customer text, amount float8);" % s)
    want = sorted((r["order_id"], r["customer"], r["amount"]) for r in rows)

    def logged():
        return sorted((int(a), b, float(c)) for a, b, c in psql(
            "SELECT order_id, customer, amount FROM %s.tls_log" % s))

    # A live run (input through stdin): its session is in pg_stat_ssl with ssl = true.
    with open(os.path.join(d, "live.sql"), "w", encoding="utf-8") as f:
        f.write(tls_sink_sql("-", tls_jdbc(s + ".tls_log")))
    env = dict(os.environ, PG_TEST_PASSWORD=ENV["POSTGRES_TLS_PASSWORD"])
    p = subprocess.Popen([RUNNEL, "run", "live.sql"], cwd=d, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env=env)
    try:
        p.stdin.write("".join(json.dumps(r) + "\n" for r in rows[:300]).encode())
        p.stdin.flush()
        wait_for(lambda: p.poll() is not None or len(logged()) >= 300, "the first rows over TLS")
        if p.poll() is not None:
            raise Fail("runnel exited early: %s" % p.stderr.read().decode("utf-8", "replace")[-2000:])
        sessions = tls_psql("SELECT s.ssl, s.version, s.cipher IS NOT NULL FROM pg_stat_ssl s "
                            "JOIN pg_stat_activity a USING (pid) WHERE a.usename = '%s' "
                            "AND a.application_name = 'runnel'" % ENV["POSTGRES_TLS_USER"])
        check(sessions, "no session of runnel as runnel_tls in pg_stat_activity")
        check(all(x[0] == "t" and x[1].startswith("TLS") and x[2] == "t" for x in sessions),
              "runnel's session is not encrypted: %r" % sessions)
        p.stdin.write("".join(json.dumps(r) + "\n" for r in rows[300:]).encode())
        p.stdin.close()
        rc = p.wait(timeout=120)
        err = p.stderr.read().decode("utf-8", "replace")
        check(rc == 0, "runnel run exited %d: %s" % (rc, err[-3000:]))
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=30)
    check(logged() == want, "tls_log: %d rows, want %d" % (len(logged()), len(want)))
    psql("TRUNCATE %s.tls_log" % s)

    pw = ENV["POSTGRES_TLS_PASSWORD"]
    where = "cannot connect to PostgreSQL at %s:%s for table '%s.tls_log'" % (ENV["PGHOST"], ENV["PGPORT"], s)
    # Without TLS runnel_tls is refused by pg_hba (hostnossl ... reject).
    for opts in (tls_jdbc(s + ".tls_log", sslmode="disable"),
                 tls_jdbc(s + ".tls_log", sslmode="disable",
                          url_query="sslmode=verify-full&sslrootcert=" + ENV["POSTGRES_CA"])):
        err = run_fails(d, tls_sink_sql(inp, opts), where, "table 'tls_log'", "pg_hba.conf rejects connection",
                        "no encryption", password=pw)
        check(len([l for l in err.splitlines() if l.strip()]) == 1, "more than one line: %s" % err)
    # verify-full against a CA that did not sign the server's certificate.
    other = os.path.join(d, "other-ca.crt")
    o = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=another CA", "-keyout", os.path.join(d, "other-ca.key"), "-out", other],
                       capture_output=True, text=True, timeout=60)
    check(o.returncode == 0, "openssl: %s" % o.stderr)
    err = run_fails(d, tls_sink_sql(inp, tls_jdbc(s + ".tls_log", ca=other)), where, "table 'tls_log'",
                    "certificate verify failed", password=pw)
    check(len([l for l in err.splitlines() if l.strip()]) == 1, "more than one line: %s" % err)
    check(pw not in err, "the password was printed: %s" % err)
    check(psql("SELECT count(*) FROM %s.tls_log" % s) == [["0"]], "a failed run wrote rows")

    # The url form: sslmode and sslrootcert in the url's query.
    with open(os.path.join(d, "url.sql"), "w", encoding="utf-8") as f:
        f.write(tls_sink_sql(inp, tls_jdbc(s + ".tls_log", sslmode=None,
                                           url_query="sslmode=verify-full&sslrootcert=" + ENV["POSTGRES_CA"])))
    rc, out, err = run(["run", "url.sql"], d, password=pw)
    check(rc == 0, "runnel run (url form) exited %d: %s" % (rc, err[-3000:]))
    check(logged() == want, "tls_log (url form): %d rows, want %d" % (len(logged()), len(want)))
    # ... with the wrong CA in the url it fails the same way.
    run_fails(d, tls_sink_sql(inp, tls_jdbc(s + ".tls_log", sslmode=None,
                                            url_query="sslmode=verify-full&sslrootcert=" + other)),
              where, "certificate verify failed", password=pw)


def t_tls_lookup(d, s):
    """A lookup join of a file source against a PostgreSQL table as
    runnel_tls over verify-full TLS: every order gets its customer's row
    (an inner join drops the orders of unknown customers); with sslmode
    disable the lookup's connection is refused at start."""
    psql(schema_sql(s) + """
CREATE TABLE {s}.customers (id int8 PRIMARY KEY, name text, tier int4);
INSERT INTO {s}.customers SELECT i, 'name-' || i, i % 3 FROM generate_series(0, 39) AS i;
""".format(s=s))
    rows = [{"order_id": i, "customer_id": i % 50, "amount": i * 0.5} for i in range(500)]
    write_lines(os.path.join(d, "orders.jsonl"), rows)
    out = os.path.join(d, "out.jsonl")
    sql = """
CREATE TABLE orders (order_id BIGINT, customer_id BIGINT, amount DOUBLE, proc_time AS PROCTIME())
WITH ('connector' = 'filesystem', 'path' = '%s');
CREATE TABLE customers (id BIGINT, name STRING, tier INT) WITH (%s);
CREATE TABLE enriched (order_id BIGINT, name STRING, tier INT, amount DOUBLE)
WITH ('connector' = 'filesystem', 'path' = '%s');
INSERT INTO enriched SELECT o.order_id, c.name, c.tier, o.amount
FROM orders AS o JOIN customers FOR SYSTEM_TIME AS OF o.proc_time AS c ON c.id = o.customer_id;
""" % (os.path.join(d, "orders.jsonl"), tls_jdbc(s + ".customers"), out)
    with open(os.path.join(d, "p.sql"), "w", encoding="utf-8") as f:
        f.write(sql)
    rc, o, err = run(["run", "p.sql"], d, password=ENV["POSTGRES_TLS_PASSWORD"])
    check(rc == 0, "runnel run exited %d: %s" % (rc, err[-3000:]))
    with open(out, encoding="utf-8") as f:
        got = sorted((r["order_id"], r["name"], r["tier"], r["amount"]) for r in map(json.loads, f))
    want = sorted((r["order_id"], "name-%d" % r["customer_id"], r["customer_id"] % 3, r["amount"])
                  for r in rows if r["customer_id"] < 40)
    check(got == want, "enriched: %d rows, want %d; first differences %r" % (
        len(got), len(want), [(g, w) for g, w in zip(got, want) if g != w][:3]))
    # the lookup's own connection takes sslmode too: without TLS runnel_tls is refused at start
    run_fails(d, sql.replace("'sslmode' = 'verify-full'", "'sslmode' = 'disable'"), "table 'customers'",
              "cannot connect to PostgreSQL at %s:%s for table '%s.customers'" % (ENV["PGHOST"], ENV["PGPORT"], s),
              "no encryption", password=ENV["POSTGRES_TLS_PASSWORD"])


TESTS.update({"tls": t_tls, "tls_lookup": t_tls_lookup})


if __name__ == "__main__":
    main()
