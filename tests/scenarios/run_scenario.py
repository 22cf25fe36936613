#!/usr/bin/env python3
"""run_scenario.py - a scenario pipeline (examples/sN_*.sql) over generated
data with out-of-order events and malformed records, checked against the
batch oracle (oracle.py).

    run_scenario.py s1|s2|s3|s4|s5 RUNNEL [--seed S] [--count N] [--keep]

1. `runnel gen sN --seed S --count N --out WORK/clean`.
2. WORK/input: the same files with about 1% of lines replaced by malformed
   records (not JSON, truncated JSON, a non-object, a required field
   missing or null); for s2 and s5 also a few events far behind the
   watermark. s2's input has 20% of events out of order.
3. `runnel test examples/<pipeline> --input WORK/input --output WORK/out`.
4. The outputs must equal oracle.py over the valid records: appended topics
   as multisets, upserted topics replayed to their final table, s2's
   OUT/redis.jsonl replayed into a model of Redis (oracle.redis_replay);
   and, as that final state is the one after every window closed, the
   same pipeline with its redis sinks replaced by files once more: every
   row its windows produce must equal oracle.s2_windows. The
   dead-letter file must list exactly the malformed lines; s5's very late
   events must be in the late topic and nowhere else.
"""
import argparse
import collections
import datetime
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

import oracle

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

PIPELINES = {"s1": "s1_logins.sql", "s2": "s2_activity.sql", "s3": "s3_corp.sql", "s4": "s4_campaigns.sql",
             "s5": "s5_sessions.sql"}
# per topic: the fields a record must have (a record without one goes to the DLQ)
REQUIRED = {
    "user_actions": ["user_id", "action", "timestamp"],
    "user-activity": ["user_id", "action", "page", "timestamp"],
    "CorpAppsTopic": ["user_id", "email", "name"],
    "test": ["user_id", "event"],
    "user-events": ["event_type", "user_id", "page_id", "timestamp"],
    "purchases": ["amount", "user_id", "timestamp"],
    "campaigns": ["restaurant_id", "adv_campaign_id", "adv_campaign_datetime_start", "adv_campaign_datetime_end"],
}
INPUTS = {"s1": ["user_actions"], "s2": ["user-activity"], "s3": ["CorpAppsTopic", "test"], "s4": ["campaigns"],
          "s5": ["user-events", "purchases"]}
