/*
 * connector.h - connectors as plugins (after Fluent Bit): a callback table
 * plus an option table, so no connector parses its WITH options by hand.
 *
 * A connector declares its options as {key, type, default, offset} rows;
 * rn_options_apply validates a table's WITH clause against them (unknown
 * keys, missing required keys, bad enum values, bad integers) and fills the
 * connector's config struct. Keys under a declared pass-through prefix
 * (e.g. 'properties.' for Kafka) are kept verbatim for the client library.
 *
 * At run time a source table becomes an rn_reader_t that yields raw
 * records (JSON documents followed by RN_JSON_PADDING readable bytes), and
 * a sink table an rn_sink_io_t (both declared in op/io.h). In `runnel test` every connector
 * except 'datagen' is replaced by files: see rn_connector_test_name.
 */
#ifndef RN_CONNECTOR_H
#define RN_CONNECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "op/io.h"
#include "op/op.h"
#include "runnel.h"

typedef enum rn_opt_type {
    RN_OPT_STRING,              /* char * (points into the script arena) */
    RN_OPT_INT,                 /* int64_t */
    RN_OPT_BOOL,                /* bool: 'true' / 'false' */
    RN_OPT_ENUM,                /* char *, one of choices "a|b|c" */
} rn_opt_type;

/* One option of a table's WITH clause, as written ('key' = 'value'):
 * connectors see options as plain strings, not as syntax. */
typedef struct rn_option {
    const char *key;
    const char *value;
} rn_option_t;

typedef struct rn_option_spec {
    const char *key;            /* option key as written in WITH */
    rn_opt_type type;
    const char *def;            /* default value text, or NULL for none */
    size_t offset;              /* offsetof(config struct, field) */
    const char *choices;        /* RN_OPT_ENUM: "a|b|c" */
    bool required;
    const char *help;           /* one line for docs and errors */
} rn_option_spec_t;

typedef struct rn_file_outs rn_file_outs_t;

/* What a connector is told when a table is opened in `runnel run`. */
typedef struct rn_open_ctx {
    const char *pipeline;       /* pipeline name: file base name without .sql */
    const char *table;          /* table name */
    const rn_option_t *options; /* the table's WITH clause as written */
    int noptions;               /* (for pass-through keys such as 'properties.*') */
    bool want_key;              /* reader: some column is read from the record key */
    bool want_headers;          /* reader: the 'headers' metadata column is read */
    rn_file_outs_t *files;      /* sink: the run's output files (rn_file_sink_open) */
    const rn_schema_t *schema;  /* sink: the table's columns, as rows are written; reader
                                 * and lookup: the table's declared columns */
    rn_sink_mode sink_mode;     /* sink: how the table is written (upsert: by pk) */
    int npk;                    /* sink: the PRIMARY KEY columns (indexes into schema) */
    const int *pk;
    int worker;                 /* > 0: which worker of the process opens it (workers.c) */
    /* open_exchange for one input of a join (docs/scale-out.md): both
     * inputs' repartition topics have one partition count and are read in
     * one consumer group with the range assignor, whose members of one
     * process sort together, so partition p of both goes to one process */
    bool join_input;            /* this Exchange feeds a join */
    const char *join_group;     /* the group (the other input's topic name), or NULL:
                                 * this input's own topic name, as for any Exchange */
    const char *member_tag;     /* this process's tag (fixed width) */
    const char *join_side;      /* "left" or "right": suffix of a static group.instance.id */
    int32_t min_partitions;     /* the repartition topic gets at least this many */
    /* One consumer for both inputs (op/split_reader.h): the first input's
     * open_exchange opens no reader (no_reader), the second's reader reads
     * the first's topic too (also_read, in group join_group) */
    bool no_reader;
    const char *also_read;
    int32_t *probe_partitions;  /* not NULL: only count the source topic's partitions into it */
    const char *test_path;      /* sink of a connector with test_sink_file, in `runnel test`:
                                 * the file (in files) to write what it would send; else NULL */
    rn_txn_t *txn;              /* sink, exchange: the pipeline's transaction (exactly-once,
                                 * opened by open_txn), or NULL */
    const char *txn_tag;        /* open_txn: this process and worker, unique (transactional.id) */
} rn_open_ctx_t;

/* A metadata column a connector offers ("partition" INT, ...). */
typedef struct rn_metadata_spec {
    const char *key;
    rn_type_id type;
    rn_col_origin origin;
} rn_metadata_spec_t;

typedef enum rn_conn_role { RN_ROLE_SOURCE = 1, RN_ROLE_SINK = 2 } rn_conn_role;

