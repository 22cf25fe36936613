/*
 * io.h - the interfaces between operators and the outside world, which
 * connectors implement: a reader of raw records (sources), a writer of
 * rows (sinks: JSON records or typed rows), and a lookup of rows by key
 * (lookup joins). They sit in the operator layer so that an operator is
 * written against them and a connector is only a client: Kafka, files, a
 * database, Redis.
 */
#ifndef RN_IO_H
#define RN_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/value.h"
#include "runnel.h"

/* ---- reading: records from a source ---------------------------------- */

/* One raw input record handed out by a reader. */
typedef struct rn_record {
    const char *data;           /* value bytes; RN_JSON_PADDING readable bytes follow.
                                 * NULL (len 0) for a Kafka tombstone */
    size_t len;
    int64_t position;           /* line number (files) or offset (Kafka) */
    const char *key;            /* Kafka key bytes (padded like data), or NULL */
    size_t klen;
    const char *topic;          /* Kafka topic, NULL for files */
    int32_t partition;          /* Kafka partition, -1 for files */
    int64_t timestamp_ms;       /* Kafka record timestamp, RN_NO_TIMESTAMP if none */
    const char *headers;        /* headers as a JSON object text ({"name":"value"}),
                                 * only when the reader was asked for them; else NULL */
    size_t hlen;
} rn_record_t;

#define RN_NO_TIMESTAMP INT64_MIN
#define RN_IDLE_WAIT_MS 50      /* longest wait of a reader when the whole pipeline is quiet */

/* Sets a record of a plain file or generator: value bytes and position,
 * no key, topic, partition, timestamp or headers. */
static inline void rn_record_set(rn_record_t *rec, const char *data, size_t len, int64_t position)
{
    *rec = (rn_record_t){.data = data, .len = len, .position = position, .partition = -1,
                         .timestamp_ms = RN_NO_TIMESTAMP};
}

