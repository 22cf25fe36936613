#!/usr/bin/env python3
"""tests/http/test_api.py - the dashboard's HTTP server (docs/dashboard.md)
against `runnel run --http 127.0.0.1:0` over generated (datagen) input: no
Kafka, no network beyond loopback.

  test_api.py RUNNEL api     every endpoint's shape, numbers against the
                             end-of-run counters, /metrics through
                             prometheus_client's parser, 4xx bodies
  test_api.py RUNNEL auth    a non-loopback bind needs a token; then 401
                             without it
  test_api.py RUNNEL slow    idle connections and SSE readers that never
                             read do not hold the pipeline back

Run with .cache/venv/bin/python (scripts/pyenv installs prometheus-client).
"""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

from prometheus_client.parser import text_string_to_metric_families

RUNNEL = None
FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL: " + what, file=sys.stderr)
    return cond


def pipeline_sql(rows, rate, watermark=True):
    wm = (",\n  ts AS TO_TIMESTAMP_LTZ(CAST(ROUND(`timestamp` * 1000) AS BIGINT), 3),\n"
          "  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND") if watermark else ""
    rate_opt = f"'rows-per-second' = '{rate}', " if rate else ""
    return f"""
CREATE TABLE user_events (
  event_type STRING, user_id INT, page_id INT, `timestamp` DOUBLE{wm}
) WITH ('connector' = 'datagen', 'scenario' = 's5', 'topic' = 'user-events',
        'seed' = '7', {rate_opt}'number-of-rows' = '{rows}');
CREATE TABLE page_views (
  page_id INT, views BIGINT, PRIMARY KEY (page_id) NOT ENFORCED
) WITH ('connector' = 'blackhole');
INSERT INTO page_views SELECT page_id, COUNT(*) AS views FROM user_events GROUP BY page_id;
"""


