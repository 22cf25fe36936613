/*
 * reuse.c - sub-plan reuse: what a pipeline computes twice, it computes
 * once.
 *
 * A query may spell one computation twice: Nexmark q5 counts the bids of
 * each auction and window on both sides of its join, and a view used
 * twice is inlined twice. Flink's planner builds such a sub-plan once
 * ('table.optimizer.reuse-sub-plan-enabled', on by default); so does
 * runnel. After analysis, two operators of the same kind over the same
 * inputs that describe themselves alike become one, whose output feeds the
 * consumers of both (rn_op_replace); the merged-away operator is kept,
 * unconnected, until the pipeline is freed, as its consumers may keep
 * pointers to its schema. Operators are visited in creation
 * order, in which every input comes before its consumers, so whole chains
 * merge: the Calc over a shared source scan, then the Exchange over that
 * Calc, then the aggregate over that Exchange. Half the rows then cross a
 * repartition topic, and one state holds what two held.
 *
 * Which operators: those whose behaviour is their explain line, their
 * output schema and their inputs - Calc, Exchange (with its rowtime
 * column, which explain does not show), GroupAggregate, WindowCombine,
 * GroupCombine, and a WindowAggregate without a late-rows table (each copy
 * would write the late rows once). An Exchange in front of a join stays
 * its own: the runtime reads a join's two repartition topics in one
 * consumer group. Explain lines name columns, so nothing is merged over
 * an input with two columns of one name (a join's output), where a name
 * does not say which column. Source scans are shared when they are built;
 * sinks, joins and every other kind are never merged.
 */
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "op/exchange.h"
#include "plan/analyze_int.h"

/* True if no two columns of s share a name. */
static bool names_unique(const rn_schema_t *s)
{
    for (int i = 0; i < s->ncols; i++)
        for (int j = i + 1; j < s->ncols; j++)
            if (!strcmp(s->cols[i].name, s->cols[j].name)) return false;
    return true;
}

static bool mergeable_kind(const rn_op_t *op)
{
    const char *k = op->vt->kind;
    if (rn_is_calc(op) || rn_is_exchange(op) || !strcmp(k, "GroupAggregate") || !strcmp(k, "WindowCombine") ||
        !strcmp(k, "GroupCombine"))
        return true;
    return !strcmp(k, "WindowAggregate") && !rn_window_has_late_output(op);
}

/* True if port `port` of op is fed by an edge of its upstream. A late-rows
 * port (select.c, an_late_output) names an upstream it is not connected
 * to: the window operator hands it rows. */
static bool fed(const rn_op_t *op, int port)
{
    const rn_op_t *u = op->inputs[port].op;
    for (int j = 0; u && j < u->noutputs; j++)
        if (u->outputs[j].op == op && u->outputs[j].port == port) return true;
    return false;
}

/* Whether op may be merged with a twin: a kind above, every input port
 * fed, each input's column names unique. */
static bool mergeable(const rn_op_t *op)
{
    if (op->ninputs < 1 || !mergeable_kind(op)) return false;
    for (int i = 0; i < op->ninputs; i++)
        if (!fed(op, i) || !names_unique(op->inputs[i].op->schema)) return false;
    return true;
}

static void append_type(rn_buf_t *b, const rn_type_t *t)
{
    rn_buf_appends(b, rn_type_name(t->id));
    if (t->id != RN_TYPE_ROW) return;
    rn_buf_appendc(b, '<');
    for (int i = 0; i < t->nfields; i++) {
        rn_buf_appendf(b, "%s%s ", i ? ", " : "", t->fields[i].name);
        append_type(b, t->fields[i].type);
    }
    rn_buf_appendc(b, '>');
}

/* What op computes from its inputs, as text: kind, explain line, output
 * columns and their types, whether it updates. */
static void signature(const rn_op_t *op, rn_buf_t *b)
{
    rn_buf_appendf(b, "%s\n", op->vt->kind);
    if (op->vt->explain) op->vt->explain(op, b);
    if (rn_is_exchange(op)) rn_buf_appendf(b, "\nrowtime %d", rn_exchange_rowtime_col(op));
    rn_buf_appendf(b, "\n%s\n", op->updating ? "updating" : "insert-only");
    for (int i = 0; i < op->schema->ncols; i++) {
        rn_buf_appendf(b, "%s ", op->schema->cols[i].name);
        append_type(b, op->schema->cols[i].type);
        rn_buf_appendc(b, '\n');
    }
}

/* True if every consumer of op has one input. In `runnel run` the two
 * Exchanges in front of a join are read back in one consumer group
 * (runtime/run.c), which an Exchange shared with another consumer would
 * not be. */
static bool feeds_single_inputs(const rn_op_t *op)
{
    for (int j = 0; j < op->noutputs; j++)
        if (op->outputs[j].op->ninputs != 1) return false;
    return true;
}

/* True if a and b have the same upstream on every port. */
static bool same_inputs(const rn_op_t *a, const rn_op_t *b)
{
    if (a->ninputs != b->ninputs) return false;
    for (int i = 0; i < a->ninputs; i++)
        if (a->inputs[i].op != b->inputs[i].op) return false;
    return true;
}

bool an_reuse_subplans(analyzer_t *an)
{
    rn_pipeline_t *p = an->p;
    int n = p->nops;
    rn_buf_t *sig = rn_calloc((size_t)(n ? n : 1), sizeof *sig);
    if (!sig) {
        an_oom(an);
        return false;
    }
    bool ok = true;
    rn_op_t **retired = rn_realloc(p->retired, sizeof *retired * (size_t)(p->nretired + n + 1));
    if (!retired) {
        rn_free(sig);
        an_oom(an);
        return false;
    }
    p->retired = retired;
    for (int i = 0; i < n && ok; i++) {
        rn_op_t *op = p->ops[i];
        if (!op || !mergeable(op)) continue;
        signature(op, &sig[i]);
        if (sig[i].oom) {
            ok = false;
            break;
        }
        for (int j = 0; j < i; j++) {
            rn_op_t *twin = p->ops[j];
            if (!twin || !sig[j].len || !same_inputs(op, twin) || sig[j].len != sig[i].len ||
                memcmp(sig[j].data, sig[i].data, sig[i].len) != 0)
                continue;
            if (rn_is_exchange(op) && (!feeds_single_inputs(op) || !feeds_single_inputs(twin))) continue;
            if (rn_op_replace(op, twin) != RN_OK) {
                ok = false;
                break;
            }
            /* an operator that names op without an edge (a late-rows
             * port) names its twin now */
            for (int k = 0; k < n; k++) {
                rn_op_t *o = p->ops[k];
                for (int port = 0; o && port < o->ninputs; port++)
                    if (o->inputs[port].op == op) o->inputs[port].op = twin;
                if (o && o->input == op) o->input = twin;
            }
            p->retired[p->nretired++] = op; /* freed with the pipeline */
            p->ops[i] = NULL;
            break;
        }
    }
    for (int i = 0; i < n; i++) rn_buf_free(&sig[i]);
    rn_free(sig);
    if (!ok) {
        an_oom(an);
        return false;
    }
    /* Close the gaps; an operator's id is its position (an_track). */
    int w = 0;
    for (int i = 0; i < n; i++)
        if (p->ops[i]) {
            p->ops[w] = p->ops[i];
            p->ops[w]->id = w + 1;
            w++;
        }
    p->nops = w;
    return true;
}