typedef struct rn_reader rn_reader_t;
struct rn_reader {
    /* Fills up to max records valid until the next call; *n = 0 and *eof =
     * true at the end of a bounded input. *n = 0 with *eof false means
     * "nothing right now", after waiting at most wait_ms for something. */
    rn_err_t (*next)(rn_reader_t *r, rn_record_t *recs, int max, int *n /* out */,
                     bool *eof /* out */, char *errbuf, size_t errbuf_size);
    void (*close)(rn_reader_t *r);
    const char *where;          /* "data/user-events.jsonl" for messages */
    int wait_ms;                /* how long next() may wait when nothing is ready; set by the
                                 * runtime before each call: 0 while another source of the
                                 * pipeline has records (a wait would starve it), RN_IDLE_WAIT_MS
                                 * when all are quiet */
    /* Optional (NULL for files). Every record handed out so far has been
     * processed and everything derived from it acknowledged by the sinks:
     * commit their positions. final: the last call before close, waits
     * for the commit to complete. */
    rn_err_t (*commit)(rn_reader_t *r, bool final, char *errbuf, size_t errbuf_size);
    /* Optional. Sends an undecodable record, unchanged, to the reader's own
     * dead-letter destination (Kafka: the 'dlq.topic' topic, with headers
     * naming the error, source topic, partition and offset). When NULL the
     * pipeline's dead-letter file is used. */
    rn_err_t (*dead_letter)(rn_reader_t *r, const rn_record_t *rec, const char *error,
                            char *errbuf, size_t errbuf_size);
    /* Set by the pipeline before the first next(): makes every sink deliver
     * what it was given and wait for the acknowledgements. A reader calls it
     * before it commits outside commit(), e.g. when a rebalance revokes
     * partitions (records already handed out were fully processed). */
    rn_err_t (*sync_outputs)(void *opaque, char *errbuf, size_t errbuf_size);
    void *sync_opaque;
    /* Set by the pipeline for a table with event time: the first position
     * of partition (topic, partition) whose record a window still holds
     * (its results are not emitted yet), INT64_MAX if none. commit() and
     * commits on rebalance must not commit past it. May be NULL. */
    int64_t (*commit_limit)(void *opaque, const char *topic, int32_t partition);
    void *limit_opaque;
    /* Optional: the partitions assigned to this process now, as (topic,
     * partition) pairs; writes at most max and returns how many there
     * are. Topic strings stay valid until the next rebalance. A reader
     * that has it bumps assignment_version on every change. */
    int (*assignment)(rn_reader_t *r, const char **topics, int32_t *partitions, int max);
    uint64_t assignment_version;
    /* Set by the pipeline before the first next(), may be NULL: called at
     * most once, when the reader first starts partitions from positions
     * committed earlier by its consumer group (a restart, or partitions
     * taken over from another member) rather than from its startup mode.
     * what says whose and which ("group 'g', user-events[0-7]"); valid
     * during the call only. */
    void (*resumed)(void *opaque, const char *what);
    void *resumed_opaque;
    /* Optional: how many records partition (topic, partition) holds
     * after the last one handed out (consumer lag), from what the reader
     * already knows (no round trip); -1 when it cannot tell yet. Also
     * keeps a partition from going idle (docs/event-time.md): one with
     * lag > 0 is slow, not idle, however long it has been silent. */
    int64_t (*lag)(rn_reader_t *r, const char *topic, int32_t partition);
    /* Optional, for watermark alignment (docs/event-time.md): stops
     * (pause true) or restarts fetching partition (topic, partition) of
     * the assignment; no record of it is handed out while it is paused,
     * and reading goes on after the last one handed out. A rebalance
     * resumes every partition (the caller decides again). at_end: true
     * once a bounded reader has read the partition to its end (it will
     * deliver nothing more). */
    void (*pause)(rn_reader_t *r, const char *topic, int32_t partition, bool pause);
    bool (*at_end)(rn_reader_t *r, const char *topic, int32_t partition);
    /* Checkpoints (docs/checkpoints.md), set by the pipeline when they are
     * on; a reader without them ignores them. ckpt_name: the checkpoint
     * file that the positions of the next commit() belong to, named in
     * each commit's metadata. ckpt_take: takes a checkpoint now (every
     * record handed out is processed) and writes its file name to name;
     * a reader calls it instead of sync_outputs before it commits on a
     * revocation. ckpt_restore: partition (topic, partition) is assigned
     * to this reader and its state is not here; ckpt is the checkpoint
     * file its committed position names, or NULL when it names none. It
     * is called before any record of that partition is handed out, with
     * *offset the committed position; the pipeline may move it (to the
     * position an older checkpoint holds, when the named one is
     * unreadable), and the partition then starts there. A failure of
     * either stops the run (the reader's next() fails). position: the
     * offset after the last record handed out of an owned partition, or
     * -1 when none was since it was assigned (it starts at its commit). */
    char ckpt_name[256];        /* "" = none yet */
    rn_err_t (*ckpt_take)(void *opaque, char *name, size_t size, char *errbuf, size_t errbuf_size);
    rn_err_t (*ckpt_restore)(void *opaque, rn_reader_t *r, const char *topic, int32_t partition,
                             const char *ckpt, int64_t *offset, char *errbuf, size_t errbuf_size);
    void *ckpt_opaque;
    int64_t (*position)(rn_reader_t *r, const char *topic, int32_t partition);
    /* Set by the pipeline under exactly-once (docs/checkpoints.md): the
     * positions go to Kafka in the pipeline's transaction (rn_txn_t), so
     * commit() and commits on revocation commit nothing themselves. */
    bool txn;
    /* A view of a reader shared by several sources (op/split_reader.h):
     * the shared reader, which the pipeline's transaction and checkpoints
     * must see as one consumer; NULL for a reader of its own. */
    rn_reader_t *under;
    /* Optional: the source has read its end of input from what the reader
     * handed out (a repartition topic: every upstream task ended) and
     * calls next() no more; whatever else arrives for it may be dropped.
     * Called at most once. */
    void (*ended)(rn_reader_t *r);
};

/* ---- exactly-once: one transaction for a pipeline's outputs ----------- */

/* A transaction that a connector runs for a whole pipeline instance
 * (Kafka: one transactional producer shared by its Kafka sinks and
 * Exchanges). Everything they write between two commits becomes visible
 * at once, with the readers' positions, or not at all. */
typedef struct rn_txn rn_txn_t;
struct rn_txn {
    /* Sends the positions of readers[0..n) (those it can: the same
     * connector's; each named with its ckpt_name), commits what was
     * written since the last commit, and begins the next transaction.
     * Outputs must be synced first. On failure the transaction is aborted
     * and the pipeline must stop: what it holds in memory is ahead of what
     * was committed (a restart resumes from the last checkpoint). */
    rn_err_t (*commit)(rn_txn_t *t, rn_reader_t *const *readers, int n, char *errbuf, size_t errbuf_size);
    /* Aborts an open transaction and releases everything; after the
     * sinks and Exchanges that use it are closed. */
    void (*close)(rn_txn_t *t);
};

/* ---- writing: rows to a sink ---------------------------------------- */

