#!/usr/bin/env python3
"""Checkpoints and exactly-once on the 3-broker cluster (docs/checkpoints.md).

Each kill case runs a pipeline with 'sink.delivery-guarantee' =
'exactly-once' on its Kafka sinks and a checkpoint every second, SIGKILLs
its process at random moments (KILLS times), restarts it each time under
the same static member id, and at the end compares what a read_committed
consumer sees with the batch oracle, exactly: nothing lost, nothing
duplicated, aggregates, joins, deduplication and windows included.

- pvkill: page views and distinct users per page (a GROUP BY behind a
  repartition topic) over input produced while the process is being killed.
- s3kill: examples/s3_corp.sql (keep-last users joined with event counts),
  one process.
- s5kill: examples/s5_sessions.sql (interval join, nearest purchase,
  sessions), one process; visits must be exactly the oracle's multiset.
- s3x2kill: S3 by two processes in one group, either of them killed; in
  half of the kills the survivor takes the killed one's partitions over
  and restores their state (the join's two inputs move together: one
  consumer reads both, op/split_reader.h).
- corrupt: the newest checkpoint file of a stopped run is damaged; the
  restart says so, restores the older one and still ends exact.
- changed: a column's type changed (user_id INT to BIGINT: the same explain
  lines), then the pipeline's aggregate; each restart refuses the
  checkpoint naming the operator (and both types), and --from-scratch runs.
- quiet: two processes, one killed after the input ended; the survivor
  takes its partitions over and writes a checkpoint of its own although
  nothing new arrives.

The input arrives in SLICES slices while the kills go on (Feeder), so a
kill finds records read since the last checkpoint that must be read again
exactly once; each kill waits until that incarnation has written a
checkpoint, then a random moment (seeded, printed): a kill is the event
under test, not a synchronization. Every wait polls a condition with a
deadline.

  python3 tests/kafka/test_checkpoints.py [CASE...]
"""
import collections
import glob
import json
import os
import random
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import urllib.request

import harness
from harness import TestFailure, check, log

sys.path.insert(0, os.path.join(harness.ROOT, "tests", "kafka"))
import test_joins  # noqa: E402
import test_scaleout  # noqa: E402

KILLS = int(os.environ.get("RUNNEL_CKPT_KILLS", "20"))
RUN_ID = "%x" % (int(time.time()) % 0xFFFFFF)
SEED = int(os.environ.get("RUNNEL_CKPT_SEED", str(int(time.time()))))
TIMEOUT = 180
SLICES = 80              # the input arrives in this many slices while the kills go on
SLICE_PAUSE = 0.8        # s between two slices


def state_dir(pipeline):
    return tempfile.mkdtemp(prefix="runnel-ckpt-%s-" % pipeline)


def sets(*pairs):
    out = []
    for p in pairs:
        out += ["--set", p]
    return out


def mtime(path):
    """path's modification time, or -inf once it is gone: the process may
    prune a file between the listing and this look at it."""
    try:
        return os.path.getmtime(path)
    except FileNotFoundError:
        return float("-inf")


