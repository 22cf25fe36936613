/*
 * run.c - running a compiled pipeline: opening its connectors (or, in
 * `runnel test`, the files standing for them), the run loop, the commit
 * cycle, the memory limit.
 *
 * The run loop is deliberately simple and deterministic: sources are polled
 * round-robin, one batch each; a batch flows depth-first through the graph
 * to the sinks; then the per-batch arena is reset. With files as inputs
 * (`runnel test`) the same input therefore always gives the same output,
 * byte for byte.
 *
 * At-least-once delivery: because a batch is fully processed before the
 * next is read, every record a reader has handed out is reflected in what
 * the sinks were given. A commit therefore first syncs every sink (waits
 * until the brokers or files acknowledge everything written), then lets
 * each reader commit its positions. Commits happen every commit_ms, when
 * the input goes idle, on a rebalance (the reader calls sync_outputs) and
 * at the end. A crash loses at most the uncommitted tail, which is read
 * again: never skipped.
 */
#include "runtime/run.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/text.h"
#include "op/exchange.h"
#include "op/split_reader.h"
#include "op/lookup_join.h"
#include "plan/compiled.h"
#include "runtime/checkpoint.h"

static table_def_t *table_of_source(rn_pipeline_t *p, const rn_op_t *src)
{
    for (int i = 0; i < p->ntables; i++)
        if (p->tables[i].source == src) return &p->tables[i];
    return NULL;
}

/* The file standing for table t in `runnel test`: <dir>/<topic or name>.jsonl */
static void test_path(const table_def_t *t, const char *dir, char *buf, size_t size)
{
    const char *name = t->conn->test_name ? t->conn->test_name(t->conf) : NULL;
    snprintf(buf, size, "%s/%s.jsonl", dir, name ? name : t->name);
}

/* rn_reader_t.sync_outputs: makes every sink, and every Exchange that
 * sends to a repartition topic, deliver and wait for acks. */
rn_err_t rn_run_sync_outputs(void *opaque, char *errbuf, size_t errbuf_size)
{
    rn_pipeline_t *p = opaque;
    for (int i = 0; i < p->nops; i++) {
        if (!rn_is_exchange(p->ops[i])) continue;
        rn_err_t err = rn_exchange_sync(p->ops[i], errbuf, errbuf_size);
        if (err != RN_OK) return err;
    }
    for (int i = 0; i < p->nsinks; i++) {
        rn_err_t err = rn_sink_sync(p->sinks[i].op, errbuf, errbuf_size);
        if (err != RN_OK) return err;
    }
    return RN_OK;
}

/* Syncs the sinks (with checkpoints: takes one, which does), then
 * commits every reader's positions. */
static rn_err_t pipeline_commit(rn_pipeline_t *p, rn_ckpt_run_t *ck, bool final, char *errbuf, size_t errbuf_size)
{
    rn_err_t err = ck ? rn_ckpt_run_take(ck, errbuf, errbuf_size) : rn_run_sync_outputs(p, errbuf, errbuf_size);
    for (int i = 0; i < p->nsources && err == RN_OK; i++) {
        rn_reader_t *r = rn_source_reader(p->sources[i]);
        if (r && r->commit) err = r->commit(r, final, errbuf, errbuf_size);
    }
    return err;
}

/* The file that table t reads (source) or writes (sink) in this run, or
 * NULL when it is not a local file (Kafka, stdin/stdout, a generator, a
 * blackhole). */
static const char *table_file(const table_def_t *t, const rn_run_opts_t *o, bool sink, char *buf,
                              size_t size)
{
    if (o->mode == RN_MODE_TEST) {
        if (t->conn->self_contained || (sink && !strcmp(t->conn->name, "blackhole"))) return NULL;
        if (sink && t->conn->test_sink_file) {
            snprintf(buf, size, "%s/%s.jsonl", o->output_dir, t->conn->test_sink_file);
            return buf;
        }
        test_path(t, sink ? o->output_dir : o->input_dir, buf, size);
        return buf;
    }
    return t->conn->file_path ? t->conn->file_path(t->conf) : NULL;
}

/* Refuses, before anything is opened, a run that would destroy its own
 * input: a sink (or the dead-letter file) writing a file that a source of
 * the same run reads, or the dead-letter file being a sink's file. */
static rn_err_t pipeline_check_files(rn_pipeline_t *p, const rn_run_opts_t *o, const char *dlq_path,
                                     char *errbuf, size_t errbuf_size)
{
    char in[4096], out[4096];
    for (int i = 0; i < p->nsources; i++) {
        const table_def_t *src = table_of_source(p, p->sources[i]);
        const char *ip = table_file(src, o, false, in, sizeof in);
        if (!ip) continue;
        for (int j = 0; j < p->nsinks; j++) {
            const table_def_t *dst = p->sinks[j].table;
            const char *op = table_file(dst, o, true, out, sizeof out);
            if (op && rn_file_same(ip, op)) {
                snprintf(errbuf, errbuf_size,
                         "table '%s' would write %s, which table '%s' reads: writing it would destroy "
                         "the input before it is read (%s)",
                         dst->name, op, src->name,
                         o->mode == RN_MODE_TEST ? "use another --output directory or topic"
                                                 : "write to another 'path'");
                return RN_ERR_CONFIG;
            }
        }
        if (rn_file_same(ip, dlq_path)) {
            snprintf(errbuf, errbuf_size,
                     "the dead-letter file %s is read by table '%s': choose another one with --dlq", dlq_path,
                     src->name);
            return RN_ERR_CONFIG;
        }
    }
    for (int j = 0; j < p->nsinks; j++) {
        const table_def_t *dst = p->sinks[j].table;
        const char *op = table_file(dst, o, true, out, sizeof out);
        if (op && rn_file_same(op, dlq_path)) {
            snprintf(errbuf, errbuf_size,
                     "the dead-letter file %s is also written by table '%s': choose another one with --dlq",
                     dlq_path, dst->name);
            return RN_ERR_CONFIG;
        }
    }
    return RN_OK;
}

