"""oracle.py - random queries and their batch answers, from one description.

A query is a tree of small objects (expressions, aggregates, a Query). The
same tree renders the Flink SQL that runnel runs (sql("flink")), the SQL
that SQLite runs in the self-test (sql("sqlite")), and evaluates itself in
plain Python over parsed rows (eval). Text and semantics therefore cannot
drift apart: change an operator and all three change together.

Semantics modelled (the runnel contract): SQL three-valued logic; NULL in,
NULL out; integer '/' truncates toward zero, '%' takes the dividend's sign,
integer division by zero is NULL; strings compare bytewise (Python's code
point order is UTF-8 byte order); COUNT -> BIGINT, SUM of integers ->
BIGINT, AVG -> the argument's type (of integers: the sum divided by the
count, truncated toward zero, as in Flink); aggregates skip NULLs, SUM/MIN/MAX/AVG of no values
is NULL; GROUP BY puts NULLs in one group.
"""
import json
import math
import random
import re

INT, BIGINT, DOUBLE, STRING, BOOLEAN = "INT", "BIGINT", "DOUBLE", "STRING", "BOOLEAN"
SQLITE_TYPE = {INT: "INTEGER", BIGINT: "INTEGER", DOUBLE: "REAL", STRING: "TEXT"}
INT32 = (-2 ** 31, 2 ** 31 - 1)
QUOTED = {"timestamp", "value", "user", "count", "sum", "min", "max", "avg", "key", "page"}


class OracleError(Exception):
    """A generated expression left the well-defined domain (e.g. INT
    overflow); the generator drops the query and draws another."""


def q_ident(name, dialect):
    if name.lower() in QUOTED:
        return ("`%s`" if dialect == "flink" else '"%s"') % name
    return name


def fmt_lit(v, t):
    if v is None:
        return "NULL"
    if t == STRING:
        return "'" + v.replace("'", "''") + "'"
    if t == DOUBLE:
        s = repr(float(v))
        assert "e" not in s and "inf" not in s and "nan" not in s, s
        return s
    return str(int(v))


def check_int(v, t):
    if v is not None and t == INT and not INT32[0] <= v <= INT32[1]:
        raise OracleError("INT overflow")
    return v


# ---- expressions -------------------------------------------------------

class Expr:
    type = None
    nullable = True


class Col(Expr):
    def __init__(self, name, type_, nullable=True):
        self.name, self.type, self.nullable = name, type_, nullable

    def sql(self, d):
        return q_ident(self.name, d)

    def eval(self, row):
        return row.get(self.name)


class Lit(Expr):
    def __init__(self, value, type_):
        self.value, self.type, self.nullable = value, type_, value is None

    def sql(self, d):
        return fmt_lit(self.value, self.type)

    def eval(self, row):
        return self.value


def num_type(a, b):
    if DOUBLE in (a.type, b.type):
        return DOUBLE
    if BIGINT in (a.type, b.type):
        return BIGINT
    return INT


def int_div(a, b):
    if b == 0:
        return None
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


class Arith(Expr):
    """a op b for op in + - * / %; '/' and '%' only get a DOUBLE operand
    with a non-zero literal divisor (see the generator)."""

    def __init__(self, op, a, b):
        self.op, self.a, self.b = op, a, b
        self.type = num_type(a, b)
        self.nullable = a.nullable or b.nullable or (op in "/%" and not isinstance(b, Lit))

    def sql(self, d):
        return "(%s %s %s)" % (self.a.sql(d), self.op, self.b.sql(d))

    def eval(self, row):
        x, y = self.a.eval(row), self.b.eval(row)
        if x is None or y is None:
            return None
        if self.type == DOUBLE:
            x, y = float(x), float(y)
            if self.op == "+":
                return x + y
            if self.op == "-":
                return x - y
            if self.op == "*":
                return x * y
            if self.op == "/":
                if y == 0:
                    raise OracleError("DOUBLE division by zero")
                return x / y
            raise OracleError("DOUBLE %")
        if self.op == "+":
            r = x + y
        elif self.op == "-":
            r = x - y
        elif self.op == "*":
            r = x * y
        elif self.op == "/":
            r = int_div(x, y)
        else:
            q = int_div(x, y)
            r = None if q is None else x - y * q
        return check_int(r, self.type)


class Neg(Expr):
    def __init__(self, a):
        self.a, self.type, self.nullable = a, a.type, a.nullable

    def sql(self, d):
        return "(-%s)" % self.a.sql(d)

    def eval(self, row):
        x = self.a.eval(row)
        return None if x is None else check_int(-x, self.type)


class Cmp(Expr):
    type = BOOLEAN

    def __init__(self, op, a, b):
        self.op, self.a, self.b = op, a, b
        self.nullable = a.nullable or b.nullable

    def sql(self, d):
        return "(%s %s %s)" % (self.a.sql(d), self.op, self.b.sql(d))

    def eval(self, row):
        x, y = self.a.eval(row), self.b.eval(row)
        if x is None or y is None:
            return None
        return {"=": x == y, "<>": x != y, "<": x < y, "<=": x <= y, ">": x > y,
                ">=": x >= y}[self.op]


