"""harness.py - the side-by-side benchmark of bench/peers (run it with
bench/peers/run; bench/peers/README.md is the contract and the figures).

1. The broker: PEERS_BOOTSTRAP (or KAFKA_BOOTSTRAP) when set; otherwise the
   private single broker of scripts/kafka on port 20092 (state in
   /tmp/peers-kafka), started if it does not run, and stopped at exit only
   if this run started it.
2. The input, produced once: `user-events` (PEERS_EVENTS, default 2,000,000
   `runnel gen s5 --seed 1` events, key {"user_id"}) and `person`,
   `auction`, `bid` (`runnel gen nexmark` of as many events), 8 partitions
   each; a topic that already holds the expected count is kept, one that
   holds another count is an error (delete it, or point PEERS_BOOTSTRAP
   elsewhere).
3. For each query (PEERS_QUERIES) and engine (PEERS_ENGINES), PEERS_RUNS
   times: a fresh 1-partition OUT_TOPIC, then
       bench/peers/ENGINE/query QUERY BOOTSTRAP OUT_TOPIC
   in the foreground, its whole process tree's resident memory summed every
   50 ms (the peak is the figure); its last stdout line `PEERS {...}` gives
   startup_s, process_s and records.
4. Every run's OUT_TOPIC is read to its end and normalized (upsert: the last
   row per key; append: the multiset of rows; timestamps to epoch ms, floats
   to 6 significant digits) and compared with runnel's first run of the
   query (run for the reference even when runnel is not in PEERS_ENGINES).
   A difference prints the first rows that differ and the engine gets
   "WRONG" instead of a speed.
5. Prints the markdown table (medians over the runs; peak RSS the highest)
   and writes it with every run's figures to PEERS_OUT (default
   .cache/peers/results-<time>.json and .md).

Exit 0 when every engine that ran gave runnel's result (n/a aside), 1 if
any was wrong or failed, 2 on a setup error (broker, input).
"""
import datetime
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PY = sys.executable
KTOOL = os.path.join(ROOT, "tests", "kafka", "ktool.py")
RUNNEL = os.environ.get("RUNNEL", os.path.join(ROOT, "build", "runnel"))
PRIVATE_ENV = {"RUNNEL_KAFKA_PORT_OFFSET": "1000", "RUNNEL_KAFKA_DIR": "/tmp/peers-kafka",
               "RUNNEL_KAFKA_HEAP": "1g", "RUNNEL_KAFKA_JVM_OPTS": "-XX:TieredStopAtLevel=4"}

# query -> (input topic, "upsert" key column or None for append, timestamp columns)
QUERIES = {
    "page_views": ("user-events", "page_id", ()),
    "tumble": ("user-events", None, ("window_start", "window_end")),
    "q0": ("bid", None, ("dateTime",)),
    "q1": ("bid", None, ("dateTime",)),
    "q2": ("bid", None, ()),
    "q5": ("bid", None, ()),
    "q7": ("bid", None, ("dateTime",)),
}


def log(msg):
    print("peers: " + msg, file=sys.stderr, flush=True)


def die(msg):
    """A setup error (broker, input): exit 2."""
    log(msg)
    sys.exit(2)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# ---- broker and input --------------------------------------------------------------------------