/* `runnel test` names files after topics and tables: a name that is not a
 * plain file name (a table called `../x`) is refused before anything is
 * opened. Kafka topics were already checked by the connector. */
static rn_err_t pipeline_check_test_names(rn_pipeline_t *p, char *errbuf, size_t errbuf_size)
{
    for (int i = 0; i < p->ntables; i++) {
        const table_def_t *t = &p->tables[i];
        if (!t->conn || t->conn->self_contained) continue;
        const char *name = t->conn->test_name ? t->conn->test_name(t->conf) : NULL;
        if (!name) name = t->name;
        const char *why = rn_text_topic_invalid(name, strlen(name));
        if (why) {
            snprintf(errbuf, errbuf_size,
                     "table '%s': `runnel test` cannot name a file after '%s': %s", t->name, name, why);
            return RN_ERR_CONFIG;
        }
    }
    return RN_OK;
}

/* rn_reader_t.resumed: the source restarts from committed positions, but
 * the state of the aggregates it feeds starts empty (no checkpoints yet). */
static void pipeline_resumed(void *opaque, const char *what)
{
    const struct resume_note *n = opaque;
    rn_log_warn("table '%s'%s%s%s resumes from positions committed earlier (%s), but aggregate state is not restored "
                "(no checkpoints yet): the results of %s start again from zero, and a key seen "
                "before the restart gets values counted from the resume point only, replacing "
                "its earlier results",
                n->table, n->via ? " (read back through " : "", n->via ? n->via : "", n->via ? ")" : "", what,
                n->sinks);
}

/* Whether src is op or upstream of it, through any input. */
bool rn_run_op_reads_from(const rn_op_t *op, const rn_op_t *src)
{
    if (op == src) return true;
    for (int i = 0; i < op->ninputs; i++)
        if (op->inputs[i].op && rn_run_op_reads_from(op->inputs[i].op, src)) return true;
    return false;
}

/* Fills p->resume_notes: for each source, the sinks that get updates (from
 * a GROUP BY or another stateful operator) computed from its rows. Sink
 * chains have one input each, so a sink's source is at the chain's end.
 * Returns false on OOM. */
static bool pipeline_note_updating_sinks(rn_pipeline_t *p)
{
    if (!(p->resume_notes = rn_calloc((size_t)(p->nsources ? p->nsources : 1), sizeof *p->resume_notes)))
        return false;
    for (int i = 0; i < p->nsources; i++) {
        table_def_t *t = table_of_source(p, p->sources[i]);
        for (int k = 0; !t && k < p->nrecv; k++)
            if (p->recv_origins[k].recv == p->sources[i]) {
                t = p->recv_origins[k].table;
                p->resume_notes[i].via = rn_source_reader(p->sources[i])->where;
            }
        p->resume_notes[i].table = t ? t->name : rn_source_label(p->sources[i]);
        rn_buf_t b;
        rn_buf_init(&b);
        for (int j = 0; j < p->nsinks; j++) {
            const rn_op_t *in = p->sinks[j].op->input;
            if (!in || !in->updating || p->sinks[j].dash_twin) continue; /* a twin: named by its table */
            if (rn_run_op_reads_from(in, p->sources[i])) rn_buf_appendf(&b, "%ssink '%s'", b.len ? ", " : "", p->sinks[j].table->name);
        }
        if (b.oom) return false;
        p->resume_notes[i].sinks = b.data;
    }
    return true;
}

/* The source scan at the start of op's chain (port 0 upstream), or NULL. */
static rn_op_t *upstream_source(rn_op_t *op)
{
    while (op && op->ninputs) op = op->input;
    return op;
}

/* Adds a source scan to the pipeline (its operators and its sources).
 * Frees op on failure. */
static rn_err_t pipeline_add_source(rn_pipeline_t *p, rn_op_t *op)
{
    rn_op_t **ops = rn_realloc(p->ops, sizeof *ops * (size_t)(p->nops + 1));
    if (ops) p->ops = ops;
    rn_op_t **srcs = ops ? rn_realloc(p->sources, sizeof *srcs * (size_t)(p->nsources + 1)) : NULL;
    if (!srcs) {
        rn_op_free(op);
        return RN_ERR_NOMEM;
    }
    p->sources = srcs;
    p->ops[p->nops++] = op;
    op->id = p->nops;
    p->sources[p->nsources++] = op;
    return RN_OK;
}

/* `runnel run`: every Exchange whose rows come from a table that several
 * processes can share (Kafka) sends them through a repartition topic
 * (docs/scale-out.md). The graph is cut at the Exchange: its outputs move
 * to a new source scan reading the topic back in the pipeline's consumer
 * group. Exchanges are visited in plan order, so one fed by an earlier
 * Exchange's receiving scan finds that scan, and the table behind it,
 * upstream. */
/* The table whose rows reach Exchange x: behind its upstream source scan,
 * or behind an earlier Exchange's receiving scan. NULL if none. */
static table_def_t *exchange_table(rn_pipeline_t *p, rn_op_t *x)
{
    rn_op_t *up = upstream_source(x);
    table_def_t *t = up ? table_of_source(p, up) : NULL;
    for (int k = 0; !t && k < p->nrecv; k++)
        if (p->recv_origins[k].recv == up) t = p->recv_origins[k].table;
    return t;
}

/* If Exchange x feeds one input of a two-input operator (a join) whose
 * other input is an Exchange too, that other Exchange (and *side: 0 for
 * x on the left); else NULL. */
