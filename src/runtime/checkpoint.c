/*
 * checkpoint.c - checkpoints of a running pipeline (docs/checkpoints.md,
 * the layout in checkpoint.h).
 *
 * Taking one needs no barrier: the run loop is synchronous, so between two
 * batches every record a reader handed out is reflected in the operators
 * and, once the sinks and Exchanges are synced, in the outputs. The file
 * is written (state/checkpoint.c: temporary name, fsync, rename), then the
 * readers' next commit names it, so a committed position always belongs
 * to a file that holds the state reached at that position.
 *
 * Restoring follows the consumer group: when a reader is assigned a
 * partition whose state is not here, it hands over the file its committed
 * position names; the source's partition and each stateful operator fed
 * by it get their share of that file, before the partition's first record.
 * A join is fed by two repartition topics whose partition p is always
 * assigned to one process, in one rebalance when one consumer reads both
 * (op/split_reader.h): the first of its inputs to be restored brings the
 * join's keys of p. (Read by two consumers, the input assigned p first
 * restores them and the other finds them here.)
 *
 * A file that cannot be read back (checksum, truncation) is reported and
 * the newest older file of the same process that covers the partition is
 * used instead, the partition then starting at the position that file
 * holds. A file that is missing, or a pipeline whose stateful operators
 * differ from the ones that wrote it (the fingerprint), stops the run:
 * guessing would give wrong results silently. `--from-scratch` skips it.
 *
 * Two-phase sinks (exactly-once into a database, op/io.h commit_once):
 * each checkpoint holds a sink's pending rows (section "sink/<op id>"),
 * and commits them to the database only after the file is durable and the
 * Kafka transaction (the positions naming the file) committed. Restoring
 * a partition from a file commits that file's sink sections too, once per
 * file; the database's record of committed checkpoints makes that a
 * no-op when the writer got there first (docs/checkpoints.md).
 */
#include "runtime/checkpoint.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/env.h"
#include "core/log.h"
#include "core/mem.h"
#include "op/exchange.h"
#include "state/checkpoint.h"
#include "state/snapshot.h"

#define CKPT_MAX_PARTS 4096     /* partitions of one reader looked at per checkpoint */
#define CKPT_KEEP_MS 30000      /* files younger than this plus 3 intervals are never pruned */
#define FP_HEADER_V1 "runnel pipeline state v1\n"
#define FP_HEADER_V2 "runnel pipeline state v2\n"

/* A stateful operator and the restorable sources that feed it. */
typedef struct ckpt_op {
    rn_op_t *op;
    int32_t nparts;             /* its key partitions: the repartition topic's count, or 1
                                 * (all state is "partition 0") when fed by a plain scan */
    rn_op_t **srcs;             /* restorable sources upstream of it (owned array) */
    int nsrcs;
    uint64_t *restored;         /* per partition: the shared consumer's assignment_version when
                                 * its keys were last restored (inputs read by one consumer,
                                 * op/split_reader.h), or NULL (owned) */
} ckpt_op_t;

struct rn_ckpt_run {
    rn_pipeline_t *p;
    char *dir;                  /* 'state.checkpoints.dir' (owned) */
    int retained;               /* files of this process kept */
    int64_t interval_ms;
    char tag[64];               /* this process (and worker) in file names */
    char prefix[80];            /* "ckpt-<tag>-" */
    uint64_t last_id;
    char name[RN_CKPT_NAME_MAX + 1]; /* the newest file written ("" = none yet) */
    rn_buf_t fp;                /* the fingerprint: one line per stateful operator */
    rn_buf_t fp_v1;             /* the same without column types, as older files hold it */
    ckpt_op_t *ops;
    int nops;
    rn_op_t **srcs;             /* restorable sources (owned array) */
    int nsrcs;
    rn_ckpt_t *cache;           /* the file read last (restores come in runs) */
    char cache_name[RN_CKPT_NAME_MAX + 1];
    rn_buf_t secname;           /* scratch for section names */
    rn_op_t **sinks;            /* two-phase sinks (rn_sink_two_phase; owned array) */
    int nsinks;
    char sinks_done[RN_CKPT_NAME_MAX + 1]; /* the file whose sink sections a restore committed last */
};

/* A source whose reader can restore partitions (Kafka, a repartition topic). */
static bool restorable(const rn_op_t *src)
{
    const rn_reader_t *r = rn_source_reader(src);
    return r && r->assignment && r->position;
}

/* The default state directory: $XDG_STATE_HOME/runnel/<name>, else
 * ~/.local/state/runnel/<name>. NULL when neither variable is set. */