def start_broker():
    """Returns (bootstrap, started_by_us)."""
    bs = os.environ.get("PEERS_BOOTSTRAP") or os.environ.get("KAFKA_BOOTSTRAP")
    if bs:
        return bs, False
    env = dict(os.environ, **PRIVATE_ENV)
    kafka = os.path.join(ROOT, "scripts", "kafka")
    running = subprocess.run([kafka, "status"], env=env, capture_output=True).returncode == 0
    if not running:
        log("starting the private broker (%s)" % PRIVATE_ENV["RUNNEL_KAFKA_DIR"])
    r = subprocess.run([kafka, "start", "--brokers", "1"], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        die("scripts/kafka start failed")
    return r.stdout.strip().splitlines()[-1], not running


def stop_broker():
    env = dict(os.environ, **PRIVATE_ENV)
    subprocess.run([os.path.join(ROOT, "scripts", "kafka"), "stop"], env=env)


def topic_count(consumer, topic):
    """Records in TOPIC (sum of high - low over its partitions), or None if it does not exist."""
    md = consumer.list_topics(topic, timeout=30).topics.get(topic)
    if md is None or md.error is not None or not md.partitions:
        return None
    n = 0
    for p in md.partitions:
        lo, hi = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
        n += hi - lo
    return n


def ensure_input(bs, topics, events):
    """Produces each of TOPICS unless it holds its expected count already."""
    want = {"user-events": events, "person": events // 50, "auction": events * 3 // 50,
            "bid": events - events // 50 - events * 3 // 50}
    c = Consumer({"bootstrap.servers": bs, "group.id": "peers-harness-check"})
    try:
        for t in topics:
            have = topic_count(c, t)
            if have == want[t]:
                continue
            if have:
                die("topic %s holds %d records, not %d: delete it or set PEERS_BOOTSTRAP to "
                                 "another broker" % (t, have, want[t]))
            data = os.path.join(ROOT, ".cache", "peers", "data-%d" % events)
            kind, sub = ("s5", "s5") if t == "user-events" else ("nexmark", "nexmark")
            path = os.path.join(data, sub, t + ".jsonl")
            if not os.path.exists(path):
                log("generating %d %s events into %s" % (events, kind, os.path.join(data, sub)))
                subprocess.run([RUNNEL, "gen", kind, "--count", str(events), "--seed", "1",
                                "--out", os.path.join(data, sub)], check=True, stdout=subprocess.DEVNULL)
            log("producing %s" % t)
            subprocess.run([PY, KTOOL, "create", t, "--partitions", "8", "--replication", "1", "-b", bs], check=True)
            key = ["--key-field", "user_id"] if t == "user-events" else []
            subprocess.run([PY, KTOOL, "produce", t, path, "-b", bs] + key, check=True)
            have = topic_count(c, t)
            if have != want[t]:
                die("topic %s holds %s records after producing, not %d" % (t, have, want[t]))
    finally:
        c.close()


# ---- one adapter run ---------------------------------------------------------------------------

PAGE = os.sysconf("SC_PAGE_SIZE")


def tree(pid):
    """PID and its descendants (through /proc/PID/task/*/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir("/proc/%d/task" % p):
                with open("/proc/%d/task/%s/children" % (p, tid)) as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return out


def tree_rss(pid):
    total = 0
    for p in tree(pid):
        try:
            with open("/proc/%d/statm" % p) as f:
                total += int(f.read().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            pass
    return total


TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu(pid):
    """CPU seconds (user + system) the live processes of PID's tree have used."""
    total = 0
    for p in tree(pid):
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        except (OSError, ValueError, IndexError):
            pass
    return total / TICK


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def processing_cpu(samples, total, t0, startup_s):
    """The CPU seconds of processing: the tree's whole CPU less what it had
    used by the end of start-up (interpolated between the 50 ms samples of
    the live tree). The whole is the rusage of the reaped adapter, which
    counts every descendant its parents waited for, or the last sample of
    the live tree where that is more (pyspark does not wait for its JVM)."""
    if samples:
        total = max(total, max(c for _, c in samples))
    ready = t0 + startup_s
    before = [(t, c) for t, c in samples if t <= ready]
    after = [(t, c) for t, c in samples if t > ready]
    if not before:
        at_ready = 0.0
    elif not after:
        at_ready = before[-1][1]
    else:
        (ta, ca), (tb, cb) = before[-1], after[0]
        at_ready = ca + (cb - ca) * (ready - ta) / (tb - ta)
    return max(total - at_ready, 0.0)


def run_adapter(engine, query, bs, out_topic, logpath, timeout):
    """Runs the adapter; returns a dict: status ("ok", "n/a", "failed"), rc, peers figures,
    wall_s, peak_rss (bytes of the process tree), cpu_s (CPU seconds of the whole tree) and
    process_cpu_s (those after start-up)."""
    exe = os.path.join(ROOT, "bench", "peers", engine, "query")
    if not os.access(exe, os.X_OK):
        return {"status": "n/a", "why": "no adapter"}
    with open(logpath, "w") as errf:
        cpu0 = children_cpu()
        t0 = time.time()
        # a session of its own, so that a timeout kills the engine under the adapter too
        proc = subprocess.Popen([exe, query, bs, out_topic], stdout=subprocess.PIPE, stderr=errf, text=True,
                                cwd=ROOT, start_new_session=True)
        peak = [0]
        cpu_samples = []  # (time, CPU seconds of the live tree)
        stop = threading.Event()

        def sample():
            while not stop.wait(0.05):
                peak[0] = max(peak[0], tree_rss(proc.pid))
                cpu_samples.append((time.time(), tree_cpu(proc.pid)))

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        try:
            stdout, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, _ = proc.communicate()
            stop.set()
            return {"status": "failed", "why": "timeout after %d s" % timeout, "pid": proc.pid}
        stop.set()
        th.join()
        wall = time.time() - t0
        cpu = children_cpu() - cpu0
    res = {"rc": proc.returncode, "wall_s": round(wall, 3), "peak_rss": peak[0], "pid": proc.pid,
           "cpu_s": round(cpu, 3)}
    if proc.returncode == 3:
        return dict(res, status="n/a", why="exit 3")
    lines = stdout.strip().splitlines()
    if proc.returncode != 0 or not lines or not lines[-1].startswith("PEERS "):
        return dict(res, status="failed", why="exit %d%s" % (proc.returncode, "" if lines and lines[-1].startswith(
            "PEERS ") else ", no PEERS line"))
    figures = json.loads(lines[-1][len("PEERS "):])
    res["process_cpu_s"] = round(processing_cpu(cpu_samples, cpu, t0, figures["startup_s"]), 3)
    return dict(res, status="ok", **{k: figures[k] for k in ("startup_s", "process_s", "records")})


# ---- results -----------------------------------------------------------------------------------

TS_RE = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d)?$")


def to_ms(v):
    """A timestamp (epoch ms number, 'YYYY-MM-DD HH:MM:SS[.fff]' UTC, ISO-8601) to epoch ms."""
    if isinstance(v, (int, float)):
        return int(round(v))
    if not isinstance(v, str):
        return v
    m = TS_RE.match(v.strip())
    if not m:
        return v
    y, mo, d, h, mi, s, frac, zone = m.groups()
    t = datetime.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=datetime.timezone.utc)
    ms = int(t.timestamp()) * 1000 + (int((frac or "0").ljust(3, "0")[:3]))
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        zone = zone[1:].replace(":", "")
        ms -= sign * (int(zone[:2]) * 60 + int(zone[2:])) * 60000
    return ms


