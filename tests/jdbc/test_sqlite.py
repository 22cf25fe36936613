#!/usr/bin/env python3
"""The 'jdbc' sink against real SQLite databases (docs/jdbc.md). Each test is
one CTest (jdbc.sqlite.NAME, label 'sqlite'):

  python3 test_sqlite.py RUNNEL NAME

`runnel run` reads a 'filesystem' source (no Kafka needed) and writes
SQLite tables that Python's sqlite3 module then reads and compares with
an oracle computed here from the same input.
"""
import os
import sqlite3
import subprocess
import sys
import tempfile

RUNNEL = None

# Names that would break a statement built by pasting text into SQL.
EVIL = ["x'); DROP TABLE order_log; --", 'Robert"; DROP TABLE customer_totals; --', "semi;colon",
        "back\\slash", "quote''s", "\u00e9t\u00e9 \u2603"]
CUSTOMERS = ["ann", "bob", "cy", "dee", "whale"] + EVIL
THRESHOLD = 2000.0  # customer_totals keeps customers whose total stays under it


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def run(args, cwd, timeout=60):
    p = subprocess.run([RUNNEL] + args, cwd=cwd, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def orders():
    """3000 orders over 3 file-reader batches: every customer orders in the
    first batch, 'whale' goes over THRESHOLD in the last one (so its
    customer_totals row, written in an earlier batch, is deleted), and
    order ids repeat (latest_orders keeps the last version of each)."""
    rows = []
    for i in range(3000):
        cust = CUSTOMERS[i % len(CUSTOMERS)]
        amount = 0.5 * (i % 7) + 1
        if cust == "whale" and i >= 2500:
            amount = 500.0
        rows.append({"order_id": i % 1100, "customer": cust, "amount": amount,
                     "paid": i % 3 == 0, "qty": i % 5 if i % 11 else None})
    return rows


def write_input(d, rows):
    import json
    with open(os.path.join(d, "orders.jsonl"), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


SCHEMA = """
CREATE TABLE order_log (id INTEGER PRIMARY KEY AUTOINCREMENT, order_id INTEGER, customer TEXT,
                        amount REAL, paid BOOLEAN, qty INT, comment TEXT DEFAULT 'none');
CREATE TABLE customer_totals (customer TEXT PRIMARY KEY, orders INTEGER, total REAL);
CREATE TABLE latest_orders (order_id BIGINT NOT NULL, customer VARCHAR(100), amount DOUBLE,
                            UNIQUE (order_id));
"""

PIPELINE = """
CREATE TABLE orders (order_id BIGINT, customer STRING, amount DOUBLE, paid BOOLEAN, qty INT)
WITH ('connector' = 'filesystem', 'path' = 'orders.jsonl');

CREATE TABLE order_log (order_id BIGINT, customer STRING, amount DOUBLE, paid BOOLEAN, qty INT)
WITH ('connector' = 'jdbc', 'url' = 'jdbc:sqlite:shop.db', 'table-name' = 'order_log',
      'sink.buffer-flush.max-rows' = '7');

CREATE TABLE customer_totals (customer STRING, orders BIGINT, total DOUBLE,
                              PRIMARY KEY (customer) NOT ENFORCED)
WITH ('connector' = 'jdbc', 'url' = 'jdbc:sqlite:shop.db', 'table-name' = 'customer_totals');

CREATE TABLE latest_orders (order_id BIGINT, customer STRING, amount DOUBLE,
                            PRIMARY KEY (order_id) NOT ENFORCED)
WITH ('connector' = 'jdbc', 'url' = 'jdbc:sqlite:./shop.db', 'table-name' = 'latest_orders',
      'sink.buffer-flush.max-rows' = '0', 'sink.buffer-flush.interval' = '0');

INSERT INTO order_log SELECT * FROM orders;

INSERT INTO customer_totals
SELECT customer, COUNT(*) AS orders, SUM(amount) AS total FROM orders GROUP BY customer
HAVING SUM(amount) < %s;

INSERT INTO latest_orders SELECT order_id, customer, amount FROM orders;
""" % THRESHOLD


def setup(d):
    rows = orders()
    write_input(d, rows)
    with open(os.path.join(d, "p.sql"), "w", encoding="utf-8") as f:
        f.write(PIPELINE)
    db = sqlite3.connect(os.path.join(d, "shop.db"))
    db.executescript(SCHEMA)
    db.close()
    return rows


def table(d, sql):
    db = sqlite3.connect(os.path.join(d, "shop.db"))
    try:
        return sorted(db.execute(sql).fetchall(), key=repr)
    finally:
        db.close()


def oracle(rows):
    log = sorted(((r["order_id"], r["customer"], r["amount"], int(r["paid"]), r["qty"], "none")
                  for r in rows), key=repr)
    totals = {}
    for r in rows:
        n, t = totals.get(r["customer"], (0, 0.0))
        totals[r["customer"]] = (n + 1, t + r["amount"])
    tot = sorted(((c, n, t) for c, (n, t) in totals.items() if t < THRESHOLD), key=repr)
    latest = {}
    for r in rows:
        latest[r["order_id"]] = (r["order_id"], r["customer"], r["amount"])
    return log, tot, sorted(latest.values(), key=repr)


def run_pipeline(d):
    rc, out, err = run(["run", "p.sql"], d)
    check(rc == 0, "runnel run exited %d: %s" % (rc, err))


def compare(d, rows, runs):
    log, tot, latest = oracle(rows)
    got_log = table(d, "SELECT order_id, customer, amount, paid, qty, comment FROM order_log")
    check(got_log == sorted(log * runs, key=repr),
          "order_log: %d rows, want %d (every input row %d time(s))" % (len(got_log), len(log) * runs, runs))
    got_tot = table(d, "SELECT customer, orders, total FROM customer_totals")
    check(got_tot == tot, "customer_totals differs:\n got %r\nwant %r" % (got_tot, tot))
    check("whale" not in [c for c, _, _ in got_tot], "the whale's row was not deleted")
    got_latest = table(d, "SELECT order_id, customer, amount FROM latest_orders")
    check(got_latest == latest, "latest_orders differs (%d rows, want %d)" % (len(got_latest), len(latest)))
    names = {c for (c,) in table(d, "SELECT customer FROM customer_totals")}
    for evil in EVIL:
        check(evil in names, "customer %r not stored verbatim" % evil)


def t_oracle_and_replay(d):
    """The tables equal the oracle; a second run over the same input (a
    replay) leaves the upsert tables exactly as they were and appends the
    log again (an append table has no key to deduplicate by)."""
    rows = setup(d)
    run_pipeline(d)
    compare(d, rows, 1)
    run_pipeline(d)
    compare(d, rows, 2)


def run_fails(d, pipeline, *want):
    with open(os.path.join(d, "bad.sql"), "w", encoding="utf-8") as f:
        f.write(pipeline)
    rc, out, err = run(["run", "bad.sql"], d)
    check(rc != 0, "runnel run should have failed: %s" % err)
    for w in want:
        check(w in err, "stderr lacks %r:\n%s" % (w, err))
    return err


def sink_sql(columns, pk, table_name, url="jdbc:sqlite:shop.db"):
    """A pipeline writing orders to a jdbc table of columns (name, type[,
    the expression written to it; default the column of orders])."""
    return """
CREATE TABLE orders (order_id BIGINT, customer STRING, amount DOUBLE, paid BOOLEAN, qty INT)
WITH ('connector' = 'filesystem', 'path' = 'orders.jsonl');
CREATE TABLE sink_t (%s%s)
WITH ('connector' = 'jdbc', 'url' = '%s', 'table-name' = '%s');
INSERT INTO sink_t SELECT %s FROM orders;
""" % (", ".join("%s %s" % c[:2] for c in columns), ", PRIMARY KEY (%s) NOT ENFORCED" % pk if pk else "",
       url, table_name.replace("'", "''"), ", ".join(c[2] if len(c) > 2 else c[0] for c in columns))


def t_open_errors(d):
    """Mismatches are found at open, before any row is written, with a
    message naming the SQLite table and the runnel table."""
    setup(d)
    cols = [("order_id", "BIGINT"), ("customer", "STRING")]
    run_fails(d, sink_sql(cols, None, "no_such_table"),
              "SQLite table 'no_such_table' in 'shop.db' does not exist", "table 'sink_t'")
    run_fails(d, sink_sql(cols + [("colour", "STRING", "customer")], None, "order_log"),
              "SQLite table 'order_log' in 'shop.db' has no column 'colour'", "table 'sink_t'")
    run_fails(d, sink_sql([("order_id", "STRING", "customer")], None, "order_log"),
              "column 'order_id' has INTEGER affinity", "(STRING)")
    # an upsert needs the key to be a PRIMARY KEY or UNIQUE index there
    run_fails(d, sink_sql(cols, "customer", "order_log"), "cannot take upserts")
    run_fails(d, sink_sql(cols, None, "order_log", "jdbc:sqlite:missing.db"),
              "cannot open SQLite database 'missing.db'")
    check(not os.path.exists(os.path.join(d, "missing.db")), "a missing database file was created")
    check(table(d, "SELECT count(*) FROM order_log") == [(0,)], "a failed run wrote rows")


def t_option_injection(d):
    """A table name with SQL in it is one quoted identifier: no table by
    that name exists, and nothing is dropped."""
    setup(d)
    evil = 'order_log"; DROP TABLE customer_totals; --'
    run_fails(d, sink_sql([("order_id", "BIGINT")], None, evil), "does not exist")
    names = {n for (n,) in table(d, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    check({"order_log", "customer_totals", "latest_orders"} <= names, "tables were dropped: %r" % names)
    # a column named like SQL is quoted too (and must exist)
    db = sqlite3.connect(os.path.join(d, "shop.db"))
    db.execute('CREATE TABLE odd ("a""b" INTEGER, "select" TEXT)')
    db.commit()
    db.close()
    pipeline = """
CREATE TABLE orders (order_id BIGINT, customer STRING, amount DOUBLE, paid BOOLEAN, qty INT)
WITH ('connector' = 'filesystem', 'path' = 'orders.jsonl');
CREATE TABLE odd (`a"b` BIGINT, `select` STRING)
WITH ('connector' = 'jdbc', 'url' = 'jdbc:sqlite:shop.db', 'table-name' = 'odd');
INSERT INTO odd SELECT order_id, customer FROM orders WHERE order_id < 3;
"""
    with open(os.path.join(d, "odd.sql"), "w", encoding="utf-8") as f:
        f.write(pipeline)
    rc, out, err = run(["run", "odd.sql"], d)
    check(rc == 0, "runnel run exited %d: %s" % (rc, err))
    n = table(d, 'SELECT count(*) FROM odd WHERE "a""b" < 3')
    check(n == [(9,)], "odd: %r rows, want 9 (order ids 0-2 occur 3 times each)" % n)


def t_refused_rows(d):
    """Rows SQLite refuses (NOT NULL, CHECK, a duplicate in a UNIQUE column
    of an append table) go to the dead-letter file with SQLite's message;
    the others are written and the run succeeds."""
    import json
    rows = orders()[:300]
    for i, r in enumerate(rows):
        r["order_id"] = i
        if i % 40 == 5:
            r["customer"] = None          # NOT NULL
        elif i % 40 == 17:
            r["amount"] = -1.0            # CHECK (amount >= 0)
        elif i % 40 == 29:
            r["order_id"] = 0             # UNIQUE (order_id): row 0 has it
    write_input(d, rows)
    db = sqlite3.connect(os.path.join(d, "shop.db"))
    db.executescript("CREATE TABLE strict (order_id INTEGER UNIQUE, customer TEXT NOT NULL, "
                     "amount REAL CHECK (amount >= 0));")
    db.close()
    pipeline = """
CREATE TABLE orders (order_id BIGINT, customer STRING, amount DOUBLE, paid BOOLEAN, qty INT)
WITH ('connector' = 'filesystem', 'path' = 'orders.jsonl');
CREATE TABLE strict (order_id BIGINT, customer STRING, amount DOUBLE)
WITH ('connector' = 'jdbc', 'url' = 'jdbc:sqlite:shop.db', 'table-name' = 'strict');
INSERT INTO strict SELECT order_id, customer, amount FROM orders;
"""
    with open(os.path.join(d, "p.sql"), "w", encoding="utf-8") as f:
        f.write(pipeline)
    rc, out, err = run(["run", "p.sql", "--dlq", "dead.jsonl"], d)
    check(rc == 0, "runnel run exited %d: %s" % (rc, err))
    bad = [i for i in range(len(rows)) if i % 40 in (5, 17, 29)]
    got = table(d, "SELECT count(*) FROM strict")
    check(got == [(len(rows) - len(bad),)], "strict: %r rows, want %d" % (got, len(rows) - len(bad)))
    with open(os.path.join(d, "dead.jsonl"), encoding="utf-8") as f:
        dead = [json.loads(line) for line in f]
    check(len(dead) == len(bad), "%d dead letters, want %d" % (len(dead), len(bad)))
    msgs = " ".join(x["error"] for x in dead)
    for want in ("NOT NULL constraint failed: strict.customer", "CHECK constraint failed",
                 "UNIQUE constraint failed: strict.order_id"):
        check(want in msgs, "dead letters lack %r: %s" % (want, msgs[:400]))
    check(all(x["source"] == "strict" for x in dead), "dead letters name %r" % dead[0]["source"])
    amounts = sorted(json.loads(x["value"])["amount"] for x in dead)
    check(amounts.count(-1.0) == len([i for i in bad if i % 40 == 17]), "dead rows: %r" % amounts)


def t_scan_source(d):
    """A 'jdbc' table as a bounded source: the whole table once, in chunks
    ('scan.fetch-size'), with its declared types; in `runnel test` the
    same table reads <input>/<table-name>.jsonl instead."""
    import json
    db = sqlite3.connect(os.path.join(d, "shop.db"))
    db.execute("CREATE TABLE subs (id INTEGER PRIMARY KEY, rid TEXT, score REAL, active BOOLEAN, since INTEGER)")
    db.executemany("INSERT INTO subs (rid, score, active, since) VALUES (?, ?, ?, ?)",
                   [(EVIL[i % len(EVIL)], i * 0.5, i % 2, 1700000000000 + i) for i in range(1234)] +
                   [(None, None, None, None)])
    db.commit()
    db.close()
    pipeline = """
CREATE TABLE subs (rid STRING, score DOUBLE, active BOOLEAN, since TIMESTAMP(3))
WITH ('connector' = 'jdbc', 'url' = 'jdbc:sqlite:shop.db', 'table-name' = 'subs', 'scan.fetch-size' = '100');
CREATE TABLE copy (rid STRING, score DOUBLE, active BOOLEAN, since TIMESTAMP(3))
WITH ('connector' = 'filesystem', 'path' = 'out.jsonl');
INSERT INTO copy SELECT * FROM subs;
"""
    with open(os.path.join(d, "p.sql"), "w", encoding="utf-8") as f:
        f.write(pipeline)
    rc, out, err = run(["run", "p.sql"], d)
    check(rc == 0, "runnel run exited %d: %s" % (rc, err))
    with open(os.path.join(d, "out.jsonl"), encoding="utf-8") as f:
        got = [json.loads(line) for line in f]
    want = [{"rid": EVIL[i % len(EVIL)], "score": i * 0.5, "active": i % 2 == 1, "since": 1700000000000 + i}
            for i in range(1234)] + [{"rid": None, "score": None, "active": None, "since": None}]
    check(sorted(got, key=repr) == sorted(want, key=repr), "%d rows read, want %d; first %r" % (
        len(got), len(want), got[:1]))
    # runnel test: the table is a file
    os.mkdir(os.path.join(d, "in"))
    with open(os.path.join(d, "in", "subs.jsonl"), "w", encoding="utf-8") as f:
        f.write('{"rid": "file", "score": 1.5, "active": true, "since": 5}\n')
    rc, out, err = run(["test", "p.sql", "--input", "in", "--output", "outdir"], d)
    check(rc == 0, "runnel test exited %d: %s" % (rc, err))
    files = os.listdir(os.path.join(d, "outdir"))
    lines = []
    for name in files:
        if name.endswith(".jsonl"):
            with open(os.path.join(d, "outdir", name), encoding="utf-8") as f:
                lines += [json.loads(line) for line in f]
    check([r["rid"] for r in lines] == ["file"], "runnel test wrote %r (%r)" % (lines, files))


def t_lookup_fanout(d):
    """A lookup join on an SQLite table through `runnel run`: a restaurant
    with 10,000 subscribers (more rows than one output batch), one with
    one, a missing key, under every 'lookup.cache' setting: the output
    equals the oracle exactly (10,000 rows per campaign of the big one)."""
    import json
    db = sqlite3.connect(os.path.join(d, "shop.db"))
    db.execute("CREATE TABLE subscribers_restaurants (id INTEGER PRIMARY KEY, client_id TEXT, restaurant_id TEXT)")
    subs = [("client-%d" % i, "r-big") for i in range(10000)] + [("solo", "r-one")]
    subs += [("small-%d-%d" % (i, j), "r-small-%d" % i) for i in range(40) for j in range(i % 4)]
    db.executemany("INSERT INTO subscribers_restaurants (client_id, restaurant_id) VALUES (?, ?)", subs)
    db.commit()
    db.close()
    camps = [("c%d" % i, "r-small-%d" % (i % 40)) for i in range(2500)]
    for at, c in ((0, ("big-1", "r-big")), (1200, ("none", "r-none")), (1300, ("one", "r-one")),
                  (2400, ("big-2", "r-big")), (2502, ("big-3", "r-big"))):
        camps.insert(at, c)
    with open(os.path.join(d, "campaigns.jsonl"), "w", encoding="utf-8") as f:
        for cid, rid in camps:
            f.write(json.dumps({"adv_campaign_id": cid, "restaurant_id": rid}) + "\n")
    by_rest = {}
    for client, rid in subs:
        by_rest.setdefault(rid, []).append(client)
    want = sorted((cid, client) for cid, rid in camps for client in by_rest.get(rid, []))
    for cache in ("NONE", "PARTIAL", "FULL"):
        out = "out-%s.jsonl" % cache
        with open(os.path.join(d, "p.sql"), "w", encoding="utf-8") as f:
            f.write("""
CREATE TABLE campaigns (adv_campaign_id STRING, restaurant_id STRING, proc_time AS PROCTIME())
WITH ('connector' = 'filesystem', 'path' = 'campaigns.jsonl');
CREATE TABLE subscribers_restaurants (id INT, client_id STRING, restaurant_id STRING)
WITH ('connector' = 'jdbc', 'url' = 'jdbc:sqlite:shop.db', 'table-name' = 'subscribers_restaurants',
      'lookup.cache' = '%s');
CREATE TABLE notifications (adv_campaign_id STRING, client_id STRING)
WITH ('connector' = 'filesystem', 'path' = '%s');
INSERT INTO notifications SELECT c.adv_campaign_id, s.client_id FROM campaigns AS c
JOIN subscribers_restaurants FOR SYSTEM_TIME AS OF c.proc_time AS s ON s.restaurant_id = c.restaurant_id;
""" % (cache, out))
        rc, o, err = run(["run", "p.sql"], d, timeout=120)
        check(rc == 0, "%s: runnel run exited %d: %s" % (cache, rc, err))
        with open(os.path.join(d, out), encoding="utf-8") as f:
            got = sorted((r["adv_campaign_id"], r["client_id"]) for r in map(json.loads, f))
        big = {c: sum(1 for g in got if g[0] == c) for c in ("big-1", "big-2", "big-3", "none", "one")}
        check(big == {"big-1": 10000, "big-2": 10000, "big-3": 10000, "none": 0, "one": 1},
              "%s: rows per campaign %r" % (cache, big))
        check(got == want, "%s: %d rows, want %d" % (cache, len(got), len(want)))


TESTS = {"oracle_and_replay": t_oracle_and_replay, "open_errors": t_open_errors,
         "option_injection": t_option_injection, "refused_rows": t_refused_rows,
         "scan_source": t_scan_source, "lookup_fanout": t_lookup_fanout}


def main():
    global RUNNEL
    if len(sys.argv) != 3 or sys.argv[2] not in TESTS:
        sys.exit("usage: test_sqlite.py RUNNEL {%s}" % "|".join(TESTS))
    RUNNEL = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="runnel-jdbc-") as d:
        try:
            TESTS[sys.argv[2]](d)
        except Fail as e:
            print("FAIL %s: %s" % (sys.argv[2], e))
            sys.exit(1)
    print("ok %s" % sys.argv[2])


if __name__ == "__main__":
    main()