class Logic(Expr):
    """AND / OR over two BOOLEANs, NOT over one, three-valued."""
    type = BOOLEAN

    def __init__(self, op, *args):
        self.op, self.args = op, args
        self.nullable = any(a.nullable for a in args)

    def sql(self, d):
        if self.op == "NOT":
            return "(NOT %s)" % self.args[0].sql(d)
        return "(%s %s %s)" % (self.args[0].sql(d), self.op, self.args[1].sql(d))

    def eval(self, row):
        v = [a.eval(row) for a in self.args]
        if self.op == "NOT":
            return None if v[0] is None else not v[0]
        if self.op == "AND":
            if v[0] is False or v[1] is False:
                return False
            return None if None in v else True
        if v[0] is True or v[1] is True:
            return True
        return None if None in v else False


class Between(Expr):
    type = BOOLEAN

    def __init__(self, a, lo, hi, negated=False):
        self.a, self.lo, self.hi, self.negated = a, lo, hi, negated
        self.nullable = a.nullable

    def sql(self, d):
        return "(%s %sBETWEEN %s AND %s)" % (self.a.sql(d), "NOT " if self.negated else "",
                                             self.lo.sql(d), self.hi.sql(d))

    def eval(self, row):
        x, lo, hi = self.a.eval(row), self.lo.eval(row), self.hi.eval(row)
        ge = None if x is None or lo is None else x >= lo
        le = None if x is None or hi is None else x <= hi
        r = Logic("AND", Lit(ge, BOOLEAN), Lit(le, BOOLEAN)).eval(row)
        return r if not self.negated or r is None else not r


class In(Expr):
    type = BOOLEAN

    def __init__(self, a, items, negated=False):
        self.a, self.items, self.negated = a, items, negated
        self.nullable = a.nullable

    def sql(self, d):
        return "(%s %sIN (%s))" % (self.a.sql(d), "NOT " if self.negated else "",
                                   ", ".join(i.sql(d) for i in self.items))

    def eval(self, row):
        x = self.a.eval(row)
        if x is None:
            return None
        vals = [i.eval(row) for i in self.items]
        if x in vals:
            r = True
        elif None in vals:
            return None
        else:
            r = False
        return not r if self.negated else r


def like_regex(pattern):
    out = []
    for ch in pattern:
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return re.compile("".join(out), re.S)


class Like(Expr):
    type = BOOLEAN

    def __init__(self, a, pattern, negated=False):
        self.a, self.pattern, self.negated = a, pattern, negated
        self.rx = like_regex(pattern)
        self.nullable = a.nullable

    def sql(self, d):
        return "(%s %sLIKE %s)" % (self.a.sql(d), "NOT " if self.negated else "",
                                   fmt_lit(self.pattern, STRING))

    def eval(self, row):
        x = self.a.eval(row)
        if x is None:
            return None
        r = self.rx.fullmatch(x) is not None
        return not r if self.negated else r


class IsNull(Expr):
    type = BOOLEAN
    nullable = False

    def __init__(self, a, negated=False):
        self.a, self.negated = a, negated

    def sql(self, d):
        return "(%s IS %sNULL)" % (self.a.sql(d), "NOT " if self.negated else "")

    def eval(self, row):
        return (self.a.eval(row) is None) != self.negated


class Case(Expr):
    def __init__(self, whens, else_):
        self.whens, self.else_ = whens, else_
        self.type = whens[0][1].type
        self.nullable = else_ is None or else_.nullable or any(t.nullable for _, t in whens)

    def sql(self, d):
        s = "CASE" + "".join(" WHEN %s THEN %s" % (c.sql(d), t.sql(d)) for c, t in self.whens)
        if self.else_ is not None:
            s += " ELSE " + self.else_.sql(d)
        return s + " END"

    def eval(self, row):
        for c, t in self.whens:
            if c.eval(row) is True:
                return t.eval(row)
        return None if self.else_ is None else self.else_.eval(row)


class Cast(Expr):
    """Only casts that cannot fail on the data: INT -> STRING/DOUBLE/BIGINT,
    DOUBLE -> BIGINT (and -> INT for values known to fit)."""

    def __init__(self, a, to):
        self.a, self.type, self.nullable = a, to, a.nullable

    def sql(self, d):
        t = self.type if d == "flink" else SQLITE_TYPE[self.type]
        return "CAST(%s AS %s)" % (self.a.sql(d), t)

    def eval(self, row):
        x = self.a.eval(row)
        if x is None:
            return None
        if self.type == STRING:
            if self.a.type not in (INT, BIGINT):
                raise OracleError("unsupported cast")
            return str(x)
        if self.type == DOUBLE:
            return float(x)
        return check_int(int(x), self.type)  # int() truncates toward zero


