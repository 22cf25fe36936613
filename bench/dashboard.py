#!/usr/bin/env python3
"""dashboard.py - what watching the dashboard costs a pipeline (bench/dashboard
sets it up; bench/README.md has the figures).

The pipeline: examples/s2_activity.sql with its Kafka table read from the
events file and its three Redis tables made blackhole sinks (`runnel run
--connector/--set`, docs/cli.md), so it needs no service; its three
`'dashboard' = 'true'` twins fill the dashboard tables top_pages,
active_users and user_views_1h.

1. Clients, in one run. `runnel run --http 127.0.0.1:0` over the long
   file, in phases of PHASE_S seconds that alternate: no client, the page
   open in headless Chromium (bench/dashboard_page.mjs: launched before
   runnel starts, idle on about:blank in the other phases), no client,
   curl fetching /metrics every second (a Prometheus scrape), no client,
   the page, ... until the input is read. Each phase waits SETTLE_S after
   its client is in place (the page loaded and live on /api/stream), then
   measures events/s on the pipeline's own snapshots (GET /api/status:
   records read and the snapshot's time_ms, at the start and the end of
   the phase), and runnel's CPU use over the same time (/proc/PID/stat):
   events per CPU second of the whole process, and the CPU time of its
   threads other than the pipeline's (the busiest one): the HTTP server's,
   what serving a client costs runnel directly; and the CPU the browser's
   processes used (on a small machine, taken from everything else). A client phase is compared with the mean of the no-client
   phases either side of it (the state grows, so the pipeline slows down
   over the run): the median of those ratios per client.
2. Twin. The same pipeline without --http over the short file, with its
   dashboard twins and without them (the `'dashboard'` options removed
   from the file), alternating: events/s as runnel reports it for the
   whole run, and events per CPU second; medians.

Every run must read all events. Exits 1 if the open page costs 3% of the
events/s or more.

    dashboard.py RUNNEL LONG_EVENTS_FILE SHORT_EVENTS_FILE TWIN_RUNS WEB_MODULES
"""
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHASE_S = 4.0     # the measured part of a phase
SETTLE_S = 1.0    # from the client in place (the page live) to the measuring
LIMIT = 0.03      # the bound on what the open page may cost
SINKS = ["top_pages", "active_users", "user_views_1h"]


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def overrides(events):
    args = ["--connector", "user_activity=filesystem", "--set", "user_activity.path=" + events,
            "--set", "user_activity.format=json"]
    for s in SINKS:
        args += ["--connector", s + "=blackhole"]
    return args


def get(url, path):
    with urllib.request.urlopen(url + path, timeout=10) as r:
        return json.load(r)


def sample(url):
    """(time_ms, records read, state) of the pipeline's latest snapshot"""
    st = get(url, "api/status")
    p = st["pipelines"][0]
    return st["time_ms"], sum(s["records"] for s in p["sources"]), p["state"]


