#!/usr/bin/env python3
"""The source topic is deleted under a running pipeline; SIGTERM must still
end the process promptly, saying what it could not commit.

librdkafka 2.0 keeps an internal reference to a partition of a deleted
topic, so rd_kafka_destroy() never returns (librdkafka issues #4187, #4362):
runnel used to hang there after the failed final commit until SIGKILL.
Now leaving the group and destroying the client are each bounded, and the
failed commit is one line naming the positions.
"""
import signal
import time

import harness
from harness import check, log

IN, OUT, DLQ, GROUP = "del-in", "del-out", "del-dlq", "del-test"
EXIT_BOUND_S = 30


def test(env):
    b = env["KAFKA_BOOTSTRAP"]
    harness.fresh_topics(b, (IN, OUT, DLQ))
    lines = harness.gen_user_events(seed=11, count=3000)
    harness.produce(b, IN, lines, key_field="user_id")
    env_run = {"IN_TOPIC": IN, "OUT_TOPIC": OUT, "GROUP": GROUP, "BOUNDED": "unbounded",
               "DLQ_TOPIC": DLQ}
    r = harness.Runnel("source-deleted", "passthrough.sql", env_run, ["--brokers", b])
    try:
        want = harness.passthrough_expected(lines)
        harness.wait_for(lambda: harness.output_covers(b, OUT, want), 120,
                         "the %d copied records in %s" % (sum(want.values()), OUT))
        harness.ktool("delete", IN, "--bootstrap", b)
        log("deleted the source topic %s" % IN)
        # the consumer has noticed once it reports the topic's partitions gone
        harness.wait_for(lambda: "topic does not exist" in r.output()
                         or "no longer available" in r.output(), 60,
                         "runnel to notice that %s was deleted" % IN)
        check(r.running(), "runnel stopped before SIGTERM:\n%s" % r.output())
        t0 = time.time()
        r.proc.send_signal(signal.SIGTERM)
        try:
            rc = r.proc.wait(timeout=EXIT_BOUND_S)
        except Exception:
            raise harness.TestFailure("runnel did not exit within %d s of SIGTERM after its source "
                                      "topic was deleted:\n%s" % (EXIT_BOUND_S, r.output()))
        log("exited with %d after %.1f s" % (rc, time.time() - t0))
        out = r.output()
        check(rc != 0, "runnel exited 0 although its final commit cannot succeed:\n%s" % out)
        lines_nc = [l for l in out.splitlines() if "could not commit" in l]
        check(len(lines_nc) == 1 and ("%s[" % IN) in lines_nc[0] and "@" in lines_nc[0],
              "expected one line naming the uncommitted positions of %s, got:\n%s" % (IN, out))
        log("said: %s" % lines_nc[0])
    finally:
        if r.running():
            r.stop(signal.SIGKILL)


if __name__ == "__main__":
    harness.main(test)
