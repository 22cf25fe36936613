/*
 * test_exchange.c - unit tests for the Exchange (op/exchange.h) and the
 * source that reads its repartition topic back (rn_source_set_exchange),
 * over an in-memory transport standing for Kafka: every row arrives once,
 * in the partition its key hashes to (Kafka's murmur2), with its values,
 * kind and carried watermark intact; marks give each partition the
 * minimum watermark over all upstream tasks, only once every task spoke;
 * END marks finish the receiver; a local Exchange passes rows and
 * watermarks through; corrupt records go to the dead-letter output and
 * never crash the decoder; keyed operators downstream (a GROUP BY, the
 * ChangelogNormalize of an upsert table) forget exactly the keys the
 * Exchange sent to a revoked partition.
 */
#include "core/hash.h"
#include "core/mem.h"
#include "op/exchange.h"
#include "op/normalize.h"
#include "op/op.h"
#include "rn_test.h"
#include "state/store.h"

#include <unistd.h>

#define NPARTS 4

/* ---- an in-memory topic: the transport and a reader of it --------------- */

typedef struct mem_record {
    int32_t partition;
    char *data;
    size_t len;
} mem_record_t;

typedef struct mem_topic {
    mem_record_t recs[4096];
    int n;
    int read;                   /* reader position */
    int32_t owned[16];          /* the assignment the reader reports */
    int nowned;
    uint64_t version;
} mem_topic_t;

typedef struct mem_io {
    rn_exchange_io_t io;
    mem_topic_t *t;
} mem_io_t;

static rn_err_t mem_send(rn_exchange_io_t *io, int32_t partition, const void *key, size_t klen, const void *value,
                         size_t vlen, char *errbuf, size_t errbuf_size)
{
    mem_topic_t *t = ((mem_io_t *)io)->t;
    if (t->n == 4096 || partition < 0 || partition >= io->nparts) return RN_ERR_IO;
    mem_record_t *r = &t->recs[t->n++];
    r->partition = partition;
    r->data = malloc(vlen + 64); /* readers may read a little past the end */
    memcpy(r->data, value, vlen);
    memset(r->data + vlen, 0, 64);
    r->len = vlen;
    return RN_OK;
}
static rn_err_t mem_flush(rn_exchange_io_t *io, char *errbuf, size_t errbuf_size) { return RN_OK; }
static void mem_close(rn_exchange_io_t *io) { free(io); }

static rn_exchange_io_t *mem_io_new(mem_topic_t *t, int32_t ntasks)
{
    mem_io_t *m = calloc(1, sizeof *m);
    m->io = (rn_exchange_io_t){.nparts = NPARTS, .ntasks = ntasks, .where = "memory topic",
                               .send = mem_send, .flush = mem_flush, .close = mem_close};
    m->t = t;
    return &m->io;
}

typedef struct mem_reader {
    rn_reader_t r;
    mem_topic_t *t;
    bool bounded;               /* eof once everything was read */
} mem_reader_t;

static rn_err_t mem_next(rn_reader_t *base, rn_record_t *recs, int max, int *n, bool *eof, char *errbuf,
                         size_t errbuf_size)
{
    mem_reader_t *m = (mem_reader_t *)base;
    *n = 0;
    *eof = false;
    while (*n < max && m->t->read < m->t->n) {
        mem_record_t *r = &m->t->recs[m->t->read];
        recs[*n] = (rn_record_t){.data = r->data, .len = r->len, .position = m->t->read, .topic = "x",
                                 .partition = r->partition, .timestamp_ms = RN_NO_TIMESTAMP};
        m->t->read++;
        (*n)++;
    }
    if (!*n && m->bounded) *eof = true;
    return RN_OK;
}
static int mem_assignment(rn_reader_t *base, const char **topics, int32_t *parts, int max)
{
    mem_reader_t *m = (mem_reader_t *)base;
    for (int i = 0; i < m->t->nowned && i < max; i++) {
        topics[i] = "x";
        parts[i] = m->t->owned[i];
    }
    return m->t->nowned;
}
static void mem_reader_close(rn_reader_t *r) { free(r); }

static rn_reader_t *mem_reader_new(mem_topic_t *t)
{
    mem_reader_t *m = calloc(1, sizeof *m);
    m->r.next = mem_next;
    m->r.close = mem_reader_close;
    m->r.where = "memory topic";
    m->r.assignment = mem_assignment;
    m->r.assignment_version = t->version;
    m->t = t;
    return &m->r;
}

/* ---- a sink that keeps what it gets ----------------------------------------- */

typedef struct got {
    int n;
    int64_t id[4096];           /* column 0 */
    char name[4096][16];        /* column 3 ("" for NULL) */
    uint8_t kind[4096];
    int64_t rowwm[4096];
    int64_t wm;                 /* last watermark */
    int finishes;
} got_t;