/* How a lookup join caches a dimension table: Flink's 'lookup.*' options,
 * declared by a connector that can be looked up (RN_LOOKUP_OPTIONS below)
 * and read by the planner through rn_connector_t.lookup_conf. */
typedef struct rn_lookup_conf {
    const char *cache;              /* 'lookup.cache': NONE | PARTIAL | FULL */
    int64_t max_rows;               /* 'lookup.partial-cache.max-rows' (keys; 0 = no limit) */
    const char *expire_after_write; /* 'lookup.partial-cache.expire-after-write' (a duration, or "") */
    const char *expire_after_access;/* 'lookup.partial-cache.expire-after-access' (a duration, or "") */
    bool cache_missing_key;         /* 'lookup.partial-cache.cache-missing-key' */
    const char *reload_interval;    /* 'lookup.full-cache.periodic-reload.interval' (a duration) */
    int64_t max_retries;            /* 'lookup.max-retries' (-1 = until it succeeds) */
} rn_lookup_conf_t;

/* The option rows of rn_lookup_conf_t for a connector whose config struct
 * has one as member `field`. */
#define RN_LOOKUP_OPTIONS(type, field)                                                             \
    {"lookup.cache", RN_OPT_ENUM, "NONE", offsetof(type, field.cache), "NONE|PARTIAL|FULL", false,  \
     "lookup join cache: NONE, PARTIAL (recently used keys) or FULL (the whole table)"},           \
    {"lookup.partial-cache.max-rows", RN_OPT_INT, "10000", offsetof(type, field.max_rows), NULL,    \
     false, "PARTIAL: keys kept in the cache (0: no limit)"},                                      \
    {"lookup.partial-cache.expire-after-write", RN_OPT_STRING, "", offsetof(type,                   \
     field.expire_after_write), NULL, false, "PARTIAL: a key is looked up again this long after it was loaded"}, \
    {"lookup.partial-cache.expire-after-access", RN_OPT_STRING, "", offsetof(type,                  \
     field.expire_after_access), NULL, false, "PARTIAL: a key unused this long is dropped"},       \
    {"lookup.partial-cache.cache-missing-key", RN_OPT_BOOL, "true", offsetof(type,                  \
     field.cache_missing_key), NULL, false, "PARTIAL: remember keys with no rows too"},            \
    {"lookup.full-cache.periodic-reload.interval", RN_OPT_STRING, "1 h", offsetof(type,             \
     field.reload_interval), NULL, false, "FULL: the table is read again this often"},             \
    {"lookup.max-retries", RN_OPT_INT, "-1", offsetof(type, field.max_retries), NULL, false,        \
     "lookups retried this often when the table cannot be reached (-1: until it can)"}

