#!/usr/bin/env python3
"""A broker of the 3-broker cluster is killed (SIGKILL) and restarted while
runnel is consuming and producing: nothing is lost. Input arrives before,
during and after the outage; every expected output record must appear."""
import collections
import json
import os
import signal
import subprocess
import tempfile

import harness
from harness import check, log

IN, OUT = "rst-in", "rst-out"


def expected(lines):
    out = collections.Counter()
    for line in lines:
        e = json.loads(line)
        if e["event_type"] != "page-view":
            out[harness.canon({"user_id": e["user_id"], "page_id": e["page_id"],
                               "event_type": e["event_type"], "timestamp": e["timestamp"]})] += 1
    return out


def covers(b, want):
    got = collections.Counter(harness.canon(json.loads(m["value"])) for m in harness.consume(b, OUT))
    return got if all(got[k] >= n for k, n in want.items()) else None


def test(env):
    b = env["KAFKA_BOOTSTRAP"]
    kafka = os.path.join(harness.ROOT, "scripts", "kafka")
    for t in (IN, OUT, "rst-dlq"):
        harness.ktool("delete", t, "--bootstrap", b, check_rc=False)
    for t in (IN, OUT, "rst-dlq"):
        harness.create_topic(b, t, partitions=8, replication=3)
    d = tempfile.mkdtemp(prefix="runnel-rst-")
    subprocess.run([os.path.join(harness.ROOT, "build", "runnel"), "gen", "s5", "--seed", "9",
                    "--count", "15000", "--out", d], check=True)
    with open(os.path.join(d, "user-events.jsonl")) as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    chunks = [lines[i::3] for i in range(3)]
    harness.produce(b, IN, chunks[0], key_field="user_id")
    r = harness.Runnel("restart", "passthrough.sql",
                       {"IN_TOPIC": IN, "OUT_TOPIC": OUT, "GROUP": "rst-test", "BOUNDED": "unbounded",
                        "DLQ_TOPIC": "rst-dlq"}, ["--brokers", b])
    try:
        harness.wait_for(lambda: covers(b, expected(chunks[0])), 120, "output of the first chunk")
        log("stopping broker 2 (SIGKILL)")
        subprocess.run([kafka, "stop-broker", "2"], check=True)
        harness.produce(b, IN, chunks[1], key_field="user_id")
        check(r.running(), "runnel died while broker 2 was down:\n%s" % r.output())
        log("starting broker 2 again")
        subprocess.run([kafka, "start-broker", "2"], check=True)
        harness.produce(b, IN, chunks[2], key_field="user_id")
        want = expected(lines)
        got = harness.wait_for(lambda: covers(b, want), 180, "all %d output records" % sum(want.values()))
        extra = [k for k in got if k not in want]
        check(not extra, "%d unexpected records" % len(extra))
        check(r.running(), "runnel stopped:\n%s" % r.output())
        rc = r.stop(signal.SIGTERM)
        check(rc == 0, "runnel exited with %d after SIGTERM:\n%s" % (rc, r.output()))
        log("nothing lost across the broker restart: %d records, %d duplicates"
            % (sum(want.values()), sum(got.values()) - sum(want.values())))
    finally:
        if r.running():
            r.stop(signal.SIGKILL)


if __name__ == "__main__":
    harness.main(test)
