/*
 * op.c - operator plumbing shared by all operators: edges with ports,
 * batch and watermark delivery, finish-once; see op.h.
 */
#include "op/op.h"
#include "core/assert.h"
#include "core/mem.h"

#include <string.h>

/* Makes sure op has at least n ports. Returns false on OOM. */
static bool op_grow_inputs(rn_op_t *op, int n)
{
    if (n <= op->ninputs) return true;
    rn_op_input_t *in = rn_realloc(op->inputs, sizeof *in * (size_t)n);
    if (!in) return false;
    for (int i = op->ninputs; i < n; i++) in[i] = (rn_op_input_t){.op = NULL, .wm = RN_WM_MIN};
    op->inputs = in;
    op->ninputs = n;
    return true;
}

rn_op_t *rn_op_new(const rn_op_vtable_t *vt, rn_schema_t *schema, rn_op_t *input)
{
    rn_op_t *op = rn_calloc(1, sizeof *op);
    if (!op) return NULL;
    op->vt = vt;
    op->watermark = RN_WM_MIN;
    if (input) {
        if (!op_grow_inputs(op, 1)) {
            rn_free(op);
            return NULL;
        }
        op->inputs[0].op = input;
        op->input = input;
    }
    op->schema = rn_schema_ref(schema);
    return op;
}

rn_err_t rn_op_connect(rn_op_t *op, rn_op_t *downstream, int port)
{
    if (port < 0) return RN_ERR_UNSUPPORTED;
    if (port < downstream->ninputs && downstream->inputs[port].op &&
        downstream->inputs[port].op != op)
        return RN_ERR_UNSUPPORTED;
    rn_op_output_t *o = rn_realloc(op->outputs, sizeof *o * (size_t)(op->noutputs + 1));
    if (!o) return RN_ERR_NOMEM;
    op->outputs = o;
    if (!op_grow_inputs(downstream, port + 1)) return RN_ERR_NOMEM;
    o[op->noutputs++] = (rn_op_output_t){.op = downstream, .port = port};
    downstream->inputs[port].op = op;
    if (port == 0) downstream->input = op;
    return RN_OK;
}

rn_err_t rn_op_move_outputs(rn_op_t *from, rn_op_t *to)
{
    if (to->noutputs) return RN_ERR_UNSUPPORTED;
    for (int i = 0; i < from->noutputs; i++) {
        rn_op_t *d = from->outputs[i].op;
        int port = from->outputs[i].port;
        d->inputs[port].op = to;
        if (port == 0) d->input = to;
    }
    to->outputs = from->outputs;
    to->noutputs = from->noutputs;
    from->outputs = NULL;
    from->noutputs = 0;
    return RN_OK;
}

rn_err_t rn_op_replace(rn_op_t *dup, rn_op_t *keep)
{
    if (dup->noutputs) {
        rn_op_output_t *o = rn_realloc(keep->outputs, sizeof *o * (size_t)(keep->noutputs + dup->noutputs));
        if (!o) return RN_ERR_NOMEM;
        keep->outputs = o;
    }
    for (int i = 0; i < dup->noutputs; i++) {
        rn_op_t *d = dup->outputs[i].op;
        int port = dup->outputs[i].port;
        d->inputs[port].op = keep;
        if (port == 0) d->input = keep;
        keep->outputs[keep->noutputs++] = dup->outputs[i];
    }
    dup->noutputs = 0;
    for (int i = 0; i < dup->ninputs; i++) {
        rn_op_t *u = dup->inputs[i].op;
        if (!u) continue;
        int w = 0;
        for (int j = 0; j < u->noutputs; j++)
            if (u->outputs[j].op != dup || u->outputs[j].port != i) u->outputs[w++] = u->outputs[j];
        u->noutputs = w;
        dup->inputs[i].op = NULL;
    }
    dup->input = NULL;
    return RN_OK;
}

rn_err_t rn_op_emit(rn_op_t *op, const rn_batch_t *batch, rn_ctx_t *ctx)
{
    RN_ASSERT(rn_batch_valid(batch));
    if (batch->nrows == 0) return RN_OK;
    op->rows_out += (uint64_t)batch->nrows;
    for (int i = 0; i < op->noutputs; i++) {
        rn_op_t *d = op->outputs[i].op;
        d->rows_in += (uint64_t)batch->nrows;
        rn_err_t err = d->vt->process(d, op->outputs[i].port, batch, ctx);
        if (err != RN_OK) return err;
    }
    return RN_OK;
}

rn_err_t rn_op_out_flush(rn_op_out_t *o)
{
    rn_batch_t *b = o->b;
    o->b = NULL;
    return b ? rn_op_emit(o->op, b, o->ctx) : RN_OK;
}

