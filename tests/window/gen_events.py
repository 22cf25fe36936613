#!/usr/bin/env python3
"""gen_events.py - deterministic out-of-order event streams for the window tests.

    gen_events.py --seed S --count N [--format float|iso] [--lateness MS] [--out FILE]

Writes one JSON object per line, in arrival order:

    {"user_id": 7, "page": "/cart", "amount": 42, "timestamp": 1714557600.123}

`timestamp` is epoch seconds as a float with millisecond precision
(--format float) or an ISO-8601 / SQL string in UTC (--format iso:
`2024-05-01T10:00:00.123Z`, `2024-05-01 10:00:00.123`, sometimes without a
fraction or with 6 digits of which only the first 3 count). `amount` is
sometimes missing or null; with --missing-ts a few rows have no usable
timestamp (missing, null, or for iso an unparsable string) and must go to
the dead-letter output.

The stream is shaped to exercise docs/event-time.md, not to be realistic:

* a global event clock advances by small random steps; users are active in
  bursts separated by breaks (some shorter than a 3 s session gap, some
  between one and two gaps of 3 s or 20 s, some much longer), and now and
  then everybody pauses, so sessions split, also for a window with no key;
* most rows are up to --disorder ms behind the clock (out of order, but not
  late for a 5 s watermark delay); --late-frac of them are far behind:
  half of those within lateness + 1.5 s of the watermark (accepted when the
  allowed lateness covers them), the rest up to 30 s behind it (late);
* some rows sit exactly on the lateness threshold (W - L - 1, W - L, W - L
  + 1 ms, with W the watermark in force), on whole seconds / 10 s (window
  boundaries), exactly one session gap or one gap minus 1 ms after the
  user's previous row, or repeat the previous row's timestamp;
* when a user comes back after a break between one and two session gaps,
  a "bridge" row halfway through the break is sent later, after rows of the
  new session: it merges the two sessions (or, when it arrives too late, is
  a late row).

The same arguments always give the same bytes (random.Random(seed) only).
"""
import argparse
import datetime
import json
import random
import sys

START_MS = 1714557600000  # 2024-05-01T10:00:00Z
PAGES = ["/home", "/cart", "/checkout", "/search", "/about", "/help", "/login", "/logout",
         "/account", "/orders", "/blog/1", "/blog/2", "/blog/3", "/products/1", "/products/2",
         "/products/3", "/products/4", "/products/5", "/products/6", "/каталог", "/café",
         "/a b", "/quote\"d", "/back\\slash"]
EPOCH = datetime.datetime(1970, 1, 1)


def float_ts(ms):
    """Epoch seconds for epoch milliseconds, as the generator writes them."""
    return ms / 1000.0


def float_rowtime(v):
    """What TO_TIMESTAMP_LTZ(CAST(v * 1000 AS BIGINT), 3) makes of v."""
    return int(float(v) * 1000)


def iso_ts(ms, rnd):
    """ms as one of several ISO-8601 / SQL spellings (all UTC)."""
    d = EPOCH + datetime.timedelta(milliseconds=ms)
    base = d.strftime("%Y-%m-%d") + "%s" + d.strftime("%H:%M:%S")
    frac = ms % 1000
    r = rnd.random()
    if r < 0.45:
        return (base % "T") + ".%03dZ" % frac
    if r < 0.75:
        return (base % " ") + ".%03d" % frac
    if r < 0.90:
        return (base % "T") + ".%03d" % frac
    if r < 0.95 and frac == 0:
        return (base % "T") + ("Z" if rnd.random() < 0.5 else "")
    # more than millisecond precision: only the milliseconds count
    return (base % "T") + ".%03d%03dZ" % (frac, rnd.randrange(1000))


