#!/usr/bin/env python3
"""Scenario S2 end to end: `runnel gen s2` events (20% out of order) in a
real Kafka topic, examples/s2_activity.sql under `runnel run`, the real
Redis server of the `redis` fixture (as the ACL user, in database 5).
Redis must come to hold exactly what tests/scenarios/oracle.py computes
for the watermark the input reaches.

The pipeline is the example with only the topic renamed (a fresh topic
per run) and 'scan.watermark.quiet-timeout' turned off: with it, event
time would follow the wall clock once the topic is quiet and the figures
would keep moving (towards 0) while the test reads them.

1. oracle: all events produced, one run; Redis equals the oracle.
2. outage: half the events, Redis taken down (`scripts/redis down`, data
   kept) while runnel runs, the other half produced; the log must show the
   sink retrying, the consumer group must not commit past the first half
   meanwhile, and once Redis is back (`scripts/redis start`) Redis equals
   the oracle over all events and the group commits everything.
3. stop during an outage: SIGTERM while the sink retries ends the process
   promptly, non-zero, saying the writes were not delivered.
4. Redis unreachable at start: one clear line naming the address, exit
   non-zero.
Needs the `kafka` and `redis` fixtures (tests/tests.cmake)."""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "services"))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "kafka"))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "scenarios"))
import common  # noqa: E402
import harness  # noqa: E402
import oracle  # noqa: E402
from common import check, log  # noqa: E402

RUNNEL = os.path.join(common.ROOT, "build", "runnel")
EXAMPLE = os.path.join(common.ROOT, "examples", "s2_activity.sql")
DB = "5"
KEYS = ["active_users", "top_pages", "user_views_1h"]


def cli(env, *args):
    p = subprocess.run(["redis-cli", "-h", env["REDIS_HOST"], "-p", env["REDIS_PORT"], "--user",
                        env["REDIS_USER"], "--pass", env["REDIS_PASSWORD"], "--no-auth-warning", "-n", DB]
                       + list(args), capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, "redis-cli %s: %s" % (args, p.stderr))
    lines = p.stdout.splitlines()
    return [] if lines == [""] else lines  # an empty reply prints an empty line


def redis_model(env):
    """Redis's S2 keys in the model of oracle.redis_replay."""
    out = {}
    v = cli(env, "GET", "active_users")
    if v and v[0]:
        out["active_users"] = v[0]
    z = cli(env, "ZRANGE", "top_pages", "0", "-1", "WITHSCORES")
    if z:
        out["top_pages"] = {z[i]: int(float(z[i + 1])) for i in range(0, len(z), 2)}
    h = cli(env, "HGETALL", "user_views_1h")
    if h:
        out["user_views_1h"] = {h[i]: h[i + 1] for i in range(0, len(h), 2)}
    return out


def diff(got, want):
    for k in KEYS:
        g, w = got.get(k), want.get(k)
        if g != w:
            if isinstance(g, dict) and isinstance(w, dict):
                d = [(f, g.get(f), w.get(f)) for f in set(g) | set(w) if g.get(f) != w.get(f)]
                return "%s: %d entries differ, e.g. (entry, got, want) %s" % (k, len(d), d[:3])
            return "%s: got %r, want %r" % (k, g if not isinstance(g, dict) else "%d entries" % len(g),
                                            w if not isinstance(w, dict) else "%d entries" % len(w))
    return None


def pipeline(work, topic, name):
    """The example with its topic renamed and the quiet timeout off."""
    with open(EXAMPLE) as f:
        sql = f.read()
    sql2 = sql.replace("'topic' = 'user-activity'", "'topic' = '%s'" % topic)
    sql2 = sql2.replace("'scan.watermark.quiet-timeout' = '30 s'", "'scan.watermark.quiet-timeout' = '0'")
    check(sql2.count(topic) == 1 and "'scan.watermark.quiet-timeout' = '0'" in sql2,
          "examples/s2_activity.sql no longer has the topic or quiet-timeout this test replaces")
    path = os.path.join(work, name + ".sql")  # the file name makes the consumer group
    with open(path, "w") as f:
        f.write(sql2)
    return path