class Coalesce(Expr):
    def __init__(self, *args):
        self.args, self.type = args, args[0].type
        self.nullable = all(a.nullable for a in args)

    def sql(self, d):
        return "COALESCE(%s)" % ", ".join(a.sql(d) for a in self.args)

    def eval(self, row):
        for a in self.args:
            v = a.eval(row)
            if v is not None:
                return v
        return None


class Func(Expr):
    """LOWER, UPPER, CONCAT, SUBSTRING(s, start, len), CHAR_LENGTH."""

    def __init__(self, name, *args):
        self.name, self.args = name, args
        self.type = INT if name == "CHAR_LENGTH" else STRING
        self.nullable = any(a.nullable for a in args)

    def sql(self, d):
        a = [x.sql(d) for x in self.args]
        if d == "sqlite":
            if self.name == "CONCAT":
                return "(" + " || ".join(a) + ")"
            name = {"SUBSTRING": "substr", "CHAR_LENGTH": "length"}.get(self.name, self.name)
            return "%s(%s)" % (name, ", ".join(a))
        return "%s(%s)" % (self.name, ", ".join(a))

    def eval(self, row):
        v = [x.eval(row) for x in self.args]
        if None in v:
            return None
        if self.name == "LOWER":
            return v[0].lower()
        if self.name == "UPPER":
            return v[0].upper()
        if self.name == "CONCAT":
            return "".join(v)
        if self.name == "CHAR_LENGTH":
            return len(v[0])
        start, n = v[1], v[2]
        assert start >= 1 and n >= 0
        return v[0][start - 1:start - 1 + n]


# ---- aggregates and queries ---------------------------------------------

class Agg:
    def __init__(self, fn, arg=None, distinct=False):
        self.fn, self.arg, self.distinct = fn, arg, distinct
        if fn == "COUNT":
            self.type = BIGINT
        elif fn == "AVG":
            self.type = arg.type  # Flink: an integer average is an integer
        elif fn == "SUM":
            self.type = DOUBLE if arg.type == DOUBLE else BIGINT
        else:
            self.type = arg.type
        self.nullable = fn != "COUNT"

    def sql(self, d):
        if self.arg is None:
            return "COUNT(*)"
        if d == "sqlite" and self.fn == "AVG" and self.type != DOUBLE:
            # SQLite's AVG is REAL; its integer '/' truncates toward zero
            return "(SUM(%s) / COUNT(%s))" % (self.arg.sql(d), self.arg.sql(d))
        return "%s(%s%s)" % (self.fn, "DISTINCT " if self.distinct else "", self.arg.sql(d))

    def eval_group(self, rows):
        if self.arg is None:
            return len(rows)
        vals = [v for v in (self.arg.eval(r) for r in rows) if v is not None]
        if self.distinct:
            vals = list(set(vals))
        if self.fn == "COUNT":
            return len(vals)
        if not vals:
            return None
        if self.fn == "SUM":
            return float(sum(vals)) if self.type == DOUBLE else sum(vals)
        if self.fn == "MIN":
            return min(vals)
        if self.fn == "MAX":
            return max(vals)
        if self.type == DOUBLE:
            return sum(vals) / len(vals)
        q = abs(sum(vals)) // len(vals)  # truncated toward zero
        return q if sum(vals) >= 0 else -q


class AggRef(Expr):
    """An aggregate used inside HAVING: evaluates against the group's
    aggregate values (row["__aggs"][index])."""

    def __init__(self, agg, index):
        self.agg, self.index, self.type, self.nullable = agg, index, agg.type, agg.nullable

    def sql(self, d):
        return self.agg.sql(d)

    def eval(self, row):
        return row["__aggs"][self.index]


class Select:
    """SELECT items FROM source [WHERE] [GROUP BY keys] [HAVING].
    keys: list of Expr; aggs: list of Agg (the select list is keys + aggs
    for a grouped query, items for a projection); having_aggs: aggregates
    referenced only by HAVING."""

    def __init__(self, source, where=None, items=None, keys=None, aggs=None, having=None,
                 having_aggs=None):
        self.source, self.where = source, where
        self.items, self.keys, self.aggs = items, keys, aggs
        self.having, self.having_aggs = having, having_aggs or []

    @property
    def grouped(self):
        return self.keys is not None

    def out_exprs(self):
        return self.items if not self.grouped else self.keys + self.aggs

    def sql(self, d, aliases=None):
        cols = [e.sql(d) for e in self.out_exprs()]
        if aliases:
            cols = ["%s AS %s" % (c, q_ident(a, d)) for c, a in zip(cols, aliases)]
        s = "SELECT %s\nFROM %s" % (",\n       ".join(cols), self.source)
        if self.where is not None:
            s += "\nWHERE %s" % self.where.sql(d)
        if self.grouped:
            s += "\nGROUP BY %s" % ", ".join(k.sql(d) for k in self.keys)
            if self.having is not None:
                s += "\nHAVING %s" % self.having.sql(d)
        return s

    def eval(self, rows):
        """Returns the result rows as lists of values (select-list order)."""
        rows = [r for r in rows if self.where is None or self.where.eval(r) is True]
        if not self.grouped:
            return [[e.eval(r) for e in self.items] for r in rows]
        groups = {}
        for r in rows:
            groups.setdefault(tuple(k.eval(r) for k in self.keys), []).append(r)
        out = []
        for key, grp in groups.items():
            vals = [a.eval_group(grp) for a in self.aggs]
            if self.having is not None:
                hv = [a.eval_group(grp) for a in self.having_aggs]
                if self.having.eval({"__aggs": vals + hv}) is not True:
                    continue
            out.append(list(key) + vals)
        return out