static rn_err_t got_process(rn_op_t *op, int port, const rn_batch_t *b, rn_ctx_t *ctx)
{
    got_t *g = op->priv;
    for (int r = 0; r < b->nrows && g->n < 4096; r++, g->n++) {
        g->id[g->n] = b->cols[0][r].i;
        const rn_value_t *s = &b->cols[3][r];
        snprintf(g->name[g->n], 16, "%.*s", s->null ? 0 : (int)s->len, s->null ? "" : s->s);
        g->kind[g->n] = b->kinds[r];
        g->rowwm[g->n] = b->rowwm ? b->rowwm[r] : RN_WM_MIN;
    }
    return RN_OK;
}
static rn_err_t got_watermark(rn_op_t *op, int64_t wm, rn_ctx_t *ctx)
{
    ((got_t *)op->priv)->wm = wm;
    return RN_OK;
}
static rn_err_t got_finish(rn_op_t *op, rn_ctx_t *ctx)
{
    ((got_t *)op->priv)->finishes++;
    return RN_OK;
}
static void got_destroy(rn_op_t *op) { free(op->priv); }
static const rn_op_vtable_t got_vt = {.kind = "Got", .process = got_process, .watermark = got_watermark,
                                      .finish = got_finish, .destroy = got_destroy};

static rn_op_t *got_new(rn_op_t *input)
{
    rn_op_t *op = rn_op_new(&got_vt, input->schema, input);
    got_t *g = calloc(1, sizeof *g);
    g->wm = RN_WM_MIN;
    op->priv = g;
    rn_op_connect(input, op, 0);
    return op;
}

/* ---- fixtures ------------------------------------------------------------------ */

/* id BIGINT, score DOUBLE, ok BOOLEAN, name STRING, ts TIMESTAMP */
static rn_schema_t *schema5(void)
{
    rn_schema_t *s = rn_schema_new(5);
    rn_schema_set(s, 0, "id", &rn_type_bigint);
    rn_schema_set(s, 1, "score", &rn_type_double);
    rn_schema_set(s, 2, "ok", &rn_type_boolean);
    rn_schema_set(s, 3, "name", &rn_type_string);
    rn_schema_set(s, 4, "ts", &rn_type_timestamp);
    return s;
}

static rn_batch_t *rows(rn_arena_t *a, rn_schema_t *s, int n, int first, int64_t rowwm)
{
    rn_batch_t *b = rn_batch_new(a, s, n);
    b->rowwm = rn_arena_alloc(a, sizeof(int64_t) * (size_t)n);
    static char names[4096][16];
    for (int r = 0; r < n; r++) {
        int id = first + r;
        b->cols[0][r] = rn_value_int(id % 37 == 0 ? -id * 1000003LL : id);
        b->cols[1][r] = id % 5 ? rn_value_double(id * 0.25) : RN_VALUE_NULL;
        b->cols[2][r] = rn_value_bool(id & 1);
        snprintf(names[id % 4096], 16, "n%d", id);
        b->cols[3][r] = id % 7 ? rn_value_str(names[id % 4096], (uint32_t)strlen(names[id % 4096])) : RN_VALUE_NULL;
        b->cols[4][r] = rn_value_int(1700000000000LL + id);
        b->kinds[r] = (uint8_t)(id % 4);
        b->rowwm[r] = rowwm;
    }
    b->nrows = n;
    return b;
}

/* b with every row an insert. */
static rn_batch_t *inserts(rn_batch_t *b)
{
    for (int r = 0; r < b->nrows; r++) b->kinds[r] = RN_ROW_INSERT;
    return b;
}

/* An upstream source standing for the Kafka source a process reads, whose
 * reader reports `owned` as its assignment. */
static rn_op_t *upstream_new(rn_schema_t *s, mem_topic_t *assign)
{
    rn_op_t *up = rn_source_new(s, "up", "test");
    char err[256];
    rn_source_open(up, mem_reader_new(assign), NULL, err, sizeof err);
    return up;
}

/* ---- tests ----------------------------------------------------------------------- */