static rn_op_t *exchange_join_partner(rn_op_t *x, int *side)
{
    if (x->noutputs != 1) return NULL;
    rn_op_t *j = x->outputs[0].op;
    if (j->ninputs != 2) return NULL;
    *side = x->outputs[0].port;
    rn_op_t *other = j->inputs[1 - *side].op;
    return other && rn_is_exchange(other) ? other : NULL;
}

/* True when one consumer can read both repartition topics of a join fed
 * by Exchanges x[0] and x[1] (op/split_reader.h): both inputs come from
 * Kafka tables of one cluster. Else each input has a consumer of its own
 * in one group, and a rebalance reaches the two at different moments. */
static bool join_one_consumer(rn_pipeline_t *p, rn_op_t *const x[2])
{
    table_def_t *t[2];
    for (int k = 0; k < 2; k++) {
        t[k] = exchange_table(p, x[k]);
        if (!t[k] || !t[k]->conn->shared || !t[k]->conn->open_exchange) return false;
    }
    if (t[0]->conn != t[1]->conn) return false;
    const char *servers[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < t[k]->noptions; j++)
            if (!strcmp(t[k]->options[j].key, "properties.bootstrap.servers")) servers[k] = t[k]->options[j].value;
    return servers[0] == servers[1] || (servers[0] && servers[1] && !strcmp(servers[0], servers[1]));
}

/* A tag for this process: the consumers of a join's inputs sort by it. */
static const char *process_tag(void)
{
    static char tag[32];
    if (!tag[0]) {
        uint64_t ms = (uint64_t)rn_clock_wall_ms();
        snprintf(tag, sizeof tag, "%08x%06x", (unsigned)(ms * 2654435761u >> 16), (unsigned)getpid() & 0xffffffu);
    }
    return tag;
}

/* Exactly-once (docs/checkpoints.md): when a sink table asks for it
 * ('sink.delivery-guarantee' = 'exactly-once'), its connector opens the
 * pipeline's transaction, which every sink and Exchange of that connector
 * then writes in. Needs checkpoints: each one commits the transaction. A
 * sink of a connector without transactions (jdbc: a two-phase commit,
 * op/io.h commit_once) needs one as well: its rows are committed after
 * the positions, which go to Kafka in the transaction. */
static rn_err_t pipeline_open_txn(rn_pipeline_t *p, const char *name, int worker, char *errbuf, size_t errbuf_size)
{
    table_def_t *t = NULL, *two_phase = NULL;
    for (int i = 0; i < p->nsinks && !t; i++) {
        table_def_t *s = p->sinks[i].table;
        if (p->sinks[i].dash_twin || !s->conn->exactly_once || !s->conn->exactly_once(s->conf)) continue;
        if (s->conn->open_txn) t = s;
        else if (!two_phase) two_phase = s;
    }
    if (two_phase && p->ckpt_interval_ms == 0) {
        snprintf(errbuf, errbuf_size,
                 "table '%s': 'sink.delivery-guarantee' = 'exactly-once' commits with checkpoints, but SET "
                 "'execution.checkpointing.interval' = '0' turns them off",
                 two_phase->name);
        return RN_ERR_CONFIG;
    }
    /* SET 'execution.checkpointing.mode' = 'EXACTLY_ONCE' (or a two-phase
     * sink) without such a sink: the repartition topics (and any Kafka
     * sink) still go through a transaction, opened with a Kafka table's
     * settings */
    for (int i = 0; i < p->ntables && !t && (p->ckpt_exactly_once || two_phase); i++)
        if (p->tables[i].source && p->tables[i].conn->open_txn) t = &p->tables[i];
    if (two_phase && !t) {
        snprintf(errbuf, errbuf_size,
                 "table '%s': 'sink.delivery-guarantee' = 'exactly-once' needs a Kafka source table: its rows are "
                 "committed with checkpoints, after the source positions commit in a Kafka transaction",
                 two_phase->name);
        return RN_ERR_CONFIG;
    }
    if (t) {
        if (p->ckpt_interval_ms == 0) {
            snprintf(errbuf, errbuf_size,
                     "%s exactly-once, which commits with checkpoints, but SET "
                     "'execution.checkpointing.interval' = '0' turns them off",
                     p->ckpt_exactly_once ? "SET 'execution.checkpointing.mode' = 'EXACTLY_ONCE' asks for"
                                          : "a sink's 'sink.delivery-guarantee' asks for");
            return RN_ERR_CONFIG;
        }
        /* The transactional.id ends with this process's static member id
         * when a Kafka source has one ('properties.group.instance.id'), so
         * that a restart fences its killed predecessor and aborts its open
         * transaction at once; else with a tag unique to this process (the
         * broker aborts a dead process's transaction after
         * 'transaction.timeout.ms'). */
        const char *instance = rn_run_static_member(p);
        char tag[300];
        int tl = snprintf(tag, sizeof tag, "%s", instance ? instance : process_tag());
        if (worker > 0 && tl > 0 && (size_t)tl < sizeof tag) snprintf(tag + tl, sizeof tag - (size_t)tl, "-w%d", worker);
        rn_open_ctx_t ctx = {.pipeline = name, .table = t->name, .options = t->options, .noptions = t->noptions,
                             .worker = worker, .txn_tag = tag};
        return t->conn->open_txn(t->conf, &ctx, &p->txn, errbuf, errbuf_size);
    }
    return RN_OK;
}

const char *rn_run_static_member(const rn_pipeline_t *p)
{
    for (int k = 0; k < p->ntables; k++) {
        const table_def_t *st = &p->tables[k];
        if (!st->source || !st->conn->shared) continue; /* a Kafka source */
        for (int j = 0; j < st->noptions; j++)
            if (!strcmp(st->options[j].key, "properties.group.instance.id")) return st->options[j].value;
    }
    return NULL;
}

/* The pipeline's transaction for a table of connector conn, or NULL. */
static rn_txn_t *pipeline_txn(const rn_pipeline_t *p, const rn_connector_t *conn)
{
    return p->txn && conn->open_txn ? p->txn : NULL;
}

