/*
 * op.c - operator plumbing shared by all operators; see op.h.
 */
#include "op/op.h"
#include "core/mem.h"

rn_op_t *rn_op_new(const rn_op_vtable_t *vt, rn_schema_t *schema, rn_op_t *input)
{
    rn_op_t *op = rn_calloc(1, sizeof *op);
    if (!op) return NULL;
    op->vt = vt;
    op->schema = rn_schema_ref(schema);
    op->input = input;
    op->watermark = RN_WM_MIN;
    return op;
}

rn_err_t rn_op_connect(rn_op_t *op, rn_op_t *downstream)
{
    rn_op_t **o = rn_realloc(op->outputs, sizeof *o * (size_t)(op->noutputs + 1));
    if (!o) return RN_ERR_NOMEM;
    o[op->noutputs++] = downstream;
    op->outputs = o;
    return RN_OK;
}

rn_err_t rn_op_emit(rn_op_t *op, const rn_batch_t *batch, rn_ctx_t *ctx)
{
    if (batch->nrows == 0) return RN_OK;
    op->rows_out += (uint64_t)batch->nrows;
    for (int i = 0; i < op->noutputs; i++) {
        rn_op_t *d = op->outputs[i];
        d->rows_in += (uint64_t)batch->nrows;
        rn_err_t err = d->vt->process(d, 0, batch, ctx);
        if (err != RN_OK) return err;
    }
    return RN_OK;
}

rn_err_t rn_op_watermark(rn_op_t *op, int64_t wm, rn_ctx_t *ctx)
{
    for (int i = 0; i < op->noutputs; i++) {
        rn_op_t *d = op->outputs[i];
        rn_err_t err;
        if (d->vt->watermark) {
            err = d->vt->watermark(d, wm, ctx);
        } else {
            d->watermark = wm;
            err = rn_op_watermark(d, wm, ctx);
        }
        if (err != RN_OK) return err;
    }
    return RN_OK;
}

int64_t rn_op_held_since(const rn_op_t *op)
{
    int64_t held = op->vt->held_since ? op->vt->held_since(op) : INT64_MAX;
    for (int i = 0; i < op->noutputs; i++) {
        int64_t h = rn_op_held_since(op->outputs[i]);
        if (h < held) held = h;
    }
    return held;
}

rn_err_t rn_op_finish(rn_op_t *op, rn_ctx_t *ctx)
{
    if (op->vt->finish) {
        rn_err_t err = op->vt->finish(op, ctx);
        if (err != RN_OK) return err;
    }
    for (int i = 0; i < op->noutputs; i++) {
        rn_err_t err = rn_op_finish(op->outputs[i], ctx);
        if (err != RN_OK) return err;
    }
    return RN_OK;
}

void rn_op_free(rn_op_t *op)
{
    if (!op) return;
    if (op->vt->destroy) op->vt->destroy(op);
    rn_schema_unref(op->schema);
    rn_free(op->outputs);
    rn_free(op);
}
