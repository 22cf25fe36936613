"""oracle.py - docs/event-time.md as a batch computation, in the plainest Python.

Given the rows of one source file in arrival (file) order, this computes
what runnel must output for window aggregates over them:

1. decode: each line's rowtime (epoch ms) as the pipeline's computed column
   would compute it; a row whose rowtime is NULL is dead-lettered and plays
   no further part;
2. the watermark in force when each row arrives: the maximum of
   (rowtime - delay) over the rows that arrived before it, RN_WM_MIN (minus
   infinity) before the first one (one file = one partition, and the table
   watermark never goes backwards);
3. late rows: rowtime < watermark - allowed lateness; they are in no window
   and go to the late-rows table;
4. over the other rows: TUMBLE / HOP windows by their start formula, SESSION
   windows per key by chaining the key's rows sorted by rowtime while
   consecutive rowtimes are less than the gap apart (session = [first,
   last + gap)); then COUNT(*), COUNT(DISTINCT page), COUNT(amount),
   SUM/MIN/MAX/AVG(amount) (AVG of an INT truncated toward zero, as in Flink),
   FIRST_VALUE/LAST_VALUE (first and last non-NULL
   value in arrival order) per window and key.

Nothing here simulates operators, firing or state: the final answer only
depends on which rows are late, and that depends only on the arrival order.
The comparison helpers at the end are shared by run_window_oracle.py and its
self-test.
"""
import datetime
import json
import math
import re

RN_WM_MIN = float("-inf")   # the watermark before any row

# ---- decoding ----------------------------------------------------------------

_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})"
                  r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
                  r"(Z|[+-]\d{2}(?::?\d{2})?)?$")
_EPOCH = datetime.datetime(1970, 1, 1)


def parse_timestamp_string(s):
    """Epoch ms of an ISO-8601 / SQL timestamp string (docs/formats.md:
    fraction truncated to ms, no zone = UTC), or None if it does not parse."""
    if not isinstance(s, str):
        return None
    m = _ISO.match(s)
    if not m:
        return None
    y, mo, d, hh, mi, ss, frac, zone = m.groups()
    hh, mi, ss = int(hh or 0), int(mi or 0), int(ss or 0)
    if hh > 23 or mi > 59 or ss > 60:
        return None
    try:
        day = datetime.datetime(int(y), int(mo), int(d))
    except ValueError:
        return None
    ms = (day - _EPOCH) // datetime.timedelta(milliseconds=1)
    ms += ((hh * 60 + mi) * 60 + ss) * 1000 + int(((frac or "") + "000")[:3])
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        off = int(digits[:2]) * 60 + (int(digits[2:4]) if len(digits) > 2 else 0)
        if off > 18 * 60:
            return None
        ms -= sign * off * 60000
    return ms


def rowtime_of(value, fmt):
    """The rowtime (epoch ms) the pipeline's computed `ts` column gives.
    float: TO_TIMESTAMP_LTZ(CAST(`timestamp` * 1000 AS BIGINT), 3) over a
    DOUBLE column (CAST truncates toward zero); iso: TO_TIMESTAMP(`timestamp`)
    over a STRING column. None when NULL."""
    if value is None:
        return None
    if fmt == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("not a number: %r" % (value,))
        return int(float(value) * 1000)
    return parse_timestamp_string(value)


class Row:
    __slots__ = ("idx", "line", "user_id", "page", "amount", "timestamp", "rowtime",
                 "wm", "late")

    def __repr__(self):
        return "Row(line %d, user %r, page %r, amount %r, rowtime %r)" % (
            self.line, self.user_id, self.page, self.amount, self.rowtime)


def decode(lines, fmt):
    """Rows (arrival order, rowtime not NULL) and the 1-based numbers of the
    lines dead-lettered because their rowtime is NULL."""
    rows, dead = [], []
    for n, line in enumerate(lines, 1):
        obj = json.loads(line)
        r = Row()
        r.line = n
        r.user_id = obj.get("user_id")
        r.page = obj.get("page")
        r.amount = obj.get("amount")
        ts = obj.get("timestamp")
        r.timestamp = float(ts) if fmt == "float" and ts is not None else ts
        r.rowtime = rowtime_of(ts, fmt)
        if r.rowtime is None:
            dead.append(n)
            continue
        r.idx = len(rows)
        rows.append(r)
    return rows, dead