static rn_err_t pipeline_open_exchanges(rn_pipeline_t *p, const char *name, int worker, char *errbuf,
                                        size_t errbuf_size)
{
    int nplan = p->nops; /* the scans added below are not Exchanges */
    rn_err_t err = RN_OK;
    /* a join's two inputs: one partition count, one group (the first
     * opened input's topic); paired before the graph is cut */
    struct join_input {
        rn_op_t *x[2];          /* the Exchanges feeding its left and right input */
        int32_t partitions;     /* 0 until counted */
        char *group;
        bool one_consumer;      /* one reader for both topics (op/split_reader.h) */
        rn_op_t *recv0;         /* then: the first input's receiving scan, waiting for it */
    } *joins = rn_calloc((size_t)(nplan ? nplan : 1), sizeof *joins);
    int njoins = 0;
    if (!joins) return RN_ERR_NOMEM;
    for (int i = 0; i < nplan; i++) {
        int side = 0;
        rn_op_t *partner = rn_is_exchange(p->ops[i]) ? exchange_join_partner(p->ops[i], &side) : NULL;
        if (partner && side == 0) {
            joins[njoins].x[0] = p->ops[i];
            joins[njoins++].x[1] = partner;
        }
    }
    for (int i = 0; i < nplan && err == RN_OK; i++) {
        rn_op_t *x = p->ops[i];
        if (!rn_is_exchange(x) || !x->noutputs) continue;
        table_def_t *t = exchange_table(p, x);
        if (!t || !t->conn->shared) continue; /* one process reads it all: rows stay here */
        struct join_input *ji = NULL;
        int side = 0;
        for (int k = 0; k < njoins && !ji; k++)
            for (int j = 0; j < 2; j++)
                if (joins[k].x[j] == x) {
                    ji = &joins[k];
                    side = j;
                }
        if (ji && !ji->partitions) { /* the first of the pair: count both inputs' partitions */
            ji->one_consumer = join_one_consumer(p, ji->x);
            for (int k = 0; k < 2 && err == RN_OK; k++) {
                table_def_t *bt = exchange_table(p, ji->x[k]);
                if (!bt || !bt->conn->open_exchange) continue;
                int32_t n = 0;
                rn_open_ctx_t pc = {.pipeline = name, .table = bt->name, .options = bt->options,
                                    .noptions = bt->noptions, .worker = worker, .join_input = true,
                                    .probe_partitions = &n};
                rn_exchange_io_t *pio = NULL;
                rn_reader_t *pr = NULL;
                err = bt->conn->open_exchange(bt->conf, &pc, "probe", &pio, &pr, errbuf, errbuf_size);
                if (n > ji->partitions) ji->partitions = n;
            }
            if (err != RN_OK) break;
        }
        char suffix[64];
        snprintf(suffix, sizeof suffix, "%d-repartition", x->id);
        rn_open_ctx_t ctx = {.pipeline = name, .table = t->name, .options = t->options, .noptions = t->noptions,
                             .worker = worker, .txn = pipeline_txn(p, t->conn)};
        char mtag[48]; /* workers of one process are members of their own */
        snprintf(mtag, sizeof mtag, "%s%04d", process_tag(), worker);
        if (ji) {
            ctx.join_input = true;
            ctx.join_group = ji->group; /* NULL for the first: its own topic's name */
            ctx.member_tag = mtag;
            ctx.join_side = side ? "right" : "left";
            ctx.min_partitions = ji->partitions;
            ctx.no_reader = ji->one_consumer && !ji->group;
            ctx.also_read = ji->one_consumer ? ji->group : NULL;
        }
        rn_exchange_io_t *io = NULL;
        rn_reader_t *r = NULL;
        if ((err = t->conn->open_exchange(t->conf, &ctx, suffix, &io, &r, errbuf, errbuf_size)) != RN_OK) break;
        if (!io) continue; /* one source partition: one process has every row */
        if (ji && !ji->group && !(ji->group = rn_strdup(io->topic))) {
            io->close(io);
            if (r) r->close(r);
            err = RN_ERR_NOMEM;
            break;
        }
        rn_op_t *recv = rn_source_new(x->schema, io->topic, io->where);
        if (!recv || (err = pipeline_add_source(p, recv)) != RN_OK) {
            if (!recv) err = RN_ERR_NOMEM;
            io->close(io);
            if (r) r->close(r);
            break;
        }
        rn_source_set_exchange(recv, rn_exchange_rowtime_col(x), io->nparts);
        if ((err = rn_op_move_outputs(x, recv)) != RN_OK || (err = rn_exchange_set_remote(x, io, upstream_source(x))) != RN_OK) {
            snprintf(errbuf, errbuf_size, "cannot send rows through %s", io->where);
            io->close(io);
            if (r) r->close(r);
            break;
        }
        if (ji && ji->one_consumer && !r) { /* the first input: read with the second */
            ji->recv0 = recv;
        } else if (ji && ji->one_consumer) { /* the second: one reader, a view per input */
            rn_reader_t *views[2];
            const char *topics[2] = {ji->group, io->topic};
            if ((err = rn_reader_split(r, topics, 2, views)) != RN_OK) {
                r->close(r);
                break;
            }
            for (int k = 0; k < 2; k++) {
                views[k]->sync_outputs = rn_run_sync_outputs;
                views[k]->sync_opaque = p;
            }
            /* view 0 fetches: its scan is polled first (op/split_reader.h) */
            if ((err = rn_source_open(ji->recv0, views[0], p->dlq, errbuf, errbuf_size)) != RN_OK) {
                views[1]->close(views[1]);
                break;
            }
            rn_source_use_wall_clock(ji->recv0, true);
            if ((err = rn_source_open(recv, views[1], p->dlq, errbuf, errbuf_size)) != RN_OK) break;
            rn_source_use_wall_clock(recv, true);
        } else {
            r->sync_outputs = rn_run_sync_outputs;
            r->sync_opaque = p;
            if ((err = rn_source_open(recv, r, p->dlq, errbuf, errbuf_size)) != RN_OK) break;
            rn_source_use_wall_clock(recv, true);
        }
        struct recv_origin *ro = rn_realloc(p->recv_origins, sizeof *ro * (size_t)(p->nrecv + 1));
        if (!ro) {
            err = RN_ERR_NOMEM;
            break;
        }
        p->recv_origins = ro;
        ro[p->nrecv++] = (struct recv_origin){.recv = recv, .table = t};
    }
    for (int k = 0; k < njoins; k++) rn_free(joins[k].group);
    rn_free(joins);
    return err;
}