rn_err_t rn_op_out_row(rn_op_out_t *o, int *r)
{
    if (o->b && o->b->nrows == o->b->cap) {
        rn_err_t err = rn_op_out_flush(o);
        if (err != RN_OK) return err;
    }
    if (!o->b) {
        int cap = o->next_cap ? o->next_cap : 16;
        rn_batch_t *b = rn_batch_new(o->ctx->arena, o->op->schema, cap);
        if (!b) return RN_ERR_NOMEM;
        if (o->rowwm && !(b->rowwm = rn_arena_alloc(o->ctx->arena, sizeof(int64_t) * (size_t)cap)))
            return RN_ERR_NOMEM;
        o->b = b;
        o->next_cap = cap * 2 > RN_BATCH_MAX ? RN_BATCH_MAX : cap * 2;
    }
    *r = o->b->nrows++;
    return RN_OK;
}

/* Whether every connected input of op has delivered a watermark or finished. */
static bool op_inputs_have_wm(const rn_op_t *op)
{
    for (int i = 0; i < op->ninputs; i++)
        if (op->inputs[i].op && !op->inputs[i].has_wm) return false;
    return true;
}

int64_t rn_op_input_watermark(const rn_op_t *op)
{
    int64_t wm = RN_WM_MAX;
    bool any = false;
    for (int i = 0; i < op->ninputs; i++) {
        const rn_op_input_t *in = &op->inputs[i];
        if (!in->op) continue;
        any = true;
        int64_t w = in->has_wm ? in->wm : RN_WM_MIN;
        if (w < wm) wm = w;
    }
    return any ? wm : RN_WM_MIN;
}

/* Gives d the minimum watermark over its inputs: through its callback,
 * or recorded and forwarded when it has none. */
static rn_err_t op_deliver_watermark(rn_op_t *d, rn_ctx_t *ctx)
{
    int64_t dwm = rn_op_input_watermark(d);
    if (d->vt->watermark) return d->vt->watermark(d, dwm, ctx);
    d->watermark = dwm;
    return rn_op_watermark(d, dwm, ctx);
}

rn_err_t rn_op_watermark(rn_op_t *op, int64_t wm, rn_ctx_t *ctx)
{
    for (int i = 0; i < op->noutputs; i++) {
        rn_op_t *d = op->outputs[i].op;
        rn_op_input_t *in = &d->inputs[op->outputs[i].port];
        RN_ASSERT(!in->has_wm || wm >= in->wm); /* watermarks only move forward */
        in->wm = wm;
        in->has_wm = true;
        if (!op_inputs_have_wm(d)) continue; /* another input holds it back */
        rn_err_t err = op_deliver_watermark(d, ctx);
        if (err != RN_OK) return err;
    }
    return RN_OK;
}

int64_t rn_op_held_since(const rn_op_t *op)
{
    int64_t held = op->vt->held_since ? op->vt->held_since(op) : INT64_MAX;
    for (int i = 0; i < op->noutputs; i++) {
        int64_t h = rn_op_held_since(op->outputs[i].op);
        if (h < held) held = h;
    }
    return held;
}

/* Operators already visited by one walk of the graph: a linear list (a
 * pipeline has tens of operators), on the stack until it outgrows it. */
typedef struct op_seen {
    const rn_op_t **v;          /* visited operators: local, or owned once grown */
    int n;
    int cap;
    const rn_op_t *local[32];   /* first room */
} op_seen_t;

/* Marks op as visited. Returns 1 if it was new, 0 if seen before, -1 on
 * OOM. */
