#!/usr/bin/env python3
"""Several pipelines in one process (`runnel run a.sql b.sql`) and table
overrides (`--set TABLE.OPTION=VALUE`, `--connector TABLE=NAME`). Each test
is one CTest (cli.run_many.NAME):

  python3 test_run_many.py RUNNEL NAME
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

RUNNEL = None


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def run(args, cwd, timeout=60):
    p = subprocess.run([RUNNEL] + args, cwd=cwd, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def rows(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def events(n, base):
    return "".join(json.dumps({"user_id": base + i % 7, "page": "p%d" % (i % 5)}) + "\n" for i in range(n))


FILTER = """
CREATE TABLE src (user_id INT, page STRING) WITH ('connector' = 'filesystem', 'path' = '%s');
CREATE TABLE dst (user_id INT, page STRING) WITH ('connector' = 'filesystem', 'path' = '%s');
INSERT INTO dst SELECT user_id, page FROM src WHERE page <> 'p0';
"""

# Its sink is Redis on a port nothing listens on: run unchanged, it fails.
REDIS = """
CREATE TABLE src (user_id INT, page STRING) WITH ('connector' = 'filesystem', 'path' = '%s');
CREATE TABLE hits (user_id INT, page STRING) WITH (
  'connector' = 'redis', 'url' = 'redis://127.0.0.1:1/0', 'command' = 'HSET', 'key' = 'hits',
  'field.column' = 'page', 'value.column' = 'user_id', 'sink.max-retries' = '0');
INSERT INTO hits SELECT user_id, page FROM src WHERE user_id > 103;
"""

ENDLESS = """
CREATE TABLE ev (event_type STRING, user_id INT, page_id INT, `timestamp` DOUBLE)
  WITH ('connector' = 'datagen', 'scenario' = 's5', 'rows-per-second' = '2000');