static char *default_dir(const char *name)
{
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    rn_buf_t b;
    rn_buf_init(&b);
    if (xdg && *xdg == '/') rn_buf_appendf(&b, "%s/runnel/%s", xdg, name);
    else if (home && *home) rn_buf_appendf(&b, "%s/.local/state/runnel/%s", home, name);
    else return NULL;
    if (b.oom) {
        rn_buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* Appends type t as SQL writes it ("BIGINT", "ROW(a INT, b STRING)"). */
static void append_type(rn_buf_t *out, const rn_type_t *t)
{
    if (t->id != RN_TYPE_ROW) {
        rn_buf_appends(out, rn_type_name(t->id));
        return;
    }
    rn_buf_appends(out, "ROW(");
    for (int i = 0; i < t->nfields; i++) {
        rn_buf_appendf(out, "%s%s ", i ? ", " : "", t->fields[i].name);
        append_type(out, t->fields[i].type);
    }
    rn_buf_appends(out, ")");
}

/* Appends the columns of schema s with their types: "(a INT, b STRING)". */
static void append_columns(rn_buf_t *out, const rn_schema_t *s)
{
    rn_buf_appends(out, "(");
    for (int i = 0; s && i < s->ncols; i++) {
        rn_buf_appendf(out, "%s%s ", i ? ", " : "", s->cols[i].name ? s->cols[i].name : "");
        append_type(out, s->cols[i].type);
    }
    rn_buf_appends(out, ")");
}

/* Appends what operator op's state is made of beyond its explain line:
 * the column types of each input and of its output. The same explain line
 * over a column whose type changed (a SUM of BIGINT that is now DOUBLE, a
 * key that is now a STRING) would read the old bytes as the new type. */
static void append_typed_io(rn_buf_t *out, const rn_op_t *op)
{
    for (int i = 0; i < op->ninputs; i++) {
        rn_buf_appends(out, i ? " " : "; in ");
        append_columns(out, op->inputs[i].op ? op->inputs[i].op->schema : NULL);
    }
    rn_buf_appends(out, "; out ");
    append_columns(out, op->schema);
}

/* The fingerprint: what a checkpoint's state must have been written by.
 * Version 2 adds each operator's column types (append_typed_io); version
 * 1 (typed false), the explain lines alone, is what files written before
 * typed fingerprints hold: load() still takes those. */
static void fingerprint(const rn_ckpt_run_t *c, rn_buf_t *out, bool typed)
{
    rn_buf_appends(out, typed ? FP_HEADER_V2 : FP_HEADER_V1);
    for (int i = 0; i < c->nops; i++) {
        const rn_op_t *op = c->ops[i].op;
        rn_buf_appendf(out, "#%d %s: ", op->id, op->vt->kind);
        if (op->vt->explain) op->vt->explain(op, out);
        if (typed) append_typed_io(out, op);
        rn_buf_appends(out, "\n");
    }
    /* a two-phase sink's pending rows are state too (none without one,
     * so earlier files still fit) */
    for (int i = 0; i < c->nsinks; i++) {
        rn_buf_appendf(out, "#%d %s: ", c->sinks[i]->id, c->sinks[i]->vt->kind);
        c->sinks[i]->vt->explain(c->sinks[i], out);
        rn_buf_appends(out, ", two-phase");
        if (typed) append_typed_io(out, c->sinks[i]);
        rn_buf_appends(out, "\n");
    }
}

/* Explains how fingerprint a (the file's) differs from b (the pipeline's). */
static void fingerprint_diff(const char *a, size_t alen, const char *b, size_t blen, char *out, size_t size)
{
    const char *ae = a + alen, *be = b + blen;
    while (a < ae && b < be) {
        const char *an = memchr(a, '\n', (size_t)(ae - a)), *bn = memchr(b, '\n', (size_t)(be - b));
        size_t al = an ? (size_t)(an - a) : (size_t)(ae - a), bl = bn ? (size_t)(bn - b) : (size_t)(be - b);
        if (al != bl || memcmp(a, b, al)) {
            /* the operator ("#6 GroupAggregate"), then both lines from a
             * little before where they part */
            const char *colon = memchr(b, ':', bl);
            int namelen = colon ? (int)(colon - b) : 0;
            size_t same = 0;
            while (same < al && same < bl && a[same] == b[same]) same++;
            size_t from = same > 40 ? same - 40 : 0;
            int ashow = (int)(al - from > 100 ? 100 : al - from), bshow = (int)(bl - from > 100 ? 100 : bl - from);
            snprintf(out, size, "its operator %.*s changed from '%s%.*s%s' to '%s%.*s%s'", namelen > 80 ? 80 : namelen,
                     b, from ? "..." : "", ashow, a + from, al - from > 100 ? "..." : "", from ? "..." : "", bshow,
                     b + from, bl - from > 100 ? "..." : "");
            return;
        }
        a += al + (an != NULL);
        b += bl + (bn != NULL);
    }
    if (a < ae) {
        const char *an = memchr(a, '\n', (size_t)(ae - a));
        size_t al = an ? (size_t)(an - a) : (size_t)(ae - a);
        snprintf(out, size, "its operator '%.*s' is not in the pipeline any more", (int)(al > 300 ? 300 : al), a);
    } else if (b < be) {
        const char *bn = memchr(b, '\n', (size_t)(be - b));
        size_t bl = bn ? (size_t)(bn - b) : (size_t)(be - b);
        snprintf(out, size, "the pipeline has a new operator '%.*s'", (int)(bl > 300 ? 300 : bl), b);
    } else {
        snprintf(out, size, "it was written by another version of the pipeline");
    }
}

static const char *secname(rn_ckpt_run_t *c, const char *kind, int id, const char *topic, int32_t part)
{
    c->secname.len = 0;
    if (topic) rn_buf_appendf(&c->secname, "%s/%d/%s/%d", kind, id, topic, (int)part);
    else rn_buf_appendf(&c->secname, "%s/%d/%d", kind, id, (int)part);
    return c->secname.oom ? NULL : c->secname.data;
}

/* ---- taking ------------------------------------------------------------ */

int64_t rn_ckpt_run_interval(const rn_ckpt_run_t *c) { return c->interval_ms; }

/* Appends to b the sections of source src: position and event time of
 * every partition its reader owns, which it also marks in owned (by
 * partition number, up to nowned). */
static rn_err_t take_source(rn_ckpt_run_t *c, rn_ckpt_builder_t *b, rn_op_t *src)
{
    rn_reader_t *r = rn_source_reader(src);
    static _Thread_local const char *topics[CKPT_MAX_PARTS];
    static _Thread_local int32_t parts[CKPT_MAX_PARTS];
    int n = r->assignment(r, topics, parts, CKPT_MAX_PARTS);
    if (n > CKPT_MAX_PARTS) n = CKPT_MAX_PARTS;
    for (int i = 0; i < n; i++) {
        int64_t pos = r->position(r, topics[i], parts[i]);
        const char *name = secname(c, "pos", src->id, topics[i], parts[i]);
        if (!name) return RN_ERR_NOMEM;
        if (pos >= 0) {
            rn_buf_t *out = rn_ckpt_section_open(b, name);
            if (!out) return b->err;
            rn_snap_put_u64(out, (uint64_t)pos);
            rn_err_t err = rn_ckpt_section_close(b);
            if (err != RN_OK) return err;
        }
        if (!(name = secname(c, "split", src->id, topics[i], parts[i]))) return RN_ERR_NOMEM;
        rn_buf_t *out = rn_ckpt_section_open(b, name);
        if (!out) return b->err;
        rn_err_t err = rn_source_snapshot_split(src, topics[i], parts[i], out);
        if (err == RN_OK) err = rn_ckpt_section_close(b);
        if (err != RN_OK) return err;
    }
    return RN_OK;
}

/* Appends the sections of operator o: its keys of every partition one of
 * its sources owns. */
static rn_err_t take_op(rn_ckpt_run_t *c, rn_ckpt_builder_t *b, const ckpt_op_t *o)
{
    uint8_t *held = rn_calloc((size_t)o->nparts, 1), *one = rn_calloc((size_t)o->nparts, 1);
    rn_err_t err = held && one ? RN_OK : RN_ERR_NOMEM;
    static _Thread_local const char *topics[CKPT_MAX_PARTS];
    static _Thread_local int32_t parts[CKPT_MAX_PARTS];
    for (int s = 0; s < o->nsrcs && err == RN_OK; s++) {
        rn_reader_t *r = rn_source_reader(o->srcs[s]);
        int n = r->assignment(r, topics, parts, CKPT_MAX_PARTS);
        if (n > CKPT_MAX_PARTS) n = CKPT_MAX_PARTS;
        for (int i = 0; i < n; i++) {
            int32_t k = o->nparts == 1 ? 0 : parts[i];
            if (k >= 0 && k < o->nparts) held[k] = 1;
        }
    }
    for (int32_t k = 0; k < o->nparts && err == RN_OK; k++) {
        if (!held[k]) continue;
        const char *name = secname(c, "op", o->op->id, NULL, k);
        rn_buf_t *out = name ? rn_ckpt_section_open(b, name) : NULL;
        if (!out) {
            err = name ? b->err : RN_ERR_NOMEM;
            break;
        }
        one[k] = 1;
        rn_part_filter_t f = {.nparts = o->nparts, .parts = one};
        err = o->op->vt->snapshot(o->op, out, o->nparts == 1 ? NULL : &f);
        one[k] = 0;
        if (err == RN_OK) err = rn_ckpt_section_close(b);
    }
    rn_free(held);
    rn_free(one);
    return err;
}

/* Appends the section of a two-phase sink: its pending rows ("pre-commit"). */
static rn_err_t take_sink(rn_ckpt_run_t *c, rn_ckpt_builder_t *b, const rn_op_t *sink)
{
    const char *name = secname(c, "sink", sink->id, NULL, 0);
    rn_buf_t *out = name ? rn_ckpt_section_open(b, name) : NULL;
    if (!out) return name ? b->err : RN_ERR_NOMEM;
    rn_err_t err = rn_sink_snapshot_pending(sink, out);
    return err == RN_OK ? rn_ckpt_section_close(b) : err;
}

/* After checkpoint id is durable and its positions committed: commits
 * each two-phase sink's pending rows; the database may forget its records
 * of this process's checkpoints older than keep_from, the oldest file
 * left (0: keep them all). */
static rn_err_t commit_sinks(rn_ckpt_run_t *c, uint64_t id, uint64_t keep_from, char *errbuf, size_t errbuf_size)
{
    for (int i = 0; i < c->nsinks; i++) {
        rn_err_t err = rn_sink_commit(c->sinks[i], c->tag, id, keep_from, errbuf, errbuf_size);
        if (err != RN_OK) return err;
    }
    return RN_OK;
}

rn_err_t rn_ckpt_run_take(rn_ckpt_run_t *c, char *errbuf, size_t errbuf_size)
{
    rn_err_t err = rn_run_sync_outputs(c->p, errbuf, errbuf_size);
    if (err != RN_OK) return err;
    int64_t t0 = rn_clock_wall_ms();
    uint64_t id = (uint64_t)t0 * 1000;
    if (id <= c->last_id) id = c->last_id + 1;
    rn_ckpt_builder_t b;
    err = rn_ckpt_begin(&b, id, c->fp.data, c->fp.len);
    for (int i = 0; i < c->nsrcs && err == RN_OK; i++) err = take_source(c, &b, c->srcs[i]);
    for (int i = 0; i < c->nops && err == RN_OK; i++) err = take_op(c, &b, &c->ops[i]);
    for (int i = 0; i < c->nsinks && err == RN_OK; i++) err = take_sink(c, &b, c->sinks[i]);
    char name[RN_CKPT_NAME_MAX + 1];
    if (err == RN_OK && (err = rn_ckpt_file_name(name, sizeof name, c->tag, id)) != RN_OK)
        snprintf(errbuf, errbuf_size, "checkpoint: cannot name a file after '%s'", c->tag);
    else if (err == RN_OK)
        err = rn_ckpt_write(&b, c->dir, name, errbuf, errbuf_size);
    else if (err == RN_ERR_NOMEM)
        snprintf(errbuf, errbuf_size, "checkpoint: out of memory");
    else
        snprintf(errbuf, errbuf_size, "checkpoint: %s", b.why[0] ? b.why : "cannot build the file");
    size_t bytes = b.buf.len;
    rn_ckpt_builder_free(&b);
    if (err != RN_OK) return err;
    c->last_id = id;
    snprintf(c->name, sizeof c->name, "%s", name);
    rn_ckpt_stats_t *st = &c->p->ckpt_stats;
    st->count++;
    st->last_ms = t0;
    st->last_bytes = bytes;
    st->last_duration_ms = rn_clock_wall_ms() - t0;
    for (int i = 0; i < c->nsrcs; i++) {
        rn_reader_t *r = rn_source_reader(c->srcs[i]);
        snprintf(r->ckpt_name, sizeof r->ckpt_name, "%s", c->name);
        if (r->under) snprintf(r->under->ckpt_name, sizeof r->under->ckpt_name, "%s", c->name);
    }
    if (c->p->txn) { /* exactly-once: the outputs and the positions, at once */
        rn_reader_t **readers = rn_calloc((size_t)c->nsrcs, sizeof *readers);
        if (!readers) return RN_ERR_NOMEM;
        for (int i = 0; i < c->nsrcs; i++) readers[i] = rn_source_reader(c->srcs[i]);
        err = c->p->txn->commit(c->p->txn, readers, c->nsrcs, errbuf, errbuf_size);
        rn_free(readers);
        if (err != RN_OK) return err;
    }
    /* Pruned beyond the newest `retained`, but never a file of the last
     * CKPT_KEEP_MS and 3 intervals: a partition given away in a rebalance has its commit
     * naming one of them until its new owner's first checkpoint. */
    char why[512];
    rn_ckpt_list_t list = {0};
    const char **keep = NULL;
    size_t nkeep = 0;
    uint64_t keep_from = 0; /* the oldest file left after pruning (0: unknown) */
    if (rn_ckpt_list(c->dir, c->prefix, &list, why, sizeof why) == RN_OK &&
        (keep = rn_calloc(list.n + 1, sizeof *keep))) {
        keep[nkeep++] = c->name;
        for (size_t i = 0; i < list.n; i++) {
            bool recent = list.entries[i].id / 1000 + CKPT_KEEP_MS + 3 * (uint64_t)c->interval_ms > (uint64_t)t0;
            if (recent) keep[nkeep++] = list.entries[i].name;
            /* the list is newest first: kept are the first `retained` and the recent */
            if (i < (size_t)c->retained || recent || !strcmp(list.entries[i].name, c->name)) keep_from = list.entries[i].id;
        }
        if (rn_ckpt_prune(c->dir, c->prefix, (size_t)c->retained, keep, nkeep, NULL, why, sizeof why) != RN_OK) {
            rn_log_warn("checkpoint: %s", why);
            keep_from = list.n ? list.entries[list.n - 1].id : 0; /* some may be left: the oldest listed */
        }
    }
    rn_free(keep);
    rn_ckpt_list_free(&list);
    /* two-phase sinks: only now, after the file and the positions (a
     * crash before this point restores this file and commits from it) */
    if ((err = commit_sinks(c, id, keep_from, errbuf, errbuf_size)) != RN_OK) return err;
    rn_log_debug("checkpoint %s/%s: %zu bytes in %lld ms", c->dir, c->name, bytes,
                 (long long)(rn_clock_wall_ms() - t0));
    return RN_OK;
}

/* rn_reader_t.ckpt_take */
static rn_err_t hook_take(void *opaque, char *name, size_t size, char *errbuf, size_t errbuf_size)
{
    rn_ckpt_run_t *c = opaque;
    rn_err_t err = rn_ckpt_run_take(c, errbuf, errbuf_size);
    if (err == RN_OK) snprintf(name, size, "%s", c->name);
    return err;
}

/* ---- restoring ---------------------------------------------------------- */

/* Loads file name into the cache and checks its fingerprint. */
static rn_err_t load(rn_ckpt_run_t *c, const char *name, char *errbuf, size_t errbuf_size)
{
    if (c->cache && !strcmp(c->cache_name, name)) return RN_OK;
    rn_ckpt_free(c->cache);
    c->cache = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", c->dir, name);
    rn_ckpt_t *k = NULL;
    rn_err_t err = rn_ckpt_read(path, &k, errbuf, errbuf_size);
    if (err != RN_OK) return err;
    size_t fplen;
    const char *fp = rn_ckpt_fingerprint(k, &fplen);
    const rn_buf_t *want = fplen >= strlen(FP_HEADER_V1) && !memcmp(fp, FP_HEADER_V1, strlen(FP_HEADER_V1))
                               ? &c->fp_v1
                               : &c->fp;
    if (fplen != want->len || memcmp(fp, want->data, fplen)) {
        char why[800];
        fingerprint_diff(fp, fplen, want->data, want->len, why, sizeof why);
        snprintf(errbuf, errbuf_size,
                 "checkpoint %.600s does not fit this pipeline: %s. Restoring it would misread its state; "
                 "run with --from-scratch to start with empty state (or keep the pipeline as it was)",
                 path, why);
        rn_ckpt_free(k);
        return RN_ERR_CONFIG;
    }
    c->cache = k;
    snprintf(c->cache_name, sizeof c->cache_name, "%s", name);
    return RN_OK;
}

/* The tag of a file name "ckpt-<tag>-<20 digits>.rnck" as a prefix
 * ("ckpt-<tag>-"), or false. */
static bool file_prefix(const char *name, char *out, size_t size)
{
    size_t n = strlen(name), tail = 20 + strlen(".rnck");
    if (strncmp(name, "ckpt-", 5) || n <= 5 + tail || n - tail >= size) return false;
    memcpy(out, name, n - tail);
    out[n - tail] = '\0';
    return true;
}

/* The tag alone ("<tag>") of such a file name, or false. */
static bool file_tag(const char *name, char *out, size_t size)
{
    char prefix[RN_CKPT_NAME_MAX + 1];
    if (!file_prefix(name, prefix, sizeof prefix)) return false;
    size_t n = strlen(prefix) - strlen("ckpt-") - 1; /* without "ckpt-" and the last '-' */
    if (n + 1 > size) return false;
    memcpy(out, prefix + 5, n);
    out[n] = '\0';
    return true;
}

/* The named file cannot be read (why): the newest older file of the same
 * process holding the position of (src, topic, partition) is loaded
 * instead. Returns RN_OK, or an error explaining both. */
static rn_err_t load_fallback(rn_ckpt_run_t *c, const char *bad, const char *why, rn_op_t *src, const char *topic,
                              int32_t partition, char *errbuf, size_t errbuf_size)
{
    char prefix[RN_CKPT_NAME_MAX + 1];
    rn_ckpt_list_t list = {0};
    char e2[512] = "";
    bool found = false;
    if (file_prefix(bad, prefix, sizeof prefix) &&
        rn_ckpt_list(c->dir, prefix, &list, e2, sizeof e2) == RN_OK) {
        bool older = false;
        for (size_t i = 0; i < list.n && !found; i++) {
            if (!strcmp(list.entries[i].name, bad)) {
                older = true;
                continue;
            }
            if (!older) continue;
            char e3[512];
            if (load(c, list.entries[i].name, e3, sizeof e3) != RN_OK) {
                rn_log_warn("checkpoint: %s", e3);
                continue;
            }
            const char *name = secname(c, "pos", src->id, topic, partition);
            found = name && rn_ckpt_find(c->cache, name);
        }
    }
    rn_ckpt_list_free(&list);
    if (found) {
        rn_log_warn("checkpoint: %s; %s[%d] restores the older checkpoint %s/%s instead and reads again from "
                    "its position",
                    why, topic, (int)partition, c->dir, c->cache_name);
        return RN_OK;
    }
    snprintf(errbuf, errbuf_size,
             "%s, and no older checkpoint of the same process holds %s[%d]; run with --from-scratch to start "
             "with empty state",
             why, topic, (int)partition);
    return RN_ERR_DECODE;
}

/* The loaded file's two-phase sink sections are committed (once per
 * file; the database's records make a repeat harmless), under the tag
 * of the process that wrote the file. */
static rn_err_t restore_sinks(rn_ckpt_run_t *c, char *errbuf, size_t errbuf_size)
{
    if (!c->nsinks || !strcmp(c->sinks_done, c->cache_name)) return RN_OK;
    char writer[RN_CKPT_NAME_MAX + 1];
    if (!file_tag(c->cache_name, writer, sizeof writer)) {
        snprintf(errbuf, errbuf_size, "checkpoint %s/%s: not a checkpoint file name", c->dir, c->cache_name);
        return RN_ERR_DECODE;
    }
    uint64_t id = rn_ckpt_id(c->cache);
    for (int i = 0; i < c->nsinks; i++) {
        const char *name = secname(c, "sink", c->sinks[i]->id, NULL, 0);
        const rn_ckpt_section_t *s = name ? rn_ckpt_find(c->cache, name) : NULL;
        if (!name) return RN_ERR_NOMEM;
        if (!s) continue;
        char why[1024];
        rn_err_t err = rn_sink_commit_restored(c->sinks[i], writer, id, s->data, s->len, why, sizeof why);
        if (err != RN_OK) {
            snprintf(errbuf, errbuf_size, "checkpoint %s/%s: %s", c->dir, c->cache_name, why);
            return err;
        }
    }
    snprintf(c->sinks_done, sizeof c->sinks_done, "%s", c->cache_name);
    return RN_OK;
}

/* rn_reader_t.ckpt_restore */
static rn_err_t hook_restore(void *opaque, rn_reader_t *r, const char *topic, int32_t partition,
                             const char *ckpt, int64_t *offset, char *errbuf, size_t errbuf_size)
{
    rn_ckpt_run_t *c = opaque;
    if (!ckpt) return RN_OK; /* nothing was checkpointed: empty state */
    rn_op_t *src = NULL;
    for (int i = 0; i < c->nsrcs && !src; i++)
        if (rn_source_reader(c->srcs[i]) == r) src = c->srcs[i];
    if (!src) return RN_OK;
    int64_t t0 = rn_clock_wall_ms();
    size_t restored = 0; /* bytes of operator state added */
    char why[2048];
    rn_err_t err = load(c, ckpt, why, sizeof why);
    if (err == RN_ERR_IO && errno == ENOENT) {
        snprintf(errbuf, errbuf_size,
                 "checkpoint %s/%s, named by the committed position of %s[%d], is missing: every process of "
                 "a pipeline must see the same 'state.checkpoints.dir'; run with --from-scratch to start "
                 "with empty state",
                 c->dir, ckpt, topic, (int)partition);
        return RN_ERR_CONFIG;
    }
    if (err == RN_ERR_DECODE) err = load_fallback(c, ckpt, why, src, topic, partition, errbuf, errbuf_size);
    else if (err != RN_OK) snprintf(errbuf, errbuf_size, "%s", why);
    if (err == RN_OK) err = restore_sinks(c, errbuf, errbuf_size);
    if (err != RN_OK) return err;
    const char *name = secname(c, "pos", src->id, topic, partition);
    const rn_ckpt_section_t *s = name ? rn_ckpt_find(c->cache, name) : NULL;
    if (s) {
        rn_snap_reader_t rd;
        rn_snap_reader_init(&rd, s->data, s->len);
        uint64_t pos = rn_snap_u64(&rd);
        if (!rd.bad) *offset = (int64_t)pos;
    }
    if (!(name = secname(c, "split", src->id, topic, partition))) return RN_ERR_NOMEM;
    if ((s = rn_ckpt_find(c->cache, name)) &&
        (err = rn_source_restore_split(src, topic, partition, s->data, s->len)) != RN_OK) {
        snprintf(errbuf, errbuf_size, "checkpoint %s/%s: the event time of %s[%d] cannot be restored (%s)",
                 c->dir, c->cache_name, topic, (int)partition, rn_err2str(err));
        return err;
    }
    c->p->ckpt_stats.restored++;
    static _Thread_local const char *topics[CKPT_MAX_PARTS];
    static _Thread_local int32_t parts[CKPT_MAX_PARTS];
    for (int i = 0; i < c->nops; i++) {
        ckpt_op_t *o = &c->ops[i];
        bool fed = false, here = false;
        int32_t k = o->nparts == 1 ? 0 : partition;
        for (int j = 0; j < o->nsrcs; j++) {
            if (o->srcs[j] == src) {
                fed = true;
                continue;
            }
            /* another input already owns the partition: its keys are here
             * (an input read by the same consumer is assigned it in the
             * same rebalance: see restored below) */
            rn_reader_t *or = rn_source_reader(o->srcs[j]);
            if (r->under && or->under == r->under) continue;
            int n = or->assignment(or, topics, parts, CKPT_MAX_PARTS);
            for (int q = 0; q < n && q < CKPT_MAX_PARTS && !here; q++) here = (o->nparts == 1 ? 0 : parts[q]) == k;
        }
        if (!fed || here) continue;
        if (k < 0 || k >= o->nparts) {
            snprintf(errbuf, errbuf_size, "%s[%d] is not one of the %d partitions operator #%d was split by",
                     topic, (int)partition, (int)o->nparts, o->op->id);
            return RN_ERR_CONFIG;
        }
        /* Inputs read by one consumer get partition k in one rebalance,
         * and the first of them to be restored brings the keys of k (all
         * inputs' positions are in the same file: one commit named it). */
        if (r->under) {
            if (!o->restored && !(o->restored = rn_calloc((size_t)o->nparts, sizeof *o->restored)))
                return RN_ERR_NOMEM;
            if (o->restored[k] == r->under->assignment_version) continue;
            o->restored[k] = r->under->assignment_version;
        }
        if (!(name = secname(c, "op", o->op->id, NULL, k))) return RN_ERR_NOMEM;
        if (!(s = rn_ckpt_find(c->cache, name))) continue; /* no keys of that partition */
        if ((err = o->op->vt->restore(o->op, s->data, s->len)) != RN_OK) {
            snprintf(errbuf, errbuf_size,
                     "checkpoint %s/%s: operator #%d %s cannot restore its state of partition %d (%s)", c->dir,
                     c->cache_name, o->op->id, o->op->vt->kind, (int)k, rn_err2str(err));
            return err;
        }
        restored += s->len;
    }
    rn_log_debug("checkpoint %s/%s: restored %s[%d] (%zu bytes) in %lld ms", c->dir, c->cache_name, topic,
                 (int)partition, restored, (long long)(rn_clock_wall_ms() - t0));
    return RN_OK;
}

/* ---- setting up --------------------------------------------------------- */

rn_err_t rn_ckpt_run_open(rn_pipeline_t *p, const char *name, int worker, bool from_scratch,
                          rn_ckpt_run_t **out, char *errbuf, size_t errbuf_size)
{
    *out = NULL;
    if (p->ckpt_interval_ms == 0) return RN_OK;
    int nsrcs = 0;
    for (int i = 0; i < p->nsources; i++) nsrcs += restorable(p->sources[i]);
    if (!nsrcs) return RN_OK;
    rn_ckpt_run_t *c = rn_calloc(1, sizeof *c);
    if (!c) return RN_ERR_NOMEM;
    c->p = p;
    c->interval_ms = p->ckpt_interval_ms > 0 ? p->ckpt_interval_ms : RN_CKPT_DEFAULT_INTERVAL_MS;
    c->retained = p->ckpt_retained > 0 ? p->ckpt_retained : RN_CKPT_DEFAULT_RETAINED;
    rn_buf_init(&c->fp);
    rn_buf_init(&c->fp_v1);
    rn_buf_init(&c->secname);
    c->dir = p->ckpt_dir ? rn_strdup(p->ckpt_dir) : default_dir(name);
    c->srcs = rn_calloc((size_t)nsrcs, sizeof *c->srcs);
    c->ops = rn_calloc((size_t)(p->nops ? p->nops : 1), sizeof *c->ops);
    c->sinks = rn_calloc((size_t)(p->nsinks ? p->nsinks : 1), sizeof *c->sinks);
    if (!c->srcs || !c->ops || !c->sinks || (!c->dir && p->ckpt_dir)) {
        rn_ckpt_run_free(c);
        return RN_ERR_NOMEM;
    }
    if (!c->dir) {
        snprintf(errbuf, errbuf_size,
                 "checkpoints need a directory: set HOME or XDG_STATE_HOME, or SET 'state.checkpoints.dir' "
                 "(or SET 'execution.checkpointing.interval' = '0' to run without them)");
        rn_ckpt_run_free(c);
        return RN_ERR_CONFIG;
    }
    for (int i = 0; i < p->nsources; i++)
        if (restorable(p->sources[i])) c->srcs[c->nsrcs++] = p->sources[i];
    for (int i = 0; i < p->nops; i++) {
        rn_op_t *op = p->ops[i];
        if (!op->vt->snapshot || !op->vt->restore) continue;
        ckpt_op_t *o = &c->ops[c->nops];
        o->op = op;
        o->nparts = 0;
        for (int s = 0; s < c->nsrcs; s++) {
            if (!rn_run_op_reads_from(op, c->srcs[s])) continue;
            rn_op_t **a = rn_realloc(o->srcs, sizeof *a * (size_t)(o->nsrcs + 1));
            if (!a) {
                rn_ckpt_run_free(c);
                return RN_ERR_NOMEM;
            }
            o->srcs = a;
            o->srcs[o->nsrcs++] = c->srcs[s];
            int32_t n = rn_source_exchange_parts(c->srcs[s]);
            if (n <= 0) n = 1; /* a plain scan: the whole state is one */
            if (!o->nparts || n < o->nparts) o->nparts = n;
        }
        if (o->nsrcs) c->nops++;
    }
    for (int i = 0; i < p->nsinks; i++)
        if (rn_sink_two_phase(p->sinks[i].op)) c->sinks[c->nsinks++] = p->sinks[i].op;
    if (c->nsinks && !p->txn) { /* the commit follows the positions' commit, which only a transaction tells */
        snprintf(errbuf, errbuf_size, "exactly-once into a database needs the positions committed in a Kafka "
                 "transaction, and this pipeline has none");
        rn_ckpt_run_free(c);
        return RN_ERR_CONFIG;
    }
    /* The tag: this process and worker. With a static member id it is
     * that id, so a restart prunes its predecessor's files; else unique
     * to this process (its files are left when it ends). */
    rn_buf_t member;
    rn_buf_init(&member);
    char why[128];
    const char *sm = rn_run_static_member(p);
    int tl = 0;
    if (sm && rn_env_expand(sm, &member, why, sizeof why) == RN_OK && member.data && member.data[0] && !member.oom) {
        for (size_t i = 0; i < member.len && tl < 40; i++) {
            unsigned char ch = (unsigned char)member.data[i];
            c->tag[tl++] = (char)(isalnum(ch) || ch == '_' || ch == '.' ? ch : '_');
        }
        c->tag[tl] = '\0';
    } else {
        unsigned long long ms = (unsigned long long)rn_clock_wall_ms();
        tl = snprintf(c->tag, sizeof c->tag, "%08llx%06x", (ms * 2654435761ull) >> 16 & 0xffffffffull,
                      (unsigned)getpid() & 0xffffffu);
    }
    rn_buf_free(&member);
    if (worker > 0) snprintf(c->tag + tl, sizeof c->tag - (size_t)tl, "w%d", worker);
    snprintf(c->prefix, sizeof c->prefix, "ckpt-%s-", c->tag);
    fingerprint(c, &c->fp, true);
    fingerprint(c, &c->fp_v1, false);
    if (c->fp.oom || c->fp_v1.oom) {
        rn_ckpt_run_free(c);
        return RN_ERR_NOMEM;
    }
    for (int i = 0; i < c->nsrcs; i++) {
        rn_reader_t *r = rn_source_reader(c->srcs[i]);
        r->ckpt_take = hook_take;
        r->ckpt_restore = from_scratch ? NULL : hook_restore;
        r->ckpt_opaque = c;
        r->txn = p->txn != NULL;
        r->commit_limit = NULL; /* commits follow checkpoints, not open windows */
        r->resumed = NULL;      /* state is restored: the reader warns when it cannot be */
    }
    rn_log_info("pipeline %s: checkpoints every %lld ms in %s%s", name, (long long)c->interval_ms, c->dir,
                from_scratch ? " (--from-scratch: earlier ones are not restored)" : "");
    *out = c;
    return RN_OK;
}

void rn_ckpt_run_free(rn_ckpt_run_t *c)
{
    if (!c) return;
    for (int i = 0; i < c->nsrcs; i++) {
        rn_reader_t *r = rn_source_reader(c->srcs[i]);
        if (r && r->ckpt_opaque == c) {
            r->ckpt_take = NULL;
            r->ckpt_restore = NULL;
            r->ckpt_opaque = NULL; /* ckpt_name stays: a commit at close names it */
        }
    }
    for (int i = 0; i < c->nops; i++) {
        rn_free(c->ops[i].srcs);
        rn_free(c->ops[i].restored);
    }
    rn_free(c->ops);
    rn_free(c->srcs);
    rn_free(c->sinks);
    rn_free(c->dir);
    rn_ckpt_free(c->cache);
    rn_buf_free(&c->fp);
    rn_buf_free(&c->fp_v1);
    rn_buf_free(&c->secname);
    rn_free(c);
}