/* What a sink's reject hook needs: the pipeline (its dead-letter output
 * while running) and the sink table. Lives in the plan arena. */
struct sink_reject {
    rn_pipeline_t *p;
    const char *table;          /* the sink table's name */
    char where[300];            /* "sink 'name'" */
    int64_t count;              /* rows refused so far (the DLQ line's position) */
};

/* rn_sink_io_t.reject: a row the destination refused goes to the
 * pipeline's dead-letter output as the row's JSON with the message. */
static rn_err_t pipeline_sink_reject(void *opaque, const char *row_json, size_t len, const char *error)
{
    struct sink_reject *sr = opaque;
    if (!sr->p->dlq) return RN_ERR_FATAL;
    return rn_dlq_write(sr->p->dlq, sr->table, sr->where, ++sr->count, error, row_json, len);
}

static rn_err_t pipeline_open(rn_pipeline_t *p, const rn_run_opts_t *o, char *errbuf, size_t errbuf_size)
{
    char name[256];
    rn_pipeline_name(p, name, sizeof name);
    bool test = o->mode == RN_MODE_TEST;
    char path[4096], dlq_path[4096];
    rn_err_t err;
    if (test && (err = pipeline_check_test_names(p, errbuf, errbuf_size)) != RN_OK) return err;
    if (test) /* a directory no topic file can be: OUT/_runnel/ */
        snprintf(dlq_path, sizeof dlq_path, "%s/%s", o->output_dir, RN_TEST_DLQ_FILE);
    else
        snprintf(dlq_path, sizeof dlq_path, "%s", o->dlq_path ? o->dlq_path : "dlq.jsonl");
    if ((err = pipeline_check_files(p, o, dlq_path, errbuf, errbuf_size)) != RN_OK) return err;
    if (test && rn_mkdir_p(o->output_dir) != 0) {
        snprintf(errbuf, errbuf_size, "cannot create output directory %s: %s", o->output_dir, strerror(errno));
        return RN_ERR_IO;
    }
    if (test) unlink(dlq_path); /* a stale file from an earlier run would mislead */
    if (!test && o->dlq) {
        p->dlq = o->dlq;
        p->dlq_shared = true;
    } else if (!(p->dlq = rn_dlq_new(dlq_path))) {
        return RN_ERR_NOMEM;
    }
    if (!(p->files = rn_file_outs_new())) return RN_ERR_NOMEM;
    /* Cut at remote Exchanges first, so that the resume warnings name the
     * sinks each source (a repartition topic's included) really feeds. */
    if (!test && (err = pipeline_open_txn(p, name, o->worker, errbuf, errbuf_size)) != RN_OK) return err;
    if (!test && (err = pipeline_open_exchanges(p, name, o->worker, errbuf, errbuf_size)) != RN_OK) return err;
    if (!pipeline_note_updating_sinks(p)) return RN_ERR_NOMEM;
    for (int i = 0; i < p->nsources; i++) {
        table_def_t *t = table_of_source(p, p->sources[i]);
        rn_reader_t *r = rn_source_reader(p->sources[i]); /* a repartition topic's: opened already */
        if (r) {
            if (p->resume_notes[i].sinks) {
                r->resumed = pipeline_resumed;
                r->resumed_opaque = &p->resume_notes[i];
            }
            continue;
        }
        if (test && !t->conn->self_contained) {
            test_path(t, o->input_dir, path, sizeof path);
            /* an upsert table's file may hold keyed lines (its sink's output) */
            err = t->sink_mode == RN_SINK_UPSERT ? rn_file_reader_open_keyed(path, &r, errbuf, errbuf_size)
                                                       : rn_file_reader_open(path, &r, errbuf, errbuf_size);
            if (err != RN_OK) {
                char why[512];
                snprintf(why, sizeof why, "%s", errbuf);
                snprintf(errbuf, errbuf_size, "table '%s': no input: %s", t->name, why);
            }
        } else if (t->conn->open_reader) {
            rn_open_ctx_t ctx = {.pipeline = name, .table = t->name, .options = t->options,
                                 .noptions = t->noptions, .worker = o->worker, .schema = t->schema,
                                 .want_key = rn_source_reads(p->sources[i], RN_FROM_KEY),
                                 .want_headers = rn_source_reads(p->sources[i], RN_FROM_HEADERS)};
            err = t->conn->open_reader(t->conf, &ctx, &r, errbuf, errbuf_size);
        } else {
            snprintf(errbuf, errbuf_size, "connector '%s' cannot be read", t->conn->name);
            err = RN_ERR_CONFIG;
        }
        if (err != RN_OK) return err;
        r->sync_outputs = rn_run_sync_outputs;
        r->sync_opaque = p;
        if (p->resume_notes[i].sinks) {
            r->resumed = pipeline_resumed;
            r->resumed_opaque = &p->resume_notes[i];
        }
        if (test) rn_source_keys_from_value(p->sources[i]);
        err = rn_source_open(p->sources[i], r, p->dlq, errbuf, errbuf_size);
        if (err != RN_OK) return err;
        rn_source_use_wall_clock(p->sources[i], !test);
    }
    for (int i = 0; i < p->nsinks; i++) {
        table_def_t *t = p->sinks[i].table;
        rn_sink_io_t *io = NULL;
        if (p->sinks[i].dash_twin || (!test && t->conn == &rn_connector_dashboard)) {
            /* an in-memory dashboard table, in `runnel test` too for a twin
             * (its table's own sink writes the file) */
            const sink_def_t *sd = &p->sinks[i];
            rn_open_ctx_t ctx = {.pipeline = name, .table = t->name, .schema = sd->op->schema,
                                 .sink_mode = sd->dash_twin ? (sd->npk ? RN_SINK_UPSERT : RN_SINK_APPEND)
                                                            : t->sink_mode,
                                 .npk = sd->dash_twin ? sd->npk : t->npk, .pk = sd->dash_twin ? sd->pk : t->pk};
            rn_dash_table_t *shared = NULL; /* an earlier INSERT's into the same table */
            for (int j = 0; j < i && !shared; j++)
                if (p->sinks[j].table == t && p->sinks[j].dash) shared = p->sinks[j].dash;
            err = rn_dash_sink_open(t->dash, &ctx, shared, &io, &p->sinks[i].dash);
            if (err != RN_OK) snprintf(errbuf, errbuf_size, "dashboard table '%s': out of memory", t->name);
        } else if (test && t->conn->test_sink_file) { /* writes what it would send */
            rn_open_ctx_t ctx = {.pipeline = name, .table = t->name, .options = t->options,
                                 .noptions = t->noptions, .worker = o->worker, .files = p->files,
                                 .test_path = table_file(t, o, true, path, sizeof path)};
            err = t->conn->open_sink(t->conf, &ctx, &io, errbuf, errbuf_size);
        } else if (test) {
            rn_line_format fmt = RN_LINES_VALUE;
            if (t->sink_mode == RN_SINK_UPSERT) fmt = RN_LINES_KEYED;
            else if (t->sink_mode == RN_SINK_CHANGELOG && p->sinks[i].op->input->updating)
                fmt = RN_LINES_CHANGELOG;
            const char *file = table_file(t, o, true, path, sizeof path);
            err = rn_file_sink_open(p->files, file, fmt, &io, errbuf, errbuf_size);
        } else {
            rn_open_ctx_t ctx = {.pipeline = name, .table = t->name, .options = t->options,
                                 .noptions = t->noptions, .worker = o->worker, .files = p->files,
                                 .schema = p->sinks[i].op->schema, .sink_mode = t->sink_mode,
                                 .npk = t->npk, .pk = t->pk, .txn = pipeline_txn(p, t->conn)};
            err = t->conn->open_sink(t->conf, &ctx, &io, errbuf, errbuf_size);
        }
        if (err != RN_OK) return err;
        struct sink_reject *sr = rn_arena_alloc(&p->plan_arena, sizeof *sr);
        if (!sr) {
            io->close(io);
            return RN_ERR_NOMEM;
        }
        *sr = (struct sink_reject){.p = p, .table = t->name};
        snprintf(sr->where, sizeof sr->where, "sink '%s'", t->name);
        io->reject = pipeline_sink_reject;
        io->reject_opaque = sr;
        rn_sink_set_io(p->sinks[i].op, io);
        if (io->commit_once) { /* exactly-once by two-phase commit: named by table (and operator) */
            char key[300];
            bool alone = true;
            for (int j = 0; j < p->nsinks; j++) alone = alone && (j == i || p->sinks[j].table != t);
            if (alone) snprintf(key, sizeof key, "%s", t->name);
            else snprintf(key, sizeof key, "%s#%d", t->name, p->sinks[i].op->id);
            if ((err = rn_sink_set_two_phase(p->sinks[i].op, key, errbuf, errbuf_size)) != RN_OK) return err;
        }
        int64_t max_retries;
        if ((err = rn_sink_max_retries(t->options, t->noptions, &max_retries, errbuf, errbuf_size)) != RN_OK)
            return err;
        rn_sink_set_retry(p->sinks[i].op, max_retries, o->stop);
    }
    for (int i = 0; i < p->nlookups; i++) {
        table_def_t *t = p->lookups[i].table;
        rn_lookup_t *l = NULL;
        int nkeys;
        const int *key_cols;
        rn_lookup_join_table(p->lookups[i].op, &nkeys, &key_cols);
        if (test) { /* the whole table from IN/<test name>.jsonl */
            test_path(t, o->input_dir, path, sizeof path);
            err = rn_file_lookup_open(path, t->schema, key_cols, nkeys, &l, errbuf, errbuf_size);
            if (err != RN_OK) {
                char why[512];
                snprintf(why, sizeof why, "%s", errbuf);
                snprintf(errbuf, errbuf_size, "lookup table '%s': %s", t->name, why);
            }
        } else if (t->conn->open_lookup) {
            rn_open_ctx_t ctx = {.pipeline = name, .table = t->name, .options = t->options,
                                 .noptions = t->noptions, .worker = o->worker, .schema = t->schema};
            err = t->conn->open_lookup(t->conf, &ctx, key_cols, nkeys, &l, errbuf, errbuf_size);
        } else {
            snprintf(errbuf, errbuf_size, "table '%s': connector '%s' cannot be looked up yet", t->name,
                     t->conn->name);
            err = RN_ERR_UNSUPPORTED;
        }
        if (err != RN_OK) return err;
        rn_lookup_join_set_table(p->lookups[i].op, l);
    }
    /* Everything opened: only now are existing output files emptied. */
    return rn_file_outs_start(p->files, errbuf, errbuf_size);
}

