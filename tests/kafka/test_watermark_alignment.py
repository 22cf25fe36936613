#!/usr/bin/env python3
"""Watermark alignment bounds the windows a catch-up holds open
(docs/event-time.md, "Watermark alignment").

A 2-partition topic holds a backlog of 120,000 events per partition, one a
second of event time: partition 1 from T, partition 0 from T + 2 days,
far ahead (each partition takes several fetches of 1 MB). Every event
opens its own 10-second window (its user is seen once every 1,000 s).
tests/kafka/pipelines/watermark_alignment.sql counts events per user and
window, reading the topic from the beginning to its end, twice in fresh
groups:

- alignment off ('scan.watermark.alignment.max-drift' = '0'): partition 0
  is read along with partition 1, and none of its windows can fire before
  partition 1 is read to its end, so the window operator holds most of its
  120,000 windows (and partition 1's in flight) at once (runnel's "at most
  N" windows, printed at the end, > 100,000);
- alignment on ('1 h'): partition 0 is paused as soon as partition 1 has
  delivered, after its first fetch (~17,000 records; checked: fewer than
  half of its records, from runnel's debug log), until partition 1 has
  ended, then read on its own with its windows firing as it goes. The
  windows held at once are logged but not checked: the window operator
  sits behind a repartition topic whose watermark marks follow the rows
  by up to 200 ms, which on a loaded machine dominates them.

Both outputs must equal the batch oracle (one row per event, count 1) and
hold no late rows.
"""
import collections
import json
import re

import harness
from harness import check, log

IN = "wm-align-in"
T = 1714557600  # 2024-05-01 10:00:00 UTC, a window boundary
N = 120000      # events per partition: several fetches each (1 MB of a partition per fetch)
AHEAD = 2 * 86400
PARTS = 2


def events():
    """(partition, line) of the backlog, in produce order per partition."""
    out = []
    for p in range(PARTS):
        base = T + (AHEAD if p == 0 else 0)
        for k in range(N):
            out.append((p, json.dumps({"user_id": p * 1000 + k % 1000, "timestamp": base + k})))
    return out


def oracle(evs):
    got = collections.Counter()
    for _, line in evs:
        e = json.loads(line)
        start = int(e["timestamp"]) // 10 * 10
        got[harness.canon({"window_start": start * 1000, "window_end": (start + 10) * 1000,
                           "user_id": e["user_id"], "n": 1})] += 1
    return got


def run(b, drift, out):
    harness.fresh_topics(b, (out,), partitions=1)
    env = {"IN_TOPIC": IN, "OUT_TOPIC": out, "GROUP": "%s-%s" % (out, harness.RUN_TAG),
           "RUNNEL_LOG": "debug"}  # each pause and resume, with the records read so far
    r = harness.Runnel(out, "watermark_alignment.sql", env,
                       ["--brokers", b, "--set", "events.scan.watermark.alignment.max-drift=" + drift])
    rc = r.wait(300)
    text = r.output()
    check(rc == 0, "runnel (max-drift %s) failed:\n%s" % (drift, text))
    m = re.search(r"window #\d+: (\d+) late rows, \d+ windows still open, at most (\d+)", text)
    check(m, "runnel printed no window statistics:\n%s" % text)
    late, peak = int(m.group(1)), int(m.group(2))
    m = re.search(r"watermark alignment paused a partition (\d+) times", text)
    pauses = int(m.group(1)) if m else 0
    m = re.search(r"pausing %s\[0\] after (\d+) records" % IN, text)
    first = int(m.group(1)) if m else None
    log("max-drift %s: at most %d windows open, %d late rows, %d pauses, partition 0 first paused after %s records"
        % (drift, peak, late, pauses, first))
    return late, peak, pauses, first


def test(env):
    b = env["KAFKA_BOOTSTRAP"]
    harness.fresh_topics(b, (IN,), partitions=PARTS)
    evs = events()
    for p in range(PARTS):
        harness.produce(b, IN, [line for q, line in evs if q == p], extra=("--partition", p))
    want = oracle(evs)

    late, peak_off, pauses, _ = run(b, "0", "wm-align-off")
    check(late == 0, "alignment off: %d late rows" % late)
    check(pauses == 0, "alignment off, yet %d pauses" % pauses)
    got = harness.output_covers(b, "wm-align-off", want)
    check(got == want, "alignment off: the output differs from the oracle")

    late, peak_on, pauses, first = run(b, "1 h", "wm-align-on")
    check(late == 0, "alignment on: %d late rows" % late)
    check(pauses >= 1, "alignment on: no partition was paused")
    check(first is not None and first < N // 2,
          "alignment on: partition 0 was paused only after %s of its %d records" % (first, N))
    got = harness.output_covers(b, "wm-align-on", want)
    check(got == want, "alignment on: the output differs from the oracle")

    check(peak_off > 100000, "alignment off held at most %d windows: the backlog did not test anything" % peak_off)
    # (the windows held with alignment are logged, not checked: behind the
    # repartition topic they follow its watermark marks, sent at most every
    # 200 ms, so on a loaded machine whole fetches of rows arrive between
    # two marks; measured 67,000 against 161,000, and 175,000 against
    # 130,000 at a load average of 35)


if __name__ == "__main__":
    harness.main(test)