static void test_round_trip(void)
{
    rn_schema_t *s = schema5();
    rn_arena_t a;
    rn_arena_init(&a, 1 << 16);
    char err[256] = "";
    rn_ctx_t ctx = {.arena = &a, .errbuf = err, .errbuf_size = sizeof err};
    mem_topic_t *topic = calloc(1, sizeof *topic), *assign = calloc(1, sizeof *assign);
    rn_op_t *up = upstream_new(s, assign);
    int key = 0;
    rn_op_t *x = rn_exchange_new(up, 1, &key, 4);
    rn_op_connect(up, x, 0);
    rn_op_t *recv = rn_source_new(s, "recv", "memory");
    rn_source_set_exchange(recv, -1, NPARTS);
    rn_op_t *g = got_new(x);
    RN_REQUIRE(rn_op_move_outputs(x, recv) == RN_OK);
    RN_CHECK(g->input == recv && x->noutputs == 0);
    RN_REQUIRE(rn_exchange_set_remote(x, mem_io_new(topic, 2), up) == RN_OK);
    RN_REQUIRE(rn_source_open(recv, mem_reader_new(topic), NULL, err, sizeof err) == RN_OK);
    RN_CHECK(rn_exchange_is_remote(x));

    int total = 0;
    for (int i = 0; i < 5; i++) {
        rn_batch_t *b = rows(&a, s, 300, total, 1000 + i);
        RN_REQUIRE(rn_op_emit(up, b, &ctx) == RN_OK);
        total += 300;
    }
    RN_CHECK(rn_exchange_records(x) <= 5 * NPARTS); /* one record per batch and partition */
    /* every record's rows hash to its partition */
    for (int i = 0; i < topic->n; i++) {
        rn_batch_t *b = rn_batch_new(&a, s, RN_BATCH_MAX);
        char msg[128];
        bool full;
        RN_REQUIRE(rn_exchange_decode_rows(topic->recs[i].data, topic->recs[i].len, b, NULL, &full, msg, sizeof msg) ==
                   RN_OK);
        RN_CHECK(!full && b->nrows > 0);
        /* all or nothing: a batch one row short keeps none of them */
        rn_batch_t *small = rn_batch_new(&a, s, b->nrows - 1);
        RN_CHECK(rn_exchange_decode_rows(topic->recs[i].data, topic->recs[i].len, small, NULL, &full, msg,
                                         sizeof msg) == RN_OK);
        RN_CHECK(full && small->nrows == 0);
        for (int r = 0; r < b->nrows; r++) {
            /* the key bytes are the state key (rn_key_append); murmur2 as Java's */
            rn_buf_t kb;
            rn_buf_init(&kb);
            rn_key_append(&kb, RN_TYPE_BIGINT, &b->cols[0][r]);
            uint32_t h = rn_hash_murmur2(kb.data, kb.len);
            RN_CHECK((int32_t)((h & 0x7fffffff) % NPARTS) == topic->recs[i].partition);
            RN_CHECK(rn_key_partition(kb.data, (uint32_t)kb.len, NPARTS) == topic->recs[i].partition);
            rn_buf_free(&kb);
        }
    }
    bool eof = false;
    while (topic->read < topic->n) RN_REQUIRE(rn_source_poll(recv, &ctx, &eof) == RN_OK);
    got_t *gt = g->priv;
    RN_CHECK_EQ_INT(gt->n, total);
    /* each row once, intact (order differs across partitions) */
    static int seen[1500];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < gt->n; i++) {
        int64_t id = gt->id[i];
        int orig = id < 0 ? (int)(-id / 1000003) : (int)id;
        RN_REQUIRE(orig >= 0 && orig < 1500);
        seen[orig]++;
        char want[16];
        snprintf(want, sizeof want, orig % 7 ? "n%d" : "", orig);
        RN_CHECK_EQ_STR(gt->name[i], want);
        RN_CHECK_EQ_INT(gt->kind[i], orig % 4);
    }
    for (int i = 0; i < total; i++) RN_CHECK_EQ_INT(seen[i], 1);
    RN_CHECK(!eof);
    rn_op_free(g);
    rn_op_free(recv);
    rn_op_free(x);
    rn_op_free(up);
    for (int i = 0; i < topic->n; i++) free(topic->recs[i].data);
    free(topic);
    free(assign);
    rn_arena_free(&a);
    rn_schema_unref(s);
}

/* Sends batch b (rows of s) through a remote Exchange without a key (every
 * row to partition 0) into *topic (a fresh in-memory topic, the caller's
 * to free with topic_free). */
static void send_single(rn_schema_t *s, rn_batch_t *b, rn_ctx_t *ctx, mem_topic_t **topic)
{
    *topic = calloc(1, sizeof **topic);
    mem_topic_t *assign = calloc(1, sizeof *assign);
    rn_op_t *up = upstream_new(s, assign);
    rn_op_t *x = rn_exchange_new(up, 0, NULL, -1);
    rn_op_connect(up, x, 0);
    rn_err_t set = rn_exchange_set_remote(x, mem_io_new(*topic, 1), up);
    RN_CHECK(set == RN_OK);
    if (set == RN_OK) RN_CHECK(rn_op_emit(up, b, ctx) == RN_OK);
    rn_op_free(x);
    rn_op_free(up);
    free(assign);
}

static void topic_free(mem_topic_t *t)
{
    for (int i = 0; i < t->n; i++) free(t->recs[i].data);
    free(t);
}