typedef enum rn_sink_mode {
    RN_SINK_APPEND,             /* every row is a record; input must be insert-only */
    RN_SINK_UPSERT,             /* keyed by npk columns; deletes become tombstones */
    RN_SINK_CHANGELOG,          /* every change with its kind (print) */
} rn_sink_mode;

/* What a typed writer is told about the rows it gets: the sink's schema,
 * its mode, the key columns (the PRIMARY KEY of an upsert sink, 'key.fields'
 * of an append one) and the columns that make the value. */
typedef struct rn_sink_layout {
    const rn_schema_t *schema;
    rn_sink_mode mode;
    int npk;
    const int *pk;
    int nvalue;
    const int *value_cols;      /* nvalue columns, or NULL for all columns in order */
} rn_sink_layout_t;

/* Where a sink's rows go: a file, stdout, nothing, Kafka; later a
 * database or Redis. A writer implements write (JSON records) or
 * write_rows (typed rows), or both (then write_rows is used). */
typedef struct rn_sink_io rn_sink_io_t;
struct rn_sink_io {
    /* Writes one record. key is the key JSON (upsert sinks) or NULL; value
     * NULL means a delete (tombstone). kind is the row kind of the change. */
    rn_err_t (*write)(rn_sink_io_t *io, const char *key, size_t klen, const char *value,
                      size_t vlen, rn_rowkind_t kind, char *errbuf, size_t errbuf_size);
    /* The typed path (may be NULL): writes rows[0..n) of batch, in that
     * order, as values with their change kinds (batch->kinds). For an
     * upsert sink these are the last change per key of the batch, and a
     * retraction (-U, -D) means delete the key. Values (strings included)
     * are valid only during the call. flush below is the transaction
     * boundary: what was written since the last flush becomes durable
     * together, or the flush fails. */
    rn_err_t (*write_rows)(rn_sink_io_t *io, const rn_batch_t *batch, const int *rows, int n,
                           const rn_sink_layout_t *layout, char *errbuf, size_t errbuf_size);
    /* Optional, with write: called after the records of one input batch
     * were written. A writer that gathers records to hand them on together
     * (Kafka: one rd_kafka_produce_batch) hands on what it holds, so no
     * record waits for the next batch. */
    rn_err_t (*write_end)(rn_sink_io_t *io, char *errbuf, size_t errbuf_size);
    /* Delivers everything written so far and waits until it is
     * acknowledged (a file: written to the OS; Kafka: acked by the
     * brokers). Fails if any record could not be delivered. */
    rn_err_t (*flush)(rn_sink_io_t *io, char *errbuf, size_t errbuf_size);
    void (*close)(rn_sink_io_t *io);
    uint64_t records;           /* records written */
    /* Set by the pipeline after open, may be NULL: a row the destination
     * refused for what it holds (a constraint, a type; not an outage),
     * given as the row's JSON object text and the destination's message.
     * The writer calls it once per refused row, drops the row and goes on
     * with the others; the pipeline writes it to its dead-letter output. */
    rn_err_t (*reject)(void *opaque, const char *row_json, size_t len, const char *error);
    void *reject_opaque;
    /* Optional: exactly-once by two-phase commit (docs/checkpoints.md,
     * "Delivery guarantees"), set by a writer opened for it (a jdbc table
     * with 'sink.delivery-guarantee' = 'exactly-once'). The sink operator
     * then hands the writer nothing between checkpoints (rn_sink_set_two_phase):
     * it keeps the rows itself, puts them into each checkpoint file, and
     * once the file is durable and the positions committed gives them to
     * write_rows and calls commit_once; flush is never called. commit_once
     * commits the rows write_rows got since the last commit_once as
     * checkpoint ckpt of writer (a process tag) of sink (a name unique in
     * the pipeline), at most once: in one transaction that records
     * (pipeline, sink, writer, ckpt) in a table of its own and writes the
     * rows only when that record was not there yet, so a call repeated
     * (after a crash, or by the process that restores the checkpoint)
     * writes nothing twice. keep_from: records of this writer and sink
     * for checkpoints below it may be deleted in the same transaction (no
     * file of them is left to restore); 0 keeps all. RN_OK: committed now
     * or before; the writer holds no rows after it. RN_ERR_RETRY: the
     * destination cannot be reached; the writer still holds the rows and
     * the caller calls commit_once again (the record tells whether the
     * earlier try committed). Another error: the rows are dropped and the
     * pipeline must stop. */
    rn_err_t (*commit_once)(rn_sink_io_t *io, const char *sink, const char *writer, uint64_t ckpt,
                            uint64_t keep_from, char *errbuf, size_t errbuf_size);
    /* Optional, with commit_once: a checkpoint with no rows records
     * nothing, so the records left below keep_from by earlier commits are
     * deleted by this instead (same rule as commit_once's); *oldest gets
     * the oldest record of writer and sink left (0: none). Errors are the
     * caller's to report; nothing is lost by one. */
    rn_err_t (*forget_commits)(rn_sink_io_t *io, const char *sink, const char *writer, uint64_t keep_from,
                               uint64_t *oldest, char *errbuf, size_t errbuf_size);
};

