#!/usr/bin/env python3
"""Regression tests for defects found by using runnel as a user and an
attacker would (issue: hardening). Each test is one CTest (cli.hardening.NAME):

  python3 test_hardening.py RUNNEL NAME

Every test states what went wrong before and checks the exact behaviour
that replaced it; none depends on timing.
"""
import base64
import json
import os
import subprocess
import sys
import tempfile

RUNNEL = None


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def run(args, cwd=None, env=None, timeout=60):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([RUNNEL] + args, cwd=cwd, env=e, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def events(n):
    return "".join(json.dumps({"user_id": i % 7, "page": "p%d" % (i % 5), "n": i}) + "\n"
                   for i in range(n))


# ---- input destroyed -------------------------------------------------------

def test_same_path_source_and_sink(d):
    """Two 'filesystem' tables on one path, one read and one written: the
    input used to be truncated to 0 before it was read, exit 0."""
    data = os.path.join(d, "events.jsonl")
    write(data, events(1000))
    sql = os.path.join(d, "p.sql")
    # The sink spells the path differently: the check is by file, not by text.
    write(sql, """
CREATE TABLE src (user_id INT, page STRING) WITH ('connector' = 'filesystem', 'path' = '%s');
CREATE TABLE dst (user_id INT, page STRING) WITH ('connector' = 'filesystem', 'path' = '%s/./events.jsonl');
INSERT INTO dst SELECT user_id, page FROM src;
""" % (data, d))
    rc, _, err = run(["run", sql, "--dlq", os.path.join(d, "dlq.jsonl")])
    check(rc == 2, "runnel run exited %d writing the file it reads, want 2 (refused at analysis)" % rc)
    check("p.sql:3:" in err and "which table 'src' reads" in err, "no clear error: %r" % err)
    check(read(data) == events(1000), "the input file was changed")
    rc, _, err = run(["explain", sql])
    check(rc == 2 and "which table 'src' reads" in err, "explain accepts it: %r" % err)
    # The dead-letter file may not be the input either (replaying a DLQ).
    write(sql, """
CREATE TABLE src (user_id INT, page STRING) WITH ('connector' = 'filesystem', 'path' = '%s');
CREATE TABLE dst (user_id INT, page STRING) WITH ('connector' = 'print');
INSERT INTO dst SELECT user_id, page FROM src;
""" % data)
    write(data, events(10) + "not json\n")
    rc, _, err = run(["run", sql, "--dlq", data])
    check(rc != 0 and "dead-letter file" in err and "read by table 'src'" in err, "rc %d %r" % (rc, err))
    check(read(data) == events(10) + "not json\n", "the input was overwritten by dead letters")


def test_test_mode_same_dir_same_topic(d):
    """`runnel test --input D --output D` with a sink topic equal to a source
    topic: the input used to be truncated before it was read."""
    write(os.path.join(d, "user-events.jsonl"), events(1000))
    sql = os.path.join(d, "p.sql")
    write(sql, """
CREATE TABLE ev (user_id INT, page STRING) WITH ('connector' = 'kafka', 'topic' = 'user-events', 'format' = 'json');
CREATE TABLE out_t (user_id INT, page STRING) WITH ('connector' = 'kafka', 'topic' = 'user-events', 'format' = 'json');
INSERT INTO out_t SELECT user_id, page FROM ev;
""")
    rc, _, err = run(["test", sql, "--input", d, "--output", d])
    check(rc != 0, "runnel test exited 0 overwriting its input")
    check("'ev' reads" in err, "no clear error: %r" % err)
    check(read(os.path.join(d, "user-events.jsonl")) == events(1000), "the input file was changed")
    # Separate directories are fine: the topic is read from one, written to the other.
    out = os.path.join(d, "out")
    rc, _, err = run(["test", sql, "--input", d, "--output", out])
    check(rc == 0, "separate --output failed: %s" % err)
    check(read(os.path.join(out, "user-events.jsonl")).count("\n") == 1000, "copy incomplete")


def test_no_truncate_before_start(d):
    """An existing output file must survive a run that fails to start: the
    first sink's file used to be emptied before the second sink failed."""
    data = os.path.join(d, "in.jsonl")
    write(data, events(10))
    keep = os.path.join(d, "keep.jsonl")
    write(keep, "precious\n")
    sql = os.path.join(d, "p.sql")
    write(sql, """
CREATE TABLE src (user_id INT) WITH ('connector' = 'filesystem', 'path' = '%s');
CREATE TABLE a (user_id INT) WITH ('connector' = 'filesystem', 'path' = '%s');
CREATE TABLE b (user_id INT) WITH ('connector' = 'filesystem', 'path' = '%s/no/such/dir/b.jsonl');
INSERT INTO a SELECT user_id FROM src;
INSERT INTO b SELECT user_id FROM src;
""" % (data, keep, d))
    rc, _, err = run(["run", sql, "--dlq", os.path.join(d, "dlq.jsonl")])
    check(rc != 0, "the run started although b cannot be created")
    check("no/such/dir/b.jsonl" in err, "error does not name the file: %r" % err)
    check(read(keep) == "precious\n", "an existing output was emptied by a run that never started")
    # A file the failed run created is not left behind either.
    write(sql, read(sql).replace(keep, os.path.join(d, "fresh.jsonl")))
    rc, _, _ = run(["run", sql, "--dlq", os.path.join(d, "dlq.jsonl")])
    check(rc != 0 and not os.path.exists(os.path.join(d, "fresh.jsonl")),
          "a failed start left an empty fresh.jsonl")


# ---- corrupted test output -------------------------------------------------

def test_two_sinks_one_topic(d):
    """Two sink tables on the same topic in `runnel test` (legal on Kafka):
    the file used to get fewer lines than records reported, some of them
    not JSON."""
    inp, out = os.path.join(d, "in"), os.path.join(d, "out")
    n = 20000
    write(os.path.join(inp, "user-events.jsonl"), events(n))
    sql = os.path.join(d, "p.sql")
    write(sql, """
CREATE TABLE ev (user_id INT, page STRING, n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'user-events', 'format' = 'json');
CREATE TABLE s1 (src STRING, n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'merged', 'format' = 'json');
CREATE TABLE s2 (src STRING, n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'merged', 'format' = 'json');
INSERT INTO s1 SELECT 'one' AS src, n FROM ev WHERE user_id < 4;
INSERT INTO s2 SELECT 'two-with-a-longer-text' AS src, n FROM ev;
""")
    rc, _, err = run(["test", sql, "--input", inp, "--output", out])
    check(rc == 0, "runnel test failed: %s" % err)
    lines = read(os.path.join(out, "merged.jsonl")).splitlines()
    rows = [json.loads(l) for l in lines]  # every line is one JSON object
    want1 = sorted(i for i in range(n) if i % 7 < 4)
    check(sorted(r["n"] for r in rows if r["src"] == "one") == want1, "sink s1's rows are wrong")
    check(sorted(r["n"] for r in rows if r["src"] != "one") == list(range(n)), "sink s2's rows are wrong")
    check("s1: %d records" % len(want1) in err and "s2: %d records" % n in err,
          "reported counts do not match the file: %s" % err)
    # Within each sink the order of the input is kept.
    check([r["n"] for r in rows if r["src"] == "one"] == want1, "s1's rows out of order")


def test_sink_on_topic_dlq(d):
    """A sink on topic 'dlq' used to be overwritten by the dead-letter
    writer of `runnel test`."""
    inp, out = os.path.join(d, "in"), os.path.join(d, "out")
    write(os.path.join(inp, "user-events.jsonl"), events(50) + "not json\n" + events(3))
    sql = os.path.join(d, "p.sql")
    write(sql, """
CREATE TABLE ev (user_id INT, n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'user-events', 'format' = 'json');
CREATE TABLE d (n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'dlq', 'format' = 'json');
INSERT INTO d SELECT n FROM ev;
""")
    rc, _, err = run(["test", sql, "--input", inp, "--output", out])
    check(rc == 0, "runnel test failed: %s" % err)
    got = [json.loads(l) for l in read(os.path.join(out, "dlq.jsonl")).splitlines()]
    check(got == [{"n": i} for i in list(range(50)) + list(range(3))], "topic 'dlq' holds %r" % got[:3])
    dead = [json.loads(l) for l in read(os.path.join(out, "_runnel", "dead-letters.jsonl")).splitlines()]
    check(len(dead) == 1 and dead[0]["line"] == 51 and dead[0]["value"] == "not json",
          "dead letters: %r" % dead)
    check("_runnel/dead-letters.jsonl" in err, "the summary does not say where dead letters went")


# ---- path traversal ----------------------------------------------------------

def test_topic_names(d):
    """A topic '../../escaped' or an absolute path used to make `runnel test`
    write outside --output; '' wrote OUT/.jsonl."""
    inp, out = os.path.join(d, "a", "in"), os.path.join(d, "a", "out")
    write(os.path.join(inp, "ev.jsonl"), events(5))
    bad = ["../../escaped", "/tmp/abs-" + os.path.basename(d), "", ".", "..", "a/b", "x" * 250, "sp ace"]
    for topic in bad:
        for role in ("sink", "source"):
            sql = os.path.join(d, "p.sql")
            src_topic, dst_topic = ("ev", topic) if role == "sink" else (topic, "ev")
            write(sql, """
CREATE TABLE s (n BIGINT) WITH ('connector' = 'kafka', 'topic' = '%s', 'format' = 'json');
CREATE TABLE o (n BIGINT) WITH ('connector' = 'kafka', 'topic' = '%s', 'format' = 'json');
INSERT INTO o SELECT n FROM s;
""" % (src_topic, dst_topic))
            rc, _, err = run(["test", sql, "--input", inp, "--output", out])
            check(rc == 2, "topic %r as %s: exit %d, want 2 (refused at analysis)" % (topic, role, rc))
            check("option 'topic': '%s' is not a valid topic name" % topic[:300] in err,
                  "topic %r: unclear error %r" % (topic, err))
    check(not os.path.exists(os.path.join(d, "escaped.jsonl")), "wrote ../../escaped.jsonl")
    check(not os.path.exists("/tmp/abs-%s.jsonl" % os.path.basename(d)), "wrote an absolute path")
    check(not os.path.exists(out), "runnel test created --output although it refused the pipeline")
    # dlq.topic is a topic too.
    write(sql, """
CREATE TABLE s (n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'ev', 'dlq.topic' = '../x');
CREATE TABLE o (n BIGINT) WITH ('connector' = 'print');
INSERT INTO o SELECT n FROM s;
""")
    rc, _, err = run(["explain", sql])
    check(rc != 0 and "'dlq.topic'" in err, "dlq.topic '../x' accepted: %r" % err)
    # A table named like a path (a quoted identifier) cannot name a test file.
    write(sql, """
CREATE TABLE `../ev` (n BIGINT) WITH ('connector' = 'filesystem', 'path' = 'x.jsonl');
CREATE TABLE o (n BIGINT) WITH ('connector' = 'print');
INSERT INTO o SELECT n FROM `../ev`;
""")
    write(os.path.join(d, "a", "ev.jsonl"), events(5))
    rc, _, err = run(["test", sql, "--input", inp, "--output", out])
    check(rc != 0 and "cannot name a file" in err, "table `../ev` read ../ev.jsonl: rc %d %r" % (rc, err))


# ---- --now -------------------------------------------------------------------

def test_now_strict(d):
    """--now used atof: 'abc' became 0, '12abc' 12, '-1' or a huge value
    switched silently to the wall clock."""
    inp, out = os.path.join(d, "in"), os.path.join(d, "out")
    write(os.path.join(inp, "ev.jsonl"), events(1))
    sql = os.path.join(d, "p.sql")
    write(sql, """
CREATE TABLE s (n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'ev');
CREATE TABLE o (n BIGINT, t STRING, u BIGINT) WITH ('connector' = 'kafka', 'topic' = 'o');
INSERT INTO o SELECT n, CAST(NOW() AS STRING), UNIX_TIMESTAMP() FROM s;
""")
    for bad in ["abc", "12abc", "", "1e3", "0x10", "1.", ".5", "--1", "+5", "nan", "inf",
                "99999999999999", "-99999999999999", "253402300800", "1 2"]:
        rc, _, err = run(["test", sql, "--input", inp, "--output", out, "--now", bad])
        check(rc == 2 and "--now" in err and "epoch seconds" in err, "--now %r: rc %d %r" % (bad, rc, err))
    for good, t, u in [("-1", "1969-12-31 23:59:59.000", -1), ("0", "1970-01-01 00:00:00.000", 0),
                       ("1714550400.25", "2024-05-01 08:00:00.250", 1714550400),
                       ("-0.0015", "1969-12-31 23:59:59.998", -1),
                       ("253402300799", "9999-12-31 23:59:59.000", 253402300799)]:
        rc, _, err = run(["test", sql, "--input", inp, "--output", out, "--now", good])
        check(rc == 0, "--now %r failed: %s" % (good, err))
        row = json.loads(read(os.path.join(out, "o.jsonl")))
        check(row["t"] == t and row["u"] == u, "--now %r gave %r, want %r / %r" % (good, row, t, u))


# ---- smaller ones -------------------------------------------------------------

def test_dlq_keeps_bytes(d):
    """A record that is not UTF-8 could not be reproduced from the test DLQ:
    its bytes must come back exactly."""
    inp, out = os.path.join(d, "in"), os.path.join(d, "out")
    raw = [b'{"n": "\xff\xfe"}', b'{"n": 1, "s": "caf\xc3\xa9"} trailing', b'\x80\x81 not json']
    os.makedirs(inp)
    with open(os.path.join(inp, "ev.jsonl"), "wb") as f:
        f.write(b'{"n": 5}\n' + b"\n".join(raw) + b"\n")
    sql = os.path.join(d, "p.sql")
    write(sql, """
CREATE TABLE s (n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'ev');
CREATE TABLE o (n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'o');
INSERT INTO o SELECT n FROM s;
""")
    rc, _, err = run(["test", sql, "--input", inp, "--output", out])
    check(rc == 0, "runnel test failed: %s" % err)
    dead = [json.loads(l) for l in read(os.path.join(out, "_runnel", "dead-letters.jsonl")).splitlines()]
    back = [base64.b64decode(x["value_base64"]) if "value_base64" in x else x["value"].encode() for x in dead]
    check(back == raw, "dead letters do not give the records back: %r" % back)
    check("value" in dead[1] and "value_base64" not in dead[1], "valid UTF-8 should stay readable")
    check("trailing content" in dead[1]["error"], "error for '{...} trailing': %r" % dead[1]["error"])


def test_long_line(d):
    """The file reader had no maximum line length: a file without newlines
    grew its buffer without bound."""
    inp = os.path.join(d, "in")
    os.makedirs(inp)
    with open(os.path.join(inp, "ev.jsonl"), "wb") as f:
        f.write(b'{"n": 1}\n')
        f.write(b'{"n": "' + b"x" * (65 << 20) + b'"}\n')
    sql = os.path.join(d, "p.sql")
    write(sql, """
CREATE TABLE s (n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'ev');
CREATE TABLE o (n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'o');
INSERT INTO o SELECT n FROM s;
""")
    rc, _, err = run(["test", sql, "--input", inp, "--output", os.path.join(d, "out")])
    check(rc == 1, "exit %d for a 65 MiB line" % rc)
    check("ev.jsonl:2: line longer than 64 MiB" in err, "unclear error: %r" % err)


def test_secrets_masked(d):
    """An error quoting the line of 'properties.sasl.password' showed the
    password; an error about a ${VAR} option showed the expanded value."""
    sql = os.path.join(d, "p.sql")
    write(sql, """
CREATE TABLE s (n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'ev', 'properties.sasl.password' = 'hunter2-pw', 'topik' = 'x');
CREATE TABLE o (n BIGINT) WITH ('connector' = 'print');
INSERT INTO o SELECT n FROM s;
""")
    rc, _, err = run(["explain", sql])
    check(rc == 2 and "unknown option 'topik'" in err, "no error for 'topik': %r" % err)
    check("hunter2-pw" not in err and "'**********'" in err, "password shown: %r" % err)
    # A password over two lines, in a comment-laden WITH: still masked.
    write(sql, """
CREATE TABLE s (n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'ev', -- it's here
  'properties.ssl.key.password' /* secret */ =
  'hunter2-pw', 'topik' = 'x');
CREATE TABLE o (n BIGINT) WITH ('connector' = 'print');
INSERT INTO o SELECT n FROM s;
""")
    rc, _, err = run(["explain", sql])
    check(rc == 2 and "hunter2-pw" not in err, "password shown: %r" % err)
    # An unterminated password is the error itself: still masked.
    write(sql, "CREATE TABLE s (n BIGINT) WITH ('connector' = 'kafka', 'properties.sasl.password' = 'hunter2-pw);\n")
    rc, _, err = run(["explain", sql])
    check(rc == 2 and "unterminated string literal" in err and "hunter2-pw" not in err, "password shown: %r" % err)
    write(sql, """
CREATE TABLE s (n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'ev', 'scan.startup.mode' = '${START_MODE}');
CREATE TABLE o (n BIGINT) WITH ('connector' = 'print');
INSERT INTO o SELECT n FROM s;
""")
    rc, _, err = run(["explain", sql], env={"START_MODE": "token-4711"})
    check(rc == 2 and "scan.startup.mode" in err, "bad ${START_MODE} accepted: %r" % err)
    check("token-4711" not in err and "${START_MODE}" in err, "expanded value shown: %r" % err)


def test_unknown_set_keys(d):
    """SET 'table.exec.state.ttl' = '1 h' used to be accepted and do
    nothing, as was every SET key runnel does not read."""
    sql = os.path.join(d, "p.sql")
    body = """
CREATE TABLE s (n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'ev');
CREATE TABLE o (n BIGINT) WITH ('connector' = 'print');
INSERT INTO o SELECT n FROM s;
"""
    for key, value, want in [
            ("table.exec.mini-batch.enabled", "true", "unknown setting 'table.exec.mini-batch.enabled'"),
            ("parallelism.default", "0", "expected a number of workers from 1 to 256, not '0'"),
            ("parallelism.default", "x4", "expected a number of workers"),
            ("table.exec.resource.default-parallelism", "4", "unknown setting"),
            ("table.exec.emit.early-fire.enable", "true",
             "did you mean 'table.exec.emit.early-fire.enabled'?"),
            ("runnel.late-rows", "x", "did you mean 'runnel.late-rows.table'?"),
            ("execution.runtime-mode", "batch", "streams only"),
            ("table.local-time-zone", "Europe/Berlin", "UTC"),
            ("table.exec.emit.allow-lateness", "soon", "not a duration")]:
        write(sql, "SET '%s' = '%s';\n%s" % (key, value, body))
        rc, _, err = run(["explain", sql])
        check(rc == 2 and want in err and "p.sql:1:" in err, "SET %r = %r: rc %d %r" % (key, value, rc, err))
    for key, value in [("execution.runtime-mode", "streaming"), ("table.local-time-zone", "UTC"),
                       ("table.exec.emit.allow-lateness", "5 s")]:
        write(sql, "SET '%s' = '%s';\n%s" % (key, value, body))
        rc, _, err = run(["explain", sql])
        check(rc == 0, "SET %r = %r refused: %r" % (key, value, err))


def keyed_input(d, nkeys):
    inp = os.path.join(d, "in")
    os.makedirs(inp, exist_ok=True)
    with open(os.path.join(inp, "ev.jsonl"), "w") as f:
        for i in range(nkeys):
            f.write('{"k":%d}\n' % i)
    sql = os.path.join(d, "p.sql")
    write(sql, """
CREATE TABLE ev (k BIGINT) WITH ('connector' = 'kafka', 'topic' = 'ev');
CREATE TABLE o (k BIGINT, n BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 'o');
INSERT INTO o SELECT k, COUNT(*) AS n FROM ev GROUP BY k;
""")
    return sql, inp


def test_peak_memory_is_rss(d):
    """The printed peak memory was the counted heap only, 37-60% under the
    process's real peak: it must be the peak resident size."""
    import resource
    sql, inp = keyed_input(d, 300000)
    rc, _, err = run(["test", sql, "--input", inp, "--output", os.path.join(d, "out")])
    check(rc == 0, "runnel test failed: %s" % err)
    maxrss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    import re
    m = re.search(r"peak memory ([0-9.]+) MiB", err)
    check(m, "no peak memory line: %r" % err)
    printed = float(m.group(1))
    check(abs(printed - maxrss_mib) <= 0.05 * maxrss_mib + 0.2,
          "printed peak %.1f MiB, the kernel measured %.1f MiB" % (printed, maxrss_mib))


def test_max_memory(d):
    """There was no memory limit: a state that outgrows --max-memory must
    stop the run with a message naming the operator and its state size."""
    sql, inp = keyed_input(d, 1500000)
    out = os.path.join(d, "out")
    rc, _, err = run(["test", sql, "--input", inp, "--output", out, "--max-memory", "40m"])
    check(rc == 1, "exit %d with a 40 MiB limit, want 1: %s" % (rc, err[-500:]))
    check("memory limit reached" in err and "over --max-memory 40.0 MiB" in err, "unclear: %r" % err)
    check("operator #" in err and "GroupAggregate (group by [k]" in err and " keys" in err,
          "does not name the operator and its state: %r" % err)
    rc, _, err = run(["test", sql, "--input", inp, "--output", out, "--max-memory", "2g"])
    check(rc == 0, "failed under a 2 GiB limit: %s" % err[-500:])
    for bad in ["", "abc", "0", "-5m", "12x", "1e9"]:
        rc, _, err = run(["test", sql, "--input", inp, "--output", out, "--max-memory", bad])
        check(rc == 2 and "--max-memory" in err, "--max-memory %r: rc %d %r" % (bad, rc, err))


def test_stdin_stop(d):
    """`runnel run` reading stdin ignored SIGTERM until more input came (the
    read restarted after the signal): a stop must be prompt and clean."""
    import select
    import signal
    import time
    sql = os.path.join(d, "p.sql")
    write(sql, """
CREATE TABLE s (a INT) WITH ('connector' = 'filesystem', 'path' = '-');
CREATE TABLE o (a INT) WITH ('connector' = 'print');
INSERT INTO o SELECT a FROM s;
""")
    p = subprocess.Popen([RUNNEL, "run", sql, "--dlq", os.path.join(d, "dlq.jsonl")],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        p.stdin.write(b'{"a": 41}\n')
        p.stdin.flush()
        # Wait for the row to come out: runnel is then idle, blocked on stdin.
        ready, _, _ = select.select([p.stdout], [], [], 20)
        check(ready, "no output for the first line within 20 s")
        line = p.stdout.readline()
        check(json.loads(line) == {"op": "+I", "value": {"a": 41}}, "printed %r" % line)
        t0 = time.time()
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            raise Fail("runnel did not stop within 10 s of SIGTERM while waiting on stdin")
        err = p.stderr.read().decode()
        check(rc == 0, "exit %d after SIGTERM: %s" % (rc, err))
        check("source s: 1 records" in err, "final report missing: %r" % err)
        check(time.time() - t0 < 5, "stopping took %.1f s" % (time.time() - t0))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


# ---- workers -----------------------------------------------------------------

def test_workers_need_shared_tables(d):
    """--workers N (or SET 'parallelism.default') splits Kafka partitions
    among threads; a file or stdout cannot be split: refused before anything
    runs, naming the table, and no output file is created. One worker runs."""
    write(os.path.join(d, "in.jsonl"), events(10))
    out = os.path.join(d, "out.jsonl")
    sql = """CREATE TABLE s (user_id INT, page STRING, n BIGINT)
  WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'json');
CREATE TABLE o (user_id INT, n BIGINT)
  WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'json');
%sINSERT INTO o SELECT user_id, n FROM s WHERE n >= 3;
"""
    for setting, args in (("", ["--workers", "2"]), ("SET 'parallelism.default' = '3';\n", [])):
        p = os.path.join(d, "w.sql")
        write(p, sql % (os.path.join(d, "in.jsonl"), out, setting))
        rc, _, err = run(["run", p] + args)
        check(rc == 2, "%s: rc %d, want 2 (%s)" % (args or setting.strip(), rc, err.strip()))
        check("table 's' (connector 'filesystem') cannot be split among" in err, "no reason given: %r" % err)
        check(not os.path.exists(out), "the refused run created its output file")
    rc, _, err = run(["run", p, "--workers", "1"])
    check(rc == 0, "--workers 1 overrides the setting and runs: rc %d (%s)" % (rc, err.strip()))
    check(len(read(out).splitlines()) == 7, "one worker: 7 rows in %r" % read(out))
    for bad in ("0", "257", "x"):
        rc, _, err = run(["run", p, "--workers", bad])
        check(rc == 2 and "--workers" in err, "--workers %s: rc %d %r" % (bad, rc, err))



def test_exactly_once_db_refused(d):
    """'sink.delivery-guarantee' = 'exactly-once' on a jdbc table commits its
    rows with checkpoints after the Kafka positions: with checkpoints off, or
    without a Kafka source, the run is refused before anything is opened
    (the PostgreSQL url points nowhere), naming the table."""
    write(os.path.join(d, "in.jsonl"), events(3))
    sink = """CREATE TABLE o (user_id INT, n BIGINT) WITH ('connector' = 'jdbc',
  'url' = 'jdbc:postgresql://127.0.0.1:1/none', 'table-name' = 'o', 'sink.delivery-guarantee' = 'exactly-once');
INSERT INTO o SELECT user_id, n FROM s;
"""
    kafka = "CREATE TABLE s (user_id INT, page STRING, n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'eo-in');\n"
    files = ("CREATE TABLE s (user_id INT, page STRING, n BIGINT)\n"
             "  WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'json');\n" % os.path.join(d, "in.jsonl"))
    cases = (("SET 'execution.checkpointing.interval' = '0';\n" + kafka, ["--brokers", "127.0.0.1:1"],
              "table 'o': 'sink.delivery-guarantee' = 'exactly-once' commits with checkpoints, but SET "
              "'execution.checkpointing.interval' = '0' turns them off"),
             (files, [], "table 'o': 'sink.delivery-guarantee' = 'exactly-once' needs a Kafka source table"))
    for head, args, want in cases:
        p = os.path.join(d, "eo.sql")
        write(p, head + sink)
        rc, _, err = run(["run", p] + args, timeout=30)
        check(rc != 0 and want in err, "%s: rc %d, want the refusal %r, got %r" % (args, rc, want, err.strip()))
        check("connect" not in err, "refused only after connecting: %r" % err)


TESTS = {name[5:]: fn for name, fn in globals().items() if name.startswith("test_")}


def main():
    global RUNNEL
    if len(sys.argv) != 3 or sys.argv[2] not in TESTS:
        sys.exit("usage: test_hardening.py RUNNEL {%s}" % "|".join(sorted(TESTS)))
    RUNNEL = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="runnel-hardening-") as d:
        try:
            TESTS[sys.argv[2]](d)
        except Fail as e:
            print("FAIL %s: %s" % (sys.argv[2], e))
            sys.exit(1)
    print("ok %s" % sys.argv[2])


if __name__ == "__main__":
    main()
