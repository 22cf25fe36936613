#!/usr/bin/env python3
"""Which window aggregates are pre-aggregated before their repartition
topic (docs/scale-out.md, "Pre-aggregation before the repartition topic"),
as `runnel explain` shows it under each 'table.optimizer.agg-phase-strategy':
AUTO (default) and TWO_PHASE combine a window aggregate without GROUP BY
keys (Nexmark q7's MAX per window: every row to one place) and one with
keys (q5's count per auction, which explain prints on both sides of its
join: one operator, reused); ONE_PHASE neither; a window with
COUNT(DISTINCT) never; an unknown value is refused.

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


def expect(name, path, setting, combines):
    p = explain(os.path.join(ROOT, path), setting)
    if p.returncode:
        failures.append("%s: runnel explain exited %d: %s" % (name, p.returncode, p.stderr))
        return None
    got = p.stdout.count("WindowCombine:")
    if got != combines:
        failures.append("%s: %d WindowCombine operators, want %d:\n%s" % (name, got, combines, p.stdout))
    elif combines:
        lines = p.stdout.splitlines()
        for i, line in enumerate(lines):
            if "WindowCombine:" in line and "Exchange:" not in lines[i - 1]:
                failures.append("%s: a WindowCombine not right under an Exchange:\n%s" % (name, p.stdout))
    print("%s: %d combiner(s)" % (name, got))
    return operators(p.stdout)


expect("q7 AUTO", "bench/nexmark/q7.sql", None, 1)
expect("q7 ONE_PHASE", "bench/nexmark/q7.sql", "ONE_PHASE", 0)
q5_auto = expect("q5 AUTO", "bench/nexmark/q5.sql", None, 2)
expect("q5 TWO_PHASE", "bench/nexmark/q5.sql", "two_phase", 2)
q5_one = expect("q5 ONE_PHASE", "bench/nexmark/q5.sql", "ONE_PHASE", 0)
# the two sides' count per auction are one chain of operators (plan/reuse.c),
# combiner included: one operator more than without it, not a second chain
if q5_auto is not None and q5_one is not None and q5_auto != q5_one + 1:
    failures.append("q5: %d operators with the combiner, %d without: the combiner was not reused" % (q5_auto, q5_one))
# COUNT(DISTINCT) cannot be merged from partials
os.environ.update({"IN_TOPIC": "in", "OUT_TOPIC": "out", "GROUP": "g", "INSTANCE": "i"})
expect("tumble with COUNT(DISTINCT)", "tests/kafka/pipelines/scaleout_tumble.sql", "TWO_PHASE", 0)
p = explain(os.path.join(ROOT, "bench/nexmark/q7.sql"), "THREE_PHASE")
if p.returncode == 0 or "expected 'AUTO', 'TWO_PHASE' or 'ONE_PHASE', not 'THREE_PHASE'" not in p.stderr:
    failures.append("an unknown strategy was not refused as it should be: rc %d, %s" % (p.returncode, p.stderr))
if failures:
    sys.exit("FAIL:\n" + "\n".join(failures))
print("ok")