# ---- watermark and lateness --------------------------------------------------

def mark_late(rows, delay_ms, lateness_ms):
    """Sets r.wm (the watermark in force when r arrived) and r.late on every
    row; returns the late rows."""
    wm = RN_WM_MIN
    late = []
    for r in rows:
        r.wm = wm
        r.late = r.rowtime < wm - lateness_ms
        if r.late:
            late.append(r)
        wm = max(wm, r.rowtime - delay_ms)
    return late


# ---- windows -----------------------------------------------------------------

def tumble_of(t, size, offset=0):
    start = (t - offset) // size * size + offset
    return [(start, start + size)]


def hop_of(t, slide, size, offset=0):
    if size % slide:
        raise ValueError("HOP size must be a multiple of slide")
    last = (t - offset) // slide * slide + offset
    return [(s, s + size) for s in range(last - size + slide, last + 1, slide)]


def assign(rows, windows_of, keyed):
    """{(start, end, key): [rows in arrival order]} for TUMBLE/HOP; key is
    the user_id or None."""
    groups = {}
    for r in rows:
        for (s, e) in windows_of(r.rowtime):
            if not (s <= r.rowtime < e):
                raise AssertionError("window [%d, %d) does not hold %d" % (s, e, r.rowtime))
            groups.setdefault((s, e, r.user_id if keyed else None), []).append(r)
    return groups


def sessions(rows, gap, keyed):
    """{(start, end, key): [rows in arrival order]}: per key, rows sorted by
    rowtime chain while consecutive rowtimes are < gap apart."""
    by_key = {}
    for r in rows:
        by_key.setdefault(r.user_id if keyed else None, []).append(r)
    groups = {}
    for key, rs in by_key.items():
        rs = sorted(rs, key=lambda r: (r.rowtime, r.idx))
        cur = [rs[0]]
        for r in rs[1:]:
            if r.rowtime - cur[-1].rowtime < gap:
                cur.append(r)
            else:
                groups[(cur[0].rowtime, cur[-1].rowtime + gap, key)] = cur
                cur = [r]
        groups[(cur[0].rowtime, cur[-1].rowtime + gap, key)] = cur
    return {k: sorted(v, key=lambda r: r.idx) for k, v in groups.items()}


def avg_int(values):
    """AVG of an INT, as in Flink: the integer quotient of the sum by the
    count, truncated toward zero (written to the DOUBLE sink column)."""
    total, n = sum(values), len(values)
    return abs(total) // n * (1 if total >= 0 else -1)


def first_non_null(values):
    for v in values:
        if v is not None:
            return v
    return None


def value_by(rows, pick):
    """MAX_BY/MIN_BY(page, amount): the page of the earliest-arrived row
    whose amount is pick(amounts); rows without an amount do not count."""
    amounts = [r.amount for r in rows if r.amount is not None]
    if not amounts:
        return None
    want = pick(amounts)
    return next(r.page for r in rows if r.amount == want)


def aggregates(rows):
    """The aggregate columns of one window, rows in arrival order."""
    amounts = [r.amount for r in rows if r.amount is not None]
    pages = [r.page for r in rows]
    return {
        "cnt": len(rows),
        "pages": len({p for p in pages if p is not None}),
        "n_amount": len(amounts),
        "total": sum(amounts) if amounts else None,
        "min_amount": min(amounts) if amounts else None,
        "max_amount": max(amounts) if amounts else None,
        "avg_amount": float(avg_int(amounts)) if amounts else None,
        "first_page": first_non_null(pages),
        "last_page": first_non_null(reversed(pages)),
        "first_amount": first_non_null(r.amount for r in rows),
        "last_amount": first_non_null(r.amount for r in reversed(rows)),
        "page_at_max": value_by(rows, max),
        "page_at_min": value_by(rows, min),
    }


AGG_COLUMNS = ["cnt", "pages", "n_amount", "total", "min_amount", "max_amount", "avg_amount",
               "first_page", "last_page", "first_amount", "last_amount", "page_at_max", "page_at_min"]