typedef struct rn_connector {
    const char *name;           /* value of 'connector' */
    const char *alias;          /* another accepted name, or NULL */
    unsigned roles;             /* RN_ROLE_* it can play */
    rn_sink_mode sink_mode;     /* how it writes */
    bool needs_pk;              /* a sink table must declare PRIMARY KEY */
    bool forbids_pk;            /* PRIMARY KEY makes no sense here */
    bool pk_upsert;             /* a table with a PRIMARY KEY is an upsert sink, one
                                 * without is an append sink (jdbc) */
    const char *passthrough;    /* option prefix kept verbatim, or NULL */
    const rn_option_spec_t *options; /* terminated by a {NULL} row */
    size_t conf_size;           /* size of the config struct */
    /* Opens a reader for a source table in `runnel run`. May be NULL. */
    rn_err_t (*open_reader)(const void *conf, const rn_open_ctx_t *ctx, rn_reader_t **out,
                            char *errbuf, size_t errbuf_size);
    /* Opens the writer for a sink table in `runnel run`. May be NULL. */
    rn_err_t (*open_sink)(const void *conf, const rn_open_ctx_t *ctx, rn_sink_io_t **out,
                          char *errbuf, size_t errbuf_size);
    /* Appends "topic=page-views, format=json" for explain. */
    void (*describe)(const void *conf, rn_buf_t *out);
    /* Checks option combinations the table cannot express. May be NULL. */
    rn_err_t (*validate)(const void *conf, char *errbuf, size_t errbuf_size);
    /* True if the connector produces its data itself (datagen), so that
     * `runnel test` runs it instead of reading a file. */
    bool self_contained;
    /* True if several processes, or workers of one process, may read and
     * write the table at once: a source's records are split among them
     * (Kafka's consumer groups), a sink takes writes from all of them. A
     * file or stdout is not shared. */
    bool shared;
    /* The base name of the file standing for this table in `runnel test`
     * (the topic for Kafka tables); NULL means the table name. */
    const char *(*test_name)(const void *conf);
    /* Metadata columns it offers, terminated by a {NULL} row; NULL = none. */
    const rn_metadata_spec_t *metadata;
    /* Columns read from / written to the record key, ';'-separated
     * ('key.fields'), or NULL. May be NULL. */
    const char *(*key_fields)(const void *conf);
    /* True when key columns are left out of the value ('value.fields-include'
     * = 'EXCEPT_KEY'). May be NULL. */
    bool (*value_excludes_key)(const void *conf);
    /* How a sink's JSON keys and values write timestamps
     * ('json.timestamp-format.standard' and its 'key.'/'value.' forms); the
     * default (epoch ms) is left in place when unset. May be NULL. */
    void (*json_timestamps)(const void *conf, rn_json_ts_format *key, rn_json_ts_format *value);
    /* The local file the table reads or writes in `runnel run` (the
     * 'filesystem' connector), or NULL: the runtime checks that no sink
     * writes a file a source reads. May be NULL. */
    const char *(*file_path)(const void *conf);
    /* Optional: opens the transaction of a pipeline instance that writes
     * exactly once (a sink table of this connector asked for it), with
     * that table's options. */
    rn_err_t (*open_txn)(const void *conf, const rn_open_ctx_t *ctx, rn_txn_t **out, char *errbuf,
                         size_t errbuf_size);
    /* Optional: whether a sink table with this configuration asks for
     * exactly-once delivery ('sink.delivery-guarantee'). */
    bool (*exactly_once)(const void *conf);
    /* Optional: opens the remote transport of an Exchange whose input is
     * read from a table of this connector (conf is that table's), so that
     * several processes in one group can share keyed state
     * (docs/scale-out.md). The transport's topic and consumer group are
     * "<the source table's group id>-<suffix>" (suffix: "<operator
     * id>-repartition"), io->topic names it; ctx describes the
     * source table (its options give the brokers and security settings).
     * Creates the topic when missing, with as many partitions as the
     * source table's topic, and fails with a clear message when it exists
     * with another count or the source reads several topics. Returns the
     * writer (io) and a reader of the topic in group `name` that starts at
     * the earliest offset, commits like any source, and deletes records
     * the group has committed (both owned by the caller); or RN_OK with
     * both NULL when the source topic has one partition (one process reads
     * it all: rows stay where they are). NULL: rows stay in the process
     * (one process only). */
    rn_err_t (*open_exchange)(const void *conf, const rn_open_ctx_t *ctx, const char *suffix,
                              rn_exchange_io_t **io /* out */, rn_reader_t **reader /* out */,
                              char *errbuf, size_t errbuf_size);
    /* Checks options that name columns against the table's schema
     * (RN_ERR_CONFIG and a message starting "option 'key'" when one names
     * a missing or unfit column). May be NULL. */
    rn_err_t (*check_schema)(const void *conf, const rn_schema_t *schema, char *errbuf, size_t errbuf_size);
    /* Not NULL: in `runnel test` a sink of this connector is still opened
     * with open_sink, with ctx->test_path = OUT/<test_sink_file>.jsonl, and
     * writes there what it would send (Redis commands); all its sinks share
     * the file. NULL: the runtime replaces the sink by a file of rows. */
    const char *test_sink_file;
    /* Optional: the table can be the right side of a lookup join (JOIN t
     * FOR SYSTEM_TIME AS OF ...): its cache options, and an opener of an
     * rn_lookup_t (op/io.h) asked for rows by the nkeys columns key_cols
     * (indexes into ctx->schema, the table's columns) and answering rows
     * of ctx->schema. In `runnel test` the table is instead the file
     * IN/<test name>.jsonl, loaded whole (runtime/run.c). */
    const rn_lookup_conf_t *(*lookup_conf)(const void *conf);
    rn_err_t (*open_lookup)(const void *conf, const rn_open_ctx_t *ctx, const int *key_cols,
                            int nkeys, rn_lookup_t **out, char *errbuf, size_t errbuf_size);
} rn_connector_t;

/* Looks a connector up by name or alias; NULL if unknown. */
const rn_connector_t *rn_connector_find(const char *name);
/* Appends the list of known connector names ("'kafka', 'print', ..."). */
void rn_connector_list(rn_buf_t *out);

