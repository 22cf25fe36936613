#!/usr/bin/env python3
"""bench/checkpoints.py - what checkpoints and exactly-once cost
(docs/checkpoints.md), on a real Kafka cluster (KAFKA_BOOTSTRAP, else the
cluster of `scripts/kafka env`).

s5     examples/s5_sessions.sql (its topics renamed) over `runnel gen s5
       --count BENCH_EVENTS` (default 1,000,000 events, seed 1) plus a later
       event and purchase of user 999999 (so every session closes),
       produced once per benchmark run to two 8-partition topics keyed by
       user_id. Three modes in the same benchmark run, alternating,
       BENCH_RUNS rounds (default 3), median of each:
         off            SET 'execution.checkpointing.interval' = '0'
         at-least-once  checkpoints every 10 s (the default)
         exactly-once   the same, and 'sink.delivery-guarantee' =
                        'exactly-once' on visits, suspicious_visits and
                        late_visits (one transactional producer)
       Each run has its own pipeline name (so its own consumer groups and
       repartition topics), output topics and checkpoint directory. A
       read_committed consumer reads visits while runnel runs; the run
       ends (SIGTERM) once it holds one visit per event. Time: from
       runnel's log line assigning its source tables to the newest visit's
       CreateTime (group join and startup excluded), and runnel's CPU
       seconds (user + system) then. A tick event a second (user 999999)
       goes to the input meanwhile: a checkpoint, and with exactly-once the
       commit of the outputs, only follows input, and the last sessions
       close on the idle timeout, with no input. Before any speed is
       printed, every run's visits must be the same multiset as the first
       run's.
keys   a GROUP BY over BENCH_KEYS (default 1,000,000) distinct keys: a topic
       of BENCH_KEYS records {"k": i, "v": 7 i} (8 partitions, keyed by k),
       `SELECT k, COUNT(*) FROM src GROUP BY k HAVING COUNT(*) > 1` to an
       upsert-kafka topic (so only the marker key below is ever written),
       checkpoints every 10 s (the default). A GROUP BY over a Kafka table
       always reads a repartition topic (src/plan/partition.c,
       trust_record_key), 8 partitions here, and its state is checkpointed
       per partition.
       With RUNNEL_LOG=debug runnel logs each checkpoint ("checkpoint
       DIR/NAME: N bytes in M ms") and each restored partition. Once the
       group has committed every input record (a checkpoint holds every
       key), the next BENCH_CKPTS (default 3) checkpoints are the figures
       (a record a second of key -1 keeps them coming): bytes, bytes per
       key, ms (median). Then recovery: SIGKILL,
       two records of a new key produced, restart under the same static
       member id; reported from the restart: every reader assigned, the
       last partition restored, the first checkpoint, and the new key's
       result in the output topic (its CreateTime, read_committed).

    bench/checkpoints.py [s5] [keys]

Measured 2026-12-06 on the shared 2-core machine (bench/README.md,
"Checkpoints"), `BENCH_EVENTS=300000 bench/checkpoints s5` at load average
13 to 21, then `bench/checkpoints keys`:
  S5, 326,079 records, median of 3: off 28.8 s (11,326 rec/s, 7.07 CPU s);
  at-least-once 34.2 s (0.84x, 6.95 CPU s); exactly-once 55.8 s (0.52x,
  5.89 CPU s: the same work, waiting a checkpoint interval per
  read_committed repartition hop); visits equal in all 9 runs.
  1,000,000 keys: 22,002,839 bytes per checkpoint (22.0 B/key), 519 to 600
  ms each (1.2 to 7.1 s under load average 13), about 60% of it walking
  the store once per partition section; after SIGKILL: assigned 0.13 s,
  restored 0.24 s (170 ms of restore), new output 0.29 s after the restart.
"""
import collections
import glob
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "kafka"))
import harness  # noqa: E402