/* The row codec at its edges: the extremes of every type (INT64_MIN and
 * MAX take 10-byte varints, -0.0 and a NaN keep their bits, a string
 * longer than a varint byte, NULL in every column, every kind, rowwm at
 * both ends) come back exactly; one row's bytes are pinned, so the
 * format stays what earlier runnels wrote (version 1). Truncations and
 * corruptions: test_corrupt_records. */
static void test_codec_edges(void)
{
    rn_schema_t *s = schema5();
    rn_arena_t a;
    rn_arena_init(&a, 1 << 16);
    char err[256] = "";
    rn_ctx_t ctx = {.arena = &a, .errbuf = err, .errbuf_size = sizeof err};
    enum { N = 8 };
    static char longstr[300];
    memset(longstr, 'x', sizeof longstr);
    double nan_bits_src;
    uint64_t nan_bits = 0x7ff8dead0000beefULL;
    memcpy(&nan_bits_src, &nan_bits, 8);
    rn_batch_t *b = rn_batch_new(&a, s, N);
    b->rowwm = rn_arena_alloc(&a, sizeof(int64_t) * N);
    const int64_t ints[N] = {0, -1, 1, INT64_MIN, INT64_MAX, 63, -64, 300};
    const double dbls[N] = {0.0, -0.0, 1e308, -5e-324, 0.1, nan_bits_src, 2.5, -7.0};
    for (int r = 0; r < N; r++) {
        b->cols[0][r] = r == 6 ? RN_VALUE_NULL : rn_value_int(ints[r]);
        b->cols[1][r] = r == 7 ? RN_VALUE_NULL : rn_value_double(dbls[r]);
        b->cols[2][r] = r == 5 ? RN_VALUE_NULL : rn_value_bool(r & 1);
        b->cols[3][r] = r == 4 ? RN_VALUE_NULL : rn_value_str(longstr, (uint32_t)(r * 40 % 300));
        b->cols[4][r] = rn_value_int(r == 3 ? INT64_MIN + 1 : 1700000000000LL * r);
        b->kinds[r] = (uint8_t)(r % 4);
        b->rowwm[r] = r == 0 ? RN_WM_MIN : r == 1 ? RN_WM_MAX : -r;
    }
    b->nrows = N;
    mem_topic_t *topic;
    send_single(s, b, &ctx, &topic);
    RN_REQUIRE(topic->n == 1);
    const unsigned char *rec = (const unsigned char *)topic->recs[0].data;
    size_t len = topic->recs[0].len;
    /* row 0: 'R' 1, kind 0, rowwm RN_WM_MIN (zigzag: 10 bytes of varint
     * 0xff..: INT64_MIN -> 2^64 - 1), id 0, score 0.0, ok false, name "",
     * ts 0 */
    static const unsigned char row0[] = {'R', 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                                         1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0};
    RN_REQUIRE(len > sizeof row0);
    RN_CHECK(memcmp(rec, row0, sizeof row0) == 0);

    rn_batch_t *d = rn_batch_new(&a, s, RN_BATCH_MAX);
    d->rowwm = NULL;
    int64_t rowwm[N];
    bool full;
    char msg[128];
    RN_REQUIRE(rn_exchange_decode_rows(rec, len, d, rowwm, &full, msg, sizeof msg) == RN_OK);
    RN_REQUIRE(!full && d->nrows == N);
    for (int r = 0; r < N; r++) {
        RN_CHECK_EQ_INT(d->kinds[r], b->kinds[r]);
        RN_CHECK(rowwm[r] == b->rowwm[r]);
        for (int c = 0; c < 5; c++) {
            const rn_value_t *w = &b->cols[c][r], *g = &d->cols[c][r];
            RN_CHECK(w->null == g->null);
            if (w->null || g->null) continue;
            if (c == 1) {
                uint64_t wb, gb;
                memcpy(&wb, &w->d, 8);
                memcpy(&gb, &g->d, 8);
                RN_CHECK(wb == gb);
            } else if (c == 3) {
                RN_CHECK(w->len == g->len && memcmp(w->s, g->s, w->len) == 0);
            } else {
                RN_CHECK(w->i == g->i);
            }
        }
    }
    topic_free(topic);
    rn_arena_free(&a);
    rn_schema_unref(s);
}

/* Two processes: A owns task 0, B owns task 1 of a 2-partition source.
 * The receiver's watermark is the minimum, and only once both spoke;
 * rows keep the watermark they arrived under upstream; END from both
 * finishes the receiver. */
