#!/usr/bin/env python3
"""window_latency.py - produce a real-time click stream, read runnel's window
results, and measure how long after the watermark passes a window's end its
result leaves runnel's sink. Run by bench/window_latency (with the test venv:
it needs confluent-kafka).

    window_latency.py BOOTSTRAP IN_TOPIC OUT_TOPIC [--rate R] [--seconds S]
        [--warmup S0] [--keys K] [--window-ms W] [--delay-ms D] [--json FILE]

Produces R events/s (default 2000) to IN_TOPIC for --warmup S0 seconds
(default 2; their windows are reported apart) and then S seconds (default
30), round-robin over its partitions, values {"user_id": k, "ts_ms": now}
with k cycling over K keys (default 8) and the Kafka timestamp (CreateTime)
set to the same ts_ms: event time is the wall clock at the moment of
producing. The producer sends at once (linger.ms=0): no batching delay.

Each window [start, end) of W ms (default 1000) is due when the table
watermark reaches end. A partition's watermark passes end at its first
record with ts_ms - D >= end (D, default 100, must match the pipeline's
WATERMARK ... - INTERVAL); the table watermark is the minimum over
partitions, so the window is due at the trigger time

    T(end) = max over partitions of CreateTime(first record with ts_ms - D >= end)

For each result row read from OUT_TOPIC:
    sink latency = CreateTime(result) - T(window_end)
        (librdkafka stamps CreateTime when runnel hands the record to its
        producer: the interval covers our producer's send, the broker's
        append, runnel's fetch, decode, window firing, encode and produce
        call; not runnel's producer batching nor the broker's ack)
    seen latency = wall clock when this script's consumer received it - T
        (adds runnel's producer linger, the broker round trip and our fetch)
Windows whose trigger record was never produced (the last one) do not count.
Checks every result's count against what was produced and that every
due window has a row for each key that had events in it; exit 1 if not.
Prints percentiles per window (the time its last row left) and per row,
and, to tell the broker's part from runnel's, the delay from CreateTime to a
plain consumer of IN_TOPIC receiving each input record.
"""
import argparse
import bisect
import json
import sys
import threading
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition


def now_ms():
    return time.time_ns() // 1_000_000


