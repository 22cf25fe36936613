#!/usr/bin/env python3
"""Which window aggregates and GROUP BYs are pre-aggregated before their
repartition topic (docs/scale-out.md, "Pre-aggregation before the
repartition topic"), as `runnel explain` shows it under each
'table.optimizer.agg-phase-strategy': AUTO (default) and TWO_PHASE combine
a window aggregate without GROUP BY keys (Nexmark q7's MAX per window:
every row to one place), one with keys (q5's count per auction, which
explain prints on both sides of its join: one operator, reused) and one
over the windows its rows carry (q5's MAX per window of those counts);
ONE_PHASE none; a window with COUNT(DISTINCT) never; an unknown value is refused.
A GROUP BY (page_views: COUNT(*) and COUNT(DISTINCT)) gets a GroupCombine
under AUTO, none under ONE_PHASE, none over an updating input, with AVG,
or without an Exchange (a file read by one process), and sends its
distinct values once per batch under a state TTL.

  python3 tests/cli/test_agg_phase.py RUNNEL
"""
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNNEL = sys.argv[1]
failures = []


def explain(path, setting=None):
    with open(path) as f:
        sql = f.read()
    if setting:
        sql = "SET 'table.optimizer.agg-phase-strategy' = '%s';\n%s" % (setting, sql)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(sql)
    try:
        p = subprocess.run([RUNNEL, "explain", f.name], capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    return p


def operators(out):
    """The operator count of explain's last line ("... N operators")."""
    return int(out.strip().splitlines()[-1].split()[-2])


def expect(name, path, setting, combines, kind="WindowCombine", text=None):
    if text is not None:
        with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
            f.write(text)
        try:
            p = explain(f.name, setting)
        finally:
            os.unlink(f.name)
    else:
        p = explain(os.path.join(ROOT, path), setting)
    if p.returncode:
        failures.append("%s: runnel explain exited %d: %s" % (name, p.returncode, p.stderr))
        return None
    got = p.stdout.count(kind + ":")
    if got != combines:
        failures.append("%s: %d %s operators, want %d:\n%s" % (name, got, kind, combines, p.stdout))
    elif combines:
        lines = p.stdout.splitlines()
        for i, line in enumerate(lines):
            if kind + ":" in line and "Exchange:" not in lines[i - 1]:
                failures.append("%s: a %s not right under an Exchange:\n%s" % (name, kind, p.stdout))
    print("%s: %d combiner(s)" % (name, got))
    p.operators = operators(p.stdout)
    return p


expect("q7 AUTO", "bench/nexmark/q7.sql", None, 1)
expect("q7 ONE_PHASE", "bench/nexmark/q7.sql", "ONE_PHASE", 0)
q5_auto = expect("q5 AUTO", "bench/nexmark/q5.sql", None, 3)
expect("q5 TWO_PHASE", "bench/nexmark/q5.sql", "two_phase", 3)
q5_one = expect("q5 ONE_PHASE", "bench/nexmark/q5.sql", "ONE_PHASE", 0)
# the two sides' count per auction are one chain of operators (plan/reuse.c),
# combiner included: one operator more than without it, not a second chain;
# and one more for the MAX per window over those counts (a given window)
if q5_auto is not None and q5_one is not None and q5_auto.operators != q5_one.operators + 2:
    failures.append("q5: %d operators with the combiner, %d without: the combiner was not reused"
                    % (q5_auto.operators, q5_one.operators))
# COUNT(DISTINCT) cannot be merged from partials
os.environ.update({"IN_TOPIC": "in", "OUT_TOPIC": "out", "GROUP": "g", "INSTANCE": "i"})
expect("tumble with COUNT(DISTINCT)", "tests/kafka/pipelines/scaleout_tumble.sql", "TWO_PHASE", 0)

# GROUP BY (op/group_combine.c)
pv = expect("page_views AUTO", "examples/page_views.sql", None, 1, "GroupCombine")
if pv is not None and "GroupAggregate: group by [page_id], aggregates [SUM(views) AS views, " \
        "COUNT(DISTINCT user_id) AS users]" not in pv.stdout:
    failures.append("page_views: the aggregate after the Exchange does not merge partials:\n" + pv.stdout)
expect("page_views ONE_PHASE", "examples/page_views.sql", "ONE_PHASE", 0, "GroupCombine")
EVENTS = ("CREATE TABLE ev (k INT, x BIGINT, s STRING) WITH ('connector' = 'kafka', 'topic' = 'ev', "
          "'format' = 'json'%s);\n")
OUT = "CREATE TABLE o (k INT, a BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH ('connector' = 'blackhole');\n"
expect("GROUP BY with AVG", None, None, 0, "GroupCombine",
       EVENTS % "" + OUT + "INSERT INTO o SELECT k, AVG(x) FROM ev GROUP BY k;")
expect("GROUP BY over files (one process reads all: no Exchange)", None, None, 0, "GroupCombine",
       "CREATE TABLE ev (k INT, x BIGINT) WITH ('connector' = 'filesystem', 'path' = 'ev.jsonl', "
       "'format' = 'json');\n" + OUT + "INSERT INTO o SELECT k, COUNT(*) FROM ev GROUP BY k;")
expect("GROUP BY over an updating input", None, None, 0, "GroupCombine",
       "CREATE TABLE up (id INT, k INT, PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', "
       "'topic' = 'up', 'key.format' = 'json', 'value.format' = 'json');\n" + OUT +
       "INSERT INTO o SELECT k, COUNT(*) FROM up GROUP BY k;")
ttl = expect("GROUP BY with a state TTL", None, None, 1, "GroupCombine",
             "SET 'table.exec.state.ttl' = '1 h';\n" + EVENTS % "" + OUT +
             "INSERT INTO o SELECT k, COUNT(DISTINCT s) FROM ev GROUP BY k;")
if ttl is not None and "once per batch (state ttl)" not in ttl.stdout:
    failures.append("a GroupCombine under a state TTL does not say it forgets sent values:\n" + ttl.stdout)

p = explain(os.path.join(ROOT, "bench/nexmark/q7.sql"), "THREE_PHASE")
if p.returncode == 0 or "expected 'AUTO', 'TWO_PHASE' or 'ONE_PHASE', not 'THREE_PHASE'" not in p.stderr:
    failures.append("an unknown strategy was not refused as it should be: rc %d, %s" % (p.returncode, p.stderr))
if failures:
    sys.exit("FAIL:\n" + "\n".join(failures))
print("ok")