def generate(seed, count, users=20, fmt="float", delay_ms=5000, lateness_ms=0,
             disorder_ms=3000, late_frac=0.03, step_ms=40, pause_frac=0.002,
             null_amount_frac=0.15, missing_ts_frac=0.0, boundary_frac=0.01,
             align_frac=0.01, dup_frac=0.01, edge_frac=0.01, bridge_frac=0.6,
             session_gaps=(3000, 20000)):
    """Returns `count` JSON lines (str, no newline), in arrival order."""
    if fmt not in ("float", "iso"):
        raise ValueError("format must be float or iso")
    rnd = random.Random(seed)
    cur = START_MS + rnd.randrange(1000)
    max_rt = None           # the largest rowtime sent so far (what the watermark follows)
    prev_rt = None          # the previous row's rowtime
    next_active = {u: cur for u in range(1, users + 1)}
    user_max = {}           # user -> largest rowtime of that user so far
    break_from = {}         # user -> user_max when the user went on a break
    pending = []            # bridge rows: [due clock, user, rowtime]
    lines = []

    def rowtime_of(ms):
        return float_rowtime(float_ts(ms)) if fmt == "float" else ms

    def emit(user, ms, ts_ok=True):
        nonlocal max_rt, prev_rt
        row = {"user_id": user}
        r = rnd.random()
        page = PAGES[min(int(rnd.expovariate(0.25)), len(PAGES) - 1)] if r < 0.9 \
            else rnd.choice(PAGES)
        row["page"] = page
        r = rnd.random()
        if r < null_amount_frac / 2:
            pass                                    # missing
        elif r < null_amount_frac:
            row["amount"] = None
        else:
            row["amount"] = rnd.randint(-20, 500)
        if not ts_ok:
            r = rnd.random()
            if r < 0.4:
                pass                                # missing
            elif r < 0.7 or fmt == "float":
                row["timestamp"] = None
            else:
                row["timestamp"] = rnd.choice(["not a time", "2024-02-30T10:00:00Z",
                                               "2024-05-01T24:00:00", ""])
        else:
            row["timestamp"] = float_ts(ms) if fmt == "float" else iso_ts(ms, rnd)
            rt = rowtime_of(ms)
            max_rt = rt if max_rt is None else max(max_rt, rt)
            prev_rt = rt
            user_max[user] = max(user_max.get(user, rt), rt)
        lines.append(json.dumps(row, ensure_ascii=False))

    while len(lines) < count:
        pending.sort()
        if pending and pending[0][0] <= cur:
            _, u, ms = pending.pop(0)
            emit(u, ms)
            continue
        cur += int(rnd.expovariate(1.0 / step_ms))
        if rnd.random() < pause_frac:
            cur += rnd.randint(4000, 45000)        # everybody pauses
        active = [u for u in sorted(next_active) if next_active[u] <= cur]
        if not active:
            cur = min(next_active.values())
            active = [u for u in sorted(next_active) if next_active[u] <= cur]
        u = rnd.choice(active)

        if missing_ts_frac and rnd.random() < missing_ts_frac:
            emit(u, None, ts_ok=False)
            continue

        ms = cur - rnd.randint(0, disorder_ms)
        r = rnd.random()
        wm = None if max_rt is None else max_rt - delay_ms
        if r < late_frac and wm is not None:
            if rnd.random() < 0.5:
                ms = wm - rnd.randint(0, lateness_ms + 1500)
            else:
                ms = wm - lateness_ms - rnd.randint(1, 30000)
        elif r < late_frac + boundary_frac and wm is not None:
            cand = wm - lateness_ms + rnd.choice([-1, 0, 1])
            if rowtime_of(cand) == cand:
                ms = cand
        elif r < late_frac + boundary_frac + align_frac:
            ms -= ms % (10000 if rnd.random() < 0.3 else 1000)
        elif r < late_frac + boundary_frac + align_frac + dup_frac and prev_rt is not None:
            ms = prev_rt
        elif r < late_frac + boundary_frac + align_frac + dup_frac + edge_frac and u in user_max:
            cand = user_max[u] + rnd.choice(session_gaps) - rnd.choice([0, 1])
            if cur - disorder_ms <= cand <= cur + 2000 and rowtime_of(cand) == cand:
                ms = cand

        if u in break_from:                         # first row after a break
            last = break_from.pop(u)
            if rnd.random() < 0.3:                  # exactly one gap (or 1 ms less) later
                near = [g for g in session_gaps if g <= cur - last + disorder_ms]
                cand = last + (max(near) if near else min(session_gaps)) - rnd.choice([0, 1])
                if cur - disorder_ms <= cand <= cur + 2000 and rowtime_of(cand) == cand:
                    ms = cand
            first = rowtime_of(ms)
            for g in session_gaps:
                if g < first - last < 2 * g - 2 and rnd.random() < bridge_frac:
                    mid = last + (first - last) // 2
                    # arrives after this row, sometimes soon, sometimes near the
                    # lateness threshold of the watermark
                    due = max(cur + 1, mid + delay_ms + rnd.randint(-3000, lateness_ms + 1500))
                    pending.append([due, u, mid])
        emit(u, ms)

        if rnd.random() < 0.15:                     # the user takes a break
            lo, hi = rnd.choice([(500, 2900), (3000, 5600), (6500, 19000), (18000, 23000),
                                 (19500, 38000), (41000, 90000)])
            next_active[u] = cur + rnd.randint(lo, hi)
            break_from[u] = user_max[u]
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--format", choices=["float", "iso"], default="float")
    ap.add_argument("--delay", type=int, default=5000, help="watermark delay, ms")
    ap.add_argument("--lateness", type=int, default=0, help="allowed lateness, ms")
    ap.add_argument("--late-frac", type=float, default=0.03)
    ap.add_argument("--missing-ts", type=float, default=0.0,
                    help="fraction of rows without a usable timestamp")
    ap.add_argument("--out", default="-")
    args = ap.parse_args()
    lines = generate(args.seed, args.count, users=args.users, fmt=args.format,
                     delay_ms=args.delay, lateness_ms=args.lateness, late_frac=args.late_frac,
                     missing_ts_frac=args.missing_ts)
    data = "".join(line + "\n" for line in lines)
    if args.out == "-":
        sys.stdout.write(data)
    else:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(data)


if __name__ == "__main__":
    main()
