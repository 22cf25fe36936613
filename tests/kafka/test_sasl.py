#!/usr/bin/env python3
"""SASL_SSL with SCRAM-SHA-512 and a self-signed CA against the real broker:
a pipeline whose secrets come from ${ENV} references reads and writes over
the encrypted, authenticated listener. A wrong password fails with one clear
line that names the mechanism and user and never prints the password."""
import json

import harness
from harness import check, log

IN, OUT = "sasl-in", "sasl-out"


def test(env):
    b = env["KAFKA_BOOTSTRAP"]
    for t in (IN, OUT):
        harness.ktool("delete", t, "--bootstrap", b, check_rc=False)
        harness.create_topic(b, t, partitions=2, replication=3)
    events = [json.dumps({"event_type": ["click", "view", "buy"][i % 3], "user_id": i}) for i in range(300)]
    harness.produce(env["KAFKA_SASL_BOOTSTRAP"], IN, events, extra=["--sasl"])
    sasl_env = {k: env[k] for k in ("KAFKA_SASL_BOOTSTRAP", "KAFKA_SASL_USER", "KAFKA_SASL_PASSWORD", "KAFKA_CA")}
    sasl_env.update({"IN_TOPIC": IN, "OUT_TOPIC": OUT})
    r = harness.Runnel("sasl", "sasl.sql", sasl_env)
    rc = r.wait(120)
    check(rc == 0, "runnel over SASL_SSL exited with %d:\n%s" % (rc, r.output()))
    check(env["KAFKA_SASL_PASSWORD"] not in r.output(), "the password appears in runnel's output")
    state = harness.upsert_state(harness.consume(b, OUT))
    got = {json.loads(k)["event_type"]: json.loads(v)["n"] for k, v in state.items()}
    check(got == {"click": 100, "view": 100, "buy": 100}, "counts over SASL_SSL: %r" % got)

    bad = dict(sasl_env, KAFKA_SASL_PASSWORD="wrong-" + env["KAFKA_SASL_PASSWORD"])
    r = harness.Runnel("sasl-bad", "sasl.sql", bad, ["--dlq", "/dev/null"])
    rc = r.wait(120)
    out = r.output()
    check(rc != 0, "runnel succeeded with a wrong password")
    check(bad["KAFKA_SASL_PASSWORD"] not in out, "the wrong password is printed:\n%s" % out)
    check("SCRAM-SHA-512" in out and env["KAFKA_SASL_USER"] in out,
          "the error does not name the mechanism and user:\n%s" % out)
    check(len(out.strip().splitlines()) <= 3, "more than 3 lines of errors:\n%s" % out)
    log("SASL_SSL/SCRAM-SHA-512 works; a wrong password gives: %s" % out.strip().splitlines()[-1])


if __name__ == "__main__":
    harness.main(test)