CREATE TABLE out (user_id INT) WITH ('connector' = 'blackhole');
INSERT INTO out SELECT user_id FROM ev;
"""


def test_two_pipelines(d):
    """Two pipelines over files, each with its own output, both right."""
    write(os.path.join(d, "in1.jsonl"), events(100, 0))
    write(os.path.join(d, "in2.jsonl"), events(50, 100))
    write(os.path.join(d, "one.sql"), FILTER % ("in1.jsonl", "out1.jsonl"))
    write(os.path.join(d, "two.sql"), FILTER % ("in2.jsonl", "out2.jsonl"))
    rc, _, err = run(["run", "one.sql", "two.sql", "--dlq", "dlq.jsonl"], d)
    check(rc == 0, "rc %d: %s" % (rc, err))
    for name, n, base in (("out1.jsonl", 100, 0), ("out2.jsonl", 50, 100)):
        want = [json.loads(line) for line in events(n, base).splitlines()]
        want = [r for r in want if r["page"] != "p0"]
        check(rows(os.path.join(d, name)) == want, "%s differs from the input filtered" % name)
    check("runnel: pipeline one:" in err and "runnel: pipeline two:" in err, "no summary per pipeline: %r" % err)
    check("sink dst: 80 records written" in err and "sink dst: 40 records written" in err, err)


def test_overrides(d):
    """--connector replaces the Redis sink by a file (dropping the Redis
    options, named in the log) and --set gives it its path; the other
    pipeline is unchanged. `runnel test` takes and checks both options too."""
    write(os.path.join(d, "in1.jsonl"), events(100, 0))
    write(os.path.join(d, "in2.jsonl"), events(50, 100))
    write(os.path.join(d, "one.sql"), FILTER % ("in1.jsonl", "out1.jsonl"))
    write(os.path.join(d, "redis.sql"), REDIS % "in2.jsonl")
    rc, _, err = run(["run", "one.sql", "redis.sql", "--connector", "hits=filesystem",
                      "--set", "hits.path=hits.jsonl", "--dlq", "dlq.jsonl"], d)
    check(rc == 0, "rc %d: %s" % (rc, err))
    check("connector 'redis' replaced by 'filesystem'" in err and "'url', 'command', 'key'" in err,
          "the dropped options are not named: %r" % err)
    check("'sink.max-retries'" not in err.split("dropped:")[1].splitlines()[0], "an option every sink takes was dropped")
    got = rows(os.path.join(d, "hits.jsonl"))
    want = [json.loads(line) for line in events(50, 100).splitlines()]
    check(got == [r for r in want if r["user_id"] > 103], "hits.jsonl: %r" % got[:5])
    check(len(rows(os.path.join(d, "out1.jsonl"))) == 80, "the other pipeline's output is wrong")
    # --set replacing an option the file has: the path of 'dst'.
    rc, _, err = run(["run", "one.sql", "--set", "dst.path=other.jsonl", "--dlq", "dlq.jsonl"], d)
    check(rc == 0 and len(rows(os.path.join(d, "other.jsonl"))) == 80, "rc %d %s" % (rc, err))
    # Mistakes are refused before anything runs.
    for args, want in ((["--set", "nosuch.path=x"], "no table 'nosuch'"),
                       (["--set", "dst.path"], "expected TABLE.OPTION=VALUE"),
                       (["--connector", "dst"], "expected TABLE=CONNECTOR"),
                       (["--connector", "dst=nope"], "unknown connector 'nope'"),
                       (["--set", "dst.pathh=x"], "did you mean 'path'")):
        rc, _, err = run(["run", "one.sql"] + args, d)
        check(rc == 2 and want in err, "%s: rc %d %r" % (args, rc, err))
        rc, _, err = run(["test", "one.sql", "--input", d, "--output", os.path.join(d, "t")] + args, d)
        check(rc == 2 and want in err, "test %s: rc %d %r" % (args, rc, err))
    # `runnel test` takes them too: its sink made a print table, its rows in OUT/dst.jsonl.
    tin = os.path.join(d, "tin")
    os.mkdir(tin)
    write(os.path.join(tin, "src.jsonl"), events(100, 0))
    write(os.path.join(d, "blackhole.sql"), FILTER.replace("'connector' = 'filesystem', 'path' = '%s');\nINSERT",
                                                           "'connector' = 'blackhole');\nINSERT") % "x")
    rc, _, err = run(["test", "blackhole.sql", "--input", tin, "--output", os.path.join(d, "tout"),
                      "--connector", "dst=print"], d)
    check(rc == 0 and len(rows(os.path.join(d, "tout", "dst.jsonl"))) == 80, "test --connector: rc %d %r" % (rc, err))


def test_same_name_refused(d):
    """Two files of one name would share Kafka consumer groups: refused."""
    os.mkdir(os.path.join(d, "x"))
    write(os.path.join(d, "in1.jsonl"), events(10, 0))
    write(os.path.join(d, "one.sql"), FILTER % ("in1.jsonl", "o1.jsonl"))
    write(os.path.join(d, "x", "one.sql"), FILTER % ("in1.jsonl", "o2.jsonl"))
    rc, _, err = run(["run", "one.sql", "x/one.sql"], d)
    check(rc == 2 and "two pipelines are named 'one'" in err, "rc %d %r" % (rc, err))
    rc, _, err = run(["run", "one.sql", "x/one.sql", "--workers", "2"], d)
    check(rc == 2 and "--workers" in err, "rc %d %r" % (rc, err))


def test_failure_stops_all(d):
    """One pipeline fails (Redis unreachable): the endless other one is
    stopped, the run exits 1 naming the failed pipeline."""
    write(os.path.join(d, "in2.jsonl"), events(50, 100))
    write(os.path.join(d, "redis.sql"), REDIS % "in2.jsonl")
    write(os.path.join(d, "endless.sql"), ENDLESS)
    t0 = time.monotonic()
    rc, _, err = run(["run", "endless.sql", "redis.sql", "--dlq", "dlq.jsonl"], d, timeout=60)
    check(rc == 1, "rc %d: %s" % (rc, err))
    check("pipeline redis:" in err and "127.0.0.1:1" in err, "the failure is not named: %r" % err)
    check(time.monotonic() - t0 < 30, "took %.1f s" % (time.monotonic() - t0))


def test_sigint_stops_all(d):
    """Ctrl-C stops two endless pipelines cleanly: exit 0, both summarized."""
    write(os.path.join(d, "a.sql"), ENDLESS)
    write(os.path.join(d, "b.sql"), ENDLESS)
    p = subprocess.Popen([RUNNEL, "run", "a.sql", "b.sql", "--console", "--dlq", "dlq.jsonl"], cwd=d,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Wait until the console shows both pipelines with records read.
    seen = set()
    deadline = time.monotonic() + 30
    while len(seen) < 2 and time.monotonic() < deadline:
        line = p.stdout.readline().decode()
        check(line != "", "the console ended before both pipelines read records")
        f = line.split()
        if len(f) >= 3 and f[0] in ("a", "b") and f[1] == "running" and int(f[2]) > 0:
            seen.add(f[0])
    check(len(seen) == 2, "both pipelines never showed records: %r" % seen)
    p.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    try:
        _, err = p.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        raise Fail("not stopped 15 s after SIGINT")
    err = err.decode()
    check(p.returncode == 0, "rc %d after SIGINT: %s" % (p.returncode, err))
    check("runnel: pipeline a:" in err and "runnel: pipeline b:" in err, err)
    check(time.monotonic() - t0 < 10, "stopping took %.1f s" % (time.monotonic() - t0))


TESTS = {name[5:]: fn for name, fn in globals().items() if name.startswith("test_")}


def main():
    global RUNNEL
    if len(sys.argv) != 3 or sys.argv[2] not in TESTS:
        sys.exit("usage: test_run_many.py RUNNEL {%s}" % "|".join(sorted(TESTS)))
    RUNNEL = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="runnel-run-many-") as d:
        try:
            TESTS[sys.argv[2]](d)
        except Fail as e:
            print("FAIL %s: %s" % (sys.argv[2], e))
            sys.exit(1)
    print("ok %s" % sys.argv[2])


if __name__ == "__main__":
    main()
