#!/usr/bin/env python3
"""tests/http/test_workers.py - the dashboard API of `runnel run --workers 2
--http` over the real Kafka cluster (docs/dashboard.md, "Workers").

Input: an 8-partition topic of click events (user_id, page_id, ts), keyed
by user_id, produced once both workers hold partitions of it and of the
GROUP BY's repartition topic. The pipeline (written to a temporary
file with a name of its own, so its repartition topics are new) writes
two Kafka tables with 'dashboard' = 'true' (a process with workers reads
and writes Kafka only, so its dashboard tables are such twins):
- page_views: views per page, an upsert table sorted by views DESC (ties
  by key); the GROUP BY repartitions by page, so each page lives in one
  worker.
- last_clicks: the clicks as they come, an append table of at most 40
  rows (change order).

Checks, once every event is counted:
- /api/tables/page_views (the process's table) is the merge of the two
  workers' copies: exactly the oracle's counts, in the table's order
  (views DESC, ties by key text), total_rows the number of pages,
  "workers": 2; the copies (/api/tables/NAME-w1.page_views, ...) hold
  disjoint keys whose union is the oracle;
- /api/tables/last_clicks is the 40 rows of the highest change numbers
  of the two copies, in change order, each an input click;
- /api/pipelines names both workers with "group" NAME;
- /api/status: each worker reports its own partitions of the input topic
  (together each of the 8 exactly once), with records and a numeric
  consumer lag each; the lag of every partition falls to 0 and the
  records add up to the input; /metrics has a lag sample per partition;
- SIGINT then stops the run with exit 0.

Needs the shared cluster (scripts/kafka start --brokers 3; CTest fixture
kafka_cluster). Run directly: .cache/venv/bin/python tests/http/test_workers.py
"""
import collections
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "kafka"))
import harness  # noqa: E402
from harness import check, log  # noqa: E402

RUN_ID = "%d%d" % (os.getpid(), int(time.time()) % 100000)
EVENTS = 4000
PAGES = 60
MAX_APPEND = 40

SQL = """
CREATE TABLE clicks (
  user_id BIGINT, page_id BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH ('connector' = 'kafka', 'topic' = '%(topic)s', 'format' = 'json',
        'scan.startup.mode' = 'earliest-offset',
        'properties.group.id' = '%(group)s');
CREATE TABLE page_views (
  page_id BIGINT, views BIGINT, PRIMARY KEY (page_id) NOT ENFORCED
) WITH ('connector' = 'upsert-kafka', 'topic' = '%(topic)s-views', 'key.format' = 'json',
        'dashboard' = 'true');
CREATE TABLE last_clicks (
  user_id BIGINT, page_id BIGINT
) WITH ('connector' = 'kafka', 'topic' = '%(topic)s-clicks', 'format' = 'json',
        'dashboard' = 'true', 'dashboard.max-rows' = '%(max)d');
INSERT INTO page_views SELECT page_id, COUNT(*) AS views FROM clicks GROUP BY page_id;
INSERT INTO last_clicks SELECT user_id, page_id FROM clicks;
"""


def get(url, path):
    with urllib.request.urlopen(url + path, timeout=10) as r:
        return r.read().decode()


def get_json(url, path):
    return json.loads(get(url, path))


