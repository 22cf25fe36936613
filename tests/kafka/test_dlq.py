#!/usr/bin/env python3
"""Malformed messages land in the dead-letter topic unchanged, with headers
naming the error, the source topic, partition and offset; processing goes on
and the good records are all in the output."""
import json
import os

import harness
from harness import check, log

IN, OUT, DLQ = "dlq-in", "dlq-out", "dlq-test-dlq"

GOOD = [json.dumps({"event_type": "click", "user_id": i, "page_id": i * 10, "timestamp": 1714557600.25 + i})
        for i in range(1, 41)]
BAD = [b"{not json", b'{"event_type": "click", "user_id": "abc", "page_id": 1, "timestamp": 1}',
       b"[1, 2, 3]", b'{"event_type": "click", "user_id": 1, "page_id": {"x": 1}, "timestamp": 1}',
       b'{"event_type": "click", "user_id": 1']


def test(env):
    b = env["KAFKA_BOOTSTRAP"]
    for t in (IN, OUT, DLQ):
        harness.ktool("delete", t, "--bootstrap", b, check_rc=False)
    for t in (IN, OUT):
        harness.create_topic(b, t, partitions=3, replication=3)
    lines, nbad = [], 0  # the bad ones spread among the good ones
    for i, g in enumerate(GOOD):
        lines.append(g.encode())
        if i % 8 == 3 and nbad < len(BAD):
            lines.append(BAD[nbad])
            nbad += 1
    lines += BAD[nbad:]
    harness.produce(b, IN, lines, extra=["--partition", "1"])
    sent = {m["value"]: m for m in harness.consume(b, IN)}

    r = harness.Runnel("dlq", "passthrough.sql", {"IN_TOPIC": IN, "OUT_TOPIC": OUT, "GROUP": "dlq-test",
                                                  "BOUNDED": "latest-offset", "DLQ_TOPIC": DLQ},
                       ["--brokers", b])
    rc = r.wait(120)
    check(rc == 0, "runnel exited with %d:\n%s" % (rc, r.output()))
    dead = harness.consume(b, DLQ)
    bad_values = {v.decode("utf-8", "replace") for v in BAD}
    got_values = [m["value"] for m in dead]
    check(sorted(got_values) == sorted(v for v in sent if v in bad_values),
          "dead letters %r, expected the %d malformed messages" % (got_values, len(bad_values)))
    for m in dead:
        src = sent[m["value"]]
        h = m["headers"]
        check(h.get("source.topic") == IN, "header source.topic = %r" % h.get("source.topic"))
        check(h.get("source.partition") == str(src["partition"]), "header source.partition %r, message was in %d"
              % (h.get("source.partition"), src["partition"]))
        check(h.get("source.offset") == str(src["offset"]), "header source.offset %r, message was at %d"
              % (h.get("source.offset"), src["offset"]))
        check(h.get("error"), "no error header on %r" % m["value"])
        check(m["key"] == src["key"], "dead letter key %r, original %r" % (m["key"], src["key"]))
    check(str(len(dead)) in r.output() or "dlq" in r.output().lower(),
          "runnel's log does not mention the dead letters:\n%s" % r.output())
    out = harness.consume(b, OUT)
    want = sorted(harness.canon({"user_id": e["user_id"], "page_id": e["page_id"], "event_type": e["event_type"],
                                 "timestamp": e["timestamp"]}) for e in map(json.loads, GOOD))
    got = sorted(harness.canon(json.loads(m["value"])) for m in out)
    check(got == want, "output has %d records, expected the %d good ones" % (len(got), len(want)))
    log("%d dead letters with correct headers; %d good records through" % (len(dead), len(got)))


if __name__ == "__main__":
    harness.main(test)