/* --max-memory: fails the run when the process holds more than limit
 * bytes, naming the operator with the largest state. rss is 0 when only
 * the counted heap was compared. */
static rn_err_t pipeline_memory_limit(rn_pipeline_t *p, size_t limit, size_t used, char *errbuf,
                                      size_t errbuf_size)
{
    const rn_op_t *big = NULL;
    size_t big_bytes = 0, big_keys = 0;
    for (int i = 0; i < p->nops; i++) {
        const rn_op_t *op = p->ops[i];
        size_t keys = 0, bytes = op->vt->state_size ? op->vt->state_size(op, &keys) : 0;
        if (bytes > big_bytes) {
            big = op;
            big_bytes = bytes;
            big_keys = keys;
        }
    }
    double mib = 1 << 20;
    int n = snprintf(errbuf, errbuf_size, "memory limit reached: the process holds %.1f MiB, over --max-memory %.1f MiB",
                     (double)used / mib, (double)limit / mib);
    if (n < 0 || (size_t)n >= errbuf_size) return RN_ERR_NOMEM;
    if (big) {
        rn_buf_t b;
        rn_buf_init(&b);
        if (big->vt->explain) big->vt->explain(big, &b);
        snprintf(errbuf + n, errbuf_size - (size_t)n,
                 "; the largest state is operator #%d %s (%s) with %.1f MiB for %zu keys. Raise "
                 "--max-memory, or bound the state (SET 'table.exec.state.ttl', smaller windows)",
                 big->id, big->vt->kind, b.data ? b.data : "", (double)big_bytes / mib, big_keys);
        rn_buf_free(&b);
    }
    return RN_ERR_NOMEM;
}