/* Failures of write, write_rows and flush: RN_ERR_RETRY means the
 * destination cannot be reached now (a lost connection, a server
 * restarting) and every row given so far is still held by the writer, none
 * lost; the sink operator (op/sink.c) then calls flush again with backoff
 * until it succeeds, so the pipeline reads no more input meanwhile
 * (backpressure) and commits no source position past unwritten rows. Any
 * other error stops the pipeline. */

/* ---- looking up: rows of a table by key -------------------------------- */

/* A table that can be asked for the rows matching a batch of keys (a
 * lookup join's dimension table: a database table, a cache of one). Opened
 * by its connector; the join operator owns it. One call per input batch,
 * so a client can ask for all keys at once (one query, not one per row). */
typedef struct rn_lookup rn_lookup_t;
struct rn_lookup {
    /* keys: a batch whose columns are the key columns, rows 0..nrows-1.
     * Appends to out (a batch of the table's schema, with room for
     * out->cap rows) the rows matching each key, any number per key, in
     * key order, and for each appended row the index of its key in
     * key_of[]. A key with no match appends nothing. Returns RN_OK,
     * RN_ERR_RETRY when the table cannot be reached now (the caller
     * retries with backoff), or another error described in errbuf. When
     * out fills up before every key was looked up, *done is set to the
     * number of keys completed and the caller calls again for the rest,
     * keys from *done on. Rows appended for key *done itself (a key only
     * partly appended) are ignored by the caller: the next call must give
     * all of that key's rows again. When not even the first key fits
     * (*done = 0), the caller calls again with a larger out. */
    rn_err_t (*lookup)(rn_lookup_t *l, const rn_batch_t *keys, rn_batch_t *out, int *key_of,
                       int *done /* out */, rn_arena_t *arena, char *errbuf, size_t errbuf_size);
    /* Optional (NULL if the table cannot be read whole): appends rows of
     * the whole table to out (the table's schema, room for out->cap rows),
     * from *cursor on (0 at the start), and advances *cursor; *done is set
     * when every row was appended. Used to load a FULL lookup cache. Same
     * errors as lookup. */
    rn_err_t (*scan)(rn_lookup_t *l, rn_batch_t *out, int64_t *cursor, bool *done /* out */,
                     rn_arena_t *arena, char *errbuf, size_t errbuf_size);
    void (*close)(rn_lookup_t *l);
    const char *where;          /* "PostgreSQL table 'subscribers'" for messages */
};

/* ---- exchanging: rows repartitioned by key between processes ---------- */

/* The remote transport of an Exchange (docs/scale-out.md): a topic of
 * nparts partitions that every process of the pipeline writes rows to, by
 * the hash of their key, and reads back through a reader in one consumer
 * group, so each key's rows meet in one process. The records' bytes are
 * the Exchange's own (op/exchange.h); the transport only moves them. */
typedef struct rn_exchange_io rn_exchange_io_t;
struct rn_exchange_io {
    int32_t nparts;             /* partitions of the topic */
    int32_t ntasks;             /* upstream tasks: partitions of the source topic the
                                 * Exchange's input is read from (watermarks are kept
                                 * per task) */
    const char *topic;          /* the topic's name */
    const char *where;          /* "repartition topic runnel.page_views.events-3-repartition" */
    /* Queues one record for partition (0 <= partition < nparts); key may
     * be NULL. Bytes are copied. Blocks while the producer's queue is
     * full; fails (errbuf) when a record could not be delivered. */
    rn_err_t (*send)(rn_exchange_io_t *io, int32_t partition, const void *key, size_t klen,
                     const void *value, size_t vlen, char *errbuf, size_t errbuf_size);
    /* Delivers everything sent so far and waits for the acknowledgements. */
    rn_err_t (*flush)(rn_exchange_io_t *io, char *errbuf, size_t errbuf_size);
    void (*close)(rn_exchange_io_t *io);
};

#endif