static void test_watermarks_and_end(void)
{
    rn_schema_t *s = schema5();
    rn_arena_t a;
    rn_arena_init(&a, 1 << 16);
    char err[256] = "";
    rn_ctx_t ctx = {.arena = &a, .errbuf = err, .errbuf_size = sizeof err, .now_ms = 0};
    mem_topic_t *topic = calloc(1, sizeof *topic), *own_a = calloc(1, sizeof *own_a), *own_b = calloc(1, sizeof *own_b);
    own_a->owned[own_a->nowned++] = 0;
    own_b->owned[own_b->nowned++] = 1;
    rn_op_t *up_a = upstream_new(s, own_a), *up_b = upstream_new(s, own_b);
    int key = 0;
    rn_op_t *xa = rn_exchange_new(up_a, 1, &key, 4), *xb = rn_exchange_new(up_b, 1, &key, 4);
    rn_op_connect(up_a, xa, 0);
    rn_op_connect(up_b, xb, 0);
    RN_REQUIRE(rn_exchange_set_remote(xa, mem_io_new(topic, 2), up_a) == RN_OK);
    RN_REQUIRE(rn_exchange_set_remote(xb, mem_io_new(topic, 2), up_b) == RN_OK);
    rn_op_t *recv = rn_source_new(s, "recv", "memory");
    rn_source_set_exchange(recv, 4, NPARTS);
    rn_op_t *g = got_new(recv);
    rn_reader_t *rr = mem_reader_new(topic);
    mem_topic_t *recv_assign = topic; /* the receiver owns every partition */
    for (int p = 0; p < NPARTS; p++) recv_assign->owned[recv_assign->nowned++] = p;
    recv_assign->version = rr->assignment_version = 1;
    RN_REQUIRE(rn_source_open(recv, rr, NULL, err, sizeof err) == RN_OK);
    got_t *gt = g->priv;
    bool eof = false;

    RN_REQUIRE(rn_op_emit(up_a, rows(&a, s, 50, 0, 5000), &ctx) == RN_OK);
    RN_REQUIRE(xa->vt->watermark(xa, 5000, &ctx) == RN_OK); /* A: marks at 5000 */
    RN_REQUIRE(rn_source_poll(recv, &ctx, &eof) == RN_OK);
    RN_CHECK_EQ_INT(gt->n, 50);
    RN_CHECK(rn_source_watermark(recv) == RN_WM_MIN); /* B has not spoken */
    for (int i = 0; i < gt->n; i++) RN_CHECK(gt->rowwm[i] == 5000);

    ctx.now_ms = 100; /* within the mark interval: a moved watermark waits */
    RN_REQUIRE(xb->vt->watermark(xb, 3000, &ctx) == RN_OK); /* B's first marks go at once */
    RN_REQUIRE(rn_source_poll(recv, &ctx, &eof) == RN_OK);
    RN_CHECK(rn_source_watermark(recv) == 3000);
    RN_CHECK(gt->wm == 3000);
    int before = topic->n;
    RN_REQUIRE(xb->vt->watermark(xb, 4000, &ctx) == RN_OK);
    RN_CHECK_EQ_INT(topic->n, before); /* throttled */
    ctx.now_ms = 400;
    RN_REQUIRE(xb->vt->watermark(xb, 9000, &ctx) == RN_OK);
    RN_REQUIRE(rn_source_poll(recv, &ctx, &eof) == RN_OK);
    RN_CHECK(rn_source_watermark(recv) == 5000); /* min(A 5000, B 9000) */

    /* rows, then a mark that moves the watermark, read in one poll: the
     * rows keep the watermark they arrived under, not the later one */
    int had = gt->n;
    RN_REQUIRE(rn_op_emit(up_a, rows(&a, s, 20, 100, 5500), &ctx) == RN_OK);
    ctx.now_ms = 700;
    RN_REQUIRE(xa->vt->watermark(xa, 9500, &ctx) == RN_OK);
    RN_REQUIRE(rn_source_poll(recv, &ctx, &eof) == RN_OK);
    RN_CHECK_EQ_INT(gt->n, had + 20);
    for (int i = had; i < gt->n; i++) RN_CHECK(gt->rowwm[i] == 5500);
    RN_CHECK(rn_source_watermark(recv) == 9000); /* min(A 9500, B 9000) */

    /* A stops (not an end of input): no END, the receiver goes on */
    RN_REQUIRE(rn_op_finish(up_a, &ctx) == RN_OK);
    RN_REQUIRE(rn_source_poll(recv, &ctx, &eof) == RN_OK);
    RN_CHECK(!eof && !rn_source_exhausted(recv));
    RN_CHECK(rn_source_watermark(recv) == 9000);

    /* both inputs end: END from both tasks finishes the receiver */
    RN_REQUIRE(xa->vt->watermark(xa, RN_WM_MAX, &ctx) == RN_OK);
    ((mem_reader_t *)rn_source_reader(up_a))->bounded = true;
    ((mem_reader_t *)rn_source_reader(up_b))->bounded = true;
    own_a->read = own_a->n;
    own_b->read = own_b->n;
    bool eof_a = false, eof_b = false;
    RN_REQUIRE(rn_source_poll(up_a, &ctx, &eof_a) == RN_OK && eof_a);
    RN_REQUIRE(rn_source_poll(up_b, &ctx, &eof_b) == RN_OK && eof_b);
    RN_CHECK(rn_source_exhausted(up_a));
    RN_REQUIRE(xa->vt->finish(xa, &ctx) == RN_OK);
    RN_REQUIRE(rn_source_poll(recv, &ctx, &eof) == RN_OK);
    RN_CHECK(!eof); /* B has not ended */
    RN_REQUIRE(rn_op_finish(up_b, &ctx) == RN_OK);
    RN_REQUIRE(rn_source_poll(recv, &ctx, &eof) == RN_OK);
    RN_CHECK(eof);
    RN_CHECK(rn_source_exhausted(recv));
    RN_CHECK(rn_source_watermark(recv) == RN_WM_MAX);

    rn_op_free(g);
    rn_op_free(recv);
    rn_op_free(xa);
    rn_op_free(xb);
    rn_op_free(up_a);
    rn_op_free(up_b);
    for (int i = 0; i < topic->n; i++) free(topic->recs[i].data);
    free(topic);
    free(own_a);
    free(own_b);
    rn_arena_free(&a);
    rn_schema_unref(s);
}