/* Validates opts (except 'connector') against c's option table and fills
 * conf (c->conf_size bytes, zeroed by the caller). ${VAR} references in
 * declared options are replaced by environment variables (core/env.h);
 * expanded strings are allocated in arena. Pass-through options (e.g.
 * 'properties.*') are left as written: the connector expands them when it
 * connects, so `runnel test` does not need secrets. On error returns
 * RN_ERR_CONFIG, writes a message to errbuf and the index of the offending
 * option to *bad (-1 when the problem is a missing option). */
rn_err_t rn_options_apply(const rn_connector_t *c, const rn_option_t *opts, int nopts,
                          void *conf, rn_arena_t *arena, int *bad /* out */, char *errbuf,
                          size_t errbuf_size);

/* 'sink.max-retries' (Flink's name), an option of every sink table
 * whatever its connector (rn_options_apply accepts it for connectors that
 * can be sinks): how often the sink operator flushes again after the
 * writer answered RN_ERR_RETRY (op/io.h) before the run fails; -1, the
 * default, retries until the write succeeds. Sets *out from opts (-1 when
 * absent). RN_ERR_CONFIG with a message when the value is not an integer
 * >= -1. */
rn_err_t rn_sink_max_retries(const rn_option_t *opts, int nopts, int64_t *out /* out */, char *errbuf,
                             size_t errbuf_size);

/* ---- readers and writers shared by connectors -------------------------- */

/* The longest line a file reader accepts: a longer one stops the run with
 * an error naming the file and line (it is not a JSON-lines file). */
#define RN_FILE_MAX_LINE (64 << 20)

/* A reader of JSON lines from a file ("-" = stdin). Blank lines are
 * skipped; positions are 1-based line numbers. */
rn_err_t rn_file_reader_open(const char *path, rn_reader_t **out, char *errbuf,
                             size_t errbuf_size);
/* As rn_file_reader_open, for the input of an upsert table in `runnel
 * test`: a line that is an object of exactly the members "key" (an object
 * or null) and "value" (an object or null), in either order, as an upsert
 * sink writes them (RN_LINES_KEYED), is handed out as a keyed record: its
 * key and value JSON, a null value being a tombstone (data NULL). Any
 * other line is a value without a key. */
rn_err_t rn_file_reader_open_keyed(const char *path, rn_reader_t **out, char *errbuf,
                                   size_t errbuf_size);
/* A reader yielding the records of one topic of a generated scenario. */
rn_err_t rn_gen_reader_open(const char *scenario, const char *topic, uint64_t seed, int64_t rows,
                            double rows_per_second, rn_reader_t **out, char *errbuf,
                            size_t errbuf_size);

typedef enum rn_line_format {
    RN_LINES_VALUE,             /* value JSON per line; deletes are skipped */
    RN_LINES_KEYED,             /* {"key":K,"value":V|null} per line */
    RN_LINES_CHANGELOG,         /* {"op":"+I","value":V} per line */
} rn_line_format;

/* The output files of one run: every sink writing a file gets it from
 * here, so sinks naming the same file (under any spelling) share one
 * writer and their lines never mix inside a line. Files are opened
 * without truncating them; rn_file_outs_start truncates them all once the
 * whole pipeline has opened, so a run that fails to start destroys no
 * file (and removes the empty files it created). */
rn_file_outs_t *rn_file_outs_new(void);
rn_err_t rn_file_outs_start(rn_file_outs_t *files, char *errbuf, size_t errbuf_size);
void rn_file_outs_free(rn_file_outs_t *files);

/* A sink writing lines to path ("-" = stdout, NULL = discard), through
 * files (which must not be NULL for a real path). */
rn_err_t rn_file_sink_open(rn_file_outs_t *files, const char *path, rn_line_format format,
                           rn_sink_io_t **out, char *errbuf, size_t errbuf_size);

/* A lookup table read whole from the JSON-lines file path (one row per
 * line, decoded to schema, of which a reference is taken), asked for rows
 * by the nkeys columns key_cols: what stands for a lookup join's table in
 * `runnel test` (connectors/file_lookup.c). It has scan() too. Returns
 * RN_ERR_IO (no file), RN_ERR_DECODE (a line naming its number) or
 * RN_ERR_NOMEM with errbuf set; the caller owns *out. */
rn_err_t rn_file_lookup_open(const char *path, rn_schema_t *schema, const int *key_cols, int nkeys,
                             rn_lookup_t **out, char *errbuf, size_t errbuf_size);

/* True if a and b name the same file (same path, or both exist and are
 * the same inode). */
bool rn_file_same(const char *a, const char *b);

#endif
