#!/usr/bin/env python3
"""run_oracle.py - random SQL queries checked against a batch computation.

    run_oracle.py RUNNEL --seed S --queries N [--count C] [--keep]
    run_oracle.py --self-test [--seed S --queries N]

With RUNNEL: generates data with `RUNNEL gen s5` and `RUNNEL gen s2`, writes
a copy with a few malformed lines and dropped/null fields, then for each of
N random queries (oracle.py) writes a pipeline, runs `RUNNEL test`, and
compares the sink with the Python batch answer: append sinks as multisets of
rows, upsert sinks by replaying the changes into a table (last value per
key, null = delete); DOUBLEs with relative tolerance 1e-9, everything else
exactly, including JSON types (5 vs 5.0). The dead-letter file must list
exactly the malformed lines. On a mismatch it prints the SQL and the first
differing rows, keeps the work directory, and exits 1.

--self-test needs no runnel: it checks the oracle itself by running the same
queries on SQLite (Python's sqlite3) over synthetic data and comparing with
the Python answers through the same comparison code, and checks that the
comparison catches a wrong value, a missing row and a missing delete.
"""
import argparse
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle  # noqa: E402
from oracle import BOOLEAN, DOUBLE, SOURCES  # noqa: E402

TIMEOUT_S = 120
GEN = [("s5", ["user-events", "purchases"]), ("s2", ["user-activity"])]


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT_S,
                          **kw)