/* A local Exchange is a pass-through for rows and watermarks. */
static void test_local_passthrough(void)
{
    rn_schema_t *s = schema5();
    rn_arena_t a;
    rn_arena_init(&a, 1 << 16);
    char err[256] = "";
    rn_ctx_t ctx = {.arena = &a, .errbuf = err, .errbuf_size = sizeof err};
    mem_topic_t *assign = calloc(1, sizeof *assign);
    rn_op_t *up = upstream_new(s, assign);
    int key = 3;
    rn_op_t *x = rn_exchange_new(up, 1, &key, -1);
    rn_op_connect(up, x, 0);
    rn_op_t *g = got_new(x);
    RN_REQUIRE(rn_op_emit(up, rows(&a, s, 10, 0, 77), &ctx) == RN_OK);
    RN_REQUIRE(rn_op_watermark(up, 1234, &ctx) == RN_OK);
    got_t *gt = g->priv;
    RN_CHECK_EQ_INT(gt->n, 10);
    for (int i = 0; i < 10; i++) RN_CHECK(gt->id[i] == (i % 37 == 0 ? -i * 1000003LL : i));
    RN_CHECK(gt->wm == 1234);
    RN_REQUIRE(rn_op_finish(up, &ctx) == RN_OK);
    RN_CHECK_EQ_INT(gt->finishes, 1);
    rn_buf_t b;
    rn_buf_init(&b);
    x->vt->explain(x, &b);
    RN_CHECK_EQ_STR(b.data, "hash [name]");
    rn_buf_free(&b);
    rn_op_free(g);
    rn_op_free(x);
    rn_op_free(up);
    free(assign);
    rn_arena_free(&a);
    rn_schema_unref(s);
}

/* Every truncation and many corruptions of a valid record decode to an
 * error or to fewer rows, never out of bounds (ASan), and a corrupt
 * record read by the source goes to the dead-letter output. */
static void test_corrupt_records(void)
{
    rn_schema_t *s = schema5();
    rn_arena_t a;
    rn_arena_init(&a, 1 << 16);
    char err[256] = "";
    rn_ctx_t ctx = {.arena = &a, .errbuf = err, .errbuf_size = sizeof err};
    mem_topic_t *topic;
    send_single(s, rows(&a, s, 40, 0, 1), &ctx, &topic);
    RN_REQUIRE(topic->n == 1);
    mem_record_t *rec = &topic->recs[0];
    char msg[128];
    for (size_t cut = 0; cut < rec->len; cut++) {
        rn_batch_t *b = rn_batch_new(&a, s, RN_BATCH_MAX);
        char *copy = malloc(cut ? cut : 1); /* exactly cut bytes: ASan sees any read past them */
        memcpy(copy, rec->data, cut);
        bool full;
        rn_err_t e = rn_exchange_decode_rows(copy, cut, b, NULL, &full, msg, sizeof msg);
        RN_CHECK(e == RN_ERR_DECODE || b->nrows < 40);
        RN_CHECK(e == RN_OK || b->nrows == 0); /* a corrupt record keeps no row */
        free(copy);
        rn_arena_reset(&a);
    }
    for (size_t i = 0; i < rec->len; i++) {
        rn_batch_t *b = rn_batch_new(&a, s, RN_BATCH_MAX);
        char *copy = malloc(rec->len);
        memcpy(copy, rec->data, rec->len);
        copy[i] ^= (char)0xa5;
        bool full;
        rn_err_t e = rn_exchange_decode_rows(copy, rec->len, b, NULL, &full, msg, sizeof msg);
        RN_CHECK(e == RN_OK || b->nrows == 0);
        free(copy);
        rn_arena_reset(&a);
    }
    /* a bad record through the source: dead letter, not a stop */
    char dlq_path[] = "/tmp/rn_test_exchange_dlqXXXXXX";
    int fd = mkstemp(dlq_path);
    close(fd);
    rn_dlq_t *dlq = rn_dlq_new(dlq_path);
    rn_op_t *recv = rn_source_new(s, "recv", "memory");
    rn_source_set_exchange(recv, -1, NPARTS);
    RN_REQUIRE(rn_source_open(recv, mem_reader_new(topic), dlq, err, sizeof err) == RN_OK);
    rec->data[0] = 'Z';
    bool eof = false;
    RN_CHECK(rn_source_poll(recv, &ctx, &eof) == RN_OK);
    RN_CHECK_EQ_INT((int)rn_dlq_count(dlq), 1);
    rn_op_free(recv);
    rn_dlq_free(dlq);
    unlink(dlq_path);
    topic_free(topic);
    rn_arena_free(&a);
    rn_schema_unref(s);
}

