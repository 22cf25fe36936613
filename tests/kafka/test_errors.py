#!/usr/bin/env python3
"""Unreachable brokers and missing topics give one clear line naming the
broker list and what was tried, not a flood of client logs."""
import os

import harness
from harness import check, log


def run(env, bootstrap, in_topic, out_topic):
    e = {"IN_TOPIC": in_topic, "OUT_TOPIC": out_topic, "GROUP": "err-test", "BOUNDED": "latest-offset",
         "DLQ_TOPIC": "err-dlq", "RUNNEL_KAFKA_CONNECT_TIMEOUT_MS": "3000"}
    r = harness.Runnel("errors", "passthrough.sql", e, ["--brokers", bootstrap])
    rc = r.wait(60)
    return rc, r.output()


def test(env):
    b = env["KAFKA_BOOTSTRAP"]
    rc, out = run(env, "127.0.0.1:1", "err-in", "err-out")
    check(rc != 0, "runnel succeeded without a broker")
    check("127.0.0.1:1" in out, "the error does not name the broker list:\n%s" % out)
    check(len(out.strip().splitlines()) <= 2, "too many lines for an unreachable broker:\n%s" % out)
    log("unreachable: %s" % out.strip())

    harness.ktool("delete", "err-missing", "--bootstrap", b, check_rc=False)
    harness.create_topic(b, "err-out", partitions=1, replication=3)
    rc, out = run(env, b, "err-missing", "err-out")
    check(rc != 0, "runnel succeeded reading a missing topic")
    check("err-missing" in out and "does not exist" in out, "unclear missing-topic error:\n%s" % out)
    check(len(out.strip().splitlines()) <= 2, "too many lines for a missing topic:\n%s" % out)
    log("missing topic: %s" % out.strip())


if __name__ == "__main__":
    harness.main(test)