def norm_value(v):
    """Numbers by value, to 6 significant digits: an integral DECIMAL is an
    integer in one engine's JSON (Flink: 9127443) and a float in another's
    (runnel: 9127443.0), so integers are rounded like floats."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float("%.6g" % v)
    return v


def norm_row(row, ts_cols):
    return tuple(sorted((k, to_ms(v) if k in ts_cols else norm_value(v)) for k, v in row.items()))


def read_result(bs, topic, query):
    """OUT_TOPIC's result: {key: row} for an upsert query, {row: count} for an append one; and the
    number of records read."""
    _, key_col, ts_cols = QUERIES[query]
    c = Consumer({"bootstrap.servers": bs, "group.id": "peers-harness-read", "enable.auto.commit": False})
    lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)
    result, n = {}, 0
    if hi > lo:
        c.assign([TopicPartition(topic, 0, lo)])
        pos = lo
        while pos < hi:
            for m in c.consume(num_messages=10000, timeout=5.0):
                if m.error():
                    die("reading %s: %s" % (topic, m.error()))
                pos = m.offset() + 1
                n += 1
                v = m.value()
                if key_col is not None:
                    if v is None:  # a tombstone: the key is gone
                        k = m.key() and json.loads(m.key()).get(key_col)
                        result.pop(k, None)
                        continue
                    row = json.loads(v)
                    result[row.get(key_col)] = norm_row(row, ts_cols)
                elif v is not None:
                    r = norm_row(json.loads(v), ts_cols)
                    result[r] = result.get(r, 0) + 1
    c.close()
    return result, n


def differences(want, got, upsert, limit=5):
    """Lines describing the first differences between two results (empty if equal)."""
    if want == got:
        return []
    out = []
    if upsert:
        keys = sorted(set(want) | set(got), key=repr)
        bad = [k for k in keys if want.get(k) != got.get(k)]
        out.append("%d of %d keys differ" % (len(bad), len(keys)))
        for k in bad[:limit]:
            out.append("  key %r: runnel %s, this engine %s" % (k, want.get(k), got.get(k)))
        return out
    missing = {r: n - got.get(r, 0) for r, n in want.items() if n > got.get(r, 0)}
    extra = {r: n - want.get(r, 0) for r, n in got.items() if n > want.get(r, 0)}
    out.append("%d rows only in runnel's result, %d only in this engine's (of %d and %d)"
               % (sum(missing.values()), sum(extra.values()), sum(want.values()), sum(got.values())))
    for name, d in (("runnel only", missing), ("engine only", extra)):
        for r in sorted(d, key=repr)[:limit]:
            out.append("  %s: %s x%d" % (name, dict(r), d[r]))
    return out


# ---- the table ---------------------------------------------------------------------------------

def summarize(runs, ref_eps, ref_epc=None):
    """One table row's figures from an engine's runs of a query."""
    ok = [r for r in runs if r["status"] == "ok"]
    if any(r["status"] == "n/a" for r in runs):
        return {"verdict": "n/a"}
    if any(r["status"] == "failed" for r in runs):
        why = next(r.get("why", "") for r in runs if r["status"] == "failed")
        return {"verdict": "failed", "why": why}
    rss = max(r["peak_rss"] for r in ok) / 2 ** 20
    if any(r.get("check") == "WRONG" for r in ok):
        return {"verdict": "WRONG", "peak_rss_mib": round(rss, 1)}
    if any(r.get("check") == "unchecked" for r in ok):  # runnel gave no result: no speed either
        return {"verdict": "unchecked", "peak_rss_mib": round(rss, 1),
                "startup_s": round(statistics.median(r["startup_s"] for r in ok), 3),
                "process_s": round(statistics.median(r["process_s"] for r in ok), 3)}
    s = {"verdict": "ok", "runs": len(ok),
         "startup_s": round(statistics.median(r["startup_s"] for r in ok), 3),
         "process_s": round(statistics.median(r["process_s"] for r in ok), 3),
         "records": ok[0]["records"], "peak_rss_mib": round(rss, 1)}
    s["events_per_s"] = round(s["records"] / s["process_s"]) if s["process_s"] > 0 else None
    if ref_eps and s["events_per_s"]:
        s["runnel_ratio"] = round(ref_eps / s["events_per_s"], 2)
    # per core: events per CPU second of processing, the whole process tree's
    s["process_cpu_s"] = round(statistics.median(r["process_cpu_s"] for r in ok), 3)
    s["events_per_cpu_s"] = round(s["records"] / s["process_cpu_s"]) if s["process_cpu_s"] > 0 else None
    if ref_epc and s["events_per_cpu_s"]:
        s["runnel_cpu_ratio"] = round(ref_epc / s["events_per_cpu_s"], 2)
    return s


def table(summary, queries, engines):
    lines = ["| query | engine | startup s | process s | events/s | runnel/engine | process CPU s | events/CPU s "
             "| runnel/engine per CPU s | peak RSS MiB |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for q in queries:
        for e in engines:
            s = summary[q][e]
            v = s["verdict"]
            if v == "ok":
                ratio = "%.2fx" % s["runnel_ratio"] if "runnel_ratio" in s else "-"
                cratio = "%.2fx" % s["runnel_cpu_ratio"] if "runnel_cpu_ratio" in s else "-"
                epc = "{:,}".format(s["events_per_cpu_s"]) if s.get("events_per_cpu_s") else "-"
                lines.append("| %s | %s | %.2f | %.2f | %s | %s | %.2f | %s | %s | %.0f |" % (
                    q, e, s["startup_s"], s["process_s"], "{:,}".format(s["events_per_s"]), ratio,
                    s["process_cpu_s"], epc, cratio, s["peak_rss_mib"]))
            elif v in ("WRONG", "unchecked"):
                lines.append("| %s | %s | - | - | %s | - | - | - | - | %.0f |" % (
                    q, e, v if v == "WRONG" else "unchecked (no runnel result)", s["peak_rss_mib"]))
            else:
                lines.append("| %s | %s | - | - | %s | - | - | - | - | - |" % (q, e, v if v == "n/a" else "failed (%s)" % s["why"]))
    return "\n".join(lines)


def save(outbase, stamp, events, nruns, bs, engines, queries, load_start, summary, results):
    """Writes the table and every figure so far to OUTBASE.md and .json; returns the table."""
    load_now = loadavg()
    md = ("bench/peers: %d events, median of %d runs, load average %s at start, %s at the end\n\n%s\n"
          % (events, nruns, load_start, load_now, table(summary, queries, engines)))
    with open(outbase + ".md", "w") as f:
        f.write(md)
    with open(outbase + ".json", "w") as f:
        json.dump({"time": stamp, "events": events, "runs": nruns, "bootstrap": bs, "engines": engines,
                   "queries": queries, "load_start": load_start, "load_end": load_now,
                   "summary": summary, "runs_detail": results}, f, indent=1)
    return md


# ---- main --------------------------------------------------------------------------------------

def main():
    engines = os.environ.get("PEERS_ENGINES", "runnel python flink kstreams spark").split()
    queries = os.environ.get("PEERS_QUERIES", "page_views tumble q0 q1 q2 q5 q7").split()
    nruns = int(os.environ.get("PEERS_RUNS", "3"))
    events = int(os.environ.get("PEERS_EVENTS", "2000000"))
    timeout = int(os.environ.get("PEERS_TIMEOUT", "1800"))
    keep = os.environ.get("PEERS_KEEP_TOPICS") == "1"
    bad = [q for q in queries if q not in QUERIES]
    if bad:
        die("unknown queries %s (known: %s)" % (" ".join(bad), " ".join(QUERIES)))
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    outbase = os.environ.get("PEERS_OUT", os.path.join(ROOT, ".cache", "peers", "results-" + stamp))
    logdir = outbase + "-logs"
    os.makedirs(logdir, exist_ok=True)
    load_start = loadavg()
    log("load average at start: %s" % load_start)

    bs, started = start_broker()
    try:
        log("broker %s%s" % (bs, " (started by this run)" if started else ""))
        inputs = {QUERIES[q][0] for q in queries}
        if "bid" in inputs:  # the Nexmark topics go together
            inputs |= {"person", "auction"}
        ensure_input(bs, sorted(inputs), events)
        admin = AdminClient({"bootstrap.servers": bs})
        results, summary, failed = {}, {}, False
        order = ["runnel"] + [e for e in engines if e != "runnel"]
        for q in queries:
            ref, results[q], summary[q] = None, {}, {}
            upsert = QUERIES[q][1] is not None
            for e in order:
                runs = []
                for i in range(1, (nruns if e in engines else 1) + 1):
                    topic = "peers-out-%s-%s-%s-%d" % (stamp, e, q, i)
                    # kept forever: engines that stamp results with their event
                    # time (Kafka Streams, Flink) would otherwise see them
                    # deleted by the 7-day retention as soon as a segment rolls
                    fut = admin.create_topics([NewTopic(topic, 1, 1, config={"retention.ms": "-1"})])
                    fut[topic].result(30)
                    logpath = os.path.join(logdir, "%s-%s-%d.log" % (e, q, i))
                    log("%s %s run %d/%d -> %s" % (e, q, i, nruns, topic))
                    r = run_adapter(e, q, bs, topic, logpath, timeout)
                    r["log"] = logpath
                    if r["status"] == "ok":
                        got, r["out_records"] = read_result(bs, topic, q)
                        if e == "runnel" and ref is None:
                            ref = got
                        diff = differences(ref, got, upsert) if ref is not None else []
                        r["check"] = "unchecked" if ref is None else "WRONG" if diff else "ok"
                        if diff:
                            log("%s %s run %d: WRONG result:\n  %s" % (e, q, i, "\n  ".join(diff)))
                        log("%s %s run %d: startup %.2f s, process %.2f s (%.2f CPU s), %d records, peak RSS %.0f MiB, "
                            "%s" % (e, q, i, r["startup_s"], r["process_s"], r["process_cpu_s"], r["records"],
                                    r["peak_rss"] / 2 ** 20, r["check"]))
                    else:
                        log("%s %s run %d: %s (%s; log %s)" % (e, q, i, r["status"], r.get("why", ""), logpath))
                    if not keep:
                        doomed = [topic]
                        if e == "runnel" and "pid" in r:  # the adapter's repartition topics
                            prefix = "peers-runnel-%s-%d-" % (q, r["pid"])
                            doomed += [t for t in admin.list_topics(timeout=30).topics if t.startswith(prefix)]
                        admin.delete_topics(doomed)
                    runs.append(r)
                    if r["status"] in ("n/a", "failed") or r.get("check") == "WRONG":
                        break
                results[q][e] = runs
                ref_eps = summary[q]["runnel"].get("events_per_s") if "runnel" in summary[q] else None
                ref_epc = summary[q]["runnel"].get("events_per_cpu_s") if "runnel" in summary[q] else None
                summary[q][e] = summarize(runs, ref_eps, ref_epc)
                failed |= summary[q][e]["verdict"] in ("WRONG", "failed", "unchecked")
            md = save(outbase, stamp, events, nruns, bs, engines, [x for x in queries if x in summary], load_start,
                      summary, results)
        print(md)
        log("results in %s.json and %s.md, logs in %s" % (outbase, outbase, logdir))
        return 1 if failed else 0
    finally:
        if started:
            stop_broker()


if __name__ == "__main__":
    sys.exit(main())
