#!/usr/bin/env python3
"""baseline_kafka_count.py - the seed-style Python consumer runnel replaces.

The way our users' hand-written consumers work: confluent-kafka (librdkafka
underneath, the fastest Python client), json.loads per message, a dict of
counts. Batched consume() is used so the baseline is as fast as plain Python
gets. Reads TOPIC from the beginning to the high watermarks it sees at start,
counts 'click' events per user_id, prints the counts as JSON on stdout and
"events N seconds S" on stderr.

Usage: baseline_kafka_count.py BOOTSTRAP TOPIC
"""
import json
import sys
import time

from confluent_kafka import Consumer, TopicPartition


def main():
    bootstrap, topic = sys.argv[1], sys.argv[2]
    t0 = time.time()
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-python-%d" % time.time(),
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    meta = c.list_topics(topic, timeout=30)
    parts = sorted(meta.topics[topic].partitions)
    ends = {}
    for p in parts:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
        if hi > lo:
            ends[p] = hi
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    counts, n = {}, 0
    while ends:
        for m in c.consume(num_messages=10000, timeout=1.0):
            if m.error():
                continue
            n += 1
            e = json.loads(m.value())
            if e.get("event_type") == "click":
                u = e.get("user_id")
                counts[u] = counts.get(u, 0) + 1
            p = m.partition()
            if p in ends and m.offset() + 1 >= ends[p]:
                del ends[p]
    c.close()
    print(json.dumps({str(k): v for k, v in sorted(counts.items())}))
    print("events %d seconds %.3f" % (n, time.time() - t0), file=sys.stderr)


if __name__ == "__main__":
    main()
