"""loop.py - the plain-Python adapter of bench/peers (bench/peers/README.md):
the peers' queries as the simplest single-threaded confluent-kafka loop.

    python loop.py QUERY BOOTSTRAP OUT_TOPIC      (bench/peers/python/query)

What a user writes by hand instead of a stream processor: one consumer
assigned every partition of the input topic from its beginning, batched
consume(), json.loads per record, dicts of counts, json.dumps per result
row to OUT_TOPIC through one producer. It reads each partition up to the
end offset it had at start, then closes every open window and stops.

The same semantics as the SQL files (bench/peers/README.md names them):
- page_views: views and distinct users per page over 'page-view' events;
  an upsert result, so only the final row per page is written.
- tumble: events per user per 10 s window of CAST(timestamp * 1000 AS
  BIGINT) ms; the watermark is Flink's: per partition the highest event
  time less 5 s, the table's the lowest over the partitions not yet at
  their end (a partition that has delivered nothing holds it back); a
  window is written once the watermark reaches its last millisecond, and a
  row of a window already written is late and dropped, as Flink drops it.
- q0, q1, q2: the bids passed through, priced in euros (DECIMAL(23, 3):
  price * 908 / 1000, the double nearest the exact decimal), filtered.
- q5: bids per auction in HOP windows of 10 s sliding by 2 s (watermark
  dateTime - 4 s); per window the auctions whose count is >= the window's
  highest (every tied auction), as nexmark-flink's SQL.
- q7: the highest price per 10 s TUMBLE window joined back to the bids
  with that price and dateTime BETWEEN window_end - 10 s AND window_end
  (both ends included, so a bid at exactly window_end counts for the window
  before its own too); B.price goes into the sink column bidder and
  B.bidder into price, as the SQL writes by position.
Timestamps are written as the input has them ("YYYY-MM-DD HH:MM:SS.mmm")
or as epoch ms (window bounds); the harness normalizes both.

Prints `PEERS {"startup_s", "process_s", "records"}` last: startup from the
process start (/proc) to the assignment, process from there to the last
result delivered. Exit 0, 3 for a query it does not implement, 1 on a
Kafka error.
"""
import datetime
import json
import os
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

NO_TIME = -(1 << 62)  # the watermark of a partition that has delivered nothing