def pct(values, q):
    """Nearest-rank percentile of a sorted list."""
    if not values:
        return float("nan")
    k = max(1, -(-len(values) * q // 100))
    return values[int(k) - 1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bootstrap")
    ap.add_argument("in_topic")
    ap.add_argument("out_topic")
    ap.add_argument("--rate", type=float, default=2000)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--warmup", type=float, default=2,
                    help="seconds produced first whose windows are reported apart (default 2)")
    ap.add_argument("--keys", type=int, default=8)
    ap.add_argument("--window-ms", type=int, default=1000)
    ap.add_argument("--delay-ms", type=int, default=100)
    ap.add_argument("--json", help="write the raw measurements here")
    a = ap.parse_args()

    prod = Producer({"bootstrap.servers": a.bootstrap, "linger.ms": 0, "client.id": "bench-lat"})
    meta = prod.list_topics(a.in_topic, timeout=30)
    nparts = len(meta.topics[a.in_topic].partitions)
    if nparts == 0:
        sys.exit("window_latency: topic %s has no partitions" % a.in_topic)

    # the output reader runs from the start so it sees every result as it is written
    results = []  # (create_ms, seen_ms, value dict)
    stop = threading.Event()
    cons = Consumer({"bootstrap.servers": a.bootstrap, "group.id": "bench-lat-reader-%d" % time.time_ns(),
                     "enable.auto.commit": False, "fetch.wait.max.ms": 10})
    out_parts = len(cons.list_topics(a.out_topic, timeout=30).topics[a.out_topic].partitions)
    cons.assign([TopicPartition(a.out_topic, p, OFFSET_BEGINNING) for p in range(out_parts)])

    def read():
        while not stop.is_set():
            # poll, not consume(n, timeout): that one waits for n messages or the timeout
            m = cons.poll(0.05)
            if m is None or m.error():
                continue
            seen = now_ms()
            results.append((m.timestamp()[1], seen, json.loads(m.value())))
        cons.close()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    # diagnostic: how long input records take to reach a plain consumer (broker path, no runnel)
    probe_delays = []  # (CreateTime, seen - CreateTime)
    probe = Consumer({"bootstrap.servers": a.bootstrap, "group.id": "bench-lat-probe-%d" % time.time_ns(),
                      "enable.auto.commit": False, "fetch.wait.max.ms": 10})
    probe.assign([TopicPartition(a.in_topic, p, OFFSET_BEGINNING) for p in range(nparts)])

    def read_input():
        while not stop.is_set():
            m = probe.poll(0.05)
            if m is None or m.error():
                continue
            create = m.timestamp()[1]
            probe_delays.append((create, now_ms() - create))
        probe.close()

    prober = threading.Thread(target=read_input, daemon=True)
    prober.start()

    produced = [[] for _ in range(nparts)]  # per partition: ts_ms in produce order
    counts = {}  # (window_end, user_id) -> events produced
    total = int(a.rate * (a.warmup + a.seconds))
    t0 = time.monotonic()
    warm_until = now_ms() + int(a.warmup * 1000)  # windows ending by then are warm-up
    i = 0
    while i < total:
        due = min(total, int((time.monotonic() - t0) * a.rate) + 1)
        while i < due:
            ts = now_ms()
            p = i % nparts
            user = i % a.keys
            prod.produce(a.in_topic, value=b'{"user_id":%d,"ts_ms":%d}' % (user, ts), partition=p,
                         timestamp=ts)
            produced[p].append(ts)
            end = ts - ts % a.window_ms + a.window_ms
            counts[(end, user)] = counts.get((end, user), 0) + 1
            i += 1
        prod.poll(0)
        time.sleep(0.0005)
    if prod.flush(30) != 0:
        sys.exit("window_latency: the input records were not all delivered")

    # trigger time per window end: max over partitions of the first record past it
    # (time_ns() can step back if the clock is adjusted: bisect needs sorted lists)
    if any(r != sorted(r) for r in produced):
        sys.exit("window_latency: the wall clock went backwards while producing; run again")
    ends = sorted({e for e, _ in counts})
    trigger = {}
    for end in ends:
        t = None
        for recs in produced:
            j = bisect.bisect_left(recs, end + a.delay_ms)
            first = recs[j] if j < len(recs) else None
            if first is None:
                t = None
                break
            t = first if t is None else max(t, first)
        if t is not None:
            trigger[end] = t
    want = {k: n for k, n in counts.items() if k[0] in trigger}

    # wait for every due result (runnel emits a window's rows together)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and len(results) < len(want):
        time.sleep(0.1)
    time.sleep(0.5)
    stop.set()
    reader.join(5)
    prober.join(5)

    got, problems = {}, []
    rows = []  # (end, sink latency, seen latency)
    for create, seen, v in results:
        key = (v["window_end"], v["user_id"])
        if key in got:
            problems.append("window ending %d, user %d: two results" % key)
        got[key] = v["clicks"]
        if v["window_end"] - v["window_start"] != a.window_ms:
            problems.append("window [%d, %d): not %d ms" % (v["window_start"], v["window_end"], a.window_ms))
        if key[0] in trigger:
            rows.append((key[0], create - trigger[key[0]], seen - trigger[key[0]]))
    for key, n in sorted(want.items()):
        if got.get(key) != n:
            problems.append("window ending %d, user %d: %s clicks, produced %d" % (key + (got.get(key), n)))

    per_window, warm = {}, {}
    for end, sink, seen in rows:
        w = (warm if end <= warm_until else per_window).setdefault(end, [sink, seen])
        w[0], w[1] = max(w[0], sink), max(w[1], seen)
    rows = [r for r in rows if r[0] > warm_until]
    win_sink = sorted(w[0] for w in per_window.values())
    win_seen = sorted(w[1] for w in per_window.values())
    row_sink = sorted(r[1] for r in rows)
    print("%d events at %.0f/s over %.1f s (%.1f s warm-up first) to %d partition(s), %d keys"
          % (total, a.rate, a.warmup + a.seconds, a.warmup, nparts, a.keys))
    print("%d windows of %d ms due after the warm-up, %d result rows" % (len(per_window), a.window_ms, len(rows)))
    print("  %-46s %6s %6s %6s %6s %6s" % ("latency after the watermark passes the end, ms", "p50", "p90",
                                            "p99", "max", "min"))
    for label, v in (("sink CreateTime, per window (its last row)", win_sink),
                     ("sink CreateTime, per row", row_sink),
                     ("seen by a consumer, per window", win_seen)):
        print("  %-46s %6d %6d %6d %6d %6d" % (label, pct(v, 50), pct(v, 90), pct(v, 99), v[-1], v[0])
              if v else "  %-46s (none)" % label)
    inp = sorted(d for t, d in probe_delays if t > warm_until)
    if inp:
        print("  %-46s %6d %6d %6d %6d %6d" % ("input record seen by a consumer, per record",
                                                pct(inp, 50), pct(inp, 90), pct(inp, 99), inp[-1], inp[0]))
    if warm:
        print("  warm-up: %d windows, sink latency max %d ms, seen max %d ms (not counted above)"
              % (len(warm), max(w[0] for w in warm.values()), max(w[1] for w in warm.values())))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"trigger": trigger, "rows": rows, "produced_per_partition": [len(r) for r in produced]}, f)
    if not per_window:
        problems.append("no window results arrived")
    if problems:
        print("window_latency: %d problem(s):" % len(problems), file=sys.stderr)
        for p in problems[:10]:
            print("  " + p, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