def window_results(rows, kind, keyed, size=None, slide=None, offset=0, gap=None):
    """The final result rows of one window query over non-late `rows`, as
    dicts (window_start, window_end, [user_id], aggregates...) in emission
    order: by window_end, then by creation (arrival index of the window's
    first row). Each dict also has "_created" (that index), not a column."""
    if kind == "tumble":
        groups = assign(rows, lambda t: tumble_of(t, size, offset), keyed)
    elif kind == "hop":
        groups = assign(rows, lambda t: hop_of(t, slide, size, offset), keyed)
    elif kind == "session":
        groups = sessions(rows, gap, keyed) if rows else {}
    else:
        raise ValueError(kind)
    out = []
    for (s, e, key), rs in groups.items():
        res = {"window_start": s, "window_end": e}
        if keyed:
            res["user_id"] = key
        res.update(aggregates(rs))
        res["_created"] = rs[0].idx
        out.append(res)
    out.sort(key=lambda d: (d["window_end"], d["_created"]))
    return out


def window_rows(rows, kind, keyed, size=None, slide=None, offset=0, gap=None):
    """What a window TVF without an aggregate emits over non-late `rows`:
    one dict (user_id, page, amount, ts, window_start, window_end) per row
    and window holding it (HOP: several), in no particular order."""
    if kind == "tumble":
        groups = assign(rows, lambda t: tumble_of(t, size, offset), keyed)
    elif kind == "hop":
        groups = assign(rows, lambda t: hop_of(t, slide, size, offset), keyed)
    elif kind == "session":
        groups = sessions(rows, gap, keyed) if rows else {}
    else:
        raise ValueError(kind)
    return [{"user_id": r.user_id, "page": r.page, "amount": r.amount, "ts": r.rowtime,
             "window_start": s, "window_end": e}
            for (s, e, _), rs in groups.items() for r in rs]


def late_row_out(r, has_timestamp=True):
    """A late row as the late-rows table (user_id, page, amount, timestamp,
    ts, note) must hold it: columns matched by name, missing ones NULL."""
    return {"user_id": r.user_id, "page": r.page, "amount": r.amount,
            "timestamp": r.timestamp if has_timestamp else None, "ts": r.rowtime, "note": None}


# ---- comparison --------------------------------------------------------------

def same(a, b, rel=1e-9):
    """Equal as runnel's output must be: JSON types exactly (5 is not 5.0),
    DOUBLEs within a relative tolerance."""
    if isinstance(a, float) or isinstance(b, float):
        if not (isinstance(a, float) and isinstance(b, float)):
            return False
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b or abs(a - b) <= rel * max(abs(a), abs(b))
    return type(a) is type(b) and a == b


def canon(obj):
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def show(d, cols):
    return "{" + ", ".join("%s: %s" % (c, json.dumps(d.get(c), ensure_ascii=False))
                           for c in cols if c in d) + "}"


def compare_windows(expected, actual, key_cols, cols, limit=5):
    """Compares window result rows (dicts) as tables keyed by key_cols; a key
    present twice in `actual` is a problem (a window emitted twice).
    Returns a list of problem lines, empty when equal."""
    problems = []
    exp = {}
    for d in expected:
        exp[canon([d[c] for c in key_cols])] = d
    act, dups = {}, []
    for d in actual:
        k = canon([d.get(c) for c in key_cols])
        if k in act:
            dups.append(d)
        act[k] = d
    missing = [k for k in exp if k not in act]
    extra = [k for k in act if k not in exp]
    differ = []
    for k in exp:
        if k in act:
            a, e = act[k], exp[k]
            bad = [c for c in cols if c not in a or not same(a[c], e[c])]
            unknown = [c for c in a if c not in cols]
            if bad or unknown:
                differ.append((k, bad + unknown))
    if dups:
        problems.append("%d windows emitted more than once, e.g. %s"
                        % (len(dups), "; ".join(show(d, cols) for d in dups[:limit])))
    if missing:
        problems.append("%d expected windows missing (of %d), first ones:" % (len(missing), len(exp)))
        problems += ["    want %s" % show(exp[k], cols) for k in missing[:limit]]
    if extra:
        problems.append("%d unexpected windows, first ones:" % len(extra))
        problems += ["    got  %s" % show(act[k], cols) for k in extra[:limit]]
    if differ:
        problems.append("%d windows with different values, first ones:" % len(differ))
        for k, bad in differ[:limit]:
            problems.append("    columns %s" % ", ".join(bad))
            problems.append("    want %s" % show(exp[k], cols))
            problems.append("    got  %s" % show(act[k], cols))
    return problems