RUNNEL = os.environ.get("RUNNEL", os.path.join(ROOT, "build", "runnel"))
EVENTS = int(os.environ.get("BENCH_EVENTS", "1000000"))
KEYS = int(os.environ.get("BENCH_KEYS", "1000000"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
CKPTS = int(os.environ.get("BENCH_CKPTS", "3"))
CACHE = os.environ.get("BENCH_DATA", os.path.join(ROOT, ".cache", "bench"))
RUN_ID = "%x" % (int(time.time()) % 0xFFFFFF)
CKPT_RE = re.compile(r"checkpoint (\S+): (\d+) bytes in (\d+) ms")
RESTORE_RE = re.compile(r"checkpoint (\S+): restored (\S+) \((\d+) bytes\) in (\d+) ms")


def log(msg):
    sys.stderr.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


class Proc:
    """A `runnel run` whose stderr lines are kept with the time each arrived."""

    def __init__(self, name, pipeline, args, env=None, work=None):
        self.name = name
        full = dict(os.environ)
        full.update(env or {})
        self.t0 = time.time()
        self.proc = subprocess.Popen([RUNNEL, "run", pipeline] + list(args), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=full)
        self.lines = []  # (time.time(), line)
        self.lock = threading.Lock()
        self.log_path = os.path.join(work, name + ".log") if work else None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        f = open(self.log_path, "w") if self.log_path else None
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            t = time.time()
            with self.lock:
                self.lines.append((t, line))
            if f:
                f.write("%.3f %s\n" % (t, line))
                f.flush()
        if f:
            f.close()

    def grep(self, pattern):
        with self.lock:
            return [(t, l) for t, l in self.lines if re.search(pattern, l)]

    def tail(self, n=40):
        with self.lock:
            return "\n".join(l for _, l in self.lines[-n:])

    def running(self):
        return self.proc.poll() is None

    def cpu(self):
        """CPU seconds (user + system) the process used so far."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def check_running(self):
        if not self.running():
            self.thread.join(5)
            raise harness.TestFailure("runnel %s exited with %s:\n%s" % (self.name, self.proc.returncode,
                                                                         self.tail()))

    def wait(self, timeout):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise harness.TestFailure("runnel %s did not end in %d s:\n%s" % (self.name, timeout, self.tail()))
        self.thread.join(10)
        return rc

    def stop(self, sig):
        if self.running():
            self.proc.send_signal(sig)
        return self.wait(120)


def sets(*pairs):
    out = []
    for p in pairs:
        out += ["--set", p]
    return out


def topics_fresh(b, names, partitions=8):
    for t in names:
        harness.ktool("delete", t, "--bootstrap", b, check_rc=False)
    for t in names:
        harness.ktool("create", t, "--partitions", partitions, "--replication", 1, "--bootstrap", b)


def delete_topics(b, names):
    for t in names:
        harness.ktool("delete", t, "--bootstrap", b, check_rc=False)


def produce_file(b, topic, path, key_field):
    t0 = time.time()
    harness.ktool("produce", topic, path, "--key-field", key_field, "--bootstrap", b, timeout=1800)
    log("produced %s to %s in %.1f s" % (os.path.basename(path), topic, time.time() - t0))


def committed(b, group, topic):
    p = harness.ktool("offsets", group, topic, "--bootstrap", b, check_rc=False)
    if p.returncode != 0:
        return 0
    return sum(v or 0 for v in json.loads(p.stdout).values())


# ---------------------------------------------------------------- S5

S5_MODES = ["off", "at-least-once", "exactly-once"]


def s5_data():
    d = os.path.join(CACHE, "s5-n%d-seed1" % EVENTS)  # shared with bench/joins
    if not os.path.exists(os.path.join(d, ".done")):
        log("generating %d s5 events into %s ..." % (EVENTS, d))
        shutil.rmtree(d, ignore_errors=True)
        subprocess.run([RUNNEL, "gen", "s5", "--count", str(EVENTS), "--seed", "1", "--out", d], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        open(os.path.join(d, ".done"), "w").close()
    return d


def s5_pipeline(work, name, mode, topics):
    with open(os.path.join(ROOT, "examples", "s5_sessions.sql")) as f:
        sql = f.read()
    for old, new in topics.items():
        sql, n = re.subn(r"'topic' = '%s'" % re.escape(old), "'topic' = '%s'" % new, sql)
        if n != 1:
            raise harness.TestFailure("examples/s5_sessions.sql: topic '%s' found %d times" % (old, n))
    head = "SET 'state.checkpoints.dir' = '%s';\n" % os.path.join(work, name + "-ckpt")
    if mode == "off":
        head += "SET 'execution.checkpointing.interval' = '0';\n"
    path = os.path.join(work, name + ".sql")  # the file name is the pipeline's: its groups are its own
    with open(path, "w") as f:
        f.write(head + sql)
    return path


TICK_USER = 999999  # a later event and purchase that move event time past the last sessions


class VisitsReader:
    """Reads the visits topic (read_committed) from the beginning while
    runnel writes it: the visits as a multiset and the newest CreateTime."""

    def __init__(self, b, topic):
        from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
        self.c = Consumer({"bootstrap.servers": b, "group.id": "ckb-watch-" + topic, "enable.auto.commit": False,
                           "isolation.level": "read_committed", "auto.offset.reset": "earliest"})
        self.c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        self.visits = collections.Counter()
        self.n = 0
        self.last = 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            for m in self.c.consume(10000, 0.2):
                if m.error() or m.value() is None:
                    continue
                v = json.loads(m.value())
                if v["user_id"] == TICK_USER:
                    continue
                self.visits[(v["session_id"], v["user_id"], v["event_type"], v["page_id"], v["timestamp"],
                             v["amount"])] += 1
                self.n += 1
                self.last = max(self.last, m.timestamp()[1] / 1000.0)
        self.c.close()

    def close(self):
        self.stop.set()
        self.thread.join()


def tick_user(b, topic, ts, stop):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": b, "linger.ms": 0})
    key = json.dumps({"user_id": TICK_USER}, separators=(",", ":")).encode()
    while not stop.wait(1.0):
        ts += 1
        p.produce(topic, key=key, value=json.dumps({"event_type": "click", "user_id": TICK_USER, "page_id": 1,
                                                    "timestamp": ts}).encode())
        p.poll(0)
    p.flush(10)


def bench_s5(b, work):
    d = s5_data()
    lines = {}
    for name in ("user-events", "purchases"):
        with open(os.path.join(d, name + ".jsonl")) as f:
            lines[name] = [l for l in f if l.strip()]
    last = max(json.loads(l)["timestamp"] for l in lines["user-events"][-1000:] + lines["purchases"][-1000:])
    tick = {"user-events": {"event_type": "click", "user_id": TICK_USER, "page_id": 1},
            "purchases": {"amount": 1, "user_id": TICK_USER, "page_id": 1}}
    files = {}
    for name in lines:
        files[name] = os.path.join(work, name + ".jsonl")
        with open(files[name], "w") as f:
            f.writelines(lines[name])
            f.write(json.dumps(dict(tick[name], timestamp=round(last + 600, 3))) + "\n")
    nrec = len(lines["user-events"]) + len(lines["purchases"])
    want = len(lines["user-events"])  # one visit per event
    tin = {"user-events": "ckb-s5-events-%s" % RUN_ID, "purchases": "ckb-s5-purchases-%s" % RUN_ID}
    topics_fresh(b, list(tin.values()))
    produce_file(b, tin["user-events"], files["user-events"], "user_id")
    produce_file(b, tin["purchases"], files["purchases"], "user_id")
    results, ends, cpus = collections.defaultdict(list), collections.defaultdict(list), collections.defaultdict(list)
    first = None
    try:
        for rnd in range(RUNS):
            for mode in S5_MODES:
                name = "ckb_s5_%s_%s_%d" % (mode.replace("-", ""), RUN_ID, rnd)
                outs = {"visits": name.replace("_", "-") + "-visits",
                        "suspicious-visits": name.replace("_", "-") + "-suspicious",
                        "late-visits": name.replace("_", "-") + "-late"}
                topics_fresh(b, list(outs.values()), partitions=1)
                args = ["--brokers", b]
                if mode == "exactly-once":
                    args += sets("visits.sink.delivery-guarantee=exactly-once",
                                 "suspicious_visits.sink.delivery-guarantee=exactly-once",
                                 "late_visits.sink.delivery-guarantee=exactly-once")
                rd = VisitsReader(b, outs["visits"])
                r = Proc(name, s5_pipeline(work, name, mode, dict(tin, **outs)), args, work=work)
                # a checkpoint (and with exactly-once the commit of what was
                # written) only follows input: the last sessions close on the
                # idle timeout, with no input, so a tick a second keeps input coming
                stop_tick = threading.Event()
                ticker = threading.Thread(target=tick_user, args=(b, tin["user-events"], last + 700, stop_tick),
                                          daemon=True)
                ticker.start()
                try:
                    await_cond(lambda: rd.n >= want, 1800, "%s: %d visits" % (name, want), [r])
                    t_all = time.time()
                    cpu = r.cpu()
                    rc = r.stop(signal.SIGTERM)
                finally:
                    stop_tick.set()
                    ticker.join()
                    rd.close()
                    if r.running():
                        r.stop(signal.SIGKILL)
                if rc != 0:
                    raise harness.TestFailure("runnel %s exited with %d after SIGTERM:\n%s" % (name, rc, r.tail()))
                start = min(t for t, _ in r.grep(r"table '(user_events|purchases)': assigned "))
                secs = rd.last - start
                visits = rd.visits
                if rd.n != want:
                    raise harness.TestFailure("%s wrote %d visits, not %d" % (name, rd.n, want))
                if first is None:
                    first = (name, visits)
                elif visits != first[1]:
                    raise harness.TestFailure(
                        "%s's visits differ from %s's: %d missing, %d more" %
                        (name, first[0], sum((first[1] - visits).values()), sum((visits - first[1]).values())))
                log("%-14s round %d: last visit written %.3f s after the assignment, all read %.3f s after it, "
                    "%.2f CPU s, %d visits, equal" % (mode, rnd + 1, secs, t_all - start, cpu, rd.n))
                results[mode].append(secs)
                cpus[mode].append(cpu)
                ends[mode].append(t_all - start)
                delete_topics(b, list(outs.values()))
            delete_run_topics(b)
    finally:
        delete_topics(b, list(tin.values()))
    print("S5 (examples/s5_sessions.sql): %d records (%d events + purchases), 8 partitions each, median of %d; "
          "every run's %d visits equal" % (nrec, len(lines["user-events"]), RUNS, want))
    print("  s: from the sources' assignment to the last visit's CreateTime; read: until a read_committed "
          "consumer had all")
    print("  CPU: runnel's user + system seconds until then (records per CPU second: what the mode costs)")
    print("  %-16s %9s %11s %8s  %-24s %7s | %7s %12s %8s" % (
        "checkpoints", "median s", "records/s", "vs off", "runs s", "read s", "CPU s", "rec/CPU s", "vs off"))
    off = statistics.median(results["off"])
    offc = statistics.median(cpus["off"])
    for mode in S5_MODES:
        m = statistics.median(results[mode])
        c = statistics.median(cpus[mode])
        print("  %-16s %9.3f %11.0f %7.2fx  %-24s %7.3f | %7.2f %12.0f %7.2fx" % (
            mode, m, nrec / m, off / m, " ".join("%.2f" % s for s in results[mode]),
            statistics.median(ends[mode]), c, nrec / c, offc / c))
    sys.stdout.flush()


# ---------------------------------------------------------------- 1,000,000 keys

KEYS_SQL = """-- bench/checkpoints.py: COUNT(*) per key over ${KEYS} distinct keys (%(plan)s)
SET 'state.checkpoints.dir' = '%(ckdir)s';
CREATE TABLE src (k INT, v INT) WITH (
  'connector' = 'kafka', 'topic' = '%(tin)s', 'format' = 'json', %(key)s
  'scan.startup.mode' = 'earliest-offset',
  'properties.group.instance.id' = '%(instance)s',
  'properties.session.timeout.ms' = '6000');
CREATE TABLE out (k INT, n BIGINT, PRIMARY KEY (k) NOT ENFORCED)
  WITH ('connector' = 'upsert-kafka', 'topic' = '%(tout)s', 'key.format' = 'json');
INSERT INTO out SELECT k, COUNT(*) AS n FROM src GROUP BY k HAVING COUNT(*) > 1;
"""


def keys_data():
    path = os.path.join(CACHE, "ckpt-keys-%d.jsonl" % KEYS)
    if not os.path.exists(path):
        os.makedirs(CACHE, exist_ok=True)
        with open(path + ".tmp", "w") as f:
            for i in range(KEYS):
                f.write('{"k":%d,"v":%d}\n' % (i, 7 * i))
        os.rename(path + ".tmp", path)
    return path


def ckpt_lines(r, since=0.0):
    out = []
    for t, l in r.grep(r"checkpoint \S+: \d+ bytes in"):
        m = CKPT_RE.search(l)
        if t >= since:
            out.append((t, int(m.group(2)), int(m.group(3))))
    return out


def await_cond(cond, timeout, what, procs):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        for r in procs:
            r.check_running()
        time.sleep(0.2)
    raise harness.TestFailure("timed out after %d s waiting for %s" % (timeout, what))


def trickle_key(b, topic, stop):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": b, "linger.ms": 0})
    while not stop.is_set():
        p.produce(topic, key=b'{"k":-1}', value=b'{"k":-1,"v":0}')
        p.poll(0)
        stop.wait(1.0)
    p.flush(10)


def delete_run_topics(b):
    """The repartition topics runnel created for this benchmark run."""
    p = harness.ktool("topics", "--bootstrap", b, check_rc=False)
    mine = [t for t in p.stdout.split() if t.startswith("runnel.ckb_") and RUN_ID in t]
    delete_topics(b, mine)


def bench_keys(b, work, plan, tin):
    from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
    name = "ckb_keys_%s_%s" % (plan, RUN_ID)
    tout = "ckb-keys-out-%s-%s" % (plan, RUN_ID)
    topics_fresh(b, [tout], partitions=1)
    ckdir = os.path.join(work, name + "-ckpt")
    path = os.path.join(work, name + ".sql")
    with open(path, "w") as f:
        f.write(KEYS_SQL % {"plan": plan, "ckdir": ckdir, "tin": tin, "tout": tout,
                            "instance": "ckb-%s-%s" % (plan, RUN_ID),
                            "key": ""})
    env = {"RUNNEL_LOG": "debug"}
    args = ["--brokers", b]
    group = "runnel.%s.src" % name
    r = Proc(name + "-1", path, args, env, work)
    t0 = time.time()
    try:
        await_cond(lambda: committed(b, group, tin) >= KEYS, 900, "%s to commit all %d input records" % (name, KEYS),
                   [r])
        t_in = time.time()
        log("%s: all %d input records committed %.1f s after the start" % (name, KEYS, t_in - t0))

        # a checkpoint is taken only when records came in since the last
        # one: a trickle of one record a second (key -1) keeps them coming
        stop_trickle = threading.Event()
        trickle = threading.Thread(target=trickle_key, args=(b, tin, stop_trickle), daemon=True)
        trickle.start()
        try:
            figs = await_cond(lambda: len(ckpt_lines(r, t_in)) >= CKPTS and ckpt_lines(r, t_in)[:CKPTS],
                              60 + 15 * CKPTS, "%d checkpoints" % CKPTS, [r])
        finally:
            stop_trickle.set()
            trickle.join()
        newest = max(glob.glob(os.path.join(ckdir, "ckpt-*.rnck")), key=os.path.getmtime)
        size = os.path.getsize(newest)
        # recovery: kill, two records of a new key, restart
        r.stop(signal.SIGKILL)
        t_kill = time.time()
        marker = os.path.join(work, name + "-marker.jsonl")
        with open(marker, "w") as f:
            f.write('{"k":%d,"v":1}\n{"k":%d,"v":2}\n' % (KEYS, KEYS))
        harness.ktool("produce", tin, marker, "--key-field", "k", "--bootstrap", b)
        c = Consumer({"bootstrap.servers": b, "group.id": "ckb-watch-" + name, "enable.auto.commit": False,
                      "isolation.level": "read_committed", "auto.offset.reset": "earliest"})
        c.assign([TopicPartition(tout, 0, OFFSET_BEGINNING)])
        c.poll(1.0)
        r2 = Proc(name + "-2", path, args, env, work)
        found = [None]

        def output():
            m = c.poll(0.2)
            if m is not None and not m.error() and m.value():
                v = json.loads(m.value())
                if v.get("k") == KEYS and v.get("n") == 2:
                    found[0] = m.timestamp()[1] / 1000.0
            return found[0]
        try:
            await_cond(output, 120, "the new key's result in %s" % tout, [r2])
        except harness.TestFailure as e:
            log("%s: %s" % (name, e))  # reported as "-", the process's log kept
            os.environ["BENCH_KEEP"] = "1"
        await_cond(lambda: ckpt_lines(r2), 60, "the first checkpoint after the restart", [r2])
        c.close()
        assigned = r2.grep(r": assigned ")
        restored = r2.grep(r"checkpoint \S+: restored ")
        first_ck = ckpt_lines(r2)[0]
        rc = r2.stop(signal.SIGTERM)
        if rc != 0:
            raise harness.TestFailure("runnel %s exited with %d after SIGTERM:\n%s" % (r2.name, rc, r2.tail()))
        rest_ms = [int(RESTORE_RE.search(l).group(4)) for _, l in restored]
        rest_bytes = sum(int(RESTORE_RE.search(l).group(3)) for _, l in restored)
        res = {
            "plan": plan, "bytes": figs[0][1], "file": size, "ms": statistics.median(x[2] for x in figs),
            "ms_all": [x[2] for x in figs], "restart_assigned": assigned[-1][0] - r2.t0,
            "restored": (restored[-1][0] - r2.t0) if restored else None, "restore_ms": sum(rest_ms),
            "restore_parts": len(restored), "restore_bytes": rest_bytes, "output": found[0] - r2.t0 if found[0] else None,
            "first_ckpt": first_ck[0] - r2.t0, "first_ckpt_ms": first_ck[2], "kill_to_restart": r2.t0 - t_kill,
        }
        log("%s: %s" % (name, res))
        return res
    finally:
        for p in [r] + ([r2] if "r2" in locals() else []):
            if p.running():
                p.stop(signal.SIGKILL)
        delete_topics(b, [tout])


def keys_report(results):
    print("GROUP BY over %d keys (COUNT(*) per key), checkpoint every 10 s; median of %d checkpoints holding "
          "every key; recovery after SIGKILL" % (KEYS, CKPTS))
    print("  %-9s %12s %8s %10s  %-16s | %9s %9s %11s %9s %11s" % (
        "plan", "ckpt bytes", "B/key", "ckpt ms", "(each)", "assigned", "restored", "restore ms", "output",
        "1st ckpt"))
    for x in results:
        print("  %-9s %12d %8.1f %10.0f  %-16s | %8.2fs %8s %11d %8.2fs %10.2fs" % (
            x["plan"], x["bytes"], x["bytes"] / KEYS, x["ms"], " ".join(map(str, x["ms_all"])),
            x["restart_assigned"], "%.2fs" % x["restored"] if x["restored"] is not None else "-",
            x["restore_ms"], x["output"] if x["output"] is not None else float("nan"), x["first_ckpt"]))
    print("  (recovery columns: seconds from the restart; 'restore ms' is the sum over the %s partitions "
          "restored; 'output' is the CreateTime of the new key's result)" %
          "/".join(str(x["restore_parts"]) for x in results))
    sys.stdout.flush()


def main():
    env = harness.cluster_env()
    b = os.environ.get("KAFKA_BOOTSTRAP_OVERRIDE") or env["KAFKA_BOOTSTRAP"]
    what = [a for a in sys.argv[1:]] or ["s5", "keys"]
    plans = ["exchange"]
    work = tempfile.mkdtemp(prefix="runnel-bench-ckpt-")

    try:
        if "s5" in what:
            bench_s5(b, work)
        if "keys" in what:
            tin = "ckb-keys-%d-%s" % (KEYS, RUN_ID)
            topics_fresh(b, [tin])
            try:
                produce_file(b, tin, keys_data(), "k")
                keys_report([bench_keys(b, work, plan, tin) for plan in plans])
            finally:
                delete_topics(b, [tin])
    except harness.TestFailure as e:
        print("FAIL: %s (logs in %s)" % (e, work), flush=True)
        sys.exit(1)
    finally:
        delete_run_topics(b)
        if os.environ.get("BENCH_KEEP"):
            log("logs and checkpoints kept in %s" % work)
        elif not sys.exc_info()[0]:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
