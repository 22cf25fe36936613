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
