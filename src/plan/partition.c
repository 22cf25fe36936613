/*
 * partition.c - how each stream is partitioned, and the Exchanges that
 * keyed state needs (docs/scale-out.md).
 *
 * Several processes (or workers) of one pipeline each read a share of the
 * source partitions. A keyed stateful operator (GROUP BY, window
 * aggregate, Rank, ChangelogNormalize) is only right when all rows of one
 * key reach the same place; and its state can only follow its partitions
 * (checkpoints, docs/checkpoints.md; forgetting revoked partitions) when
 * the partition a row arrived in is rn_key_partition of the operator's own
 * key bytes, which holds after an Exchange on exactly that key. What the
 * planner knows:
 *   - a table whose connector cannot be shared by several processes
 *     (files, stdin, a generator) is read by one process: "single";
 *   - a shared (Kafka) table is partitioned as its producers chose, which
 *     the engine cannot tell from a row's key bytes: nothing is assumed,
 *     even for a table with a record key (see trust_record_key);
 *   - an Exchange establishes its keys;
 *   - a Calc keeps the partitioning when it passes every partitioning
 *     column through unchanged; so does a ChangelogNormalize (its rows are
 *     its input's columns), and so does a lookup join (its input's columns
 *     come first, unchanged, and it needs no Exchange: it keeps no state
 *     per key);
 *   - anything else (an aggregate's output) is not assumed to be
 *     partitioned, so a GROUP BY over a GROUP BY exchanges again.
 * An operator's input needs no Exchange when it is "single", or when it is
 * partitioned by exactly the operator's key columns in the operator's
 * order (then both hash the same key bytes); otherwise the planner puts an
 * Exchange in front of it, and the runtime decides how it moves rows.
 */
#include <string.h>

#include "core/assert.h"
#include "op/exchange.h"
#include "op/lookup_join.h"
#include "op/normalize.h"
#include "plan/analyze_int.h"

#define PART_UNKNOWN (-1)       /* nothing known */
#define PART_SINGLE (-2)        /* all rows in one place */

/* Whether a Kafka table with a record key ('key.fields', or the PRIMARY
 * KEY of 'upsert-kafka') counts as partitioned by those columns, as its
 * producers partition by key (Java's murmur2 of the serialized key). Not
 * while keyed state is split by rn_key_partition of the operator's key
 * bytes (checkpoints, forget_partitions): that is the partition a row came
 * from only after an Exchange. The code stays for when rows carry the
 * partition they were read from and state is split by it. */
static const bool trust_record_key = false;

/* The partitioning of op's output: PART_SINGLE, PART_UNKNOWN, or the
 * number of columns (written to cols, at most max) rows are partitioned
 * by, in the order of their key bytes. */
static int partitioning(analyzer_t *an, const rn_op_t *op, int *cols, int max)
{
    if (!op) return PART_UNKNOWN;
    if (!op->ninputs) { /* a source scan */
        for (int i = 0; i < an->p->ntables; i++) {
            const table_def_t *t = &an->p->tables[i];
            if (t->source != op) continue;
            if (!t->conn->shared) return PART_SINGLE;
            if (!trust_record_key) return PART_UNKNOWN;
            bool upsert = t->sink_mode == RN_SINK_UPSERT;
            int n = upsert ? t->npk : t->nkey;
            const int *key = upsert ? t->pk : t->key;
            if (n <= 0 || n > max) return PART_UNKNOWN;
            memcpy(cols, key, sizeof(int) * (size_t)n);
            return n;
        }
        return PART_UNKNOWN;
    }
    if (rn_is_exchange(op)) {
        int n = rn_exchange_nkeys(op);
        if (n == 0) return PART_SINGLE;
        if (n > max) return PART_UNKNOWN;
        memcpy(cols, rn_exchange_keys(op), sizeof(int) * (size_t)n);
        return n;
    }
    /* a lookup join's output starts with its input's columns, unchanged */
    if (rn_is_normalize(op) || rn_is_lookup_join(op)) return partitioning(an, op->input, cols, max);
    if (rn_is_calc(op)) {
        int in[RN_MAX_GROUP];
        int n = partitioning(an, op->input, in, RN_MAX_GROUP);
        if (n < 0) return n;
        if (n > max) return PART_UNKNOWN;
        for (int k = 0; k < n; k++) {
            int found = -1;
            for (int c = 0; c < op->schema->ncols && found < 0; c++)
                if (rn_calc_passthrough(op, c) == in[k]) found = c;
            if (found < 0) return PART_UNKNOWN;
            cols[k] = found;
        }
        return n;
    }
    return PART_UNKNOWN;
}

/* Whether an_exchange_on would put an Exchange after input. */
static bool exchange_needed(analyzer_t *an, rn_op_t *input, int nkeys, const int *keys)
{
    int cols[RN_MAX_GROUP];
    int n = partitioning(an, input, cols, RN_MAX_GROUP);
    if (n == PART_SINGLE) return false;
    /* Partitioned by a subset of the key would keep each key's rows
     * together, but the operator could not tell a key's partition from its
     * key bytes: only the same columns in the same order will do. */
    bool same = n > 0 && n == nkeys;
    for (int k = 0; same && k < n; k++) same = cols[k] == keys[k];
    return !same;
}

rn_op_t *an_exchange_on(analyzer_t *an, rn_op_t *input, int nkeys, const int *keys, int rowtime_col)
{
    if (!exchange_needed(an, input, nkeys, keys)) return input;
    rn_op_t *x = an_track(an, rn_exchange_new(input, nkeys, keys, rowtime_col));
    if (!x || !an_connect(an, input, x)) return NULL;
    return x;
}

/* keys[0..nkeys) = 0..nkeys-1: an operator's key in its first columns. */
static void leading_keys(int nkeys, int keys[RN_MAX_GROUP])
{
    RN_ASSERT(nkeys <= RN_MAX_GROUP); /* the analyzer refuses longer keys */
    for (int k = 0; k < nkeys; k++) keys[k] = k;
}

rn_op_t *an_exchange_for(analyzer_t *an, rn_op_t *input, int nkeys, int rowtime_col)
{
    int keys[RN_MAX_GROUP];
    leading_keys(nkeys, keys);
    return an_exchange_on(an, input, nkeys, keys, rowtime_col);
}

bool an_exchange_needed_for(analyzer_t *an, rn_op_t *input, int nkeys)
{
    int keys[RN_MAX_GROUP];
    leading_keys(nkeys, keys);
    return exchange_needed(an, input, nkeys, keys);
}

bool an_exchange_join(analyzer_t *an, rn_op_t **left, const int *lkeys, int ltime, rn_op_t **right,
                      const int *rkeys, int rtime, int n)
{
    int cols[RN_MAX_GROUP];
    if (partitioning(an, *left, cols, RN_MAX_GROUP) == PART_SINGLE &&
        partitioning(an, *right, cols, RN_MAX_GROUP) == PART_SINGLE)
        return true;
    /* Both inputs move, even when both are Kafka tables keyed alike: each
     * table is read in its own consumer group, so nothing would give
     * partition p of both to one process. Their repartition topics are
     * read in one group that does (runtime/run.c). */
    rn_op_t *x = an_track(an, rn_exchange_new(*left, n, lkeys, ltime));
    if (!x || !an_connect(an, *left, x)) return false;
    rn_op_t *y = an_track(an, rn_exchange_new(*right, n, rkeys, rtime));
    if (!y || !an_connect(an, *right, y)) return false;
    *left = x;
    *right = y;
    return true;
}
