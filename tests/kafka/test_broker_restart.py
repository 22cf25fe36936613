#!/usr/bin/env python3
"""A broker of the 3-broker cluster is killed (SIGKILL) and restarted while
runnel is consuming and producing: nothing is lost. Input arrives before,
during and after the outage; every expected output record must appear."""
import json
import os
import signal
import subprocess

import harness
from harness import check, log

IN, OUT = "rst-in", "rst-out"


def test(env):
    b = env["KAFKA_BOOTSTRAP"]
    kafka = os.path.join(harness.ROOT, "scripts", "kafka")
    harness.fresh_topics(b, (IN, OUT, "rst-dlq"))
    lines = harness.gen_user_events(seed=9, count=15000)
    chunks = [lines[i::3] for i in range(3)]
    harness.produce(b, IN, chunks[0], key_field="user_id")
    r = harness.Runnel("restart", "passthrough.sql",
                       {"IN_TOPIC": IN, "OUT_TOPIC": OUT, "GROUP": "rst-test", "BOUNDED": "unbounded",
                        "DLQ_TOPIC": "rst-dlq",
                        # dynamic membership: with a static one, a coordinator
                        # failover can make the broker fence the member by its
                        # own instance id, a fatal client error (docs/kafka.md)
                        "INSTANCE": ""}, ["--brokers", b])
    broker = None  # the broker stopped and not yet started again
    try:
        first = harness.passthrough_expected(chunks[0])
        harness.wait_for(lambda: harness.output_covers(b, OUT, first), 120, "output of the first chunk")
        # the group's coordinator: its loss also moves the group (and once
        # crashed runnel on a consumer error without a topic)
        broker = json.loads(harness.ktool("group", "rst-test", "--bootstrap", b).stdout)["coordinator"]
        check(broker is not None, "group rst-test has no coordinator")
        log("stopping broker %d, the group's coordinator (SIGKILL)" % broker)
        subprocess.run([kafka, "stop-broker", str(broker)], check=True)
        harness.produce(b, IN, chunks[1], key_field="user_id")
        check(r.running(), "runnel died (exit status %s) while broker %d was down:\n%s"
              % (r.proc.poll(), broker, r.output()))
        log("starting broker %d again" % broker)
        subprocess.run([kafka, "start-broker", str(broker)], check=True)
        broker = None
        harness.produce(b, IN, chunks[2], key_field="user_id")
        want = harness.passthrough_expected(lines)
        got = harness.wait_for(lambda: harness.output_covers(b, OUT, want), 180,
                               "all %d output records" % sum(want.values()))
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
        if broker is not None:
            subprocess.run([kafka, "start-broker", str(broker)])


if __name__ == "__main__":
    harness.main(test)