def check_order(expected, actual, key_cols, strict, limit=3):
    """Emission order (docs/event-time.md: by window_end, then in the order
    the windows were first created). strict: the whole sequence must equal
    the expected one; otherwise only window_end must not decrease."""
    problems = []
    ends = [d.get("window_end") for d in actual]
    for i in range(1, len(ends)):
        if ends[i] is not None and ends[i - 1] is not None and ends[i] < ends[i - 1]:
            problems.append("emission order: line %d has window_end %s after line %d with %s"
                            % (i + 1, ends[i], i, ends[i - 1]))
            return problems
    if strict:
        want = [canon([d[c] for c in key_cols]) for d in expected]
        got = [canon([d.get(c) for c in key_cols]) for d in actual]
        if want != got and sorted(want) == sorted(got):
            i = next(i for i, (w, g) in enumerate(zip(want, got)) if w != g)
            problems.append("emission order: windows with equal window_end are not in creation "
                            "order; at line %d want %s, got %s" % (i + 1, want[i], got[i]))
    return problems[:limit]


def parse_append(lines):
    """Rows of an append sink file; problems for lines that are not objects."""
    rows, problems = [], []
    for n, line in enumerate(lines, 1):
        try:
            obj = json.loads(line)
        except ValueError as e:
            problems.append("line %d is not JSON (%s): %r" % (n, e, line[:200]))
            continue
        if not isinstance(obj, dict) or set(obj) == {"key", "value"}:
            problems.append("line %d is not a plain row (append sink): %r" % (n, line[:200]))
            continue
        rows.append(obj)
    return rows, problems


def replay_upsert(lines, key_cols):
    """The final table of an upsert sink file ({"key": {...}, "value": {...} |
    null} lines; last line per key wins, null deletes), as a list of value
    dicts; problems for malformed lines or keys that disagree with values."""
    state, problems = {}, []
    for n, line in enumerate(lines, 1):
        try:
            obj = json.loads(line)
            key, value = obj["key"], obj["value"]
        except (ValueError, KeyError, TypeError) as e:
            problems.append("line %d is not an upsert record (%s): %r" % (n, e, line[:200]))
            continue
        if not isinstance(key, dict) or list(key) != list(key_cols):
            problems.append("line %d: key %s does not hold exactly %s" % (n, canon(key), key_cols))
            continue
        k = canon([key[c] for c in key_cols])
        if value is None:
            state.pop(k, None)
            continue
        if not isinstance(value, dict) or any(not same(value.get(c), key[c]) for c in key_cols):
            problems.append("line %d: value %s does not match its key %s"
                            % (n, canon(value), canon(key)))
            continue
        state[k] = value
    return list(state.values()), problems[:10]


def compare_rows_multiset(expected, actual, what, cols, limit=5):
    """Rows compared as multisets (exact JSON values); returns problems."""
    def count(rows):
        c = {}
        for d in rows:
            k = canon(d)
            c[k] = c.get(k, 0) + 1
        return c
    e, a = count(expected), count(actual)
    problems = []
    if e != a:
        missing = [(k, e[k] - a.get(k, 0)) for k in e if e[k] > a.get(k, 0)]
        extra = [(k, a[k] - e.get(k, 0)) for k in a if a[k] > e.get(k, 0)]
        problems.append("%s: %d rows, expected %d; %d expected rows missing, %d unexpected"
                        % (what, len(actual), len(expected), sum(n for _, n in missing),
                           sum(n for _, n in extra)))
        problems += ["    want %s%s" % (show(json.loads(k), cols), " x%d" % n if n > 1 else "")
                     for k, n in missing[:limit]]
        problems += ["    got  %s%s" % (show(json.loads(k), cols), " x%d" % n if n > 1 else "")
                     for k, n in extra[:limit]]
    return problems
