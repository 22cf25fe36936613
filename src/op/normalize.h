/*
 * normalize.h - ChangelogNormalize: the operator that turns the upserts
 * and deletes of an upsert table (an 'upsert-kafka' source) into a proper
 * changelog, as Flink's ChangelogNormalize does.
 *
 * An upsert source says "key K now holds row R" (+I rows) and "key K is
 * gone" (-D rows whose non-key columns are NULL: tombstones). Downstream
 * operators need retractions that name the row being replaced, so this
 * operator keeps, per primary key, the last row it emitted, and emits:
 *   - +I R           for the first row of a key (or the first after a delete),
 *   - -U old, +U R   for a later row that differs from the key's current row,
 *   - nothing        for a row equal to the current row (all columns),
 *   - -D old         for a delete of a known key (the stored row, not the
 *                    tombstone's NULLs), nothing for an unknown key.
 * Input +U rows count as upserts, input -U rows are ignored (the +U that
 * follows carries the new row). Its output is therefore `updating`.
 *
 * It is keyed by the primary key: a key's bytes are its key columns, in
 * primary-key order, serialized with rn_key_append, and its partition for
 * forget_partitions is rn_key_partition of those bytes. The analyzer puts
 * it after the scan of an upsert table; for a table several processes
 * share (Kafka) behind an Exchange on the primary key, in primary-key
 * order, which sends each row to the partition rn_key_partition gives for
 * those same bytes (plan/partition.c).
 */
#ifndef RN_NORMALIZE_H
#define RN_NORMALIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "op/op.h"

/* A ChangelogNormalize over input, keyed by its npk (>= 1) columns pk
 * (copied); the output schema is the input's. Returns NULL with a message
 * in errbuf on OOM or a bad key. */
rn_op_t *rn_normalize_new(rn_op_t *input, int npk, const int *pk, char *errbuf, size_t errbuf_size);
/* Whether op is a ChangelogNormalize. */
bool rn_is_normalize(const rn_op_t *op);
/* State TTL ('table.exec.state.ttl'): a key neither read nor written for
 * ttl_ms of processing time (ctx->now_ms) is dropped without a retraction;
 * a later row for it is a new key (+I), a later delete of it emits
 * nothing. Call before the first batch; returns false otherwise. */
bool rn_normalize_set_ttl(rn_op_t *op, int64_t ttl_ms);
/* Keys held (with a TTL, expired keys not dropped yet included). */
size_t rn_normalize_keys(const rn_op_t *op);

#endif