class Query:
    """A whole pipeline: one source table, an optional aggregating view,
    one sink. kind: 'append' (projection -> 'kafka') or 'upsert' (grouped
    -> 'upsert-kafka', PRIMARY KEY = the group columns)."""

    SINK_TOPIC = "oracle-out"

    def __init__(self, source, select, view=None, view_name="inner_v", view_cols=None):
        self.source, self.select, self.view = source, select, view
        self.view_name, self.view_cols = view_name, view_cols
        self.kind = "upsert" if select.grouped else "append"
        exprs = select.out_exprs()
        if select.grouped:
            nk = len(select.keys)
            self.columns = ["k%d" % i for i in range(nk)] + \
                ["a%d" % i for i in range(len(exprs) - nk)]
            self.pk = self.columns[:nk]
        else:
            self.columns = ["c%d" % i for i in range(len(exprs))]
            self.pk = []
        self.types = [e.type for e in exprs]

    def source_columns(self):
        """Names of the source columns the query reads."""
        names = set()

        def walk(x):
            if isinstance(x, Col):
                names.add(x.name)
            elif isinstance(x, (list, tuple)):
                for y in x:
                    walk(y)
            elif isinstance(x, (Expr, Agg, Select)):
                for y in vars(x).values():
                    walk(y)
        walk(self.view if self.view is not None else self.select)
        return names

    def flink_sql(self):
        src = self.source
        cols = ",\n    ".join("%s %s" % (q_ident(n, "flink"), t) for n, t in src.columns)
        s = ("CREATE TABLE %s (\n    %s\n) WITH (\n    'connector' = 'kafka',\n"
             "    'topic' = '%s',\n    'format' = 'json'\n);\n\n") % (src.table, cols, src.topic)
        if self.view is not None:
            s += "CREATE VIEW %s AS\n%s;\n\n" % (self.view_name,
                                                 self.view.sql("flink", self.view_cols))
        sink_cols = ["%s %s" % (n, t) for n, t in zip(self.columns, self.types)]
        if self.kind == "upsert":
            sink_cols.append("PRIMARY KEY (%s) NOT ENFORCED" % ", ".join(self.pk))
            opts = ("    'connector' = 'upsert-kafka',\n    'topic' = '%s',\n"
                    "    'key.format' = 'json',\n    'value.format' = 'json'") % self.SINK_TOPIC
        else:
            opts = "    'connector' = 'kafka',\n    'topic' = '%s',\n    'format' = 'json'" \
                % self.SINK_TOPIC
        s += "CREATE TABLE oracle_sink (\n    %s\n) WITH (\n%s\n);\n\n" % (
            ",\n    ".join(sink_cols), opts)
        s += "INSERT INTO oracle_sink\n%s;\n" % self.select.sql("flink")
        return s

    def sqlite_sql(self):
        """The SELECT for SQLite (the view inlined as a subquery)."""
        s = self.select.sql("sqlite")
        if self.view is not None:
            s = s.replace("FROM %s" % self.view_name,
                          "FROM (%s) AS %s" % (self.view.sql("sqlite", self.view_cols),
                                               self.view_name), 1)
        return s

    def expected(self, rows):
        """Batch answer: list of rows (append) or {key tuple: row} (upsert)."""
        if self.view is not None:
            rows = [dict(zip(self.view_cols, r)) for r in self.view.eval(rows)]
        out = self.select.eval(rows)
        for r in out:
            for v, t in zip(r, self.types):
                check_int(v, t)
        if self.kind == "append":
            return out
        nk = len(self.pk)
        table = {}
        for r in out:
            k = tuple(r[:nk])
            if None in k:
                raise OracleError("NULL primary key")
            table[k] = r
        return table


# ---- sources and input files ----------------------------------------------

class Source:
    def __init__(self, table, topic, columns):
        self.table, self.topic, self.columns = table, topic, columns


SOURCES = {
    "user-events": Source("user_events", "user-events",
                          [("event_type", STRING), ("user_id", INT), ("page_id", INT),
                           ("timestamp", DOUBLE)]),
    "purchases": Source("purchases", "purchases",
                        [("amount", INT), ("user_id", INT), ("page_id", INT),
                         ("timestamp", DOUBLE)]),
    "user-activity": Source("user_activity", "user-activity",
                            [("user_id", INT), ("action", STRING), ("page", STRING),
                             ("timestamp", STRING)]),
}


