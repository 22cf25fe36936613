#!/usr/bin/env python3
"""gen_windows.py - seeded click stream for the window benchmark (bench/windows).

    gen_windows.py OUT.jsonl [--events N] [--keys K] [--hours H] [--seed S]

Writes N (default 2,000,000) JSON lines shaped like s5's user-events
({"event_type", "user_id", "page_id", "timestamp": epoch seconds, 3 decimals})
from K (default 100,000) users, every one of whom appears, over about H
(default 1.5) hours of event time starting 2024-05-01T10:00:00Z.

Each user has sessions starting at uniformly random times; a session is
1 + geometric(mean 4) events with exponential gaps (mean 5 s), so now and
then a gap exceeds the 20 s session gap and sessions of one user may run
into each other. Records are written in send order: 10% of them are sent
1..4999 ms after their event time (overtaken by later events), the rest at
once. Hence a record is never more than 5 s behind the highest event time
sent before it: with WATERMARK ts - INTERVAL '5' SECOND no row is late.
Same arguments, same bytes (random.Random(seed), integer arithmetic).
"""
import argparse
import random

T0_MS = 1714557600000  # 2024-05-01T10:00:00Z
EVENT_TYPES = ("page-view",) * 6 + ("click",) * 3 + ("purchase",)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--events", type=int, default=2000000)
    ap.add_argument("--keys", type=int, default=100000)
    ap.add_argument("--hours", type=float, default=1.5)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.keys <= 0 or a.events < a.keys:
        ap.error("need 0 < keys <= events")
    rng = random.Random(a.seed)
    span = int(a.hours * 3600 * 1000)
    rand = rng.random
    randrange = rng.randrange
    expo = rng.expovariate
    # one packed int per event: send_ms << 30 | delay_ms << 17 | user (user < 2^17)
    assert a.keys <= 1 << 17
    packed = []
    n = 0
    s = 0
    while n < a.events:
        user = s if s < a.keys else randrange(a.keys)
        s += 1
        t = randrange(span)
        k = 1
        while rand() < 0.8:
            k += 1
        k = min(k, a.events - n)
        for _ in range(k):
            delay = randrange(1, 5000) if rand() < 0.1 else 0
            packed.append((t + delay) << 30 | delay << 17 | user)
            t += int(expo(1 / 5000.0))
        n += k
    packed.sort()
    pages = 100
    with open(a.out, "w") as f:
        w = f.write
        buf = []
        for p in packed:
            user = p & 0x1FFFF
            ts = T0_MS + (p >> 30) - ((p >> 17) & 0x1FFF)
            buf.append('{"event_type":"%s","user_id":%d,"page_id":%d,"timestamp":%d.%03d}\n'
                       % (EVENT_TYPES[randrange(10)], user, 1 + randrange(pages),
                          ts // 1000, ts % 1000))
            if len(buf) >= 65536:
                w("".join(buf))
                buf.clear()
        w("".join(buf))


if __name__ == "__main__":
    main()