class Chaos:
    """Processes of one pipeline that get killed and restarted."""

    def __init__(self, name, pipeline, b, args, env=None, ckdir=None):
        self.name, self.pipeline, self.b, self.args = name, pipeline, b, list(args)
        self.env = dict(env or {})
        self.ckdir = ckdir
        self.n = 0
        self.procs = {}
        self.started = {}

    def start(self, slot):
        self.n += 1
        env = dict(self.env)
        env["INSTANCE"] = "ck-%s-%s-%s" % (self.name, RUN_ID, slot)  # static: the restart takes over at once
        r = harness.Runnel("%s-%s-%d" % (self.name, slot, self.n), self.pipeline, env,
                           ["--brokers", self.b, "--commit-interval", "1000"] + self.args)
        self.procs[slot] = r
        self.started[slot] = time.time()
        return r

    def checkpointed(self, slot):
        """Whether process slot has written a checkpoint file of its own
        (named after its static member id, docs/checkpoints.md) since it
        started. Every incarnation does once it is assigned partitions,
        input or not (the quiet case)."""
        prefix = "ckpt-" + re.sub(r"[^A-Za-z0-9_.]", "_", "ck-%s-%s-%s" % (self.name, RUN_ID, slot))
        files = glob.glob(os.path.join(self.ckdir, prefix + "*.rnck"))
        return any(mtime(f) > self.started[slot] for f in files)

    def outputs(self):
        """The last lines each process printed, for a failure message."""
        return "\n".join("--- %s:\n%s" % (r.name, r.output()[-3000:]) for r in self.procs.values())

    def check_alive_except(self, slot):
        for k, r in self.procs.items():
            check(k == slot or r.running(), "runnel %s exited with %s:\n%s"
                  % (r.name, r.proc.returncode, r.output()[-4000:]))

    def check_alive(self):
        for slot, r in self.procs.items():
            check(r.running(), "runnel %s exited with %s:\n%s" % (r.name, r.proc.returncode, r.output()[-4000:]))

    def kill_loop(self, kills, rnd, between=None):
        """kills times: picks a random process, waits until it has written
        a checkpoint since it started (so every incarnation restores one
        and makes progress), then a random 0-2.5 s more (the moment of the
        kill), SIGKILLs and restarts it; between(i) runs after each kill
        (produces more input)."""
        for i in range(kills):
            slot = rnd.choice(sorted(self.procs))
            try:
                harness.wait_for(lambda: self.check_alive() or self.checkpointed(slot), 90,
                                 "%s to write a checkpoint" % self.procs[slot].name, interval=0.2)
            except harness.TestFailure as e:
                raise harness.TestFailure("%s\n%s" % (e, self.outputs()))
            t = rnd.uniform(0.0, 2.5)
            deadline = time.time() + t
            while time.time() < deadline:  # the kill moment; the processes must stay up meanwhile
                self.check_alive()
                time.sleep(0.2)
            log("%s: kill %d/%d: SIGKILL %s after %.1f s" % (self.name, i + 1, kills, self.procs[slot].name, t))
            others = [r for k, r in self.procs.items() if k != slot]
            seen = [r.output().count(": assigned ") for r in others]
            self.procs[slot].stop(signal.SIGKILL)
            if between:
                between(i)
            if others and rnd.random() < 0.5:
                # the survivors take the killed one's partitions over (its
                # static membership expires after the session timeout), and
                # restore their state from its checkpoint; the restart then
                # takes its share back from them
                harness.wait_for(lambda: self.check_alive_except(slot) or all(
                    r.output().count(": assigned ") > n for r, n in zip(others, seen)), 90,
                    "the other processes to take over %s's partitions" % self.procs[slot].name)
                log("%s: the others took over; restarting" % self.name)
            self.start(slot)

    def stop(self):
        for r in self.procs.values():
            rc = r.stop(signal.SIGTERM)
            check(rc == 0, "runnel %s exited with %d after SIGTERM:\n%s" % (r.name, rc, r.output()[-4000:]))


class Feeder:
    """Produces input while processes are being killed: produce(i) for i in
    range(n) in a background thread, paced by pause s between calls until
    hurry() (then the rest at once), so that at every kill moment input
    arrived since the last checkpoint and must be read again exactly once
    after the restart (a slice per kill, produced after it, finds the process
    idle and its work checkpointed)."""

    def __init__(self, produce, n, pause):
        self.produce, self.n, self.pause = produce, n, pause
        self.fast = threading.Event()
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            for i in range(self.n):
                self.produce(i)
                self.fast.wait(self.pause)  # pacing the input, not a synchronization
        except Exception as e:  # reported by finish()
            self.error = e

    def hurry(self):
        self.fast.set()

    def finish(self, timeout=300):
        """Produces the rest at once and waits until all of it is produced."""
        self.hurry()
        self.thread.join(timeout)
        check(not self.thread.is_alive(), "producing the input took over %d s" % timeout)
        if self.error:
            raise self.error