def convert(value, t):
    """Converts a JSON value to a declared column type, as runnel's decoder
    does; raises ValueError for a value that does not convert."""
    if value is None:
        return None
    if t == INT:
        if isinstance(value, bool):
            raise ValueError("boolean for INT")
        if isinstance(value, int):
            return value
        if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value):
            return int(value)
        raise ValueError("%r for INT" % (value,))
    if t == DOUBLE:
        if isinstance(value, bool):
            raise ValueError("boolean for DOUBLE")
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError("%r for DOUBLE" % (value,))
    if isinstance(value, str):
        return value
    raise ValueError("non-string %r for STRING (not modelled)" % (value,))


def load_rows(path, source, unchecked=()):
    """Parses a JSONL file the way runnel must: returns (rows, bad_lines)
    where rows are dicts of converted values (missing -> None) and
    bad_lines the 1-based numbers of lines runnel must dead-letter.
    Columns in `unchecked` (see --dlq-unread-ok) become NULL instead of
    dead-lettering the line when their value does not convert."""
    rows, bad = [], []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                obj = json.loads(line)
            except ValueError:
                bad.append(n)
                continue
            if not isinstance(obj, dict):
                bad.append(n)
                continue
            row = {}
            try:
                for c, t in source.columns:
                    try:
                        row[c] = convert(obj.get(c), t)
                    except ValueError:
                        if c not in unchecked:
                            raise
                        row[c] = None
                rows.append(row)
            except ValueError:
                bad.append(n)
    return rows, bad