/* `runnel run`: logs each event-time table's watermark and why it is
 * there, when it changed since the last report. */
static void log_watermarks(rn_pipeline_t *p, int64_t *last)
{
    for (int i = 0; i < p->nsources; i++) {
        if (!rn_source_has_watermark(p->sources[i])) continue;
        int64_t wm = rn_source_watermark(p->sources[i]);
        if (wm == last[i]) continue;
        last[i] = wm;
        rn_buf_t b;
        rn_buf_init(&b);
        rn_source_describe_watermark(p->sources[i], &b);
        rn_log_info("table '%s': watermark %s", rn_source_label(p->sources[i]), b.data ? b.data : "");
        rn_buf_free(&b);
    }
}

rn_err_t rn_pipeline_run(rn_pipeline_t *p, const rn_run_opts_t *o, char *errbuf, size_t errbuf_size)
{
    if (errbuf_size) errbuf[0] = '\0'; /* so a silent out-of-memory can be told apart */
    rn_err_t err = pipeline_open(p, o, errbuf, errbuf_size);
    if (err != RN_OK) {
        if (err == RN_ERR_NOMEM && errbuf_size && !errbuf[0]) snprintf(errbuf, errbuf_size, "out of memory");
        return err;
    }
    rn_ckpt_run_t *ck = NULL; /* checkpoints (docs/checkpoints.md), `runnel run` only */
    if (o->mode == RN_MODE_RUN) {
        char name[256];
        rn_pipeline_name(p, name, sizeof name);
        if ((err = rn_ckpt_run_open(p, name, o->worker, o->from_scratch, &ck, errbuf, errbuf_size)) != RN_OK) {
            if (err == RN_ERR_NOMEM && errbuf_size && !errbuf[0]) snprintf(errbuf, errbuf_size, "out of memory");
            return err;
        }
        /* A GroupCombine may send each distinct value once, not once per
         * batch, where the aggregate's state moves with checkpoints
         * (op/group_combine.c). */
        for (int i = 0; i < p->nops; i++)
            if (rn_is_group_combine(p->ops[i])) rn_group_combine_remember(p->ops[i], ck != NULL);
        for (int i = 0; i < p->nsinks && !ck; i++) {
            if (!rn_sink_two_phase(p->sinks[i].op)) continue;
            snprintf(errbuf, errbuf_size,
                     "table '%s': 'sink.delivery-guarantee' = 'exactly-once' commits its rows with checkpoints, "
                     "and this run takes none (they need a Kafka source table and a checkpoint interval)",
                     p->sinks[i].table->name);
            return RN_ERR_CONFIG;
        }
    }
    rn_arena_t arena;
    rn_arena_init(&arena, 1 << 20);
    rn_ctx_t ctx = {.arena = &arena, .errbuf = errbuf, .errbuf_size = errbuf_size};
    /* PROCTIME(), NOW(): fixed in `runnel test` */
    if (o->mode == RN_MODE_TEST) rn_clock_fix(o->now_ms);
    else rn_clock_unfix();
    bool *done = rn_calloc((size_t)(p->nsources ? p->nsources : 1), sizeof(bool));
    int64_t *logged_wm = rn_calloc((size_t)(p->nsources ? p->nsources : 1), sizeof(int64_t));
    if (!done || !logged_wm) {
        rn_free(done);
        rn_free(logged_wm);
        rn_arena_free(&arena);
        rn_ckpt_run_free(ck);
        snprintf(errbuf, errbuf_size, "out of memory");
        return RN_ERR_NOMEM;
    }
    int active = p->nsources;
    /* With checkpoints, positions are committed with each checkpoint only
     * (--commit-interval, when given, sets how often: Kafka Streams'
     * commit.interval.ms). */
    int64_t commit_ms = o->commit_ms > 0 ? o->commit_ms : ck ? rn_ckpt_run_interval(ck) : 1000;
    int64_t next_progress = rn_clock_wall_ms() + o->progress_ms, next_commit = rn_clock_wall_ms() + commit_ms;
    int64_t next_wm_log = rn_clock_wall_ms() + 10000;
    bool commits = o->mode != RN_MODE_TEST; /* replaying files commits nothing on the way */
    bool dirty = false;                     /* records read since the last commit */
    uint64_t ck_sig = 0;                    /* with checkpoints: sink records and watermarks, to see
                                             * a change without input */
    bool busy = false;                      /* the last round read records */
    int64_t next_rss_check = 0;
    while (active > 0 && err == RN_OK && !(o->stop && *o->stop)) {
        /* The memory limit: the counted heap after every round (cheap),
         * the resident size as the kernel sees it every 100 ms. */
        if (o->max_memory && rn_mem_used() > o->max_memory) {
            err = pipeline_memory_limit(p, o->max_memory, rn_mem_used(), errbuf, errbuf_size);
            break;
        }
        if (o->max_memory && rn_clock_wall_ms() >= next_rss_check) {
            size_t rss = rn_mem_rss();
            if (rss > o->max_memory) {
                err = pipeline_memory_limit(p, o->max_memory, rss, errbuf, errbuf_size);
                break;
            }
            next_rss_check = rn_clock_wall_ms() + 100;
        }
        uint64_t before = 0, after = 0;
        for (int i = 0; i < p->nsources; i++) before += rn_source_records(p->sources[i]);
        bool got = false; /* a source of this round read records */
        /* Replaying files, sources with event time are read in step
         * (watermark alignment, as Flink's): only those whose watermark
         * is the lowest read this round, so one input does not run hours
         * of event time ahead of another and fill the joins and windows
         * between them with rows that cannot fire yet. A file always has
         * more to read until its end, so the lowest one moves on. */
        int64_t align = INT64_MAX;
        for (int i = 0; !commits && i < p->nsources; i++)
            if (!done[i] && rn_source_has_watermark(p->sources[i]) && rn_source_watermark(p->sources[i]) < align)
                align = rn_source_watermark(p->sources[i]);
        for (int i = 0; i < p->nsources && err == RN_OK; i++) {
            if (done[i]) continue;
            if (!commits && rn_source_has_watermark(p->sources[i]) && rn_source_watermark(p->sources[i]) > align)
                continue;
            ctx.now_ms = rn_clock_now_ms(); /* pinned to o->now_ms when given */
            bool eof = false;
            /* A reader may wait for records only while no source has any:
             * a busy one (a repartition topic's scan next to its source)
             * must not be starved by another's wait. */
            rn_reader_t *reader = rn_source_reader(p->sources[i]);
            if (reader) reader->wait_ms = busy || got ? 0 : RN_IDLE_WAIT_MS;
            uint64_t had = rn_source_records(p->sources[i]);
            err = rn_source_poll(p->sources[i], &ctx, &eof);
            got |= rn_source_records(p->sources[i]) != had;
            rn_arena_reset(&arena);
            if (eof) { /* what only this source fed can finish now (a remote Exchange ends its tasks) */
                done[i] = true;
                active--;
                if (err == RN_OK) err = rn_op_finish(p->sources[i], &ctx);
                rn_arena_reset(&arena);
            }
        }
        for (int i = 0; i < p->nsources; i++) after += rn_source_records(p->sources[i]);
        dirty |= after != before;
        /* With checkpoints, state also changes without input: windows
         * fired by idle or quiet partitions (the wall clock) write to
         * sinks, and under exactly-once what they wrote stays invisible
         * until a checkpoint commits it. And partitions assigned here
         * restored their state from a file another process (or an
         * earlier run) wrote, which their commits name until a
         * checkpoint of this process names its own: that process prunes
         * its files, and a quiet partition would point at a deleted one. */
        if (ck && !dirty) {
            uint64_t sig = 0;
            for (int i = 0; i < p->nsinks; i++) sig += rn_sink_records(p->sinks[i].op);
            for (int i = 0; i < p->nsources; i++) {
                if (rn_source_has_watermark(p->sources[i])) sig = sig * 31 + (uint64_t)rn_source_watermark(p->sources[i]);
                const rn_reader_t *r = rn_source_reader(p->sources[i]);
                if (r) sig = sig * 31 + r->assignment_version + (r->under ? r->under->assignment_version : 0);
            }
            dirty = sig != ck_sig;
            ck_sig = sig;
        }
        busy = got;
        /* Commit on the interval, or as soon as the input goes quiet (with
         * checkpoints: on the interval only, each with a checkpoint). */
        if (err == RN_OK && commits && dirty && ((!ck && after == before) || rn_clock_wall_ms() >= next_commit)) {
            err = pipeline_commit(p, ck, false, errbuf, errbuf_size);
            dirty = false;
            next_commit = rn_clock_wall_ms() + commit_ms;
        }
        if (commits && rn_clock_wall_ms() >= next_wm_log) {
            log_watermarks(p, logged_wm);
            next_wm_log = rn_clock_wall_ms() + 10000;
        }
        if (o->progress && rn_clock_wall_ms() >= next_progress) {
            o->progress(p, false, o->progress_opaque);
            next_progress = rn_clock_wall_ms() + o->progress_ms;
        }
    }
    /* End of input (or stop): flush what operators hold, then deliver and
     * commit everything. A stop with checkpoints flushes nothing: the
     * final checkpoint keeps what operators hold for the next run (open
     * windows are not emitted half-filled). */
    bool stopped = o->stop && *o->stop;
    for (int i = 0; i < p->nsources && err == RN_OK; i++) {
        if (ck && stopped && !done[i]) continue;
        err = rn_op_finish(p->sources[i], &ctx);
        rn_arena_reset(&arena);
    }
    if (err == RN_OK) err = pipeline_commit(p, ck, true, errbuf, errbuf_size);
    rn_ckpt_run_free(ck);
    if (err == RN_ERR_NOMEM && errbuf_size && !errbuf[0]) snprintf(errbuf, errbuf_size, "out of memory");
    if (o->progress) o->progress(p, true, o->progress_opaque);
    rn_free(done);
    rn_free(logged_wm);
    rn_arena_free(&arena);
    return err;
}