def await_equal(what, poll, want, chaos, timeout=TIMEOUT):
    """Polls poll() until it equals want while chaos's processes stay up."""
    test_joins.await_output(what, poll, want, chaos.check_alive, timeout)


# ---------------------------------------------------------------- page views

def pv_pipeline(name, ckdir):
    path = os.path.join(tempfile.mkdtemp(prefix="runnel-ckpt-sql-"), "ck_%s_%s.sql" % (name, RUN_ID))
    with open(os.path.join(harness.PIPELINES, "scaleout_page_views.sql")) as f:
        sql = f.read()
    with open(path, "w") as f:
        f.write("SET 'state.checkpoints.dir' = '%s';\n%s" % (ckdir, sql))
    return path


def case_pvkill(b, rnd):
    name = "pvkill"
    ckdir = state_dir(name)
    events = test_scaleout.make_events(seed=5, users=120, pages=30, span_s=200)
    tin, tout = "ck-%s-in" % name, "ck-%s-out" % name
    harness.fresh_topics(b, [tin, tout])
    lines = test_scaleout.kv_lines(events, "user_id")
    chunks = [lines[i::SLICES] for i in range(SLICES)]
    chunk_files = []
    for i, c in enumerate(chunks):
        p = os.path.join(ckdir, "chunk%d.jsonl" % i)
        with open(p, "w") as f:
            f.write("\n".join(c) + "\n")
        chunk_files.append(p)
    chaos = Chaos(name, pv_pipeline(name, ckdir), b,
                  sets("page_views.sink.delivery-guarantee=exactly-once"),
                  {"IN_TOPIC": tin, "OUT_TOPIC": tout, "GROUP": "ck-%s-%s" % (name, RUN_ID)}, ckdir)
    chaos.start("a")
    feeder = Feeder(lambda i: harness.ktool("produce", tin, chunk_files[i], "--kv", "--bootstrap", b), SLICES,
                    SLICE_PAUSE)
    chaos.kill_loop(KILLS, rnd)
    feeder.finish()
    want = test_scaleout.oracle_page_views(events)
    await_equal("page_views after %d kills" % KILLS,
                lambda: test_scaleout.output_of("pv", harness.consume(b, tout)), want, chaos)
    chaos.stop()
    check(glob.glob(os.path.join(ckdir, "ckpt-*.rnck")), "no checkpoint file in %s" % ckdir)


# ---------------------------------------------------------------- S3

def s3_args(ckdir):
    return sets("users.properties.group.instance.id=${INSTANCE}-u", "events.properties.group.instance.id=${INSTANCE}-e",
                "users.properties.session.timeout.ms=6000", "events.properties.session.timeout.ms=6000",
                "user_event_counts.sink.delivery-guarantee=exactly-once",
                "event_type_counts.sink.delivery-guarantee=exactly-once")


def with_dir(example, name, ckdir):
    path = test_joins.pipeline_copy(example, name)
    with open(path) as f:
        sql = f.read()
    with open(path, "w") as f:
        f.write("SET 'state.checkpoints.dir' = '%s';\n%s" % (ckdir, sql))
    return path