def main_test(env):
    b = env["KAFKA_BOOTSTRAP"]
    topic = "http-workers-%s" % RUN_ID
    name = "http_workers_%s" % RUN_ID
    topics = [topic, topic + "-views", topic + "-clicks"]
    harness.fresh_topics(b, topics, partitions=8)
    rng = random.Random(11)
    t0 = 1765000000  # epoch seconds (docs/formats.md)
    events = [{"user_id": rng.randrange(500), "page_id": rng.randrange(PAGES), "ts": round(t0 + i * 0.01, 3)}
              for i in range(EVENTS)]
    want = collections.Counter(e["page_id"] for e in events)
    clicks = collections.Counter((e["user_id"], e["page_id"]) for e in events)

    d = tempfile.mkdtemp(prefix="runnel-http-workers-")
    sql = os.path.join(d, name + ".sql")
    with open(sql, "w") as f:
        f.write(SQL % {"topic": topic, "group": "runnel-" + name, "max": MAX_APPEND})
    log_path = os.path.join(d, "run.log")
    logf = open(log_path, "wb")
    p = subprocess.Popen([os.path.join(ROOT, "build", "runnel"), "run", sql, "--brokers", b, "--workers", "2",
                          "--http", "127.0.0.1:0"], stdout=logf, stderr=subprocess.STDOUT)
    output = lambda: open(log_path, "rb").read().decode("utf-8", "replace")[-4000:]
    try:
        url = None
        harness.wait_for(lambda: p.poll() is not None or "dashboard at " in output(), 60, "the dashboard URL")
        check(p.poll() is None, "runnel exited %s:\n%s" % (p.returncode, output()))
        url = output().split("dashboard at ", 1)[1].split()[0]
        workers = [name + "-w1", name + "-w2"]

        # the input only once both workers hold partitions of it, and of
        # the repartition topic of the GROUP BY: else the first to start
        # could read (and count) it all alone, or count pages whose
        # partition then moves to the other worker (without checkpoints a
        # moved partition's state stays behind: docs/checkpoints.md)
        def assigned():
            check(p.poll() is None, "runnel exited %s:\n%s" % (p.returncode, output()))
            by, rep = {}, {}
            for ps in get_json(url, "api/status")["pipelines"]:
                for src in ps["sources"]:
                    if src["topic"] == topic:
                        by.setdefault(ps["name"], set()).add(src["partition"])
                    elif (src["topic"] or "").endswith("-repartition"):
                        rep.setdefault(ps["name"], set()).add(src["partition"])
            full = lambda m: len(m) == 2 and all(m.values()) and set().union(*m.values()) == set(range(8))
            return (by, rep) if full(by) and full(rep) else None
        by, rep = harness.wait_for(assigned, 90, "both workers assigned partitions of %s and of its repartition "
                                   "topic" % topic)
        log("assigned: %s; repartition topic: %s" % ({w: sorted(ps) for w, ps in by.items()},
                                                     {w: sorted(ps) for w, ps in rep.items()}))
        harness.produce(b, topic, [json.dumps(e) for e in events], key_field="user_id")

        pipes = get_json(url, "api/pipelines")["pipelines"]
        check([x["name"] for x in pipes] == workers, "pipelines: %s" % [x["name"] for x in pipes])
        check(all(x.get("group") == name for x in pipes), "each worker's group is %s: %s" % (name, pipes))

        last = {}

        def counted():
            check(p.poll() is None, "runnel exited %s:\n%s" % (p.returncode, output()))
            try:
                t = get_json(url, "api/tables/page_views")
            except OSError:
                return None
            last["sum"] = sum(r[1] for r in t["rows"])
            return t if last["sum"] == EVENTS else None
        try:
            harness.wait_for(counted, 120, "page_views to count all %d events" % EVENTS)
        except harness.TestFailure as e:
            # what was counted (more than EVENTS: read twice), where each
            # worker stands, and the run's log
            try:
                srcs = [(ps["name"], s.get("topic"), s.get("partition"), s.get("records"), s.get("lag"))
                        for ps in get_json(url, "api/status")["pipelines"] for s in ps["sources"]]
            except (OSError, ValueError) as why:
                srcs = "unreadable: %s" % why
            raise harness.TestFailure("%s: counted %s\nsources (worker, topic, partition, records, lag): %s\n"
                                      "log:\n%s" % (e, last.get("sum"), srcs, output()))
        # the tables are final now (no more input): read the merge and the copies
        merged = get_json(url, "api/tables/page_views")
        copies = [get_json(url, "api/tables/%s.page_views" % w) for w in workers]
        check(merged.get("workers") == 2 and merged["pipeline"] == name, "merged page_views: workers %s, pipeline %s"
              % (merged.get("workers"), merged["pipeline"]))
        order = sorted(want.items(), key=lambda kv: (-kv[1], ("[%d]" % kv[0]).encode()))
        check(merged["rows"] == [[k, v] for k, v in order],
              "page_views merged != oracle:\n got %s\nwant %s" % (merged["rows"][:8], order[:8]))
        check(merged["total_rows"] == len(want), "total_rows %d, want %d" % (merged["total_rows"], len(want)))
        keys = [set(r[0] for r in c["rows"]) for c in copies]
        check(all(keys) and not (keys[0] & keys[1]), "the workers' page_views copies share keys or one is empty: %s"
              % [len(k) for k in keys])
        check(keys[0] | keys[1] == set(want), "the copies' keys are not the pages")
        check(all(c["pipeline"] != name or "workers" not in c for c in copies), "a copy looks merged")
        log("page_views: %d pages, %d + %d in the workers" % (len(want), len(keys[0]), len(keys[1])))

        lc = get_json(url, "api/tables/last_clicks")
        lcopies = [get_json(url, "api/tables/%s.last_clicks" % w) for w in workers]
        pairs = sorted((chg, row) for c in lcopies for chg, row in zip(c["changes"], c["rows"]))
        check(len(lc["rows"]) == MAX_APPEND and lc["rows"] == [r for _, r in pairs[-MAX_APPEND:]],
              "last_clicks merged is not the last %d of the copies in change order" % MAX_APPEND)
        check(lc["changes"] == sorted(lc["changes"]) and len(set(lc["changes"])) == MAX_APPEND,
              "last_clicks changes not increasing: %s" % lc["changes"][:10])
        check(all(clicks[(r[0], r[1])] > 0 for r in lc["rows"]), "last_clicks has a row that is no input click")
        check(lc["total_rows"] == sum(c["total_rows"] for c in lcopies), "last_clicks total_rows")
        key1 = get_json(url, "api/tables/page_views?key=%d" % order[0][0])
        check(key1["rows"] == [[order[0][0], order[0][1]]], "?key= on the merged table: %s" % key1["rows"])

        # consumer lag per partition, each partition in one worker
        def lag_settled():
            s = get_json(url, "api/status")
            parts, total = {}, 0
            for ps in s["pipelines"]:
                for src in ps["sources"]:
                    if src["topic"] != topic:
                        continue
                    check(src["partition"] not in parts, "partition %d in two workers" % src["partition"])
                    check(isinstance(src["lag"], int) and src["lag"] >= 0 or src["lag"] is None,
                          "lag of partition %d: %r" % (src["partition"], src["lag"]))
                    parts[src["partition"]] = (ps["name"], src["lag"])
                    total += src["records"]
            if sorted(parts) != list(range(8)):
                return None
            return parts if all(lag == 0 for _, lag in parts.values()) and total == EVENTS else None
        parts = harness.wait_for(lag_settled, 60, "lag 0 on all 8 partitions of %s and %d records" % (topic, EVENTS))
        check(len({w for w, _ in parts.values()}) == 2, "both workers read partitions: %s" % parts)
        metrics = get(url, "metrics")
        lags = [l for l in metrics.splitlines() if l.startswith("runnel_source_lag_records{") and topic in l]
        check(len(lags) == 8, "/metrics: %d lag samples for %s, want 8" % (len(lags), topic))
        log("lag 0 on 8 partitions, read by %s" % sorted({w for w, _ in parts.values()}))
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                raise harness.TestFailure("runnel did not stop within 60 s of SIGINT")
        for t in topics:
            harness.ktool("delete", t, "--bootstrap", b, check_rc=False)
    check(p.returncode == 0, "runnel exited %d after SIGINT:\n%s" % (p.returncode, output()))


if __name__ == "__main__":
    harness.main(main_test)