class Runnel:
    """`runnel run FILE --http ...` in the background; url from its first line."""

    def __init__(self, sql, *args, env=None, name="pipe"):
        self.dir = tempfile.mkdtemp(prefix="runnel-http-")
        self.file = os.path.join(self.dir, name + ".sql")
        with open(self.file, "w") as f:
            f.write(sql)
        self.errpath = os.path.join(self.dir, "stderr")
        self.err = open(self.errpath, "w+")
        e = dict(os.environ)
        e.pop("RUNNEL_HTTP_TOKEN", None)
        e.update(env or {})
        self.proc = subprocess.Popen([RUNNEL, "run", self.file, "--dlq", os.path.join(self.dir, "dlq.jsonl")] + list(args),
                                     stdout=subprocess.DEVNULL, stderr=self.err, env=e, cwd=self.dir)
        self.url = None
        deadline = time.time() + 20
        while time.time() < deadline and self.proc.poll() is None:
            first = open(self.errpath).readline()
            m = re.match(r"runnel: dashboard at (http://[^/]+)/\n", first)
            if m:
                self.url = m.group(1)
                break
            time.sleep(0.05)
        hp = self.url[len("http://"):] if self.url else ""
        self.host, _, port = hp.rpartition(":")
        self.port = int(port) if port else 0

    def stderr(self):
        return open(self.errpath).read()

    def request(self, path, method="GET", headers=None):
        c = http.client.HTTPConnection(self.host, self.port, timeout=10)
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), body

    def json(self, path, headers=None):
        status, hdrs, body = self.request(path, headers=headers)
        check(status == 200, f"GET {path}: status {status} {body[:200]!r}")
        check(hdrs.get("content-type") == "application/json", f"GET {path}: content-type {hdrs.get('content-type')}")
        return json.loads(body)

    def stop(self, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            check(False, "runnel did not stop within %d s of SIGTERM" % timeout)
            return self.proc.wait()


def wait_for(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    check(False, "timed out waiting for " + what)
    return None


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def read_sse_events(r, n, timeout=10):
    """The first n events of an open /api/stream: [(event, data), ...]."""
    sock = socket.create_connection((r.host, r.port), timeout=timeout)
    sock.sendall(b"GET /api/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
    buf = b""
    events = []
    deadline = time.time() + timeout
    while len(events) < n and time.time() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
        # the body is chunked: pick events out of the text between chunk headers
        text = re.sub(rb"\r\n[0-9a-fA-F]+\r\n", b"", buf.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in buf else b"")
        events = re.findall(rb"event: (\w+)\ndata: (.*?)\n\n", text, re.S)
    sock.close()
    return [(e.decode(), json.loads(d)) for e, d in events[:n]]


def test_api():
    rows = 6000
    r = Runnel(pipeline_sql(rows, 3000), "--http", "127.0.0.1:0", "--http-linger", "60")
    if not check(r.url, "no dashboard URL as the first line: " + r.stderr()):
        r.stop()
        return
    # while running: the page, the stream
    status, hdrs, body = r.request("/")
    check(status == 200 and b"<html" in body.lower(), f"/: {status}")
    check(hdrs.get("content-type", "").startswith("text/html"), "/: content-type")
    check(hdrs.get("x-content-type-options") == "nosniff", "/: nosniff")
    check("default-src 'self'" in hdrs.get("content-security-policy", ""), "/: CSP")
    events = read_sse_events(r, 2)
    check([e for e, _ in events] == ["status", "tables"], f"stream events {[e for e, _ in events]}")
    if events:
        check(events[0][1].get("pipelines", [{}])[0].get("name") == "pipe", "stream status names the pipeline")
        check(events[1][1] == {}, "stream tables: none yet")

    st = wait_for(lambda: (lambda s: s if s["pipelines"][0]["state"] == "finished" else None)(r.json("/api/status")),
                  30, "state finished")
    if not st:
        r.stop()
        return
    # /api/pipelines
    pl = r.json("/api/pipelines")
    check(len(pl["pipelines"]) == 1, "one pipeline")
    p = pl["pipelines"][0]
    check(p["name"] == "pipe" and p["file"] == r.file and p["state"] == "finished", f"pipeline entry {p['name']} {p['state']}")
    check(is_num(p["started_ms"]) and p["started_ms"] > 1.6e12, "started_ms")
    check(p["tables"] == [], "no dashboard tables")
    ids = {n["id"] for n in p["graph"]["nodes"]}
    kinds = [n["kind"] for n in p["graph"]["nodes"]]
    check({"Source", "GroupAggregate", "Sink"} <= set(kinds), f"graph kinds {kinds}")
    check(all(isinstance(n["label"], str) for n in p["graph"]["nodes"]), "graph labels")
    check(all(a in ids and b in ids for a, b in p["graph"]["edges"]) and p["graph"]["edges"], "graph edges")

    # /api/status, against the counters printed at the end of the run
    check(is_num(st["time_ms"]) and st["process"]["rss_bytes"] > 0 and st["process"]["uptime_s"] > 0, "process")
    sp = st["pipelines"][0]
    ops = {o["kind"]: o for o in sp["operators"]}
    for o in sp["operators"]:
        for k in ("id", "rows_in", "rows_out", "rows_in_per_s", "rows_out_per_s", "state_bytes", "state_keys", "late_rows"):
            check(is_num(o[k]), f"operator {o['id']} {k} = {o.get(k)!r}")
        check(o["watermark_ms"] is None or is_num(o["watermark_ms"]), "operator watermark_ms")
        check(isinstance(o["label"], str) and isinstance(o["kind"], str), "operator label/kind")
    check(ops["Source"]["rows_out"] == rows, f"source rows_out {ops['Source']['rows_out']}")
    check(ops["GroupAggregate"]["rows_in"] == rows, f"aggregate rows_in {ops['GroupAggregate']['rows_in']}")
    check(ops["GroupAggregate"]["state_keys"] > 0 and ops["GroupAggregate"]["state_bytes"] > 0, "aggregate state")
    srcs = sp["sources"]
    check(len(srcs) >= 1 and all(s["table"] == "user_events" for s in srcs), "sources")
    for s in srcs:
        for k in ("records", "records_per_s"):
            check(is_num(s[k]), f"source {k}")
        check(s["lag"] is None or is_num(s["lag"]), "source lag")
        check(is_num(s["watermark_ms"]) and s["watermark_ms"] > 1.6e12, f"source watermark_ms {s['watermark_ms']}")
        check(isinstance(s["idle"], bool) and isinstance(s["quiet"], bool), "source flags")
        check(s["topic"] is None or isinstance(s["topic"], str), "source topic")
        check(isinstance(s["partition"], int), "source partition")
    check(sum(s["records"] for s in srcs) == rows, f"source records {[s['records'] for s in srcs]}")
    err = r.stderr()
    m = re.search(r"runnel: source user_events: (\d+) records", err)
    check(m and int(m.group(1)) == rows, "stderr source count")
    m = re.search(r"runnel: sink page_views: (\d+) records written", err)
    sink = sp["sinks"][0]
    check(sink["table"] == "page_views" and sink["connector"] == "blackhole", f"sink {sink}")
    check(m and int(m.group(1)) == sink["records"] and sink["records"] > 0, "sink records equal the end-of-run count")
    check(sink["records"] == ops["Sink"]["rows_in"], "sink records equal its rows in")
    check(sink["errors"] == 0 and sink["retries"] == 0 and sp["dlq_records"] == 0, "no errors")

    # /metrics through prometheus_client's parser
    status, hdrs, body = r.request("/metrics")
    check(status == 200 and hdrs.get("content-type", "").startswith("text/plain; version=0.0.4"), "metrics content type")
    fams = {f.name: f for f in text_string_to_metric_families(body.decode())}
    for name in ("runnel_source_records", "runnel_source_watermark_seconds", "runnel_source_undecodable",
                 "runnel_operator_rows_in", "runnel_operator_rows_out", "runnel_operator_state_bytes",
                 "runnel_operator_state_keys", "runnel_operator_late_rows", "runnel_sink_records",
                 "runnel_sink_errors", "runnel_sink_retries", "runnel_dlq_records",
                 "process_resident_memory_bytes", "process_start_time_seconds"):
        check(name in fams, "metric family " + name)

    def samples(fam, suffix=""):
        return [s for s in fams[fam].samples if s.name == fam + suffix] if fam in fams else []

    rec = samples("runnel_source_records", "_total")
    check(sum(s.value for s in rec) == rows and all(s.labels["pipeline"] == "pipe" and s.labels["table"] == "user_events"
                                                     and "topic" in s.labels and "partition" in s.labels for s in rec),
          f"runnel_source_records_total {rec}")
    check(fams.get("runnel_source_records") and fams["runnel_source_records"].type == "counter", "records is a counter")
    sk = samples("runnel_sink_records", "_total")
    check(len(sk) == 1 and sk[0].value == sink["records"]
          and {k: v for k, v in sk[0].labels.items() if k != "operator"} == {"pipeline": "pipe", "table": "page_views",
                                                                           "connector": "blackhole"}
          and sk[0].labels.get("operator", "").isdigit(), f"sink metric {sk}")
    agg = [s for s in samples("runnel_operator_state_keys") if s.labels["kind"] == "GroupAggregate"]
    check(len(agg) == 1 and agg[0].value == ops["GroupAggregate"]["state_keys"], "state keys metric")
    wm = samples("runnel_source_watermark_seconds")
    check(wm and all(abs(s.value * 1000 - src["watermark_ms"]) < 1 for s, src in zip(wm, srcs)), "watermark metric")
    check(samples("process_resident_memory_bytes")[0].value > 0, "rss metric")

    # errors
    for path, code in (("/nope", 404), ("/api", 404), ("/api/tables/nosuch", 404), ("/api/tables/bad%20name", 400),
                       ("/api/tables/a.b.c", 400), ("/assets/nothing.js", 404)):
        status, hdrs, body = r.request(path)
        check(status == code, f"GET {path}: {status}, want {code}")
        check(hdrs.get("content-type") == "application/json" and isinstance(json.loads(body).get("error"), str),
              f"GET {path}: JSON error body {body[:100]!r}")
    for method in ("POST", "PUT", "DELETE"):
        status, hdrs, body = r.request("/api/status", method=method)
        check(status == 405 and "GET" in hdrs.get("allow", "") and "error" in json.loads(body), f"{method}: {status}")
    status, hdrs, body = r.request("/api/status", method="HEAD")
    check(status == 200 and body == b"", f"HEAD: {status} {len(body)}")
    # an oversized request is refused, and the server goes on
    status, _, _ = r.request("/api/status?x=" + "a" * 100000)
    check(status in (414, 431, 413, 400), f"oversized request: {status}")
    check(r.json("/api/status")["pipelines"][0]["state"] == "finished", "serving after an oversized request")
    rc = r.stop()
    check(rc == 0, f"exit status {rc}")


def test_file_dlq():
    """A file source with an undecodable line: the file's one entry, the
    dead-letter count in the status and the metrics."""
    d = tempfile.mkdtemp(prefix="runnel-http-")
    src = os.path.join(d, "in.jsonl")
    with open(src, "w") as f:
        for i in range(50):
            f.write(json.dumps({"user_id": i, "page": "/p%d" % (i % 3)}) + "\n")
        f.write('{"user_id": "not a number", "page": "/x"}\n')
    sql = f"""CREATE TABLE src (user_id INT, page STRING) WITH ('connector' = 'filesystem', 'path' = '{src}');
CREATE TABLE dst (user_id INT, page STRING) WITH ('connector' = 'filesystem', 'path' = '{d}/out.jsonl');
INSERT INTO dst SELECT user_id, page FROM src;
"""
    r = Runnel(sql, "--http", "127.0.0.1:0", "--http-linger", "60", name="files")
    if not check(r.url, "files: URL " + r.stderr()):
        r.stop()
        return
    st = wait_for(lambda: (lambda s: s if s["pipelines"][0]["state"] == "finished" else None)(r.json("/api/status")),
                  30, "files: state finished")
    if st:
        sp = st["pipelines"][0]
        check(sp["name"] == "files", "files: name")
        srcs = sp["sources"]
        check(len(srcs) == 1 and srcs[0]["topic"] is None and srcs[0]["partition"] == -1 and srcs[0]["lag"] is None
              and srcs[0]["watermark_ms"] is None, f"files: the file is one entry {srcs}")
        check(srcs[0]["records"] == 51, f"files: records {srcs[0]['records']}")
        check(sp["dlq_records"] == 1, f"files: dlq_records {sp['dlq_records']}")
        check(sp["sinks"][0]["records"] == 50 and sp["sinks"][0]["connector"] == "filesystem", f"files: sink {sp['sinks']}")
        _, _, body = r.request("/metrics")
        fams = {f.name: f for f in text_string_to_metric_families(body.decode())}
        und = [x for x in fams["runnel_source_undecodable"].samples if x.name.endswith("_total")]
        check(len(und) == 1 and und[0].value == 1 and und[0].labels == {"pipeline": "files", "table": "src"}, f"undecodable {und}")
        dlq = [x for x in fams["runnel_dlq_records"].samples if x.name.endswith("_total")]
        check(len(dlq) == 1 and dlq[0].value == 1, f"dlq metric {dlq}")
        check(not [x for x in fams["runnel_source_lag_records"].samples], "no lag samples for a file")
    check(r.stop() == 0, "files: exit status")


def test_auth():
    # a non-loopback address without a token: refused before anything runs
    d = tempfile.mkdtemp(prefix="runnel-http-")
    f = os.path.join(d, "p.sql")
    open(f, "w").write(pipeline_sql(100, 0, watermark=False))
    env = dict(os.environ)
    env.pop("RUNNEL_HTTP_TOKEN", None)
    p = subprocess.run([RUNNEL, "run", f, "--http", "0.0.0.0:0"], capture_output=True, text=True, timeout=30, env=env, cwd=d)
    check(p.returncode == 2 and "token" in p.stderr and "dashboard at" not in p.stderr, f"no token: {p.returncode} {p.stderr}")
    check(not os.path.exists(os.path.join(d, "dlq.jsonl")), "nothing ran")
    # with a token (from the environment): 401 without it, 200 with it
    for args, env_tok in ((["--http-token", "s3cret"], None), ([], "s3cret")):
        r = Runnel(pipeline_sql(100, 0, watermark=False), "--http", "0.0.0.0:0", "--http-linger", "60", *args,
                   env={"RUNNEL_HTTP_TOKEN": env_tok} if env_tok else None)
        if not check(r.url and r.url.startswith("http://0.0.0.0:"), "token: URL " + r.stderr()):
            r.stop()
            continue
        r.host = "127.0.0.1"
        status, hdrs, body = r.request("/api/status")
        check(status == 401 and "error" in json.loads(body) and hdrs.get("www-authenticate") == "Bearer", f"no token: {status}")
        status, _, _ = r.request("/api/status", headers={"Authorization": "Bearer wrong"})
        check(status == 401, f"wrong token: {status}")
        status, _, _ = r.request("/metrics", headers={"Authorization": "Bearer s3cret"})
        check(status == 200, f"bearer token: {status}")
        status, _, _ = r.request("/api/pipelines?token=s3cret")
        check(status == 200, f"query token: {status}")
        status, _, _ = r.request("/")
        check(status == 401, f"page without token: {status}")
        r.stop()


def records_per_s(err):
    m = re.search(r"runnel: [\d.]+ s, (\d+) records/s", err)
    return int(m.group(1)) if m else 0


def test_slow():
    rows = 6000000
    # the baseline: the same run without clients
    r0 = Runnel(pipeline_sql(rows, 0, watermark=False), "--http", "127.0.0.1:0")
    r0.proc.wait(timeout=120)
    baseline = records_per_s(r0.stderr())
    check(baseline > 0, "baseline rate: " + r0.stderr())

    # now with clients that never read: idle connections, SSE streams that are not read
    r = Runnel(pipeline_sql(rows, 0, watermark=False), "--http", "127.0.0.1:0")
    socks = []
    try:
        if not check(r.url, "slow: URL"):
            return
        for i in range(40):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect((r.host, r.port))
            if i % 4 == 0:  # an SSE reader that never reads
                s.sendall(b"GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n")
            elif i % 4 == 1:  # half a request
                s.sendall(b"GET /api/sta")
            socks.append(s)
        # the server still answers others while they hang on
        if r.proc.poll() is None:
            try:
                status, _, _ = r.request("/api/status")
                check(status == 200, f"slow: a normal request next to stalled clients: {status}")
            except OSError as e:
                check(r.proc.poll() is not None, f"slow: a normal request next to stalled clients: {e}")
        t0 = time.time()
        rc = r.proc.wait(timeout=120)
        ended = time.time() - t0
        check(rc == 0, f"slow: exit {rc}: {r.stderr()}")
        rate = records_per_s(r.stderr())
        print(f"slow: {rate} records/s with 40 stalled clients, {baseline} without; exited {ended:.1f} s after they attached")
        check(rate >= baseline * 0.35, f"slow: {rate} records/s with stalled clients, {baseline} without")
        m = re.search(r"runnel: source user_events: (\d+) records", r.stderr())
        check(m and int(m.group(1)) == rows, "slow: every record read")
    finally:
        for s in socks:
            s.close()
        r.stop()


def main():
    global RUNNEL
    RUNNEL = os.path.abspath(sys.argv[1])
    which = sys.argv[2:] or ["api", "auth", "slow"]
    for w in which:
        {"api": lambda: (test_api(), test_file_dlq()), "auth": test_auth, "slow": test_slow}[w]()
    if FAILURES:
        print(f"{len(FAILURES)} failures", file=sys.stderr)
        sys.exit(1)
    print("ok: " + " ".join(which))


if __name__ == "__main__":
    main()
