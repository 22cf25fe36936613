#!/usr/bin/env python3
"""`runnel demo` with no external services (CTest label `demo`):

  python3 test_demo.py RUNNEL run     --seconds 40 --rate 2000: exit 0, every
                                      pipeline read records and wrote its
                                      scenario's main sink, no error in the
                                      log, the temporary directory removed
  python3 test_demo.py RUNNEL sigint  the dashboard lists the five pipelines;
                                      SIGINT once every pipeline reads: exit
                                      0 within STOP_S (3 s), all cleaned up

Runs from an empty directory with TMPDIR pointing into it, so it shows that
the examples come from the binary and that nothing is left behind.
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

RUNNEL = None
STOP_S = 3  # the longest a Ctrl-C may take to end the demo

# Each scenario's pipeline and the sink that carries its result.
MAIN_SINKS = {
    "s1_logins": "notifications",
    "s2_activity": "top_pages",
    "s3_corp": "user_event_counts",
    "s4_campaigns_sqlite": "subscribers_feedback",
    "s5_sessions": "visits",
}


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def env_for(d):
    e = dict(os.environ)
    for k in ("REDIS_URL", "PGHOST", "RUNNEL_BROKERS", "RUNNEL_LOG"):
        e.pop(k, None)
    e["TMPDIR"] = os.path.join(d, "tmp")
    os.mkdir(e["TMPDIR"])
    return e


def summary(err):
    """{pipeline: {"in": records read from its first source, "sinks": {name: n}}}"""
    out, cur = {}, None
    for line in err.splitlines():
        m = re.match(r"runnel: pipeline (\S+):$", line)
        if m:
            cur = out.setdefault(m.group(1), {"in": 0, "sinks": {}})
            continue
        if cur is None:
            continue
        m = re.match(r"runnel: source (\S+): (\d+) records", line)
        if m and not m.group(1).startswith("runnel."):
            cur["in"] += int(m.group(2))
        m = re.match(r"runnel: sink (\S+): (\d+) records written", line)
        if m:
            cur["sinks"][m.group(1)] = cur["sinks"].get(m.group(1), 0) + int(m.group(2))
    return out


def check_clean(d, err):
    bad = [l for l in err.splitlines() if re.search(r"\berror\b|failed|undecodable record", l, re.I)
           and not re.search(r"\b0 undecodable", l)]
    check(not bad, "errors in the log: %r" % bad[:5])
    left = os.listdir(os.path.join(d, "tmp"))
    check(left == [], "left behind in TMPDIR: %r" % left)
    check(os.listdir(os.path.join(d, "cwd")) == [], "files written to the working directory")


def check_all_processed(err):
    s = summary(err)
    for p, sink in MAIN_SINKS.items():
        check(p in s, "no summary for pipeline %s: %s" % (p, err[-3000:]))
        check(s[p]["in"] > 0, "pipeline %s read nothing" % p)
        check(s[p]["sinks"].get(sink, 0) > 0, "pipeline %s wrote nothing to %s: %r" % (p, sink, s[p]))


def test_run(d):
    env = env_for(d)
    os.mkdir(os.path.join(d, "cwd"))
    t0 = time.monotonic()
    p = subprocess.run([RUNNEL, "demo", "--seconds", "40", "--rate", "2000"], cwd=os.path.join(d, "cwd"),
                       env=env, capture_output=True, timeout=90)
    took = time.monotonic() - t0
    err = p.stderr.decode("utf-8", "replace")
    print(err[-4000:])
    check(p.returncode == 0, "exit %d" % p.returncode)
    check(err.splitlines()[0].startswith("runnel demo: dashboard at http://127.0.0.1:"),
          "the first line is not the dashboard's URL: %r" % err[:300])
    check_all_processed(err)
    check("stopped cleanly" in err, "no clean stop reported")
    check_clean(d, err)
    # Start-up, the 40 s, and the stop (see test_sigint) on a loaded machine.
    check(took < 80, "40 s demo took %.1f s" % took)


def test_sigint(d):
    env = env_for(d)
    os.mkdir(os.path.join(d, "cwd"))
    p = subprocess.Popen([RUNNEL, "demo", "--rate", "2000"], cwd=os.path.join(d, "cwd"), env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = p.stderr.readline().decode()
    m = re.match(r"runnel demo: dashboard at (http://127\.0\.0\.1:\d+/)$", first.strip())
    if not m:
        p.kill()
        raise Fail("the first line is not the dashboard's URL: %r" % first)
    seen = set()
    deadline = time.monotonic() + 40
    while len(seen) < len(MAIN_SINKS) and time.monotonic() < deadline:
        line = p.stdout.readline().decode()
        if line == "":
            break
        f = line.split()
        if len(f) >= 5 and f[0] in MAIN_SINKS and f[1] == "running" and int(f[2]) > 0:
            seen.add(f[0])
    if len(seen) < len(MAIN_SINKS):
        p.kill()
        raise Fail("not every pipeline read records: %r" % sorted(seen))
    with urllib.request.urlopen(m.group(1) + "api/pipelines", timeout=10) as r:
        names = sorted(x["name"] for x in json.load(r)["pipelines"])
    if names != sorted(MAIN_SINKS):
        p.kill()
        raise Fail("the dashboard lists %r" % names)
    p.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    try:
        _, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        raise Fail("still running 20 s after SIGINT")
    took = time.monotonic() - t0
    err = err.decode("utf-8", "replace")
    check(p.returncode == 0, "exit %d after SIGINT: %s" % (p.returncode, err[-2000:]))
    # From SIGINT to the exit: the pipelines stop, their consumers close
    # without leaving their groups (the embedded cluster ends with them) and
    # the cluster stops; 0.3 to 1.9 s on a 2-core machine at load average
    # 24. A consumer leaving its group used to wait for its held JoinGroup,
    # 5 s per joined pair (10 to 22 s in all).
    check(took < STOP_S, "stopping took %.1f s (at most %d s)" % (took, STOP_S))
    check("stopped cleanly" in err, "no clean stop reported")
    check_clean(d, err)


TESTS = {"run": test_run, "sigint": test_sigint}


def main():
    global RUNNEL
    if len(sys.argv) != 3 or sys.argv[2] not in TESTS:
        sys.exit("usage: test_demo.py RUNNEL {run|sigint}")
    RUNNEL = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="runnel-demo-test-") as d:
        try:
            TESTS[sys.argv[2]](d)
        except Fail as e:
            print("FAIL %s: %s" % (sys.argv[2], e))
            sys.exit(1)
    print("ok %s" % sys.argv[2])


if __name__ == "__main__":
    main()