/* The group takes partitions away from the receiver: the GROUP BY
 * downstream forgets exactly the keys of those partitions, and records of
 * a revoked partition still in the read are not processed here. */
static void test_revocation(void)
{
    rn_schema_t *s = schema5();
    rn_arena_t a;
    rn_arena_init(&a, 1 << 16);
    char err[256] = "";
    rn_ctx_t ctx = {.arena = &a, .errbuf = err, .errbuf_size = sizeof err};
    mem_topic_t *topic = calloc(1, sizeof *topic), *assign = calloc(1, sizeof *assign);
    rn_op_t *up = upstream_new(s, assign);
    int key = 0;
    rn_op_t *x = rn_exchange_new(up, 1, &key, -1);
    rn_op_connect(up, x, 0);
    RN_REQUIRE(rn_exchange_set_remote(x, mem_io_new(topic, 2), up) == RN_OK);
    rn_op_t *recv = rn_source_new(s, "recv", "memory");
    rn_source_set_exchange(recv, -1, NPARTS);
    rn_schema_t *out = rn_schema_new(2);
    rn_schema_set(out, 0, "id", &rn_type_bigint);
    rn_schema_set(out, 1, "n", &rn_type_bigint);
    rn_agg_spec_t count = {.kind = RN_AGG_COUNT_STAR, .arg = -1, .result_type = RN_TYPE_BIGINT};
    rn_op_t *agg = rn_aggregate_new(recv, 1, 1, &count, out, err, sizeof err);
    rn_op_connect(recv, agg, 0);
    rn_reader_t *rr = mem_reader_new(topic);
    for (int p = 0; p < NPARTS; p++) topic->owned[topic->nowned++] = p;
    rr->assignment_version = 1;
    RN_REQUIRE(rn_source_open(recv, rr, NULL, err, sizeof err) == RN_OK);
    bool eof = false;
    rn_batch_t *first = inserts(rows(&a, s, 200, 0, 1));
    RN_REQUIRE(rn_op_emit(up, first, &ctx) == RN_OK);
    RN_REQUIRE(rn_source_poll(recv, &ctx, &eof) == RN_OK);
    RN_CHECK_EQ_INT((int)rn_aggregate_groups(agg), 200);
    /* keys per partition, as the Exchange placed them */
    int per_part[NPARTS] = {0};
    for (int i = 0; i < topic->n; i++) {
        rn_batch_t *b = rn_batch_new(&a, s, RN_BATCH_MAX);
        char msg[128];
        bool full;
        RN_REQUIRE(rn_exchange_decode_rows(topic->recs[i].data, topic->recs[i].len, b, NULL, &full, msg, sizeof msg) ==
                   RN_OK);
        per_part[topic->recs[i].partition] += b->nrows;
    }
    RN_CHECK(per_part[1] > 0 && per_part[3] > 0);
    /* more rows arrive, then partitions 1 and 3 go away within the same read */
    int before = topic->n;
    RN_REQUIRE(rn_op_emit(up, inserts(rows(&a, s, 200, 1000, 1)), &ctx) == RN_OK);
    int new_in_kept = 0;
    for (int i = before; i < topic->n; i++) {
        rn_batch_t *b = rn_batch_new(&a, s, RN_BATCH_MAX);
        char msg[128];
        bool full;
        RN_REQUIRE(rn_exchange_decode_rows(topic->recs[i].data, topic->recs[i].len, b, NULL, &full, msg, sizeof msg) ==
                   RN_OK);
        if (topic->recs[i].partition != 1 && topic->recs[i].partition != 3) new_in_kept += b->nrows;
    }
    topic->nowned = 0;
    topic->owned[topic->nowned++] = 0;
    topic->owned[topic->nowned++] = 2;
    rr->assignment_version = 2;
    RN_REQUIRE(rn_source_poll(recv, &ctx, &eof) == RN_OK);
    int kept = per_part[0] + per_part[2];
    RN_CHECK_EQ_INT((int)rn_aggregate_groups(agg), kept + new_in_kept);
    rn_op_free(agg);
    rn_schema_unref(out);
    rn_op_free(recv);
    rn_op_free(x);
    rn_op_free(up);
    for (int i = 0; i < topic->n; i++) free(topic->recs[i].data);
    free(topic);
    free(assign);
    rn_arena_free(&a);
    rn_schema_unref(s);
}