def cpu_s(pid):
    """user + system CPU seconds of process pid, all its threads"""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def threads_cpu_s(pid):
    """{thread id: user + system CPU seconds} of process pid"""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended
        out[tid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def tree_cpu_s(pid):
    """user + system CPU seconds of process pid and its descendants (the browser's processes)"""
    kids, cpu = {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        kids.setdefault(int(fields[1]), []).append(int(d))
        cpu[int(d)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += cpu.get(p, 0.0)
        todo += kids.get(p, [])
    return total


def wait_line(path, pattern, proc, timeout):
    """the first line of the file at path matching pattern, waiting for it"""
    deadline = time.time() + timeout
    while True:
        with open(path, errors="replace") as f:
            for line in f:
                m = re.search(pattern, line)
                if m:
                    return m
        if proc.poll() is not None or time.time() > deadline:
            fail("no line %r from runnel (exit %s):\n%s" % (pattern, proc.poll(), open(path).read()[-3000:]))
        time.sleep(0.05)


def phases(runnel, sql, events, n, modules):
    """the client phases of one run: [(client, events/s, events per CPU second)]"""
    page = subprocess.Popen(["node", os.path.join(ROOT, "bench", "dashboard_page.mjs")], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            env=dict(os.environ, RUNNEL_WEB_MODULES=modules))

    def tell(cmd, answer):
        page.stdin.write(cmd + "\n")
        page.stdin.flush()
        got = page.stdout.readline().strip()
        if got != answer:
            fail("bench/dashboard_page.mjs answered %r to %r" % (got, cmd))

    if page.stdout.readline().strip() != "ready":
        fail("Chromium did not start")
    work = os.path.dirname(sql)
    log = os.path.join(work, "run.log")
    with open(log, "w") as lf:
        p = subprocess.Popen([runnel, "run", sql, "--http", "127.0.0.1:0", "--http-linger", "60"] + overrides(events),
                             stdout=subprocess.DEVNULL, stderr=lf)
    out = []
    try:
        url = wait_line(log, r"dashboard at (\S+)", p, 30).group(1)
        order = ["none", "chromium", "none", "metrics"]
        i = 0
        while True:
            client = order[i % len(order)]
            scrape = None
            if client == "chromium":
                tell("open " + url, "live")
            elif client == "metrics":
                scrape = subprocess.Popen(["bash", "-c", 'while curl -sf -o /dev/null "$0"metrics; do sleep 1; done',
                                           url])
            time.sleep(SETTLE_S)
            t1, r1, state = sample(url)
            w1, c1, th1, b1 = time.monotonic(), cpu_s(p.pid), threads_cpu_s(p.pid), tree_cpu_s(page.pid)
            time.sleep(PHASE_S)
            t2, r2, state = sample(url)
            w2, c2, th2, b2 = time.monotonic(), cpu_s(p.pid), threads_cpu_s(p.pid), tree_cpu_s(page.pid)
            # the pipeline's thread is the busiest; the others serve HTTP
            used = sorted(th2[t] - th1.get(t, 0.0) for t in th2)
            others = sum(used) - used[-1]
            if scrape:
                scrape.kill()
                scrape.wait()
            if client == "chromium":
                tell("blank", "blank")
            if state != "running" or r2 >= n:
                break  # the input ran out in this phase: not a whole phase
            rate = (r2 - r1) * 1000.0 / (t2 - t1)
            out.append((client, rate, rate / ((c2 - c1) / (w2 - w1)), others, w2 - w1, (b2 - b1) / (w2 - w1)))
            print("  phase %2d: %-8s %9.0f events/s %9.0f events/CPU-s, other threads %3.0f ms, browser %3.0f%% of a core"
                  % (i + 1, client, rate, out[-1][2], others * 1000, out[-1][5] * 100), flush=True)
            i += 1
        wait_line(log, r"runnel: [0-9.]+ s, [0-9]+ records/s", p, 600)
        t, r, state = sample(url)
        if state != "finished" or r != n:
            fail("the run ended %s after %d of %d records" % (state, r, n))
    finally:
        page.stdin.close()
        if page.wait(timeout=60) != 0:
            fail("bench/dashboard_page.mjs failed")
        p.send_signal(signal.SIGINT)
        p.wait(timeout=60)
    return out


def others_per_s(out, client):
    """the CPU time of runnel's threads other than the pipeline's over all phases of client, per second"""
    cpu, wall = sum(x[3] for x in out if x[0] == client), sum(x[4] for x in out if x[0] == client)
    return "%.0f ms in %.0f s: %.2f ms/s" % (cpu * 1000, wall, cpu * 1000 / wall)


def compare(out, client):
    """[(events/s ratio, events/CPU-s ratio)] of each phase of client to the no-client phases either side"""
    res = []
    for i, (c, rate, per_cpu) in enumerate(x[:3] for x in out):
        if c != client:
            continue
        near = [out[j] for j in (i - 1, i + 1) if 0 <= j < len(out) and out[j][0] == "none"]
        if near:
            res.append((rate / statistics.mean(x[1] for x in near), per_cpu / statistics.mean(x[2] for x in near)))
    return res


def run_plain(runnel, sql, events, n):
    """one run without --http; returns runnel's own events/s for the run and events per CPU second"""
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run([runnel, "run", sql] + overrides(events), stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        fail("runnel run exited %d: %s" % (p.returncode, p.stderr[-2000:]))
    if not re.search(r"source user_activity: %d records" % n, p.stderr):
        fail("not every event was read:\n" + p.stderr[-2000:])
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime
    return float(re.search(r"runnel: [0-9.]+ s, ([0-9]+) records/s", p.stderr).group(1)), n / cpu


def report(title, results, order):
    """prints the medians of (events/s, events/CPU-s) per setup and their ratios to order[0]'s"""
    base = [statistics.median(v[j] for v in results[order[0]]) for j in (0, 1)]
    print(title)
    print("  %-44s %9s %6s %11s %6s  %s" % ("", "events/s", "ratio", "events/CPU-s", "ratio", "runs (events/s)"))
    meds = {}
    for k in order:
        meds[k] = [statistics.median(v[j] for v in results[k]) for j in (0, 1)]
        print("  %-44s %9.0f %6.3f %11.0f %6.3f  %s" % (
            k, meds[k][0], meds[k][0] / base[0], meds[k][1], meds[k][1] / base[1],
            ", ".join("%.0f" % v[0] for v in results[k])))
    return meds


def main():
    runnel, events, short, twin_runs, modules = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
    with open(events) as f:
        n = sum(1 for line in f if line.strip())
    work = tempfile.mkdtemp(prefix="runnel-bench-dashboard-")
    try:
        with open(os.path.join(ROOT, "examples", "s2_activity.sql")) as f:
            text = f.read()
        sql = os.path.join(work, "s2_activity.sql")
        with open(sql, "w") as f:
            f.write(text)
        bare_dir = os.path.join(work, "bare")
        os.mkdir(bare_dir)
        bare = os.path.join(bare_dir, "s2_activity.sql")
        stripped, k = re.subn(r",\s*'dashboard(\.[a-z-]+)?'\s*=\s*'[^']*'", "", text)
        if k != 5:
            fail("expected 5 dashboard options in examples/s2_activity.sql, found %d" % k)
        with open(bare, "w") as f:
            f.write(stripped)

        print("examples/s2_activity.sql, blackhole sinks; clients: one run over %d events (%s), phases of %g s"
              % (n, events, PHASE_S), flush=True)
        out = phases(runnel, sql, events, n, modules)
        labels = {"chromium": "the page open in headless Chromium", "metrics": "curl /metrics every 1 s"}
        print("clients, against the no-client phases either side (medians):")
        verdict = None
        for c in ("chromium", "metrics"):
            r = compare(out, c)
            if not r:
                fail("no whole %s phase: use more events" % c)
            ev, cpu = statistics.median(x[0] for x in r), statistics.median(x[1] for x in r)
            print("  %-36s %2d phases: events/s %6.3f (%s), events/CPU-s %6.3f" % (
                labels[c], len(r), ev, ", ".join("%.3f" % x[0] for x in r), cpu))
            print("  %-36s other threads %s; the browser %.0f%% of a core" % (
                "", others_per_s(out, c), 100 * statistics.median(x[5] for x in out if x[0] == c)))
            if c == "chromium":
                verdict = ev
        print("  %-36s %2d phases: other threads %s" % (
            "no client", len([x for x in out if x[0] == "none"]), others_per_s(out, "none")))
        print("  the open page costs %.1f%% of the events/s: %s 3%%" % (
            (1 - verdict) * 100, "within" if verdict > 1 - LIMIT else "OVER"))

        with open(short) as f:
            m = sum(1 for line in f if line.strip())
        print("dashboard twins: %d runs each over %d events (%s), no --http, alternating" % (twin_runs, m, short),
              flush=True)
        twin = {"without dashboard twins": [], "with its 3 dashboard twins": []}
        pair = [(bare, "without dashboard twins"), (sql, "with its 3 dashboard twins")]
        for i in range(twin_runs):
            for path, label in (pair if i % 2 == 0 else pair[::-1]):
                v = run_plain(runnel, path, short, m)
                twin[label].append(v)
                print("  run %d: %-28s %9.0f events/s %9.0f events/CPU-s" % ((i + 1, label) + v), flush=True)
        report("dashboard twins (medians; ratio to no twins):", twin, list(twin))
        return 0 if verdict > 1 - LIMIT else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
