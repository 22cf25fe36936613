#!/usr/bin/env python3
"""oracle.py - the expected outputs of scenarios S1, S3 and S5
(../shared/SCENARIOS.md), computed from the input files in the plainest
way: a batch computation over all records, no streaming, no runnel.

Each function takes the list of parsed input records per topic (the lines
that are valid JSON with every required field; malformed ones are the
runner's business) and returns what the pipeline's outputs must hold:
  s1 -> multiset of notifications (user_id, login_ts_ms)
  s3 -> final tables {user_id: (name, email, count)}, {event: count}
  s4 -> multiset of notification rows and the final feedback table
  s5 -> multiset of visits rows and of suspicious-visits rows
  s2 -> the Redis contents (a dict model, see redis_replay) once event
        time has reached a given watermark
"""
import collections
import datetime


def parse_ts_ms(v):
    """A scenario timestamp (ISO string, 'YYYY-MM-DD HH:MM:SS', epoch
    seconds int/float) as epoch milliseconds, UTC."""
    if isinstance(v, (int, float)):
        return int(round(v * 1000))
    s = v.strip().replace("T", " ")
    tz = datetime.timezone.utc
    if s.endswith("Z"):
        s = s[:-1]
    frac = 0
    if "." in s:
        s, f = s.split(".", 1)
        frac = int(round(float("0." + f) * 1000))
    d = datetime.datetime.strptime(s, "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz)
    return int(d.timestamp()) * 1000 + frac


# ---- S1 ------------------------------------------------------------------

S1_TIMER_MS = 10 * 60 * 1000


def s1(actions, timer_ms=S1_TIMER_MS):
    """A login at t notifies unless the same user has a login or purchase
    at t' with t < t' <= t + timer (10 min)."""
    by_user = collections.defaultdict(list)
    for a in actions:
        if a["action"] in ("login", "purchase"):
            by_user[a["user_id"]].append(parse_ts_ms(a["timestamp"]))
    out = collections.Counter()
    for a in actions:
        if a["action"] != "login":
            continue
        t = parse_ts_ms(a["timestamp"])
        if not any(t < u <= t + timer_ms for u in by_user[a["user_id"]]):
            out[(a["user_id"], t)] += 1
    return out


# ---- S3 ------------------------------------------------------------------

def s3(users, events):
    """users: in arrival order (a later record of a user_id replaces an
    earlier one); events: all. Inner join, grouped."""
    latest = {}
    for u in users:
        latest[u["user_id"]] = u
    per_user = collections.Counter()
    per_event = collections.Counter()
    for e in events:
        u = latest.get(e["user_id"])
        if u is None:
            continue
        per_user[e["user_id"]] += 1
        per_event[e["event"]] += 1
    counts = {uid: (latest[uid]["name"], latest[uid]["email"], n) for uid, n in per_user.items()}
    return counts, dict(per_event)


# ---- S5 ------------------------------------------------------------------

S5_JOIN_MS = 5000
S5_GAP_MS = 20000


# ---- S4 ------------------------------------------------------------------

S4_FIELDS = ("restaurant_id", "adv_campaign_id", "adv_campaign_content", "adv_campaign_owner",
             "adv_campaign_owner_contact", "adv_campaign_datetime_start", "adv_campaign_datetime_end",
             "datetime_created")


def s4(campaigns, subscribers, now_s):
    """Every campaign active at now_s (start <= now <= end) times every
    subscriber of its restaurant: the notification rows (a multiset of
    tuples: the campaign fields, client_id, trigger time), and the feedback
    table keyed by (adv_campaign_id, client_id), the last row per key."""
    clients = collections.defaultdict(list)
    for s in subscribers:
        clients[s["restaurant_id"]].append(s["client_id"])
    rows = collections.Counter()
    table = {}
    for c in campaigns:
        if not c["adv_campaign_datetime_start"] <= now_s <= c["adv_campaign_datetime_end"]:
            continue
        for client in clients[c["restaurant_id"]]:
            row = tuple(c.get(f) for f in S4_FIELDS) + (client, now_s)
            rows[row] += 1
            table[(c["adv_campaign_id"], client)] = row
    return rows, table


def s5(events, purchases):
    """Interval join (nearest purchase of the user within +-5 s, ties to the
    earlier purchase, then the smaller amount), sessions per user with a
    20 s gap, visits and suspicious sessions."""
    pur = collections.defaultdict(list)
    for p in purchases:
        pur[p["user_id"]].append((parse_ts_ms(p["timestamp"]), p["amount"]))
    rows = []
    for e in events:
        t = parse_ts_ms(e["timestamp"])
        amount = None
        if e["event_type"] == "purchase":
            cands = [(abs(t - pt), pt, a) for pt, a in pur[e["user_id"]] if t - S5_JOIN_MS <= pt <= t + S5_JOIN_MS]
            if cands:
                amount = min(cands)[2]
        rows.append((e["user_id"], t, e["event_type"], e["page_id"], amount))
    visits = collections.Counter()
    suspicious = collections.Counter()
    by_user = collections.defaultdict(list)
    for r in rows:
        by_user[r[0]].append(r)
    for uid, rs in by_user.items():
        rs.sort(key=lambda r: r[1])
        sessions, cur = [], []
        for r in rs:
            if cur and r[1] - cur[-1][1] >= S5_GAP_MS:
                sessions.append(cur)
                cur = []
            cur.append(r)
        if cur:
            sessions.append(cur)
        for s in sessions:
            start = s[0][1]
            sid = "%s-%d" % (uid, start)
            joined = [r for r in s if r[4] is not None]
            amount = max(joined, key=lambda r: r[1])[4] if joined else 0
            for r in s:
                visits[(sid, uid, r[2], r[3], r[1], amount)] += 1
            if len(s) > 5:
                suspicious[(sid, uid, 1)] += 1
            elif not any(r[2] == "page-view" for r in s):
                suspicious[(sid, uid, 2)] += 1
    return visits, suspicious


# ---- S2 ------------------------------------------------------------------

S2_DELAY_MS = 10 * 1000          # the watermark: newest event time - 10 s
S2_SLIDE_MS = 60 * 1000          # figures move once a minute of event time
S2_ACTIVE_MS = 5 * 60 * 1000     # active_users: distinct users in the last 5 minutes
S2_VIEWS_MS = 60 * 60 * 1000     # user_views_1h: views in the last hour


def s2_watermark(events):
    """The watermark once every event was read: newest event time - 10 s."""
    return max(parse_ts_ms(e["timestamp"]) for e in events) - S2_DELAY_MS


def s2(events, watermark=None):
    """What Redis holds once event time has reached `watermark` (epoch ms;
    None: the end of a bounded input, every window closed), in the model
    of redis_replay: {"active_users": "n", "top_pages": {page: views},
    "user_views_1h": {"user_id": "views"}}, absent keys left out.

    E is the latest minute boundary <= watermark. active_users is the
    number of distinct users with an event in [E - 5 min, E), user_views_1h
    the users with views in [E - 1 h, E) and their counts. A figure is
    written only when something happened near E: active_users at the last
    E' <= E that had an event within 10 minutes before it (a 0 once the
    last 5 of those were empty), a user's field at the last E' with one of
    the user's views within 2 hours before it (deleted when the last hour
    of them had none). Events behind the watermark when they arrive (older
    than the newest event so far - 10 s) count in top_pages only."""
    inf = float("inf")
    horizon = inf if watermark is None else watermark // S2_SLIDE_MS * S2_SLIDE_MS
    top = collections.Counter()
    accepted = []                      # (ts, user_id, action) in windows
    newest = None
    for e in events:
        t = parse_ts_ms(e["timestamp"])
        if e["action"] == "view":
            top[e["page"]] += 1
        if newest is None or t >= newest - S2_DELAY_MS:
            accepted.append((t, e["user_id"], e["action"]))
        newest = t if newest is None else max(newest, t)

    def last_end(t, size):
        """The latest window end <= horizon of a window of `size` holding t."""
        e = min((t + size) // S2_SLIDE_MS * S2_SLIDE_MS, horizon)
        return e if e > t else None

    out = {}
    if top:
        out["top_pages"] = dict(top)
    ends = [e for e in (last_end(t, 2 * S2_ACTIVE_MS) for t, _, _ in accepted) if e is not None]
    if ends:
        end = max(ends)
        out["active_users"] = str(len({u for t, u, _ in accepted if end - S2_ACTIVE_MS <= t < end}))
    per_user = collections.defaultdict(list)
    for t, u, a in accepted:
        if a == "view":
            per_user[u].append(t)
    views = {}
    for u, ts in per_user.items():
        ends = [e for e in (last_end(t, 2 * S2_VIEWS_MS) for t in ts) if e is not None]
        if not ends:
            continue
        end = max(ends)
        n = sum(1 for t in ts if end - S2_VIEWS_MS <= t < end)
        if n:
            views[str(u)] = str(n)
    if views:
        out["user_views_1h"] = views
    return out


def s2_accepted(events):
    """(ts_ms, user_id, action) of the events the windows take: those not
    behind the watermark (newest event time so far - 10 s) on arrival."""
    out, newest = [], None
    for e in events:
        t = parse_ts_ms(e["timestamp"])
        if newest is None or t >= newest - S2_DELAY_MS:
            out.append((t, e["user_id"], e["action"]))
        newest = t if newest is None else max(newest, t)
    return out


def s2_windows(events):
    """Every figure S2's windows produce before the sink, at the end of a
    bounded input (every window closed): the active_users values in order
    of window end (one per 1-minute window end E with an event in
    [E - 10 min, E): the distinct users of [E - 5 min, E)), and the multiset
    of user_views_1h rows (user_id, views in [E - 1 h, E) or None when 0),
    one per user and window end E with a view of that user in [E - 2 h, E)."""
    acc = s2_accepted(events)

    def ends(ts, size):
        es = set()
        for t in ts:
            e = (t + size) // S2_SLIDE_MS * S2_SLIDE_MS
            while e > t:
                es.add(e)
                e -= S2_SLIDE_MS
        return sorted(es)

    active = []
    for e in ends([t for t, _, _ in acc], 2 * S2_ACTIVE_MS):
        active.append(len({u for t, u, _ in acc if e - S2_ACTIVE_MS <= t < e}))
    per_user = collections.defaultdict(list)
    for t, u, a in acc:
        if a == "view":
            per_user[u].append(t)
    rows = collections.Counter()
    for u, ts in per_user.items():
        for e in ends(ts, 2 * S2_VIEWS_MS):
            n = sum(1 for t in ts if e - S2_VIEWS_MS <= t < e)
            rows[(u, n or None)] += 1
    return active, rows


def redis_replay(commands):
    """Applies Redis commands (lists of strings, as OUT/redis.jsonl holds
    them) to a model of the server: {key: str | {field: str}} for strings
    and hashes, {member: number} for sorted sets (scores as ints when
    whole). Expiry options and commands are checked, not modelled."""
    db = {}
    for c in commands:
        op = c[0].upper()
        if op == "SET":
            assert len(c) in (3, 5), c
            db[c[1]] = c[2]
        elif op == "DEL":
            for k in c[1:]:
                db.pop(k, None)
        elif op == "HSET":
            db.setdefault(c[1], {})[c[2]] = c[3]
        elif op == "HDEL":
            h = db.get(c[1], {})
            h.pop(c[2], None)
            if not h:
                db.pop(c[1], None)
        elif op == "ZADD":
            score = float(c[2])
            db.setdefault(c[1], {})[c[3]] = int(score) if score == int(score) else score
        elif op == "ZREM":
            z = db.get(c[1], {})
            z.pop(c[2], None)
            if not z:
                db.pop(c[1], None)
        elif op in ("EXPIRE", "PEXPIRE"):
            assert c[1] in db, c
        else:
            raise ValueError("unexpected Redis command %r" % (c,))
    return db