def process_start():
    """This process's start, epoch seconds (from /proc; 10 ms resolution), or now.
    The time since boot at its start (/proc/self/stat) against the time since
    boot now (/proc/uptime): /proc/stat's btime is whole seconds, which put
    the start up to a second early."""
    try:
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        now = time.time()
        return now - (uptime - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return time.time()


_days = {}


def parse_time(s):
    """'YYYY-MM-DD HH:MM:SS.mmm' (UTC) to epoch ms, the date part cached."""
    day = _days.get(s[:10])
    if day is None:
        d = datetime.date(int(s[:4]), int(s[5:7]), int(s[8:10]))
        day = _days[s[:10]] = (d - datetime.date(1970, 1, 1)).days * 86400000
    return day + int(s[11:13]) * 3600000 + int(s[14:16]) * 60000 + int(s[17:19]) * 1000 + int(s[20:23] or 0)


class Watermark:
    """Flink's watermark over a topic's partitions: per partition the highest
    event time less the delay, for the topic the lowest over the partitions
    still reading; +infinity once all are done."""

    def __init__(self, parts, delay_ms):
        self.high = {p: NO_TIME for p in parts}  # partition -> highest event time seen
        self.delay = delay_ms

    def see(self, p, t):
        if t > self.high[p]:
            self.high[p] = t

    def done(self, p):
        self.high.pop(p, None)

    def value(self):
        if not self.high:
            return 1 << 62
        low = min(self.high.values())
        return low - self.delay if low != NO_TIME else NO_TIME


class PageViews:
    topic, delay = "user-events", None

    def __init__(self, emit):
        self.emit = emit
        self.views, self.users = {}, {}

    def row(self, p, ev):
        if ev.get("event_type") == "page-view":
            page = ev.get("page_id")
            self.views[page] = self.views.get(page, 0) + 1
            u = self.users.get(page)
            if u is None:
                u = self.users[page] = set()
            if ev.get("user_id") is not None:
                u.add(ev["user_id"])

    def advance(self, wm):
        pass

    def finish(self):
        for page, n in self.views.items():
            self.emit({"page_id": page, "views": n, "users": len(self.users[page])})


class Tumble:
    topic, delay, size = "user-events", 5000, 10000

    def __init__(self, emit):
        self.emit = emit
        self.windows = {}  # window start -> {user_id: events}
        self.closed = NO_TIME  # windows ending at or before this are written
        self.late = 0

    def row(self, p, ev):
        ts = int(ev["timestamp"] * 1000)
        self.wm.see(p, ts)
        start = ts - ts % self.size
        if start + self.size <= self.closed:
            self.late += 1
            return
        w = self.windows.get(start)
        if w is None:
            w = self.windows[start] = {}
        u = ev["user_id"]
        w[u] = w.get(u, 0) + 1

    def advance(self, wm):
        for start in sorted(s for s in self.windows if s + self.size - 1 <= wm):
            end = start + self.size
            for u, n in self.windows.pop(start).items():
                self.emit({"window_start": start, "window_end": end, "user_id": u, "events": n})
            self.closed = max(self.closed, end)

    def finish(self):
        self.advance(1 << 62)


class Pass:
    """q0, q1, q2: one bid in, at most one row out."""
    topic, delay = "bid", None

    def __init__(self, emit, query):
        self.emit = emit
        self.row = getattr(self, query)

    def q0(self, p, b):
        self.emit({"auction": b["auction"], "bidder": b["bidder"], "price": b["price"],
                   "dateTime": b["dateTime"], "extra": b["extra"]})

    def q1(self, p, b):
        self.emit({"auction": b["auction"], "bidder": b["bidder"], "price": b["price"] * 908 / 1000,
                   "dateTime": b["dateTime"], "extra": b["extra"]})

    def q2(self, p, b):
        if b["auction"] % 123 == 0:
            self.emit({"auction": b["auction"], "price": b["price"]})

    def advance(self, wm):
        pass

    def finish(self):
        pass


class Q5:
    topic, delay, size, slide = "bid", 4000, 10000, 2000

    def __init__(self, emit):
        self.emit = emit
        self.windows = {}  # window start -> {auction: bids}
        self.closed = NO_TIME
        self.late = 0

    def row(self, p, b):
        ts = parse_time(b["dateTime"])
        self.wm.see(p, ts)
        a = b["auction"]
        last = ts - ts % self.slide
        for start in range(last - self.size + self.slide, last + 1, self.slide):
            if start + self.size <= self.closed:
                self.late += 1
                continue
            w = self.windows.get(start)
            if w is None:
                w = self.windows[start] = {}
            w[a] = w.get(a, 0) + 1

    def advance(self, wm):
        for start in sorted(s for s in self.windows if s + self.size - 1 <= wm):
            w = self.windows.pop(start)
            top = max(w.values())
            for a, n in w.items():
                if n >= top:
                    self.emit({"auction": a, "num": n})
            self.closed = max(self.closed, start + self.size)

    def finish(self):
        self.advance(1 << 62)


class Q7:
    topic, delay, size = "bid", 4000, 10000

    def __init__(self, emit):
        self.emit = emit
        self.top = {}  # window start -> [highest price, [bids at that price]]
        self.edge = {}  # window end -> bids at exactly that time (they match the window before too)
        self.fired = {}  # window end -> highest price of the written window
        self.closed = NO_TIME
        self.late = 0

    def out(self, b):
        self.emit({"auction": b["auction"], "bidder": b["price"], "price": b["bidder"],
                   "dateTime": b["dateTime"], "extra": b["extra"]})

    def row(self, p, b):
        ts = parse_time(b["dateTime"])
        self.wm.see(p, ts)
        price = b["price"]
        start = ts - ts % self.size
        if start == ts:  # also in [window_end - 10 s, window_end] of the window ending here
            if ts in self.fired:
                if price == self.fired[ts]:
                    self.out(b)
            else:
                self.edge.setdefault(ts, []).append(b)
        if start + self.size <= self.closed:
            self.late += 1
            return
        t = self.top.get(start)
        if t is None:
            self.top[start] = [price, [b]]
        elif price > t[0]:
            t[0], t[1] = price, [b]
        elif price == t[0]:
            t[1].append(b)

    def advance(self, wm):
        for start in sorted(s for s in self.top if s + self.size - 1 <= wm):
            end = start + self.size
            price, bids = self.top.pop(start)
            for b in bids + [e for e in self.edge.pop(end, ()) if e["price"] == price]:
                self.out(b)
            self.fired[end] = price
            self.closed = max(self.closed, end)

    def finish(self):
        self.advance(1 << 62)


def make(query, emit):
    if query == "page_views":
        return PageViews(emit)
    if query == "tumble":
        return Tumble(emit)
    if query in ("q0", "q1", "q2"):
        return Pass(emit, query)
    if query == "q5":
        return Q5(emit)
    if query == "q7":
        return Q7(emit)
    return None


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: bench/peers/python/query QUERY BOOTSTRAP OUT_TOPIC\n")
        return 2
    query, bootstrap, out_topic = argv
    t0 = process_start()
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50})

    def emit(row):
        value = json.dumps(row).encode()
        while True:
            try:
                producer.produce(out_topic, value)
                return
            except BufferError:
                producer.poll(0.1)

    q = make(query, emit)
    if q is None:
        sys.stderr.write("python adapter: no query %r\n" % query)
        return 3
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "peers-python-%s-%d" % (query, os.getpid()),
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    meta = c.list_topics(q.topic, timeout=30)
    parts = sorted(meta.topics[q.topic].partitions)
    ends = {}
    for p in parts:
        lo, hi = c.get_watermark_offsets(TopicPartition(q.topic, p), timeout=30)
        if hi > lo:
            ends[p] = hi
    q.wm = Watermark(ends, q.delay or 0)
    c.assign([TopicPartition(q.topic, p, OFFSET_BEGINNING) for p in parts])
    ready = time.time()
    records = 0
    loads, row = json.loads, q.row
    while ends:
        for m in c.consume(num_messages=1000, timeout=1.0):
            if m.error():
                raise KafkaException(m.error())
            p, off = m.partition(), m.offset()
            end = ends.get(p)
            if end is None or off >= end:
                continue
            records += 1
            row(p, loads(m.value()))
            if off + 1 >= end:
                del ends[p]
                q.wm.done(p)
        if q.delay is not None:
            q.advance(q.wm.value())
        producer.poll(0)
    q.finish()
    c.close()
    left = producer.flush(60)
    if left:
        sys.stderr.write("python adapter: %d rows not delivered\n" % left)
        return 1
    done = time.time()
    if getattr(q, "late", 0):
        sys.stderr.write("python adapter: %d late rows dropped\n" % q.late)
    print('PEERS {"startup_s": %.3f, "process_s": %.3f, "records": %d}' % (ready - t0, done - ready, records))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