def corrupt_file(src_path, dst_path, source, rnd, rate=0.01, drop_rate=0.03):
    """Copies src to dst with a few malformed lines (returned as a sorted
    list of line numbers) and some fields dropped or set to null."""
    with open(src_path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    bad = set()
    nbad = max(4, int(len(lines) * rate))
    int_cols = [c for c, t in source.columns if t in (INT, DOUBLE)]
    for i, n in enumerate(sorted(rnd.sample(range(len(lines)), min(nbad, len(lines))))):
        kind = i % 5
        if kind == 0:
            lines[n] = lines[n][:6]                      # unterminated key string
            if lines[n].count('"') % 2 == 0:
                lines[n] = '{"trunc'
        elif kind == 1:
            lines[n] = rnd.choice(["[1, 2, 3]", "42", '"text"', "true"])
        elif kind == 2:
            obj = json.loads(lines[n])
            obj[rnd.choice(int_cols)] = "x%d" % rnd.randint(0, 99)
            lines[n] = json.dumps(obj)
        elif kind == 3:
            lines[n] = "{%s: 1}" % source.columns[0][0]  # unquoted key
        else:
            lines[n] = "not json at all"
        bad.add(n + 1)
    for n in range(len(lines)):
        if n + 1 in bad:
            continue
        r = rnd.random()
        if r < drop_rate:
            obj = json.loads(lines[n])
            obj.pop(rnd.choice(source.columns)[0], None)
            lines[n] = json.dumps(obj)
        elif r < drop_rate * 1.5:
            obj = json.loads(lines[n])
            obj[rnd.choice(source.columns)[0]] = None
            lines[n] = json.dumps(obj)
    with open(dst_path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return sorted(bad)


# ---- the random query generator -------------------------------------------

class Gen:
    """Draws random queries over one source whose (parsed) rows are known,
    so literals can be sampled from real values and HAVING thresholds from
    real aggregate values."""

    def __init__(self, rnd, source, rows):
        self.rnd, self.source, self.rows = rnd, source, rows
        self.cols = [Col(n, t) for n, t in source.columns]

    def values(self, col, k=1):
        vals = [r[col.name] for r in self.rows if r.get(col.name) is not None]
        if not vals:
            return [0 if col.type == INT else 0.0 if col.type == DOUBLE else "x"] * k
        return [self.rnd.choice(vals) for _ in range(k)]

    def col(self, *types):
        cs = [c for c in self.cols if c.type in types]
        return self.rnd.choice(cs) if cs else None

    # predicates
    def atom(self, cols=None):
        rnd = self.rnd
        cols = cols or self.cols
        c = rnd.choice(cols)
        r = rnd.random()
        if r < 0.12:
            return IsNull(c, rnd.random() < 0.7)
        if c.type == STRING:
            v = self.values(c)[0]
            if r < 0.4:
                return Cmp(rnd.choice(["=", "<>", "<", ">="]), c, Lit(v, STRING))
            if r < 0.6:
                return In(c, [Lit(x, STRING) for x in sorted(set(self.values(c, 3)))],
                          rnd.random() < 0.3)
            k = rnd.randint(1, max(1, min(4, len(v))))
            pat = rnd.choice([v[:k] + "%", "%" + v[-k:], "_" + v[1:], "%" + v[1:k + 1] + "%"])
            return Like(c, pat, rnd.random() < 0.3)
        vals = sorted(self.values(c, 2))
        lit = lambda x: Lit(x, c.type)
        if r < 0.55:
            return Cmp(rnd.choice(["=", "<>", "<", "<=", ">", ">="]), c, lit(vals[0]))
        if r < 0.8:
            return Between(c, lit(vals[0]), lit(vals[1]), rnd.random() < 0.3)
        if c.type == DOUBLE:
            return Cmp(">", c, lit(vals[0]))
        return In(c, [lit(x) for x in sorted(set(self.values(c, 4)))], rnd.random() < 0.3)

    def pred(self, depth=0, cols=None):
        r = self.rnd.random()
        if depth < 2 and r < 0.25:
            return Logic(self.rnd.choice(["AND", "OR"]), self.pred(depth + 1, cols),
                         self.pred(depth + 1, cols))
        if depth < 2 and r < 0.32:
            return Logic("NOT", self.pred(depth + 1, cols))
        return self.atom(cols)

    # scalar expressions
    def int_expr(self):
        rnd = self.rnd
        c = self.col(INT)
        s = self.col(STRING)
        d = self.col(DOUBLE)
        choices = [
            lambda: c,
            lambda: Arith(rnd.choice("+-*"), c, Lit(rnd.randint(-9, 9), INT)),
            lambda: Arith(rnd.choice("/%"), c, Lit(rnd.choice([2, 3, 7, -4]), INT)),
            lambda: Arith("/", Lit(rnd.randint(1, 500), INT),
                          Arith("%", c, Lit(rnd.randint(2, 6), INT))),  # may divide by 0
            lambda: Neg(c),
            lambda: Coalesce(c, Lit(-1, INT)),
            lambda: Case([(self.atom(), Lit(1, INT))], Lit(0, INT)),
        ]
        if s is not None:
            choices.append(lambda: Func("CHAR_LENGTH", s))
        if d is not None:
            choices.append(lambda: Cast(Arith("/", d, Lit(1000.0, DOUBLE)), INT))
        return rnd.choice(choices)()

    def str_expr(self):
        rnd = self.rnd
        s = self.col(STRING)
        c = self.col(INT)
        choices = [
            lambda: Cast(c, STRING),
            lambda: Case([(self.atom(), Lit("yes", STRING))], Lit("no", STRING)),
            lambda: Func("CONCAT", Lit("p", STRING), Cast(Arith("%", c, Lit(7, INT)), STRING)),
        ]
        if s is not None:
            choices += [
                lambda: s,
                lambda: s,
                lambda: Func(rnd.choice(["LOWER", "UPPER"]), s),
                lambda: Func("CONCAT", s, Lit(rnd.choice(["-x", "/", "_1"]), STRING)),
                lambda: Func("SUBSTRING", s, Lit(rnd.randint(1, 3), INT),
                             Lit(rnd.randint(1, 4), INT)),
                lambda: Coalesce(s, Lit("none", STRING)),
                lambda: Func("CONCAT", Func("UPPER", Func("SUBSTRING", s, Lit(1, INT),
                                                          Lit(1, INT))), Cast(c, STRING)),
            ]
        return rnd.choice(choices)()

    def dbl_expr(self):
        rnd = self.rnd
        d = self.col(DOUBLE)
        c = self.col(INT)
        if d is None:
            return Arith("/", Cast(c, DOUBLE), Lit(4, INT))
        return rnd.choice([
            lambda: d,
            lambda: Arith("-", d, Lit(1714557600, INT)),
            lambda: Arith("/", d, Lit(rnd.choice([2, 60, 1000]), INT)),
            lambda: Arith("+", c, Arith("-", d, Lit(1714557600.0, DOUBLE))),
            lambda: Cast(c, DOUBLE),
        ])()

    def expr(self):
        r = self.rnd.random()
        if r < 0.35:
            return self.int_expr()
        if r < 0.65:
            return self.str_expr()
        if r < 0.85:
            return self.dbl_expr()
        if r < 0.92:
            return Cast(self.col(INT), BIGINT)
        return self.pred()

    def key_expr(self):
        r = self.rnd.random()
        if r < 0.5:
            e = self.rnd.choice([lambda: self.col(INT), lambda: Arith(
                "%", self.col(INT), Lit(self.rnd.randint(3, 9), INT))])()
        else:
            e = self.str_expr()
        if e.nullable:
            if self.rnd.random() < 0.5:
                e = Coalesce(e, Lit(-1 if e.type == INT else "null-key", e.type))
            else:
                return e, IsNull(e, True)
        return e, None

    def agg(self, cols=None):
        rnd = self.rnd
        fn = rnd.choice(["COUNT*", "COUNT", "COUNTD", "SUM", "MIN", "MAX", "AVG"])
        if fn == "COUNT*":
            return Agg("COUNT")
        if cols is not None:
            arg = rnd.choice(cols)
        elif fn in ("SUM", "AVG"):
            arg = rnd.choice([self.int_expr, self.dbl_expr])()
        else:
            arg = self.expr()
            while arg.type == BOOLEAN:
                arg = self.expr()
        if fn in ("SUM", "AVG") and arg.type == STRING:
            arg = Func("CHAR_LENGTH", arg)
        if fn == "COUNT":
            return Agg("COUNT", arg)
        if fn == "COUNTD":
            return Agg("COUNT", arg, distinct=True)
        return Agg(fn, arg)

    def having_for(self, sel, rows):
        """A HAVING comparing one aggregate with a value it really takes."""
        rnd = self.rnd
        if rnd.random() < 0.5:
            idx, agg = rnd.randrange(len(sel.aggs)), None
            agg = sel.aggs[idx]
        else:
            agg = self.agg(None if sel.source != "inner_v" else [Col("cnt", BIGINT, False)])
            idx = len(sel.aggs)
        if agg.type == STRING:
            return None
        extra = [agg] if idx == len(sel.aggs) else []
        probe = Select(sel.source, sel.where, keys=sel.keys, aggs=sel.aggs + extra)
        vals = [r[len(sel.keys) + idx] for r in probe.eval(rows)]
        vals = [v for v in vals if v is not None]
        if not vals:
            return None
        if agg.type == DOUBLE:
            # A threshold half-way between two values the aggregate takes, so
            # a last-bit difference in a floating-point sum cannot flip it.
            vals = sorted(set(vals))
            if len(vals) < 2:
                return None
            i = rnd.randrange(len(vals) - 1)
            thr = float("%.6g" % ((vals[i] + vals[i + 1]) / 2))
            if not vals[i] < thr < vals[i + 1] or "e" in repr(thr):
                return None
        else:
            thr = rnd.choice(vals)
        sel.having = Cmp(rnd.choice([">=", "<", ">"]), AggRef(agg, idx), Lit(thr, agg.type))
        sel.having_aggs = extra
        return sel.having

    def query(self, shape):
        rnd = self.rnd
        src = self.source
        where = self.pred() if rnd.random() < 0.6 else None
        if shape == "project":
            items = [self.expr() for _ in range(rnd.randint(1, 4))]
            return Query(src, Select(src.table, where, items=items))
        if shape == "group":
            keys, extra = [], []
            for _ in range(rnd.randint(1, 2)):
                k, cond = self.key_expr()
                keys.append(k)
                if cond is not None:
                    extra.append(cond)
            for c in extra:
                where = c if where is None else Logic("AND", where, c)
            aggs = [self.agg() for _ in range(rnd.randint(1, 4))]
            sel = Select(src.table, where, keys=keys, aggs=aggs)
            if rnd.random() < 0.5:
                self.having_for(sel, self.rows)
            return Query(src, sel)
        # nested: per-user counts in a view, grouped again by a function of the count
        uid = Col("user_id", INT)
        inner_aggs = [Agg("COUNT"), rnd.choice([Agg("SUM", self.col(INT)),
                                                Agg("MAX", self.col(INT)),
                                                Agg("COUNT", self.col(INT, STRING, DOUBLE),
                                                    distinct=True)])]
        view = Select(src.table, where, keys=[uid], aggs=inner_aggs)
        vcols = ["user_id", "cnt", "x"]
        cnt = Col("cnt", BIGINT, nullable=False)
        vx = Col("x", inner_aggs[1].type, nullable=inner_aggs[1].nullable)
        vrows = [dict(zip(vcols, r)) for r in view.eval(self.rows)]
        counts = sorted({r["cnt"] for r in vrows}) or [1]
        kf = rnd.choice([
            lambda: Arith("/", cnt, Lit(rnd.choice([2, 5, 10, 50]), INT)),
            lambda: Arith("%", cnt, Lit(rnd.choice([2, 3, 4]), INT)),
            lambda: cnt,
            lambda: Case([(Cmp(">=", cnt, Lit(rnd.choice(counts), BIGINT)), Lit("high", STRING))],
                         Lit("low", STRING)),
        ])
        key = kf()
        aggs = [Agg("COUNT")] + [
            rnd.choice([Agg("SUM", cnt), Agg("MAX", Col("user_id", INT)),
                        Agg("MIN", cnt), Agg("AVG", cnt),
                        Agg("COUNT", vx, distinct=True), Agg("MIN", vx)])
            for _ in range(rnd.randint(0, 2))]
        sel = Select("inner_v", None, keys=[key], aggs=aggs)
        if rnd.random() < 0.4:
            self.having_for(sel, vrows)
        return Query(src, sel, view=view, view_cols=vcols)


def random_query(rnd, sources_rows, shape=None):
    """Draws one well-defined query: (Query, source topic). sources_rows:
    {topic: rows}."""
    for _ in range(100):
        topic = rnd.choice(sorted(sources_rows))
        sh = shape or rnd.choice(["project", "project", "group", "group", "group", "nested"])
        gen = Gen(rnd, SOURCES[topic], sources_rows[topic])
        try:
            q = gen.query(sh)
            q.expected(sources_rows[topic])
            return q
        except OracleError:
            continue
    raise RuntimeError("could not draw a well-defined query")


# ---- comparing runnel's output with the answer ------------------------------

def same_value(exp, act, t):
    if exp is None or act is None:
        return exp is None and act is None
    if t == DOUBLE:
        if not isinstance(act, float):
            return False
        return act == exp or math.isclose(act, exp, rel_tol=1e-9, abs_tol=1e-12)
    if t in (INT, BIGINT):
        return type(act) is int and act == exp
    if t == BOOLEAN:
        return act is exp
    return act == exp


def parse_ordered(line):
    return json.loads(line, object_pairs_hook=lambda pairs: pairs)


def check_append(q, expected, lines):
    """Returns a list of problems: rows compared as multisets."""
    problems, actual = [], []
    for n, line in enumerate(lines, 1):
        try:
            pairs = parse_ordered(line)
        except ValueError as e:
            problems.append("output line %d is not JSON (%s): %r" % (n, e, line))
            continue
        names = [k for k, _ in pairs] if isinstance(pairs, list) else None
        if names != q.columns:
            problems.append("output line %d: keys %s, expected %s in this order"
                            % (n, names, q.columns))
            continue
        actual.append([v for _, v in pairs])
    if problems:
        return problems

    def canon(row):
        return json.dumps([round(v, 6) if isinstance(v, float) else v for v in row])
    exp_sorted = sorted(expected, key=canon)
    act_sorted = sorted(actual, key=canon)
    if len(exp_sorted) != len(act_sorted):
        problems.append("expected %d rows, got %d" % (len(exp_sorted), len(act_sorted)))
    bad = 0
    for e, a in zip(exp_sorted, act_sorted) if len(exp_sorted) == len(act_sorted) else ():
        if not all(same_value(x, y, t) for x, y, t in zip(e, a, q.types)):
            bad += 1
            if bad <= 5:
                problems.append("row differs: expected %s, got %s" % (json.dumps(e),
                                                                      json.dumps(a)))
    if len(exp_sorted) != len(act_sorted):
        ec = {canon(r) for r in exp_sorted}
        ac = {canon(r) for r in act_sorted}
        for r in sorted(ec - ac)[:5]:
            problems.append("missing row: %s" % r)
        for r in sorted(ac - ec)[:5]:
            problems.append("extra row: %s" % r)
    if bad > 5:
        problems.append("... %d differing rows in all" % bad)
    return problems


def replay_upsert(q, lines):
    """Replays upsert lines into {key tuple: row}; returns (table, problems)."""
    table, problems = {}, []
    for n, line in enumerate(lines, 1):
        try:
            pairs = parse_ordered(line)
            d = dict(pairs)
            kp, vp = d["key"], d["value"]
        except (ValueError, KeyError, TypeError) as e:
            problems.append("line %d: not {\"key\":...,\"value\":...} (%s): %r" % (n, e, line))
            continue
        knames = [k for k, _ in kp] if isinstance(kp, list) else None
        if knames != q.pk:
            problems.append("line %d: key fields %s, expected %s" % (n, knames, q.pk))
            continue
        key = tuple(v for _, v in kp)
        if vp is None:
            if key not in table:
                problems.append("line %d: delete of a key that is not there: %s" % (n, line))
            table.pop(key, None)
            continue
        vnames = [k for k, _ in vp] if isinstance(vp, list) else None
        if vnames != q.columns:
            problems.append("line %d: value fields %s, expected %s" % (n, vnames, q.columns))
            continue
        row = [v for _, v in vp]
        if tuple(row[:len(q.pk)]) != key:
            problems.append("line %d: key %s does not match the value's key columns" % (n, key))
        table[key] = row
    return table, problems


def check_upsert(q, expected, lines):
    actual, problems = replay_upsert(q, lines)
    if problems:
        return problems[:10]

    def show(k):
        return json.dumps(dict(zip(q.pk, k)), ensure_ascii=False)
    missing = [k for k in expected if k not in actual]
    extra = [k for k in actual if k not in expected]
    diff = [k for k in expected if k in actual and
            not all(same_value(x, y, t) for x, y, t in zip(expected[k], actual[k], q.types))]
    for k in missing[:5]:
        problems.append("key %s missing; expected %s" % (show(k), json.dumps(expected[k])))
    for k in extra[:5]:
        problems.append("key %s should not be there; got %s" % (show(k), json.dumps(actual[k])))
    for k in diff[:5]:
        problems.append("key %s: expected %s, got %s" % (show(k), json.dumps(expected[k]),
                                                        json.dumps(actual[k])))
    if len(missing) + len(extra) + len(diff) > 15:
        problems.append("... %d missing, %d extra, %d differing keys in all"
                        % (len(missing), len(extra), len(diff)))
    return problems


def check_output(q, expected, lines):
    if q.kind == "append":
        return check_append(q, expected, lines)
    return check_upsert(q, expected, lines)