# lookup tables: copied unchanged
TABLES = {"s4": ["subscribers_restaurants"]}
# processing time of the run (--now): the generator's default start, when
# most s4 campaigns are active and some have ended or not begun
NOW_S = 1714557600


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def corrupt(rnd, line, required):
    """A malformed version of a valid record line."""
    kind = rnd.randrange(4)
    if kind == 0:
        return "not json at all"
    if kind == 1:
        return line[: max(1, len(line) // 2)]
    if kind == 2:
        return "[1, 2, 3]"
    d = json.loads(line)
    field = rnd.choice(required)
    if rnd.random() < 0.5:
        d.pop(field, None)
    else:
        d[field] = None
    return json.dumps(d, ensure_ascii=False)


def prepare(scen, clean, inp, rnd):
    """Copies the generated files, corrupting about 1% of lines. Returns
    {topic: [valid records in order]}, {topic: set of bad line numbers},
    the very late records (s5)."""
    valid, bad, late = {}, {}, []
    for topic in INPUTS[scen]:
        with open(os.path.join(clean, topic + ".jsonl"), encoding="utf-8") as f:
            lines = [l.rstrip("\n") for l in f if l.strip()]
        out, valid[topic], bad[topic] = [], [], set()
        max_ts = None
        for line in lines:
            if rnd.random() < 0.01:
                out.append(corrupt(rnd, line, REQUIRED[topic]))
                bad[topic].add(len(out))
            # Rows of a batch are checked against the watermark before it
            # (a batch of ~1000 s5 events spans ~1000 s of event time): an
            # event two hours behind everything seen is late whatever the
            # batch boundaries, once the input is well past its start.
            if scen == "s5" and topic == "user-events" and len(out) > 9000 and rnd.random() < 0.002:
                d = {"event_type": "click", "user_id": rnd.randint(1, 20), "page_id": rnd.randint(1, 100),
                     "timestamp": round(max_ts - 7200 - rnd.random() * 600, 3)}
                out.append(json.dumps(d))
                late.append(d)
            if scen == "s2" and len(out) > 9000 and rnd.random() < 0.002:
                d = dict(json.loads(line), action=rnd.choice(["view", "click"]), user_id=rnd.randint(1, 1000))
                d["timestamp"] = datetime.datetime.fromtimestamp(
                    oracle.parse_ts_ms(d["timestamp"]) / 1000 - 7200, datetime.timezone.utc).strftime(
                    "%Y-%m-%dT%H:%M:%SZ")
                line2 = json.dumps(d)
                out.append(line2)
                valid[topic].append(d)
                late.append(d)
            out.append(line)
            d = json.loads(line)
            valid[topic].append(d)
            if scen == "s5" and topic == "user-events":
                max_ts = max(max_ts or 0, d["timestamp"])
        with open(os.path.join(inp, topic + ".jsonl"), "w", encoding="utf-8") as f:
            f.write("\n".join(out) + "\n")
    for table in TABLES.get(scen, []):
        shutil.copy(os.path.join(clean, table + ".jsonl"), inp)
        valid[table] = read_jsonl(os.path.join(clean, table + ".jsonl"))
    return valid, bad, late


def replay_upserts(path):
    """The final table of an upsert output: last value per key."""
    table = {}
    for rec in read_jsonl(path):
        k = json.dumps(rec["key"], sort_keys=True)
        if rec["value"] is None:
            table.pop(k, None)
        else:
            table[k] = rec["value"]
    return table


def compare_counters(name, got, want):
    if got == want:
        return
    missing = want - got
    extra = got - want
    fail("%s: %d rows missing, %d unexpected; missing e.g. %s; unexpected e.g. %s" % (
        name, sum(missing.values()), sum(extra.values()), list(missing.items())[:3], list(extra.items())[:3]))


def check_s1(out, valid):
    want = oracle.s1(valid["user_actions"])
    rows = read_jsonl(os.path.join(out, "notifications.jsonl"))
    for r in rows:
        if r.get("message") != "Сделайте покупку!":
            fail("notification with message %r" % r.get("message"))
    got = collections.Counter((r["user_id"], r["login_ts"]) for r in rows)
    compare_counters("notifications", got, want)
    return "%d notifications" % sum(want.values())


def check_s2(out, valid, late):
    cmds = read_jsonl(os.path.join(out, "redis.jsonl"))
    got = oracle.redis_replay(cmds)
    want = oracle.s2(valid["user-activity"])
    for key in sorted(set(got) | set(want)):
        if got.get(key) != want.get(key):
            g, w = got.get(key), want.get(key)
            if isinstance(g, dict) and isinstance(w, dict):
                diff = [(k, g.get(k), w.get(k)) for k in set(g) | set(w) if g.get(k) != w.get(k)]
                fail("redis key %s: %d entries differ, e.g. (entry, got, want) %s" % (key, len(diff), diff[:3]))
            fail("redis key %s: got %r, want %r" % (key, g, w))
    # the commands themselves: absolute writes only, one per target after coalescing
    targets = collections.Counter((c[0] in ("HSET", "HDEL", "ZADD", "ZREM"), c[1], c[-1] if c[0] in ("ZADD", "ZREM")
                                   else (c[2] if c[0] in ("HSET", "HDEL") else None)) for c in cmds)
    dup = [t for t, n in targets.items() if n > 1]
    if dup:
        fail("redis.jsonl: %d targets written more than once in one flush, e.g. %s" % (len(dup), dup[:3]))
    if not late:
        fail("no very late events were injected")
    return "%d pages, %d commands, %d late events" % (len(want.get("top_pages", {})), len(cmds), len(late))


def s2_window_rows(sql, inp, work, runnel, env):
    """examples/s2_activity.sql with its redis sinks replaced by topics
    (files in `runnel test`): every row the windows give the sinks, not
    only what is left after coalescing. Returns the out directory."""
    with open(sql, encoding="utf-8") as f:
        text = f.read()
    for table, repl in (("active_users", "'connector' = 'kafka', 'topic' = 'active_users', 'format' = 'json'"),
                        ("user_views_1h", "'connector' = 'kafka', 'topic' = 'user_views_1h', 'format' = 'json'"),
                        ("top_pages", "'connector' = 'blackhole'")):
        start = text.index("'connector' = 'redis'", text.index("CREATE TABLE %s " % table))
        end = text.index(");", start)
        text = text[:start] + repl + "\n" + text[end:]
    path = os.path.join(work, "s2_rows.sql")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    out = os.path.join(work, "out_rows")
    p = subprocess.run([runnel, "test", path, "--input", inp, "--output", out], capture_output=True, text=True,
                       env=env)
    if p.returncode != 0:
        fail("runnel test (window rows) exited %d: %s" % (p.returncode, p.stderr[-2000:]))
    return out


def check_s2_rows(out, valid):
    active, views = oracle.s2_windows(valid["user-activity"])
    got = [r["users"] for r in read_jsonl(os.path.join(out, "active_users.jsonl"))]
    if got != active:
        first = next((i for i in range(min(len(got), len(active))) if got[i] != active[i]), min(len(got), len(active)))
        fail("active_users rows: %d, want %d; first difference at window %d: got %s, want %s" % (
            len(got), len(active), first, got[first:first + 3], active[first:first + 3]))
    got = collections.Counter((r["user_id"], r["views"]) for r in read_jsonl(os.path.join(out, "user_views_1h.jsonl")))
    compare_counters("user_views_1h rows", got, views)
    return "%d active_users windows, %d user_views_1h rows" % (len(active), sum(views.values()))


def check_s3(out, valid):
    counts, per_event = oracle.s3(valid["CorpAppsTopic"], valid["test"])
    t = replay_upserts(os.path.join(out, "user_event_counts.jsonl"))
    got = {v["user_id"]: (v["name"], v["email"], v["event_count"]) for v in t.values()}
    if got != counts:
        diff = [(k, got.get(k), counts.get(k)) for k in set(got) | set(counts) if got.get(k) != counts.get(k)]
        fail("user_event_counts: %d keys differ, e.g. (key, got, want) %s" % (len(diff), diff[:3]))
    t = replay_upserts(os.path.join(out, "event_type_counts.jsonl"))
    got = {v["event"]: v["count"] for v in t.values()}
    if got != per_event:
        fail("event_type_counts: got %s, want %s" % (got, per_event))
    return "%d users, %d event types" % (len(counts), len(per_event))


def check_s4(out, valid):
    rows, table = oracle.s4(valid["campaigns"], valid["subscribers_restaurants"], NOW_S)
    fields = oracle.S4_FIELDS + ("client_id", "trigger_datetime_created")
    got = collections.Counter(tuple(r[f] for f in fields)
                              for r in read_jsonl(os.path.join(out, "campaign_notifications.jsonl")))
    compare_counters("campaign_notifications", got, rows)
    t = replay_upserts(os.path.join(out, "subscribers_feedback.jsonl"))
    got = {(v["adv_campaign_id"], v["client_id"]): tuple(v[f] for f in fields) for v in t.values()}
    if got != table:
        diff = [(k, got.get(k), table.get(k)) for k in set(got) | set(table) if got.get(k) != table.get(k)]
        fail("subscribers_feedback: %d keys differ, e.g. (key, got, want) %s" % (len(diff), diff[:3]))
    if not rows or len({r[0] for r in rows}) < 2:
        fail("s4: the data exercise too little (%d notifications)" % sum(rows.values()))
    return "%d notifications, %d feedback rows" % (sum(rows.values()), len(table))


def check_s5(out, valid, late):
    visits, suspicious = oracle.s5(valid["user-events"], valid["purchases"])
    rows = read_jsonl(os.path.join(out, "visits.jsonl"))
    got = collections.Counter((r["session_id"], r["user_id"], r["event_type"], r["page_id"], r["timestamp"],
                               r["amount"]) for r in rows)
    compare_counters("visits", got, visits)
    rows = read_jsonl(os.path.join(out, "suspicious-visits.jsonl"))
    got = collections.Counter((r["session_id"], r["user_id"], r["type"]) for r in rows)
    compare_counters("suspicious-visits", got, suspicious)
    rows = read_jsonl(os.path.join(out, "late-visits.jsonl"))
    got = collections.Counter((r["user_id"], r["event_type"], r["page_id"], round(r["timestamp"], 3)) for r in rows)
    want = collections.Counter((d["user_id"], d["event_type"], d["page_id"], d["timestamp"]) for d in late)
    compare_counters("late-visits", got, want)
    return "%d visits, %d suspicious sessions, %d late events" % (
        sum(visits.values()), sum(suspicious.values()), len(late))


def check_dlq(out, bad):
    got = collections.defaultdict(set)
    for d in read_jsonl(os.path.join(out, "_runnel", "dead-letters.jsonl")):
        topic = os.path.basename(d["file"])[: -len(".jsonl")]
        got[topic].add(d["line"])
    for topic, lines in bad.items():
        if got.get(topic, set()) != lines:
            fail("dead letters of %s: got lines %s, want %s" % (
                topic, sorted(got.get(topic, set()))[:10], sorted(lines)[:10]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", choices=sorted(PIPELINES))
    ap.add_argument("runnel")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="runnel-%s-" % a.scenario)
    clean, inp, out = (os.path.join(work, d) for d in ("clean", "input", "out"))
    os.makedirs(inp)
    gen = [a.runnel, "gen", a.scenario, "--seed", str(a.seed), "--count", str(a.count), "--out", clean]
    if a.scenario == "s2":
        gen += ["--out-of-order", "0.2"]
    subprocess.run(gen, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    valid, bad, late = prepare(a.scenario, clean, inp, random.Random(a.seed))
    sql = os.path.join(ROOT, "examples", PIPELINES[a.scenario])
    env = dict(os.environ)
    env.pop("REDIS_URL", None)  # s2: the example runs with its default
    now = ["--now", str(NOW_S)] if a.scenario == "s4" else []
    p = subprocess.run([a.runnel, "test", sql, "--input", inp, "--output", out] + now, capture_output=True,
                       text=True, env=env)
    if p.returncode != 0:
        fail("runnel test exited %d: %s" % (p.returncode, p.stderr[-2000:]))
    if a.scenario == "s1":
        what = check_s1(out, valid)
    elif a.scenario == "s2":
        what = check_s2(out, valid, late)
        what += ", " + check_s2_rows(s2_window_rows(sql, inp, work, a.runnel, env), valid)
    elif a.scenario == "s3":
        what = check_s3(out, valid)
    elif a.scenario == "s4":
        what = check_s4(out, valid)
    else:
        what = check_s5(out, valid, late)
    check_dlq(out, bad)
    print("ok %s seed %d: %s, %d malformed records in the DLQ" % (
        a.scenario, a.seed, what, sum(len(v) for v in bad.values())))
    if not a.keep:
        shutil.rmtree(work)
    else:
        print("kept " + work)


if __name__ == "__main__":
    main()