/* The ChangelogNormalize of an upsert table behind the Exchange the
 * planner puts in front of it (hash of the primary key, in primary-key
 * order, here not the schema's: (name, id)): revoking partitions drops
 * exactly the keys the Exchange sent there, so its state splits by
 * partition as its rows arrive. */
static void test_revocation_normalize(void)
{
    rn_schema_t *s = schema5();
    rn_arena_t a;
    rn_arena_init(&a, 1 << 16);
    char err[256] = "";
    rn_ctx_t ctx = {.arena = &a, .errbuf = err, .errbuf_size = sizeof err};
    mem_topic_t *topic = calloc(1, sizeof *topic), *assign = calloc(1, sizeof *assign);
    rn_op_t *up = upstream_new(s, assign);
    const int pk[2] = {3, 0};
    rn_op_t *x = rn_exchange_new(up, 2, pk, -1);
    rn_op_connect(up, x, 0);
    RN_REQUIRE(rn_exchange_set_remote(x, mem_io_new(topic, 2), up) == RN_OK);
    rn_op_t *recv = rn_source_new(s, "recv", "memory");
    rn_source_set_exchange(recv, -1, NPARTS);
    rn_op_t *norm = rn_normalize_new(recv, 2, pk, err, sizeof err);
    RN_REQUIRE(norm != NULL);
    rn_op_connect(recv, norm, 0);
    rn_reader_t *rr = mem_reader_new(topic);
    for (int p = 0; p < NPARTS; p++) topic->owned[topic->nowned++] = p;
    rr->assignment_version = 1;
    RN_REQUIRE(rn_source_open(recv, rr, NULL, err, sizeof err) == RN_OK);
    bool eof = false;
    RN_REQUIRE(rn_op_emit(up, inserts(rows(&a, s, 300, 0, 1)), &ctx) == RN_OK); /* 300 keys, some names NULL */
    RN_REQUIRE(rn_source_poll(recv, &ctx, &eof) == RN_OK);
    RN_CHECK_EQ_INT((int)rn_normalize_keys(norm), 300);
    int per_part[NPARTS] = {0};
    for (int i = 0; i < topic->n; i++) {
        rn_batch_t *b = rn_batch_new(&a, s, RN_BATCH_MAX);
        char msg[128];
        bool full;
        RN_REQUIRE(rn_exchange_decode_rows(topic->recs[i].data, topic->recs[i].len, b, NULL, &full, msg, sizeof msg) ==
                   RN_OK);
        per_part[topic->recs[i].partition] += b->nrows;
    }
    RN_CHECK(per_part[0] > 0 && per_part[1] > 0 && per_part[2] > 0 && per_part[3] > 0);
    topic->nowned = 0;
    topic->owned[topic->nowned++] = 0;
    topic->owned[topic->nowned++] = 2;
    rr->assignment_version = 2;
    RN_REQUIRE(rn_source_poll(recv, &ctx, &eof) == RN_OK);
    RN_CHECK_EQ_INT((int)rn_normalize_keys(norm), per_part[0] + per_part[2]);
    topic->nowned = 0;
    rr->assignment_version = 3;
    RN_REQUIRE(rn_source_poll(recv, &ctx, &eof) == RN_OK);
    RN_CHECK_EQ_INT((int)rn_normalize_keys(norm), 0);
    rn_op_free(norm);
    rn_op_free(recv);
    rn_op_free(x);
    rn_op_free(up);
    for (int i = 0; i < topic->n; i++) free(topic->recs[i].data);
    free(topic);
    free(assign);
    rn_arena_free(&a);
    rn_schema_unref(s);
}

int main(void)
{
    RN_RUN(test_round_trip);
    RN_RUN(test_codec_edges);
    RN_RUN(test_watermarks_and_end);
    RN_RUN(test_local_passthrough);
    RN_RUN(test_corrupt_records);
    RN_RUN(test_revocation);
    RN_RUN(test_revocation_normalize);
    return rn_test_summary();
}
