#!/usr/bin/env python3
"""run_window_oracle.py - window aggregates and late rows checked against a batch computation.

    run_window_oracle.py RUNNEL --seed S [--sizes 2000,20000] [--only q1,q2] [--keep]
    run_window_oracle.py --self-test

With RUNNEL, for each configuration (rows, timestamp format, watermark
delay, allowed lateness; see CONFIGS) it writes WORK/<config>/input/
win-events.jsonl with gen_events.py and a pipeline.sql (the source table
with a computed `ts` column and a WATERMARK as in docs/event-time.md, a
filtering view, and one window INSERT per query in QUERIES, each with its
own sink and its own late-rows table), runs

    RUNNEL test pipeline.sql --input input --output out1     (and again: out2)

and checks, per query:
  * the window results equal oracle.py's: with allowed lateness 0 the sink is
    a plain `kafka` table and every window must appear exactly once (a
    multiset of rows), in emission order (window_end never decreases; for
    TUMBLE/HOP windows with equal window_end in creation order); with
    lateness > 0 the sink is `upsert-kafka` keyed by (window_start,
    window_end[, user_id]) and its final state (last line per key, null =
    delete) must equal the oracle's windows;
  * the late-rows table holds exactly the oracle's late rows (as a multiset;
    arrival order is only noted);
and per configuration: _runnel/dead-letters.jsonl lists exactly the lines whose rowtime is
NULL, and out1 and out2 are byte for byte the same. Exits 1 on any failure,
printing the first differing windows and keeping the work directory.

--self-test needs no runnel: the oracle on small hand-computed cases
(watermark, lateness, TUMBLE, HOP, SESSION merges, aggregates, timestamp
strings), the comparison code against corrupted answers, the batch session
computation against an incremental one, and the generator (deterministic,
and its data really has late rows, threshold rows, session splits and
bridging merges).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_events  # noqa: E402
import oracle  # noqa: E402

TIMEOUT_S = 120
SOURCE_TOPIC = "win-events"
VIEW_FILTER_PAGE = "/home"   # the view drops rows with this page


class Query:
    """One window INSERT: its SQL and its oracle answer come from the same
    fields, so they cannot drift apart."""

    def __init__(self, name, kind, keyed=True, source="user_events", size=None, slide=None,
                 offset=0, gap=None, over_rows=False):
        self.name, self.kind, self.keyed, self.source = name, kind, keyed, source
        # over_rows: aggregate the TVF's rows (a subquery without GROUP BY)
        # by the windows they carry, instead of the TVF itself
        self.over_rows = over_rows
        self.size, self.slide, self.offset, self.gap = size, slide, offset, gap
        self.sink = "win_" + name
        self.late_table = "late_" + name
        self.key_cols = ["window_start", "window_end"] + (["user_id"] if keyed else [])
        self.cols = self.key_cols + oracle.AGG_COLUMNS

    def tvf(self):
        table = "TABLE " + self.source
        if self.kind == "tumble":
            args = [interval(self.size)] + ([interval(self.offset)] if self.offset else [])
            return "TUMBLE(%s, DESCRIPTOR(ts), %s)" % (table, ", ".join(args))
        if self.kind == "hop":
            if self.offset:
                return "HOP(%s, DESCRIPTOR(ts), %s, %s, %s)" % (
                    table, interval(self.slide), interval(self.size), interval(self.offset))
            return "HOP(%s, DESCRIPTOR(ts), %s, %s)" % (table, interval(self.slide),
                                                         interval(self.size))
        if self.keyed:
            table += " PARTITION BY user_id"
        return "SESSION(%s, DESCRIPTOR(ts), %s)" % (table, interval(self.gap))

    def sink_ddl(self, lateness_ms):
        cols = ["window_start TIMESTAMP(3)", "window_end TIMESTAMP(3)"]
        if self.keyed:
            cols.append("user_id INT")
        cols += ["cnt BIGINT", "pages BIGINT", "n_amount BIGINT", "total BIGINT",
                 "min_amount INT", "max_amount INT", "avg_amount DOUBLE", "first_page STRING",
                 "last_page STRING", "first_amount INT", "last_amount INT", "page_at_max STRING",
                 "page_at_min STRING"]
        if lateness_ms:
            cols.append("PRIMARY KEY (%s) NOT ENFORCED" % ", ".join(self.key_cols))
            opts = ("'connector' = 'upsert-kafka', 'topic' = '%s', 'key.format' = 'json', "
                    "'value.format' = 'json'" % self.sink)
        else:
            opts = "'connector' = 'kafka', 'topic' = '%s', 'format' = 'json'" % self.sink
        return "CREATE TABLE %s (\n  %s\n) WITH (%s);\n" % (self.sink, ",\n  ".join(cols), opts)

    def insert(self):
        keys = ", user_id" if self.keyed else ""
        return ("SET 'runnel.late-rows.table' = '%s';\n"
                "INSERT INTO %s\n"
                "SELECT window_start, window_end%s,\n"
                "       COUNT(*) AS cnt, COUNT(DISTINCT page) AS pages, COUNT(amount) AS n_amount,\n"
                "       SUM(amount) AS total, MIN(amount) AS min_amount, MAX(amount) AS max_amount,\n"
                "       AVG(amount) AS avg_amount,\n"
                "       FIRST_VALUE(page) AS first_page, LAST_VALUE(page) AS last_page,\n"
                "       FIRST_VALUE(amount) AS first_amount, LAST_VALUE(amount) AS last_amount,\n"
                "       MAX_BY(page, amount) AS page_at_max, MIN_BY(page, amount) AS page_at_min\n"
                "FROM %s\n"
                "GROUP BY window_start, window_end%s;\n"
                % (self.late_table, self.sink, keys,
                   ("(SELECT * FROM TABLE(%s))" if self.over_rows else "TABLE(%s)") % self.tvf(), keys))

    def input_rows(self, rows):
        if self.source == "filtered_events":
            return [r for r in rows if r.page != VIEW_FILTER_PAGE]
        return rows

    def expected(self, rows):
        """(window result rows in emission order, late rows) over all decoded
        rows, whose .late flags oracle.mark_late has set."""
        rows = self.input_rows(rows)
        ok = [r for r in rows if not r.late]
        wins = oracle.window_results(ok, self.kind, self.keyed, size=self.size, slide=self.slide,
                                     offset=self.offset, gap=self.gap)
        has_ts = self.source == "user_events"
        late = [oracle.late_row_out(r, has_ts) for r in rows if r.late]
        return wins, late


class RowsQuery(Query):
    """A window TVF without an aggregate (docs/event-time.md, "Window
    rows"): every accepted row with its window, insert-only whatever the
    lateness, so the sink is always a plain kafka table."""

    COLS = ["user_id", "page", "amount", "ts", "window_start", "window_end"]

    def sink_ddl(self, lateness_ms):
        return ("CREATE TABLE %s (\n  user_id INT, page STRING, amount INT, ts TIMESTAMP_LTZ(3),\n"
                "  window_start TIMESTAMP(3), window_end TIMESTAMP(3)\n"
                ") WITH ('connector' = 'kafka', 'topic' = '%s', 'format' = 'json');\n"
                % (self.sink, self.sink))

    def insert(self):
        return ("SET 'runnel.late-rows.table' = '%s';\n"
                "INSERT INTO %s\n"
                "SELECT user_id, page, amount, ts, window_start, window_end\n"
                "FROM TABLE(%s);\n" % (self.late_table, self.sink, self.tvf()))

    def expected(self, rows):
        rows = self.input_rows(rows)
        ok = [r for r in rows if not r.late]
        out = oracle.window_rows(ok, self.kind, self.keyed, size=self.size, slide=self.slide,
                                 offset=self.offset, gap=self.gap)
        has_ts = self.source == "user_events"
        return out, [oracle.late_row_out(r, has_ts) for r in rows if r.late]


QUERIES = [
    Query("tumble_1s", "tumble", size=1000),
    Query("tumble_10s", "tumble", size=10000),
    Query("hop_2s_10s", "hop", slide=2000, size=10000),
    Query("session_3s", "session", gap=3000),
    Query("session_20s", "session", gap=20000),
    # a view (rowtime through a filter), a TUMBLE offset, no key besides the window
    Query("tumble_10s_off3_all", "tumble", keyed=False, source="filtered_events", size=10000,
          offset=3000),
    # one session stream for all rows (no PARTITION BY)
    Query("session_3s_all", "session", keyed=False, gap=3000),
    # the same aggregates over the TVF's rows, by the windows they carry
    Query("session_3s_over_rows", "session", gap=3000, over_rows=True),
    Query("hop_2s_10s_over_rows", "hop", slide=2000, size=10000, over_rows=True),
    # window TVFs without an aggregate: each row with its window(s)
    RowsQuery("rows_session_3s", "session", gap=3000),
    RowsQuery("rows_hop_2s_10s", "hop", slide=2000, size=10000),
]

LATE_COLS = ["user_id", "page", "amount", "timestamp", "ts", "note"]


def interval(ms):
    if ms % 1000 == 0:
        return "INTERVAL '%d' SECOND" % (ms // 1000)
    return "INTERVAL '%d' MILLISECOND" % ms


def duration(ms):
    if ms and ms % 60000 == 0:
        return "%d min" % (ms // 60000)
    return "%d s" % (ms // 1000) if ms % 1000 == 0 else "%d ms" % ms


def pipeline_sql(cfg, queries, header):
    fmt, delay, lateness = cfg["format"], cfg["delay"], cfg["lateness"]
    if fmt == "float":
        ts_col, ts_expr = "`timestamp` DOUBLE", \
            "ts AS TO_TIMESTAMP_LTZ(CAST(`timestamp` * 1000 AS BIGINT), 3)"
        ts_type, raw_type = "TIMESTAMP_LTZ(3)", "DOUBLE"
    else:
        ts_col, ts_expr = "`timestamp` STRING", "ts AS TO_TIMESTAMP(`timestamp`)"
        ts_type, raw_type = "TIMESTAMP(3)", "STRING"
    wm = "ts - %s" % interval(delay) if delay else "ts"
    out = ["-- %s\n" % header,
           "CREATE TABLE user_events (\n"
           "  user_id INT,\n  page STRING,\n  amount INT,\n  %s,\n  %s,\n"
           "  WATERMARK FOR ts AS %s\n"
           ") WITH ('connector' = 'kafka', 'topic' = '%s', 'format' = 'json');\n"
           % (ts_col, ts_expr, wm, SOURCE_TOPIC),
           "CREATE VIEW filtered_events AS\n"
           "SELECT user_id, page, amount, ts FROM user_events WHERE page <> '%s';\n"
           % VIEW_FILTER_PAGE]
    for q in queries:
        out.append(q.sink_ddl(lateness))
        out.append("CREATE TABLE %s (\n  user_id INT, page STRING, amount INT, `timestamp` %s,\n"
                   "  ts %s, note STRING\n) WITH ('connector' = 'kafka', 'topic' = '%s', "
                   "'format' = 'json');\n" % (q.late_table, raw_type, ts_type, q.late_table))
    if lateness:
        out.append("SET 'table.exec.emit.allow-lateness' = '%s';\n" % duration(lateness))
    for q in queries:
        out.append(q.insert())
    return "\n".join(out)


def configs(seed, sizes):
    """The configurations one seed runs: each size with lateness 0 and 2 s
    (the timestamp format alternating); the largest size with lateness 1 min
    (runnel test may fire windows only at batch ends, up to 1024 rows, so only a lateness
    longer than a batch's stretch of event time makes accepted late rows
    update windows and sessions that were already emitted: -U/+U, and
    deletes of merged sessions' old keys); and the smallest size with
    `WATERMARK FOR ts AS ts` (no delay: every out-of-order row is late)."""
    fmts = ["float", "iso"] if seed % 2 else ["iso", "float"]
    out, i = [], 0
    for n in sizes:
        for lateness in (0, 2000):
            out.append({"count": n, "format": fmts[i % 2], "delay": 5000, "lateness": lateness})
            i += 1
    out.append({"count": max(sizes), "format": fmts[0], "delay": 5000, "lateness": 60000})
    out.append({"count": min(sizes), "format": fmts[1], "delay": 0, "lateness": 0})
    return out


def cfg_name(cfg):
    return "n%d-%s-d%d-l%d" % (cfg["count"], cfg["format"], cfg["delay"], cfg["lateness"])


def read_lines(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


def run_runnel(runnel, sql_path, in_dir, out_dir):
    cmd = [runnel, "test", sql_path, "--input", in_dir, "--output", out_dir]
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return cmd, ["runnel test did not finish in %d s" % TIMEOUT_S]
    except OSError as e:
        return cmd, ["cannot run %s: %s" % (runnel, e)]
    if p.returncode != 0:
        return cmd, ["runnel test exited %d:\n%s" % (p.returncode,
                                                     p.stderr.decode(errors="replace")[-3000:])]
    return cmd, []


def check_query(q, cfg, rows, out_dir):
    wins, late = q.expected(rows)
    problems = []
    lines = read_lines(os.path.join(out_dir, q.sink + ".jsonl"))
    if isinstance(q, RowsQuery):
        # Every accepted row once per window holding it; sessions come out
        # by window_end.
        got, problems = oracle.parse_append(lines)
        problems += oracle.compare_rows_multiset(wins, got, "window rows (%s)" % q.sink, q.COLS)
        ends = [d.get("window_end") for d in got]
        if q.kind == "session" and any(a > b for a, b in zip(ends, ends[1:])):
            problems.append("session rows are not emitted by window_end")
    elif cfg["lateness"]:
        got, problems = oracle.replay_upsert(lines, q.key_cols)
        problems += oracle.compare_windows(wins, got, q.key_cols, q.cols)
    else:
        got, problems = oracle.parse_append(lines)
        cmp = oracle.compare_windows(wins, got, q.key_cols, q.cols)
        problems += cmp
        if not cmp:
            problems += oracle.check_order(wins, got, q.key_cols, strict=q.kind != "session")
    got_late, p2 = oracle.parse_append(read_lines(os.path.join(out_dir, q.late_table + ".jsonl")))
    problems += ["late rows: " + p for p in p2]
    p3 = oracle.compare_rows_multiset(late, got_late, "late rows (%s)" % q.late_table, LATE_COLS)
    problems += p3
    notes = []
    if not p3 and [oracle.canon(d) for d in late] != [oracle.canon(d) for d in got_late]:
        notes.append("note: late rows are not in arrival order")
    return problems, notes, len(wins), len(late)


def check_dlq(dead, lines, src_lines):
    problems, got = [], []
    want_err = "event time column 'ts' is NULL"
    for n, line in enumerate(lines, 1):
        try:
            obj = json.loads(line)
            got.append(obj["line"])
            if obj.get("source") != "user_events":
                problems.append("dlq line %d: source %r, expected 'user_events'"
                                % (n, obj.get("source")))
            if want_err not in str(obj.get("error")):
                problems.append("dlq line %d: error %r does not say %r"
                                % (n, obj.get("error"), want_err))
            if 1 <= obj["line"] <= len(src_lines) and obj.get("value") != src_lines[obj["line"] - 1]:
                problems.append("dlq line %d: value %r is not input line %d %r"
                                % (n, obj.get("value"), obj["line"], src_lines[obj["line"] - 1]))
        except (ValueError, KeyError, TypeError) as e:
            problems.append("dlq line %d is not a dead-letter record (%s): %r" % (n, e, line))
    if sorted(got) != dead:
        problems.append("dead-lettered lines %s, expected %s (rows whose rowtime is NULL)"
                        % (sorted(got)[:20], dead[:20]))
    return problems[:10]


def compare_dirs(a, b):
    def files(top):
        return sorted(os.path.relpath(os.path.join(d, f), top)
                      for d, _, fs in os.walk(top) for f in fs)
    fa, fb = files(a), files(b)
    if fa != fb:
        return ["determinism: the two runs wrote different files: %s vs %s" % (fa, fb)]
    problems = []
    for f in fa:
        with open(os.path.join(a, f), "rb") as x, open(os.path.join(b, f), "rb") as y:
            da, db = x.read(), y.read()
        if da != db:
            la, lb = da.splitlines(), db.splitlines()
            i = next((i for i, (p, q) in enumerate(zip(la, lb)) if p != q), min(len(la), len(lb)))
            problems.append("determinism: %s differs between two runs at line %d (%d vs %d lines)"
                            % (f, i + 1, len(la), len(lb)))
    return problems


def stats(rows, lateness):
    late = sum(r.late for r in rows)
    accepted = sum(1 for r in rows if not r.late and r.rowtime < r.wm)
    return "%d rows, %d late, %d behind the watermark but within the allowed lateness" % (
        len(rows), late, accepted)


def run_config(args, runnel, work, cfg, queries):
    name = cfg_name(cfg)
    d = os.path.join(work, name)
    in_dir = os.path.join(d, "input")
    os.makedirs(in_dir)
    lines = gen_events.generate(args.seed, cfg["count"], fmt=cfg["format"], delay_ms=cfg["delay"],
                                lateness_ms=cfg["lateness"], missing_ts_frac=0.003)
    with open(os.path.join(in_dir, SOURCE_TOPIC + ".jsonl"), "w", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))
    header = ("window oracle: seed %d, %d rows, %s timestamps, watermark delay %d ms, "
              "allowed lateness %d ms" % (args.seed, cfg["count"], cfg["format"], cfg["delay"],
                                          cfg["lateness"]))
    sql_path = os.path.join(d, "pipeline.sql")
    with open(sql_path, "w", encoding="utf-8") as f:
        f.write(pipeline_sql(cfg, queries, header))

    rows, dead = oracle.decode(lines, cfg["format"])
    oracle.mark_late(rows, cfg["delay"], cfg["lateness"])

    out1, out2 = os.path.join(d, "out1"), os.path.join(d, "out2")
    cmd, problems = run_runnel(runnel, sql_path, in_dir, out1)
    report = []
    if not problems:
        for q in queries:
            qp, notes, nwin, nlate = check_query(q, cfg, rows, out1)
            if qp:
                report.append("  query %s (%s):" % (q.name, q.sink))
                report += ["    " + p for p in qp]
            report += ["  query %s: %s" % (q.name, n) for n in notes]
            problems += qp
        dp = check_dlq(dead, read_lines(os.path.join(out1, "_runnel", "dead-letters.jsonl")), lines)
        report += ["  " + p for p in dp]
        problems += dp
        _, p2 = run_runnel(runnel, sql_path, in_dir, out2)
        p2 = p2 or compare_dirs(out1, out2)
        report += ["  " + p for p in p2]
        problems += p2
    else:
        report += ["  " + p for p in problems]
    status = "FAIL" if problems else "ok"
    print("%s %s: %s (%s)" % (status, name, header, stats(rows, cfg["lateness"])), flush=True)
    if problems:
        print("  $ " + " ".join(cmd))
        for line in report:
            print(line)
    else:
        for line in report:
            print(line)
        shutil.rmtree(d)
    return not problems


def run_with_runnel(args):
    runnel = os.path.abspath(args.runnel)
    queries = QUERIES
    if args.only:
        names = args.only.split(",")
        unknown = [n for n in names if n not in {q.name for q in QUERIES}]
        if unknown:
            raise SystemExit("unknown queries %s; known: %s" % (unknown, [q.name for q in QUERIES]))
        queries = [q for q in QUERIES if q.name in names]
    sizes = [int(s) for s in args.sizes.split(",")]
    work = tempfile.mkdtemp(prefix="runnel-window-%d-" % args.seed)
    failed = 0
    for cfg in configs(args.seed, sizes):
        if not run_config(args, runnel, work, cfg, queries):
            failed += 1
    if failed:
        print("window oracle seed %d: %d configurations FAILED; work directory kept: %s"
              % (args.seed, failed, work))
        return 1
    if args.keep:
        print("work directory kept: %s" % work)
    else:
        shutil.rmtree(work)
    print("window oracle seed %d: all configurations agree with the oracle" % args.seed)
    return 0


# ---- self-test ----------------------------------------------------------------

class SelfTest:
    def __init__(self):
        self.failures = 0
        self.checks = 0

    def eq(self, got, want, what):
        self.checks += 1
        if got != want:
            self.failures += 1
            print("SELF-TEST FAIL %s:\n  got  %r\n  want %r" % (what, got, want))

    def true(self, cond, what):
        self.eq(bool(cond), True, what)


def mk(events, fmt="float"):
    """JSON lines from (user, seconds or string, amount[, page]) tuples."""
    out = []
    for e in events:
        row = {"user_id": e[0], "page": e[3] if len(e) > 3 else "/p", "amount": e[2],
               "timestamp": e[1]}
        out.append(json.dumps(row))
    return out


def results(lines, delay, lateness, kind, keyed=True, fmt="float", **kw):
    rows, dead = oracle.decode(lines, fmt)
    late = oracle.mark_late(rows, delay, lateness)
    wins = oracle.window_results([r for r in rows if not r.late], kind, keyed, **kw)
    return wins, [r.line for r in late], dead


def brief(wins, *cols):
    cols = cols or ("window_start", "window_end", "user_id", "cnt")
    return [tuple(w.get(c) for c in cols) for w in wins]


def online_sessions(rows, gap):
    """Sessions built row by row as an operator would (merge every session
    the new row's [t, t + gap) overlaps); returns ({(start, end, key):
    sorted line numbers}, number of rows that merged two or more sessions,
    number of rows that changed a session that had already fired, i.e.
    whose end the watermark had reached)."""
    state, merges, fired = {}, 0, 0
    for r in rows:
        ss = state.setdefault(r.user_id, [])
        s, e, members = r.rowtime, r.rowtime + gap, [r.line]
        hit = [x for x in ss if r.rowtime < x[1] and x[0] < r.rowtime + gap]
        if len(hit) >= 2:
            merges += 1
        if any(x[1] <= r.wm for x in hit):
            fired += 1
        for x in hit:
            ss.remove(x)
            s, e, members = min(s, x[0]), max(e, x[1]), members + x[2]
        ss.append((s, e, members))
    out = {}
    for key, ss in state.items():
        for s, e, members in ss:
            out[(s, e, key)] = sorted(members)
    return out, merges, fired


def self_test(args):
    t = SelfTest()

    # watermark in force and lateness: 10 s, 3 s, 16 s, 10.5 s, 10.999 s, 11 s, delay 5 s
    lines = mk([(1, 10.0, 1), (1, 3.0, 2), (1, 16.0, 3), (1, 10.5, 4), (1, 10.999, 5),
                (1, 11.0, 6)])
    rows, _ = oracle.decode(lines, "float")
    oracle.mark_late(rows, 5000, 0)
    t.eq([r.wm for r in rows], [oracle.RN_WM_MIN, 5000, 5000, 11000, 11000, 11000],
         "watermark in force per row")
    t.eq([r.line for r in rows if r.late], [2, 4, 5], "late rows, lateness 0")
    oracle.mark_late(rows, 5000, 1000)
    t.eq([r.line for r in rows if r.late], [2], "late rows, lateness 1 s")
    oracle.mark_late(rows, 0, 0)   # WATERMARK FOR ts AS ts: the watermark is 16 s after row 3
    t.eq([r.line for r in rows if r.late], [2, 4, 5, 6], "late rows, no delay")

    # TUMBLE 1 s: boundaries belong to the next window; order by end, then creation
    lines = mk([(1, 0.999, 1), (1, 1.0, 2), (2, 1.5, 3), (1, 1.999, 4), (1, 2.0, 5)])
    wins, late, _ = results(lines, 5000, 0, "tumble", size=1000)
    t.eq(brief(wins), [(0, 1000, 1, 1), (1000, 2000, 1, 2), (1000, 2000, 2, 1),
                       (2000, 3000, 1, 1)], "TUMBLE 1 s")
    wins, _, _ = results(mk([(2, 1.5, 3), (1, 1.0, 2)]), 5000, 0, "tumble", size=1000)
    t.eq(brief(wins), [(1000, 2000, 2, 1), (1000, 2000, 1, 1)], "TUMBLE creation order")
    wins, _, _ = results(lines, 5000, 0, "tumble", keyed=False, size=1000)
    t.eq(brief(wins, "window_start", "window_end", "cnt"),
         [(0, 1000, 1), (1000, 2000, 3), (2000, 3000, 1)], "TUMBLE 1 s, no key")
    # with an offset: start = floor((t - offset) / size) * size + offset
    wins, _, _ = results(mk([(1, 2.999, 1), (1, 3.0, 2), (1, 12.999, 3)]), 5000, 0, "tumble",
                         size=10000, offset=3000)
    t.eq(brief(wins), [(-7000, 3000, 1, 1), (3000, 13000, 1, 2)], "TUMBLE 10 s offset 3 s")

    # HOP slide 2 s size 10 s: a row is in 5 windows
    wins, _, _ = results(mk([(1, 12.0, 1)]), 5000, 0, "hop", slide=2000, size=10000)
    t.eq(brief(wins, "window_start", "window_end"),
         [(4000, 14000), (6000, 16000), (8000, 18000), (10000, 20000), (12000, 22000)],
         "HOP 2 s / 10 s of 12 s")
    wins, _, _ = results(mk([(1, 11.999, 1), (1, 12.0, 2)]), 5000, 0, "hop", slide=2000,
                         size=10000)
    t.eq(brief(wins, "window_start", "window_end", "cnt"),
         [(2000, 12000, 1), (4000, 14000, 2), (6000, 16000, 2), (8000, 18000, 2),
          (10000, 20000, 2), (12000, 22000, 1)], "HOP 2 s / 10 s of 11.999 s and 12 s")

    # SESSION gap 3 s: 1, 2, 7, 8 s are two sessions; 4.5 s arriving last bridges
    # them (2.5 s from both); arrival order decides FIRST/LAST_VALUE
    ses = [(1, 1.0, None), (1, 2.0, 5), (1, 7.0, 7), (1, 8.0, None)]
    wins, _, _ = results(mk(ses), 60000, 0, "session", gap=3000)
    t.eq(brief(wins, "window_start", "window_end", "cnt", "total"),
         [(1000, 5000, 2, 5), (7000, 11000, 2, 7)], "SESSION 3 s, two sessions")
    wins, _, _ = results(mk(ses + [(1, 4.5, 3)]), 60000, 0, "session", gap=3000)
    t.eq(brief(wins, "window_start", "window_end", "cnt", "total", "first_amount",
               "last_amount"), [(1000, 11000, 5, 15, 5, 3)], "SESSION merge by a bridging row")
    # exactly one gap apart: not chained (< gap); one ms less: chained
    wins, _, _ = results(mk([(2, 0.0, 1), (2, 3.0, 1), (3, 0.0, 1), (3, 2.999, 1)]), 60000, 0,
                         "session", gap=3000)
    t.eq(brief(wins), [(0, 3000, 2, 1), (0, 5999, 3, 2), (3000, 6000, 2, 1)],
         "SESSION gap boundary")
    # a late row does not merge: delay 1 s, 2 s arrives after 10 s (watermark 9 s)
    wins, late, _ = results(mk([(1, 1.0, 1), (1, 10.0, 2), (1, 2.0, 3)]), 1000, 0, "session",
                            gap=3000)
    t.eq((brief(wins), late), ([(1000, 4000, 1, 1), (10000, 13000, 1, 1)], [3]),
         "SESSION with a late row")
    # accepted with lateness 8 s: 2 s joins the first session
    wins, late, _ = results(mk([(1, 1.0, 1), (1, 10.0, 2), (1, 2.0, 3)]), 1000, 8000,
                            "session", gap=3000)
    t.eq((brief(wins), late), ([(1000, 5000, 1, 2), (10000, 13000, 1, 1)], []),
         "SESSION with an accepted late row")
    # no key: one session stream
    wins, _, _ = results(mk([(1, 1.0, 1), (2, 2.0, 1), (3, 9.0, 1)]), 60000, 0, "session",
                         keyed=False, gap=3000)
    t.eq(brief(wins, "window_start", "window_end", "cnt"), [(1000, 5000, 2), (9000, 12000, 1)],
         "SESSION without PARTITION BY")

    # aggregates: NULLs skipped, DISTINCT pages, first/last non-NULL in arrival order
    wins, _, _ = results(mk([(1, 1.0, None, "/a"), (1, 1.2, 4, "/b"), (1, 1.1, -2, "/a"),
                             (1, 1.3, None, "/c")]), 5000, 0, "tumble", size=1000)
    w = dict(wins[0])
    w.pop("_created")
    t.eq(w, {"window_start": 1000, "window_end": 2000, "user_id": 1, "cnt": 4, "pages": 3,
             "n_amount": 2, "total": 2, "min_amount": -2, "max_amount": 4, "avg_amount": 1.0,
             "first_page": "/a", "last_page": "/c", "first_amount": 4, "last_amount": -2,
             "page_at_max": "/b", "page_at_min": "/a"},
         "aggregates")
    t.eq([oracle.avg_int(v) for v in ([-3, -2], [3, 2], [-7], [5, -6])], [-2, 2, -7, 0],
         "AVG of an INT truncates toward zero")
    # MAX_BY/MIN_BY: a tie keeps the earliest-arrived row; no amount: NULL
    wins, _, _ = results(mk([(1, 1.0, None, "/n"), (1, 1.2, 5, "/x"), (1, 1.1, 5, "/y")]), 5000, 0,
                         "tumble", size=1000)
    t.eq(brief(wins, "page_at_max", "page_at_min"), [("/x", "/x")], "MAX_BY/MIN_BY ties")
    wins, _, _ = results(mk([(1, 1.0, None)]), 5000, 0, "tumble", size=1000)
    t.eq(brief(wins, "n_amount", "total", "min_amount", "avg_amount", "first_amount", "page_at_max"),
         [(0, None, None, None, None, None)], "aggregates over NULLs only")

    # timestamp strings and the dead-letter rule
    s0 = gen_events.START_MS
    for s, want in [("2024-05-01T10:00:00.123Z", s0 + 123), ("2024-05-01 10:00:00", s0),
                    ("2024-05-01T10:00:00.123999Z", s0 + 123), ("2024-05-01T10:00", s0),
                    ("2024-05-01T12:00:00+02:00", s0), ("2024-05-01", s0 - 36000000),
                    ("2024-02-29T00:00:00Z", 1709164800000), ("2024-02-30T10:00:00Z", None),
                    ("2023-02-29T10:00:00Z", None), ("2024-05-01T24:00:00", None),
                    ("not a time", None), ("", None), ("2024-05-01T10:00:00Zx", None)]:
        t.eq(oracle.parse_timestamp_string(s), want, "timestamp string %r" % s)
    rows, dead = oracle.decode(['{"user_id":1,"page":"/p"}', '{"user_id":1,"timestamp":null}',
                                '{"user_id":1,"timestamp":"x"}',
                                '{"user_id":1,"timestamp":"2024-05-01T10:00:00Z"}'], "iso")
    t.eq((dead, [r.line for r in rows]), ([1, 2, 3], [4]), "NULL rowtime rows are dead letters")

    # the comparison code must notice wrong answers
    lines = mk([(1, 0.999, 1), (1, 1.0, 2), (2, 1.5, None), (1, 1.999, 4), (1, 2.0, 5)])
    wins, _, _ = results(lines, 5000, 0, "tumble", size=1000)
    q = Query("t", "tumble", size=1000)
    out = [{c: w[c] for c in q.cols} for w in wins]
    t.eq(oracle.compare_windows(wins, out, q.key_cols, q.cols), [], "compare: equal")
    t.eq(oracle.check_order(wins, out, q.key_cols, True), [], "order: equal")
    bad = [dict(d) for d in out]
    bad[1]["cnt"] += 1
    t.true(oracle.compare_windows(wins, bad, q.key_cols, q.cols), "compare: changed count")
    bad = [dict(d) for d in out]
    bad[1]["total"] = float(bad[1]["total"])
    t.true(oracle.compare_windows(wins, bad, q.key_cols, q.cols), "compare: 3 vs 3.0")
    bad = [dict(d) for d in out]
    bad[0]["avg_amount"] = bad[0]["avg_amount"] * (1 + 1e-12)
    t.eq(oracle.compare_windows(wins, bad, q.key_cols, q.cols), [], "compare: DOUBLE tolerance")
    bad[0]["avg_amount"] = bad[0]["avg_amount"] + 0.001
    t.true(oracle.compare_windows(wins, bad, q.key_cols, q.cols), "compare: AVG off")
    t.true(oracle.compare_windows(wins, out[1:], q.key_cols, q.cols), "compare: missing window")
    t.true(oracle.compare_windows(wins, out + out[:1], q.key_cols, q.cols),
           "compare: window emitted twice")
    extra = dict(out[0], window_start=5000, window_end=6000)
    t.true(oracle.compare_windows(wins, out + [extra], q.key_cols, q.cols),
           "compare: unexpected window")
    t.true(oracle.check_order(wins, [out[0], out[2], out[1], out[3]], q.key_cols, True),
           "order: equal window_end out of creation order")
    t.eq(oracle.check_order(wins, [out[0], out[2], out[1], out[3]], q.key_cols, False), [],
         "order: sessions only need window_end not to decrease")
    t.true(oracle.check_order(wins, [out[1], out[0], out[2], out[3]], q.key_cols, False),
           "order: decreasing window_end")
    # upsert replay: a merged session replaces two keys; without the deletes it is wrong
    def up(d, value=True):
        return json.dumps({"key": {c: d[c] for c in q.key_cols}, "value": d if value else None})
    a = dict(out[0], window_start=1000, window_end=5000)
    b = dict(out[0], window_start=7000, window_end=11000)
    m = dict(out[0], window_start=1000, window_end=11000, cnt=5)
    got, pr = oracle.replay_upsert([up(a), up(b), up(a, False), up(b, False), up(m)], q.key_cols)
    t.eq((got, pr), ([m], []), "upsert replay with deletes")
    got, pr = oracle.replay_upsert([up(a), up(b), up(m)], q.key_cols)
    t.true(oracle.compare_windows([dict(m, _created=0)], got, q.key_cols, q.cols),
           "upsert: stale sessions left behind are noticed")
    got, pr = oracle.replay_upsert([json.dumps({"key": {"window_start": 1}, "value": None})],
                                   q.key_cols)
    t.true(pr, "upsert: a key without all key columns is noticed")
    late = [{"user_id": 1, "page": "/p", "amount": None, "timestamp": 1.5, "ts": 1500,
             "note": None}]
    t.eq(oracle.compare_rows_multiset(late, late, "late", LATE_COLS), [], "late rows: equal")
    t.true(oracle.compare_rows_multiset(late, late + late, "late", LATE_COLS),
           "late rows: duplicated")
    t.true(oracle.compare_rows_multiset(late, [dict(late[0], timestamp=1500)], "late", LATE_COLS),
           "late rows: 1500 vs 1.5")
    t.true(oracle.compare_rows_multiset(late, [], "late", LATE_COLS), "late rows: missing")
    t.true(check_dlq([2], [], ["a", "b"]), "dlq: missing line")
    t.eq(check_dlq([2], [json.dumps({"source": "user_events", "file": "f", "line": 2,
                                     "error": "event time column 'ts' is NULL", "value": "b"})],
                   ["a", "b"]), [], "dlq: right")

    # the generator: deterministic, and its data has what the tests need
    for fmt in ("float", "iso"):
        a = gen_events.generate(5, 3000, fmt=fmt, lateness_ms=2000, missing_ts_frac=0.003)
        b = gen_events.generate(5, 3000, fmt=fmt, lateness_ms=2000, missing_ts_frac=0.003)
        c = gen_events.generate(6, 3000, fmt=fmt, lateness_ms=2000, missing_ts_frac=0.003)
        t.eq(a == b, True, "generator %s: same seed, same lines" % fmt)
        t.eq(a == c, False, "generator %s: another seed, other lines" % fmt)
        t.eq(len(a), 3000, "generator %s: count" % fmt)
    for fmt, lateness in (("float", 2000), ("iso", 0)):
        lines = gen_events.generate(3, 20000, fmt=fmt, lateness_ms=lateness,
                                    missing_ts_frac=0.003)
        rows, dead = oracle.decode(lines, fmt)
        oracle.mark_late(rows, 5000, lateness)
        late = [r for r in rows if r.late]
        what = "generator %s lateness %d: " % (fmt, lateness)
        t.true(dead, what + "rows without a rowtime")
        t.true(len(late) > 100, what + "late rows (%d)" % len(late))
        if lateness:
            acc = [r for r in rows if not r.late and r.rowtime < r.wm]
            t.true(len(acc) > 50, what + "accepted rows behind the watermark (%d)" % len(acc))
            upd = [r for r in acc if oracle.tumble_of(r.rowtime, 1000)[0][1] <= r.wm]
            t.true(len(upd) > 50, what + "rows that update a fired 1 s window (%d)" % len(upd))
        on = [r for r in rows if r.rowtime == r.wm - lateness]
        below = [r for r in rows if r.rowtime == r.wm - lateness - 1]
        t.true(len(on) >= 10 and len(below) >= 10,
               what + "rows on the lateness threshold (%d) and 1 ms below (%d)"
               % (len(on), len(below)))
        t.true(sum(1 for r in rows if r.rowtime % 1000 == 0) > 100, what + "whole seconds")
        ok = [r for r in rows if not r.late]
        for gap in (3000, 20000):
            batch = oracle.sessions(ok, gap, True)
            online, merges, fired = online_sessions(ok, gap)
            if lateness:
                t.true(fired >= 5, what + "rows that change a fired session, gap %d (%d)"
                       % (gap, fired))
            t.eq(sorted((k, sorted(r.line for r in v)) for k, v in batch.items()),
                 sorted(online.items()), what + "batch and incremental sessions, gap %d" % gap)
            per_user = len(batch) / 20.0
            t.true(per_user > 5, what + "sessions per user, gap %d (%.1f)" % (gap, per_user))
            t.true(merges >= 5, what + "rows that merge two sessions, gap %d (%d)" % (gap, merges))
            # sessions exactly one gap apart (touching) and one ms closer
            by_user = {}
            for r in ok:
                by_user.setdefault(r.user_id, []).append(r.rowtime)
            diffs = [b - a for ts in by_user.values() for a, b in zip(sorted(ts), sorted(ts)[1:])]
            t.true(diffs.count(gap) >= 3 and diffs.count(gap - 1) >= 3,
                   what + "consecutive rows exactly %d ms (%d) and %d ms (%d) apart"
                   % (gap, diffs.count(gap), gap - 1, diffs.count(gap - 1)))
        allses = oracle.sessions(ok, 3000, False)
        t.true(len(allses) > 5, what + "sessions of all rows, gap 3 s (%d)" % len(allses))
        t.true(any(r.page == VIEW_FILTER_PAGE for r in rows), what + "rows the view drops")
        for q in QUERIES:
            wins, lrows = q.expected(rows)
            t.true(wins, what + "%s has windows" % q.name)
            t.true(lrows, what + "%s has late rows" % q.name)

    # every configuration renders
    for cfg in configs(1, [2000, 20000]) + configs(2, [2000]):
        sql = pipeline_sql(cfg, QUERIES, "self-test")
        t.true("WATERMARK FOR ts AS" in sql and sql.count("INSERT INTO") == len(QUERIES),
               "pipeline for %s" % cfg_name(cfg))

    if t.failures:
        print("window oracle self-test: %d of %d checks FAILED" % (t.failures, t.checks))
        return 1
    print("window oracle self-test: %d checks ok" % t.checks)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runnel", nargs="?")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sizes", default="2000,20000", help="row counts, comma-separated")
    ap.add_argument("--only", help="run only these queries (comma-separated names)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        return self_test(args)
    if not args.runnel:
        ap.error("RUNNEL is required (or --self-test)")
    return run_with_runnel(args)


if __name__ == "__main__":
    sys.exit(main())