def read_lines(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


def prepare_inputs(work, rnd, make_file):
    """make_file(scenario, topic) -> path of a clean generated file. Writes
    corrupted copies to work/input and returns ({topic: rows}, {topic: bad})."""
    in_dir = os.path.join(work, "input")
    os.makedirs(in_dir, exist_ok=True)
    rows, bad = {}, {}
    for scen, topics in GEN:
        for topic in topics:
            src = make_file(scen, topic)
            dst = os.path.join(in_dir, topic + ".jsonl")
            made_bad = oracle.corrupt_file(src, dst, SOURCES[topic], rnd)
            rows[topic], bad[topic] = oracle.load_rows(dst, SOURCES[topic])
            if bad[topic] != made_bad:
                raise SystemExit(
                    "oracle: %s: lines the oracle rejects %s differ from the lines it corrupted "
                    "%s; the generator's output does not match SCENARIOS.md or the oracle's "
                    "conversion rules" % (topic, bad[topic][:10], made_bad[:10]))
            if len(rows[topic]) < 10:
                raise SystemExit("oracle: %s: only %d usable rows" % (topic, len(rows[topic])))
    return rows, bad


def check_dlq(q, bad, dlq_lines):
    problems, got = [], []
    for n, line in enumerate(dlq_lines, 1):
        try:
            obj = json.loads(line)
            got.append(obj["line"])
            if obj.get("source") != q.source.table:
                problems.append("dlq line %d: source %r, expected %r"
                                % (n, obj.get("source"), q.source.table))
            for k in ("file", "error", "value"):
                if not isinstance(obj.get(k), str):
                    problems.append("dlq line %d: %r is not a string" % (n, k))
        except (ValueError, KeyError, TypeError) as e:
            problems.append("dlq line %d is not a dead-letter record (%s): %r" % (n, e, line))
    if sorted(got) != bad:
        problems.append("dead-lettered lines %s, expected %s" % (sorted(got)[:20], bad[:20]))
    return problems[:10]


def run_with_runnel(args):
    runnel = os.path.abspath(args.runnel)
    rnd = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="runnel-oracle-%d-" % args.seed)

    def make_file(scen, topic):
        out = os.path.join(work, "gen-" + scen)
        if not os.path.isdir(out):
            count = args.count if scen == "s5" else max(200, args.count // 2)
            p = run([runnel, "gen", scen, "--count", str(count), "--seed", str(args.seed),
                     "--out", out])
            if p.returncode != 0:
                raise SystemExit("oracle: runnel gen %s failed (%d):\n%s"
                                 % (scen, p.returncode, p.stderr.decode(errors="replace")))
        path = os.path.join(out, topic + ".jsonl")
        if not os.path.exists(path):
            raise SystemExit("oracle: runnel gen %s wrote no %s" % (scen, path))
        return path

    rows, bad = prepare_inputs(work, rnd, make_file)
    failures = 0
    for i in range(args.queries):
        q = oracle.random_query(rnd, rows)
        qrows, qbad = rows[q.source.topic], bad[q.source.topic]
        if args.dlq_unread_ok:
            unread = {c for c, _ in q.source.columns} - q.source_columns()
            qrows, qbad = oracle.load_rows(os.path.join(work, "input", q.source.topic + ".jsonl"),
                                           q.source, unread)
        expected = q.expected(qrows)
        qdir = os.path.join(work, "q%03d" % i)
        os.makedirs(qdir)
        sql_path = os.path.join(qdir, "pipeline.sql")
        with open(sql_path, "w") as f:
            f.write("-- oracle seed %d query %d (%s)\n" % (args.seed, i, q.kind) + q.flink_sql())
        out = os.path.join(qdir, "out")
        cmd = [runnel, "test", sql_path, "--input", os.path.join(work, "input"), "--output", out]
        try:
            p = run(cmd)
        except subprocess.TimeoutExpired:
            problems, p = ["runnel test did not finish in %d s" % TIMEOUT_S], None
        else:
            problems = []
            if p.returncode != 0:
                problems.append("runnel test exited %d:\n%s"
                                % (p.returncode, p.stderr.decode(errors="replace")[-3000:]))
            else:
                lines = read_lines(os.path.join(out, q.SINK_TOPIC + ".jsonl"))
                problems += oracle.check_output(q, expected, lines)
                dlq = check_dlq(q, qbad, read_lines(os.path.join(out, "_runnel", "dead-letters.jsonl")))
                if dlq and not args.dlq_unread_ok:
                    unread = {c for c, _ in q.source.columns} - q.source_columns()
                    _, lenient = oracle.load_rows(
                        os.path.join(work, "input", q.source.topic + ".jsonl"), q.source, unread)
                    only = sorted(set(qbad) - set(lenient))
                    if only:
                        dlq.append("note: lines %s hold a bad value only in columns this query "
                                   "does not read (%s); the contract says they are dead-lettered "
                                   "anyway. --dlq-unread-ok accepts that they are not."
                                   % (only[:10], ", ".join(sorted(unread))))
                problems += dlq
        if problems:
            failures += 1
            print("FAIL query %d (seed %d): %s\n%s" % (i, args.seed, sql_path, q.flink_sql()))
            print("$ " + " ".join(cmd))
            for pr in problems:
                print("  " + pr)
        else:
            shutil.rmtree(qdir)
    if failures:
        print("oracle seed %d: %d of %d queries FAILED; work directory kept: %s"
              % (args.seed, failures, args.queries, work))
        return 1
    if args.keep:
        print("work directory kept: %s" % work)
    else:
        shutil.rmtree(work)
    print("oracle seed %d: %d queries ok" % (args.seed, args.queries))
    return 0


# ---- self-test --------------------------------------------------------------

def synth(path, topic, rnd, n):
    """Synthetic lines shaped like runnel gen's s5 / s2 output."""
    pages = ["/home", "/cart", "/products/%d", "/search?q=x", "/about", "/Blog/Post-%d"]
    with open(path, "w") as f:
        for i in range(n):
            ts = round(1714557600 + i * 0.731 + rnd.random(), 3)
            if topic == "user-events":
                r = {"event_type": rnd.choice(["page-view", "click", "purchase"]),
                     "user_id": rnd.randint(1, 20), "page_id": rnd.randint(1, 100), "timestamp": ts}
            elif topic == "purchases":
                r = {"amount": rnd.randint(1, 500), "user_id": rnd.randint(1, 20),
                     "page_id": rnd.randint(1, 100), "timestamp": int(ts)}
            else:
                pg = rnd.choice(pages)
                r = {"user_id": rnd.randint(100, 130), "action": rnd.choice(["view", "click",
                                                                              "purchase"]),
                     "page": pg % rnd.randint(1, 40) if "%d" in pg else pg,
                     "timestamp": "2023-10-01T12:%02d:%02dZ" % (i // 60 % 60, i % 60)}
            f.write(json.dumps(r) + "\n")
    return path


def sqlite_lines(q, rows):
    """Runs q on SQLite and renders the result the way runnel writes it."""
    db = sqlite3.connect(":memory:")
    db.execute("PRAGMA case_sensitive_like = ON")
    src = q.source
    names = [n for n, _ in src.columns]
    db.execute("CREATE TABLE %s (%s)" % (src.table, ", ".join('"%s"' % n for n in names)))
    db.executemany("INSERT INTO %s VALUES (%s)" % (src.table, ", ".join("?" * len(names))),
                   [[r[n] for n in names] for r in rows])
    out = []
    for r in db.execute(q.sqlite_sql()):
        r = [bool(v) if t == BOOLEAN and v is not None else
             float(v) if t == DOUBLE and v is not None else v for v, t in zip(r, q.types)]
        value = dict(zip(q.columns, r))
        if q.kind == "append":
            out.append(json.dumps(value, ensure_ascii=False))
        else:
            key = dict(zip(q.pk, r))
            out.append(json.dumps({"key": key, "value": value}, ensure_ascii=False))
    return out


def self_test(args):
    rnd = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="runnel-oracle-selftest-")
    rows, bad = prepare_inputs(work, rnd, lambda scen, topic: synth(
        os.path.join(work, "clean-" + topic + ".jsonl"), topic, rnd, 1500))
    failures = 0
    kinds = {}
    for i in range(args.queries):
        q = oracle.random_query(rnd, rows)
        shape = "nested" if q.view is not None else q.kind
        kinds[shape] = kinds.get(shape, 0) + 1
        expected = q.expected(rows[q.source.topic])
        lines = sqlite_lines(q, rows[q.source.topic])
        problems = oracle.check_output(q, expected, lines)
        # The comparison must be able to fail: corrupt SQLite's answer.
        if lines:
            mutated = list(lines)
            j = rnd.randrange(len(mutated))
            obj = json.loads(mutated[j])
            tgt = obj if q.kind == "append" else obj["value"]
            col = q.columns[-1]
            tgt[col] = None if tgt[col] is not None else 12345
            mutated[j] = json.dumps(obj)
            if not oracle.check_output(q, expected, mutated):
                problems.append("comparison missed a changed value in line %d" % (j + 1))
            if q.kind == "append" and not oracle.check_output(q, expected, lines[1:]):
                problems.append("comparison missed a missing row")
            if q.kind == "upsert":
                k = json.loads(lines[0])["key"]
                dropped = lines + [json.dumps({"key": k, "value": None})]
                if not oracle.check_output(q, expected, dropped):
                    problems.append("comparison missed a deleted key")
        if problems:
            failures += 1
            print("SELF-TEST FAIL query %d\n--- flink ---\n%s--- sqlite ---\n%s"
                  % (i, q.flink_sql(), q.sqlite_sql()))
            for pr in problems:
                print("  " + pr)
    dlq_ok = check_dlq(type("Q", (), {"source": SOURCES["purchases"]}),
                       bad["purchases"],
                       [json.dumps({"source": "purchases", "file": "f", "line": n,
                                    "error": "e", "value": "v"}) for n in bad["purchases"]])
    dlq_bad = check_dlq(type("Q", (), {"source": SOURCES["purchases"]}),
                        bad["purchases"], [])
    if dlq_ok or not dlq_bad:
        failures += 1
        print("SELF-TEST FAIL dead-letter check: %s / %s" % (dlq_ok, dlq_bad))
    shutil.rmtree(work)
    if failures:
        print("oracle self-test: %d FAILED" % failures)
        return 1
    print("oracle self-test: %d queries agree with SQLite %s" % (args.queries, kinds))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runnel", nargs="?")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--count", type=int, default=3000, help="s5 events to generate")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--dlq-unread-ok", action="store_true",
                    help="accept that a bad value in a column the query does not read is "
                         "not dead-lettered (the contract says it must be)")
    args = ap.parse_args()
    if args.self_test:
        return self_test(args)
    if not args.runnel:
        ap.error("RUNNEL is required (or --self-test)")
    return run_with_runnel(args)


if __name__ == "__main__":
    sys.exit(main())
