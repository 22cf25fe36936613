#!/usr/bin/env python3
"""test_demo_page.py - the dashboard page against the real server: `runnel
demo` (five pipelines on the embedded broker, no services) serves it, and
tests/web/test_dashboard.mjs (headless Chromium) checks it as it does
against the fixture server: graphs, sources and sinks equal to /api/status,
S2's top_pages table equal to /api/tables/top_pages, a live update within
2 s, dark and light; /metrics repeats no series. Then SIGINT stops the demo
with exit 0.

    test_demo_page.py RUNNEL OUTDIR
"""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def main():
    runnel, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    log_path = os.path.join(out, "demo.log")
    with open(log_path, "wb") as log:
        p = subprocess.Popen([runnel, "demo", "--rate", "2000"], stdout=log, stderr=subprocess.STDOUT)
    try:
        # generous: on a loaded 2-core machine (the suite's other tests, a
        # benchmark) the demo's embedded broker and five pipelines once took
        # longer than 60 s to fill top_pages
        deadline = time.time() + 180
        url = None
        while url is None:
            if p.poll() is not None or time.time() > deadline:
                fail("no dashboard URL from runnel demo:\n" + open(log_path).read()[-3000:])
            first = open(log_path).readline()
            if first.endswith("\n"):
                if "dashboard at " not in first:
                    fail("the first line is not the dashboard's URL: %r" % first)
                url = first.split("dashboard at ", 1)[1].strip()
            else:
                time.sleep(0.2)

        def rows():
            try:
                with urllib.request.urlopen(url + "api/tables/top_pages", timeout=5) as r:
                    return len(json.load(r)["rows"])
            except OSError:
                return 0
        while rows() < 5:
            if p.poll() is not None or time.time() > deadline:
                fail("top_pages never filled:\n" + open(log_path).read()[-3000:])
            time.sleep(0.5)
        t = subprocess.run([os.path.join(HERE, "run_dashboard_test.sh"), "--url", url, "--table", "top_pages",
                            "--out", out], timeout=400)
        if t.returncode != 0:
            fail("the page test failed against runnel demo (exit %d)" % t.returncode)
        # /metrics of five pipelines, with dashboard copies of sinks and
        # tables written by several INSERTs: no two samples share a name
        # and labels (Prometheus refuses such a scrape)
        with urllib.request.urlopen(url + "metrics", timeout=10) as r:
            text = r.read().decode()
        series = [line.rsplit(" ", 1)[0] for line in text.splitlines() if line and not line.startswith("#")]
        dup = sorted({x for x in series if series.count(x) > 1})
        if dup:
            fail("/metrics repeats %d series, e.g. %s" % (len(dup), dup[:3]))
        if not any('connector="dashboard"' in x for x in series):
            fail("/metrics has no dashboard copy of a sink")
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
            try:
                rc = p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                fail("runnel demo did not stop within 30 s of SIGINT")
    if rc != 0:
        fail("runnel demo exited %d:\n%s" % (rc, open(log_path).read()[-3000:]))
    print("ok")


if __name__ == "__main__":
    main()