def case_s3kill(b, rnd, nprocs=1):
    name = "s3kill" if nprocs == 1 else "s3x%dkill" % nprocs
    ckdir = state_dir(name)
    data = test_joins.gen("s3", 7, 6000)
    harness.fresh_topics(b, ["CorpAppsTopic", "test", "user_event_counts", "event_type_counts", "dlq"])
    counts, per_event = test_joins.oracle.s3([json.loads(l) for l in data["CorpAppsTopic"]],
                                             [json.loads(l) for l in data["test"]])
    harness.produce(b, "CorpAppsTopic", data["CorpAppsTopic"], key_field="user_id")
    events = data["test"]
    n = len(events)
    chunks = [events[i * n // SLICES:(i + 1) * n // SLICES] for i in range(SLICES)]
    chaos = Chaos(name, with_dir("s3_corp.sql", name, ckdir), b, s3_args(ckdir), ckdir=ckdir)
    for i in range(nprocs):
        chaos.start(chr(ord("a") + i))
    feeder = Feeder(lambda i: harness.produce(b, "test", chunks[i]), SLICES, SLICE_PAUSE)
    chaos.kill_loop(KILLS, rnd)
    feeder.finish()
    await_equal("user_event_counts after %d kills (%d processes)" % (KILLS, nprocs),
                lambda: test_joins.s3_user_counts(b), counts, chaos)
    await_equal("event_type_counts after %d kills (%d processes)" % (KILLS, nprocs),
                lambda: test_joins.s3_event_counts(b), per_event, chaos)
    chaos.stop()


# ---------------------------------------------------------------- S5

def case_s5kill(b, rnd):
    name = "s5kill"
    ckdir = state_dir(name)
    data = test_joins.gen("s5", 9, 5000)
    harness.fresh_topics(b, ["user-events", "purchases", "visits", "suspicious-visits", "late-visits"])
    last = max(json.loads(l)["timestamp"] for l in data["user-events"] + data["purchases"])
    tick = test_joins.TICK_USER
    data["user-events"].append(json.dumps({"event_type": "click", "user_id": tick, "page_id": 1,
                                           "timestamp": round(last + 600, 3)}))
    data["purchases"].append(json.dumps({"amount": 1, "user_id": tick, "page_id": 1,
                                         "timestamp": round(last + 600, 3)}))
    visits, suspicious = test_joins.oracle.s5([json.loads(l) for l in data["user-events"]],
                                              [json.loads(l) for l in data["purchases"]])
    visits = collections.Counter({k: n for k, n in visits.items() if k[1] != tick})
    suspicious = collections.Counter({k: n for k, n in suspicious.items() if k[1] != tick})
    # in time order, a slice of each topic before each restart: every
    # incarnation has input to work on, and nothing arrives late
    ue, pu = data["user-events"], data["purchases"]
    parts = SLICES

    def chunk(lines, i):
        return lines[i * len(lines) // parts:(i + 1) * len(lines) // parts]

    def produce(i):
        harness.produce(b, "user-events", test_joins.keyed(chunk(ue, i), "user_id"), extra=["--kv"])
        harness.produce(b, "purchases", test_joins.keyed(chunk(pu, i), "user_id"), extra=["--kv"])
    args = sets("user_events.properties.group.instance.id=${INSTANCE}-u",
                "purchases.properties.group.instance.id=${INSTANCE}-p",
                "user_events.properties.session.timeout.ms=6000", "purchases.properties.session.timeout.ms=6000",
                "visits.sink.delivery-guarantee=exactly-once",
                "suspicious_visits.sink.delivery-guarantee=exactly-once",
                "late_visits.sink.delivery-guarantee=exactly-once")
    chaos = Chaos(name, with_dir("s5_sessions.sql", name, ckdir), b, args, ckdir=ckdir)
    chaos.start("a")
    feeder = Feeder(produce, SLICES, SLICE_PAUSE)
    chaos.kill_loop(KILLS, rnd)
    feeder.finish()
    await_equal("visits after %d kills" % KILLS, lambda: test_joins.s5_visits(b), visits, chaos)
    await_equal("suspicious-visits after %d kills" % KILLS, lambda: test_joins.s5_suspicious(b), suspicious, chaos)
    check(not harness.consume(b, "late-visits"), "late-visits is not empty")
    chaos.stop()


# ---------------------------------------------------------------- damaged and changed checkpoints

def case_corrupt(b, rnd):
    name = "corrupt"
    ckdir = state_dir(name)
    events = test_scaleout.make_events(seed=6, users=80, pages=20, span_s=120)
    tin, tout = "ck-%s-in" % name, "ck-%s-out" % name
    harness.fresh_topics(b, [tin, tout])
    lines = test_scaleout.kv_lines(events, "user_id")
    half = len(lines) // 2
    files = []
    for i, part in enumerate([lines[:half], lines[half:]]):
        p = os.path.join(ckdir, "part%d.jsonl" % i)
        with open(p, "w") as f:
            f.write("\n".join(part) + "\n")
        files.append(p)
    chaos = Chaos(name, pv_pipeline(name, ckdir), b, sets("page_views.sink.delivery-guarantee=exactly-once"),
                  {"IN_TOPIC": tin, "OUT_TOPIC": tout, "GROUP": "ck-%s-%s" % (name, RUN_ID)}, ckdir)
    harness.ktool("produce", tin, files[0], "--kv", "--bootstrap", b)
    r = chaos.start("a")
    first = test_scaleout.oracle_page_views(events[:0] + [json.loads(l)["value"] for l in lines[:half]])
    await_equal("page_views of the first half", lambda: test_scaleout.output_of("pv", harness.consume(b, tout)),
                first, chaos)
    # two more checkpoints, so an older one of this process exists
    n0 = len(glob.glob(os.path.join(ckdir, "ckpt-*.rnck")))
    harness.wait_for(lambda: len(glob.glob(os.path.join(ckdir, "ckpt-*.rnck"))) >= max(2, n0), 30,
                     "two checkpoint files")
    chaos.stop()
    newest = sorted(glob.glob(os.path.join(ckdir, "ckpt-*.rnck")))[-1]
    with open(newest, "r+b") as f:
        f.seek(os.path.getsize(newest) // 2)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0x40]))
    log("corrupted %s" % newest)
    harness.ktool("produce", tin, files[1], "--kv", "--bootstrap", b)
    port = free_port()
    chaos.args = ["--http", "127.0.0.1:%d" % port]
    t_restart = time.time()
    r = chaos.start("a")
    await_equal("page_views after a corrupt checkpoint",
                lambda: test_scaleout.output_of("pv", harness.consume(b, tout)),
                test_scaleout.oracle_page_views(events), chaos)
    out = r.output()
    check("checksum" in out and "restores the older checkpoint" in out,
          "the restart did not report the damaged checkpoint:\n%s" % out[-3000:])
    check_checkpoint_metrics(port, ckdir, t_restart)
    chaos.stop()


# ---------------------------------------------------------------- quiet takeover

QUIET_SQL = """SET 'state.checkpoints.dir' = '%(ckdir)s';
CREATE TABLE src (id BIGINT) WITH ('connector' = 'kafka', 'topic' = '%(tin)s',
  'properties.group.instance.id' = '${INSTANCE}', 'properties.session.timeout.ms' = '6000',
  'properties.heartbeat.interval.ms' = '1000');
CREATE TABLE dst (id BIGINT) WITH ('connector' = 'kafka', 'topic' = '%(tout)s');
INSERT INTO dst SELECT id FROM src;
"""


def case_quiet(b, rnd):
    """A process that takes a killed one's partitions over while the input
    is quiet must still write a checkpoint of its own: until it does, their
    commits name the killed process's file, which that process prunes once
    it runs again (docs/checkpoints.md). It used to write none until new
    input arrived (and jdbc.eo_kafka_kill_x2 timed out waiting for one)."""
    name = "quiet"
    ckdir = state_dir(name)
    tin, tout = "ck-%s-in" % name, "ck-%s-out" % name
    harness.fresh_topics(b, [tin, tout])
    rows = ['{"id": %d}' % i for i in range(400)]
    harness.produce(b, tin, rows, key_field="id")  # keyed: every partition gets rows
    path = os.path.join(ckdir, "ck_%s_%s.sql" % (name, RUN_ID))
    with open(path, "w") as f:
        f.write(QUIET_SQL % {"ckdir": ckdir, "tin": tin, "tout": tout})
    chaos = Chaos(name, path, b, [], {}, ckdir)
    a, killed = chaos.start("a"), chaos.start("b")
    harness.wait_for(lambda: chaos.check_alive() or all(": assigned " in r.output() for r in (a, killed)), 60,
                     "both processes to be assigned partitions")
    harness.wait_for(lambda: chaos.check_alive() or harness.output_covers(b, tout, collections.Counter(
        harness.canon(json.loads(r)) for r in rows)), 60, "the 400 rows in %s" % tout)
    tag_b = "ckpt-ck_%s_%s_b-" % (name, RUN_ID)
    harness.wait_for(lambda: chaos.check_alive() or any(
        os.path.basename(f).startswith(tag_b) for f in glob.glob(os.path.join(ckdir, "ckpt-*.rnck"))), 60,
        "a checkpoint of %s" % killed.name)
    seen = a.output().count(": assigned ")
    killed.stop(signal.SIGKILL)
    del chaos.procs["b"]
    harness.wait_for(lambda: chaos.check_alive() or a.output().count(": assigned ") > seen, 60,
                     "%s to take over the partitions of %s" % (a.name, killed.name))
    took = time.time()
    group = re.search(r"consumer group '([^']+)'", a.output()).group(1)
    mine = "ckpt=ckpt-ck_%s_%s_a-" % (name, RUN_ID)

    def commits():
        return json.loads(harness.ktool("offsets", group, tin, "--metadata", "--bootstrap", b).stdout)

    def all_mine():
        chaos.check_alive()
        c = commits()
        return len(c) == 8 and all(v["metadata"] and mine in v["metadata"] for v in c.values())
    try:
        harness.wait_for(all_mine, 20, "%s to commit every partition naming a checkpoint of its own, without "
                         "new input" % a.name)
    except TestFailure as e:
        raise TestFailure("%s\ncommits: %s\n%s" % (e, commits(), chaos.outputs()))
    log("%s committed every partition with its own checkpoint %.1f s after taking them over" % (
        a.name, time.time() - took))
    chaos.stop()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as resp:
        return resp.read().decode()


def check_checkpoint_metrics(port, ckdir, since):
    """/api/status and /metrics of a process that restored its partitions
    from a checkpoint and has written some since: the counts, the size of
    a file it wrote, times within the test."""
    def status():
        st = json.loads(http_get(port, "/api/status"))["pipelines"][0]["checkpoints"]
        return st if st["count"] >= 2 else None
    st = harness.wait_for(status, 60, "two checkpoints in /api/status")
    sizes = {os.path.getsize(f) for f in glob.glob(os.path.join(ckdir, "ckpt-*.rnck"))}
    check(st["last_bytes"] in sizes, "last_bytes %d is the size of no checkpoint file (%s)" % (st["last_bytes"], sorted(sizes)))
    check(since * 1000 <= st["last_ms"] <= time.time() * 1000, "last_ms %d outside the run" % st["last_ms"])
    check(0 <= st["last_duration_ms"] < 60000, "last_duration_ms %d" % st["last_duration_ms"])
    check(st["restored_partitions"] >= 1, "restored_partitions %d after a restore" % st["restored_partitions"])
    metrics = {}
    for line in http_get(port, "/metrics").splitlines():
        if line.startswith("runnel_checkpoint"):
            name, value = line.rsplit(" ", 1)
            metrics[name.split("{")[0]] = float(value)
    check(metrics.get("runnel_checkpoints_total", 0) >= st["count"],
          "runnel_checkpoints_total %s < /api/status count %d" % (metrics.get("runnel_checkpoints_total"), st["count"]))
    check(metrics.get("runnel_checkpoint_last_bytes") in sizes | {float(x) for x in sizes},
          "runnel_checkpoint_last_bytes %s is the size of no checkpoint file" % metrics.get("runnel_checkpoint_last_bytes"))
    check(since <= metrics.get("runnel_checkpoint_last_timestamp_seconds", 0) <= time.time() + 1,
          "runnel_checkpoint_last_timestamp_seconds %s" % metrics.get("runnel_checkpoint_last_timestamp_seconds"))
    check("runnel_checkpoint_last_duration_seconds" in metrics, "no runnel_checkpoint_last_duration_seconds")
    log("checkpoint metrics: %d written, last %d bytes in %d ms, %d partitions restored"
        % (st["count"], st["last_bytes"], st["last_duration_ms"], st["restored_partitions"]))


def case_changed(b, rnd):
    name = "changed"
    ckdir = state_dir(name)
    events = test_scaleout.make_events(seed=8, users=40, pages=10, span_s=60)
    tin, tout = "ck-%s-in" % name, "ck-%s-out" % name
    harness.fresh_topics(b, [tin, tout])
    p = os.path.join(ckdir, "in.jsonl")
    with open(p, "w") as f:
        f.write("\n".join(test_scaleout.kv_lines(events, "user_id")) + "\n")
    harness.ktool("produce", tin, p, "--kv", "--bootstrap", b)
    env = {"IN_TOPIC": tin, "OUT_TOPIC": tout, "GROUP": "ck-%s-%s" % (name, RUN_ID)}
    pipeline = pv_pipeline(name, ckdir)
    chaos = Chaos(name, pipeline, b, [], env, ckdir)
    chaos.start("a")
    await_equal("page_views", lambda: test_scaleout.output_of("pv", harness.consume(b, tout)),
                test_scaleout.oracle_page_views(events), chaos)
    chaos.stop()
    with open(pipeline) as f:
        sql = f.read()
    # The same file name: the same pipeline, with a column of another type
    # (the explain lines are the same: the state's bytes are not), then
    # with another aggregate.
    changes = [(("user_id INT", "user_id BIGINT"), ["user_id INT", "user_id BIGINT"]),
               (("COUNT(DISTINCT user_id) AS users", "COUNT(DISTINCT event_type) AS users"), [])]
    for (before, after), named in changes:
        check(before in sql, "the pipeline has no '%s'" % before)
        with open(pipeline, "w") as f:
            f.write(sql.replace(before, after))
        r = chaos.start("a")
        rc = r.wait(60)
        out = r.output()
        check(rc != 0 and "does not fit this pipeline" in out and "GroupAggregate" in out and "--from-scratch" in out
              and all(n in out for n in named),
              "a pipeline with %s was not refused clearly (exit %s):\n%s" % (after, rc, out[-3000:]))
    chaos.args = ["--from-scratch"]
    chaos.start("a")
    harness.wait_for(lambda: "assigned" in chaos.procs["a"].output(), 60, "--from-scratch to run")
    chaos.check_alive()
    chaos.stop()


CASES = {"pvkill": case_pvkill, "s3kill": case_s3kill, "s5kill": case_s5kill,
         "s3x2kill": lambda b, rnd: case_s3kill(b, rnd, 2), "corrupt": case_corrupt, "changed": case_changed,
         "quiet": case_quiet}
# Cases run only when named (none now). s3x2kill and s5kill were here while
# a join's two repartition topics were read by two consumers, which saw one
# rebalance at different moments (s3x2kill once missed 289 users' counts,
# s5kill once had 33 visits with other sessions or amounts); one consumer
# reads both since, and each passed 5 runs in a row.
BY_NAME_ONLY = set()


def test(env):
    b = env["KAFKA_BOOTSTRAP"]
    names = [a for a in sys.argv[1:] if not a.startswith("-")] or [n for n in CASES if n not in BY_NAME_ONLY]
    log("seed %d (RUNNEL_CKPT_SEED), %d kills per case" % (SEED, KILLS))
    failures = []
    for n in names:
        check(n in CASES, "no case %s" % n)
        log("case %s" % n)
        try:
            CASES[n](b, random.Random("%d-%s" % (SEED, n)))
        except TestFailure as e:
            log("case %s FAILED: %s" % (n, e))
            failures.append(n)
    check(not failures, "failed cases: %s" % ", ".join(failures))


if __name__ == "__main__":
    harness.main(test)