class Run:
    """A `runnel run` of the pipeline; its output goes to a log file."""

    def __init__(self, sql, env, brokers, log_path):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen([RUNNEL, "run", sql, "--brokers", brokers, "--commit-interval", "500"],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise common.TestFailure("runnel did not stop in %d s after signal %d:\n%s" % (
                timeout, sig, self.output()[-3000:]))


def wait_equal(env, want, run, timeout, what):
    last = [None]

    def same():
        check(run.proc.poll() is None, "%s: runnel exited %s:\n%s" % (what, run.proc.returncode,
                                                                     run.output()[-3000:]))
        got = redis_model(env)
        last[0] = diff(got, want)
        return last[0] is None

    deadline = time.time() + timeout
    while not same():
        if time.time() > deadline:
            raise common.TestFailure("%s: Redis did not reach the oracle in %d s: %s\n%s" % (
                what, timeout, last[0], run.output()[-2000:]))
        time.sleep(0.5)


def main():
    kenv = harness.cluster_env()
    brokers = kenv["KAFKA_BOOTSTRAP"]
    renv = common.service_env("redis")
    work = tempfile.mkdtemp(prefix="runnel-s2-kafka-")
    subprocess.run([RUNNEL, "gen", "s2", "--count", "20000", "--seed", "11", "--out-of-order", "0.2", "--out", work],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(work, "user-activity.jsonl")) as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    events = [json.loads(l) for l in lines]
    want = oracle.s2(events, oracle.s2_watermark(events))
    check(len(want.get("user_views_1h", {})) > 100 and int(want.get("active_users", 0)) > 10,
          "the oracle's figures are too thin to test anything: %s" % {k: len(str(v)) for k, v in want.items()})
    url = "redis://%s:%s@%s:%s/%s" % (renv["REDIS_USER"], renv["REDIS_PASSWORD"], renv["REDIS_HOST"],
                                      renv["REDIS_PORT"], DB)
    env = dict(os.environ, REDIS_URL=url)
    tag = "s2t%d" % os.getpid()

    # 1. the oracle
    cli(renv, "DEL", *KEYS)
    topic = tag + "-activity-1"
    harness.fresh_topics(brokers, [topic], partitions=1)
    harness.produce(brokers, topic, lines)
    run = Run(pipeline(work, topic, tag + "_1"), env, brokers, os.path.join(work, "run1.log"))
    try:
        wait_equal(renv, want, run, 120, "run 1")
    finally:
        rc = run.stop()
    check(rc == 0, "run 1 exited %d:\n%s" % (rc, run.output()[-2000:]))
    log("run 1: Redis equals the oracle (%d pages, %s active users, %d users with views in the last hour)" % (
        len(want["top_pages"]), want["active_users"], len(want["user_views_1h"])))

    # 2. Redis down in the middle of the run, then back
    cli(renv, "DEL", *KEYS)
    topic = tag + "-activity-2"
    harness.fresh_topics(brokers, [topic], partitions=1)
    half = len(lines) // 2
    harness.produce(brokers, topic, lines[:half])
    first = oracle.s2(events[:half], oracle.s2_watermark(events[:half]))
    run = Run(pipeline(work, topic, tag + "_2"), env, brokers, os.path.join(work, "run2.log"))
    try:
        wait_equal(renv, first, run, 120, "run 2, first half")
        common.script("redis", "down")
        log("redis down")
        harness.produce(brokers, topic, lines[half:])
        wait_for(lambda: len(re.findall(r"sink \S+ .*retrying in", run.output())) >= 5, 60,
                 "the sink to retry while Redis is down")
        check(run.proc.poll() is None, "runnel exited during the outage:\n" + run.output()[-2000:])
        # nothing read during the outage is committed: the group stays at most at the first half
        group = "runnel.%s_2.user_activity" % tag
        committed = committed_offset(brokers, group, topic)
        check(committed is not None and committed <= half,
              "during the outage the group committed offset %s, past the %d records written before it" % (
                  committed, half))
        common.script("redis", "start")
        log("redis up again")
        wait_equal(renv, want, run, 120, "run 2, after the outage")
        wait_for(lambda: committed_offset(brokers, group, topic) == len(lines), 60,
                 "the group to commit every record once Redis is back")
    finally:
        if subprocess.run([os.path.join(common.ROOT, "scripts", "redis"), "status"],
                          capture_output=True).returncode != 0:
            common.script("redis", "start")
        rc = run.stop()
    out = run.output()
    check(rc == 0, "run 2 exited %d:\n%s" % (rc, out[-2000:]))
    check(re.search(r"delivered again after \d+ retries", out), "run 2: no 'delivered again' line:\n" + out[-2000:])
    log("run 2: %d retry warnings during the outage; Redis equals the oracle afterwards" % len(
        re.findall("retrying in", out)))

    # 3. SIGTERM while the sink retries
    more = [json.dumps(dict(e, timestamp=e["timestamp"].replace("2024-05-01", "2024-05-02"))) for e in events[:2000]]
    run = Run(pipeline(work, topic, tag + "_2"), env, brokers, os.path.join(work, "run3.log"))
    try:
        wait_for(lambda: "assigned " in run.output(), 60, "runnel to start reading (run 3)")
        common.script("redis", "down")
        harness.produce(brokers, topic, more)
        wait_for(lambda: "retrying in" in run.output(), 60, "the sink to retry (run 3)")
        t0 = time.time()
        rc = run.stop(signal.SIGTERM, timeout=15)
    finally:
        common.script("redis", "start")
        if run.proc.poll() is None:
            run.proc.kill()
    out = run.output()
    check(rc != 0, "run 3: stopped during an outage with unwritten figures, exit 0:\n" + out[-2000:])
    check("stopped while its writes were not delivered" in out, "run 3: no stop message:\n" + out[-2000:])
    log("run 3: SIGTERM during the outage stopped runnel in %.1f s, exit %d" % (time.time() - t0, rc))

    # 4. Redis unreachable at start
    dead = "redis://127.0.0.1:%d/0" % harness_free_port()
    p = subprocess.run([RUNNEL, "run", pipeline(work, topic, tag + "_4"), "--brokers", brokers],
                       env=dict(os.environ, REDIS_URL=dead), capture_output=True, text=True, timeout=60)
    errs = [l for l in p.stderr.splitlines() if "error" in l.lower() or "cannot" in l]
    check(p.returncode != 0, "Redis unreachable at start: exit 0")
    check(len(errs) == 1 and "cannot connect to redis 127.0.0.1:" in errs[0],
          "Redis unreachable at start: want one clear line, got:\n" + p.stderr)
    log("unreachable at start: exit %d, %r" % (p.returncode, errs[0]))
    cli(renv, "DEL", *KEYS)
    for t in (tag + "-activity-1", tag + "-activity-2"):
        harness.ktool("delete", t, "--bootstrap", brokers, check_rc=False)


def committed_offset(brokers, group, topic):
    """The group's committed offset of partition 0 of topic, or None."""
    p = harness.ktool("offsets", group, topic, "--bootstrap", brokers)
    return json.loads(p.stdout).get("0")


def wait_for(cond, timeout, what):
    """Polls cond() until it is true; fails after timeout seconds."""
    deadline = time.time() + timeout
    while not cond():
        if time.time() > deadline:
            raise common.TestFailure("timed out after %d s waiting for %s" % (timeout, what))
        time.sleep(0.2)


def harness_free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


if __name__ == "__main__":
    common.run_main(main)