static int op_seen_add(op_seen_t *s, const rn_op_t *op)
{
    for (int i = 0; i < s->n; i++)
        if (s->v[i] == op) return 0;
    if (s->n == s->cap) {
        int cap = s->cap * 2;
        const rn_op_t **v = s->v == s->local ? rn_malloc(sizeof *v * (size_t)cap)
                                             : rn_realloc(s->v, sizeof *v * (size_t)cap);
        if (!v) return -1;
        if (s->v == s->local) memcpy(v, s->local, sizeof s->local);
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = op;
    return 1;
}

/* Forgets the revoked partitions in everything downstream of op not seen
 * yet, depth first. */
static rn_err_t op_forget_below(rn_op_t *op, int32_t nparts, const uint8_t *revoked, op_seen_t *seen)
{
    for (int i = 0; i < op->noutputs; i++) {
        rn_op_t *d = op->outputs[i].op;
        int fresh = op_seen_add(seen, d);
        if (fresh < 0) return RN_ERR_NOMEM;
        if (!fresh) continue;
        if (d->vt->forget_partitions) {
            rn_err_t err = d->vt->forget_partitions(d, nparts, revoked);
            if (err != RN_OK) return err;
        }
        rn_err_t err = op_forget_below(d, nparts, revoked, seen);
        if (err != RN_OK) return err;
    }
    return RN_OK;
}

rn_err_t rn_op_forget_partitions(rn_op_t *op, int32_t nparts, const uint8_t *revoked)
{
    op_seen_t seen = {.cap = (int)(sizeof seen.local / sizeof seen.local[0])};
    seen.v = seen.local;
    rn_err_t err = op_forget_below(op, nparts, revoked, &seen);
    if (seen.v != seen.local) rn_free(seen.v);
    return err;
}

/* Connected inputs of op. */
static int op_connected_inputs(const rn_op_t *op)
{
    int n = 0;
    for (int i = 0; i < op->ninputs; i++) n += op->inputs[i].op != NULL;
    return n;
}

rn_err_t rn_op_finish(rn_op_t *op, rn_ctx_t *ctx)
{
    if (op->finished) return RN_OK;
    op->finished = true;
    if (op->vt->finish) {
        rn_err_t err = op->vt->finish(op, ctx);
        if (err != RN_OK) return err;
    }
    for (int i = 0; i < op->noutputs; i++) {
        rn_op_t *d = op->outputs[i].op;
        rn_op_input_t *in = &d->inputs[op->outputs[i].port];
        if (in->finished) continue;
        in->finished = true;
        in->has_wm = true;
        in->wm = RN_WM_MAX; /* an ended input no longer holds the watermark back */
        rn_err_t err;
        if (++d->nfinished < op_connected_inputs(d)) {
            /* d stays open: the inputs left may now allow a later watermark */
            if (op_inputs_have_wm(d) && rn_op_input_watermark(d) > d->watermark &&
                (err = op_deliver_watermark(d, ctx)) != RN_OK)
                return err;
            continue;
        }
        err = rn_op_finish(d, ctx);
        if (err != RN_OK) return err;
    }
    return RN_OK;
}

#define OP_EXPLAIN_MAX_DEPTH 256

/* Appends op's line and then, one level deeper, the subtree of each of its
 * inputs in port order. more[i] says whether the ancestor at depth i + 1
 * has later siblings (its column then shows "│"); the last (or only) input
 * is drawn "└─ ", the others "├─ ", so a one-input chain prints as a plain
 * "└─ " staircase. */
static void op_explain(const rn_op_t *op, int depth, bool *more, rn_buf_t *out)
{
    for (int i = 0; i < depth; i++) {
        if (i == depth - 1) rn_buf_appends(out, more[i] ? "├─ " : "└─ ");
        else rn_buf_appends(out, more[i] ? "│  " : "   ");
    }
    rn_buf_appendf(out, "%s", op->vt->kind);
    if (op->vt->explain) {
        rn_buf_appends(out, ": ");
        op->vt->explain(op, out);
    }
    if (op->updating) rn_buf_appends(out, "  [changelog]");
    rn_buf_appendc(out, '\n');
    if (depth >= OP_EXPLAIN_MAX_DEPTH) return;
    int last = -1;
    for (int i = 0; i < op->ninputs; i++)
        if (op->inputs[i].op) last = i;
    for (int i = 0; i <= last; i++) {
        if (!op->inputs[i].op) continue;
        more[depth] = i != last;
        op_explain(op->inputs[i].op, depth + 1, more, out);
    }
}

void rn_op_explain(const rn_op_t *op, rn_buf_t *out)
{
    bool more[OP_EXPLAIN_MAX_DEPTH + 1] = {false};
    op_explain(op, 0, more, out);
}

void rn_op_free(rn_op_t *op)
{
    if (!op) return;
    if (op->vt->destroy) op->vt->destroy(op);
    rn_schema_unref(op->schema);
    rn_free(op->inputs);
    rn_free(op->outputs);
    rn_free(op);
}

rn_err_t rn_op_route_rows(rn_op_t *to, const rn_batch_t *in, const int *idx, int n, rn_ctx_t *ctx)
{
    rn_batch_t *b = rn_batch_new(ctx->arena, in->schema, n);
    if (!b) return RN_ERR_NOMEM;
    if (in->rowtime) {
        b->rowtime = rn_arena_alloc(ctx->arena, sizeof(int64_t) * (size_t)n);
        if (!b->rowtime) return RN_ERR_NOMEM;
    }
    for (int i = 0; i < n; i++) {
        int r = idx[i];
        for (int c = 0; c < in->schema->ncols; c++) b->cols[c][i] = rn_batch_value(in, c, r);
        b->kinds[i] = in->kinds[r];
        if (in->rowtime) b->rowtime[i] = in->rowtime[r];
    }
    b->nrows = n;
    to->rows_in += (uint64_t)n;
    return to->vt->process(to, 0, b, ctx);
}
