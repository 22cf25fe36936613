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
 * a sink table an rn_sink_io_t (op/op.h). In `runnel test` every connector
 * except 'datagen' is replaced by files: see rn_connector_test_name.
 */
#ifndef RN_CONNECTOR_H
#define RN_CONNECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "lang/ast.h"
#include "op/op.h"
#include "runnel.h"

typedef enum rn_opt_type {
    RN_OPT_STRING,              /* char * (points into the script arena) */
    RN_OPT_INT,                 /* int64_t */
    RN_OPT_BOOL,                /* bool: 'true' / 'false' */
    RN_OPT_ENUM,                /* char *, one of choices "a|b|c" */
} rn_opt_type;

typedef struct rn_option_spec {
    const char *key;            /* option key as written in WITH */
    rn_opt_type type;
    const char *def;            /* default value text, or NULL for none */
    size_t offset;              /* offsetof(config struct, field) */
    const char *choices;        /* RN_OPT_ENUM: "a|b|c" */
    bool required;
    const char *help;           /* one line for docs and errors */
} rn_option_spec_t;

/* One raw input record handed out by a reader. */
typedef struct rn_record {
    const char *data;           /* document bytes; RN_JSON_PADDING readable bytes follow */
    size_t len;
    int64_t position;           /* line number (files) or offset (Kafka) */
} rn_record_t;

typedef struct rn_reader rn_reader_t;
struct rn_reader {
    /* Fills up to max records valid until the next call; *n = 0 and *eof =
     * true at the end of a bounded input. */
    rn_err_t (*next)(rn_reader_t *r, rn_record_t *recs, int max, int *n /* out */,
                     bool *eof /* out */, char *errbuf, size_t errbuf_size);
    void (*close)(rn_reader_t *r);
    const char *where;          /* "data/user-events.jsonl" for messages */
};

typedef enum rn_conn_role { RN_ROLE_SOURCE = 1, RN_ROLE_SINK = 2 } rn_conn_role;

typedef struct rn_connector {
    const char *name;           /* value of 'connector' */
    const char *alias;          /* another accepted name, or NULL */
    unsigned roles;             /* RN_ROLE_* it can play */
    rn_sink_mode sink_mode;     /* how it writes */
    bool needs_pk;              /* a sink table must declare PRIMARY KEY */
    bool forbids_pk;            /* PRIMARY KEY makes no sense here */
    const char *passthrough;    /* option prefix kept verbatim, or NULL */
    const rn_option_spec_t *options; /* terminated by a {NULL} row */
    size_t conf_size;           /* size of the config struct */
    /* Opens a reader for a source table in `runnel run`. May be NULL. */
    rn_err_t (*open_reader)(const void *conf, const char *table, rn_reader_t **out,
                            char *errbuf, size_t errbuf_size);
    /* Opens the writer for a sink table in `runnel run`. May be NULL. */
    rn_err_t (*open_sink)(const void *conf, const char *table, rn_sink_io_t **out,
                          char *errbuf, size_t errbuf_size);
    /* Appends "topic=page-views, format=json" for explain. */
    void (*describe)(const void *conf, rn_buf_t *out);
    /* Checks option combinations the table cannot express. May be NULL. */
    rn_err_t (*validate)(const void *conf, char *errbuf, size_t errbuf_size);
    /* True if the connector produces its data itself (datagen), so that
     * `runnel test` runs it instead of reading a file. */
    bool self_contained;
    /* The base name of the file standing for this table in `runnel test`
     * (the topic for Kafka tables); NULL means the table name. */
    const char *(*test_name)(const void *conf);
} rn_connector_t;

/* Looks a connector up by name or alias; NULL if unknown. */
const rn_connector_t *rn_connector_find(const char *name);
/* Appends the list of known connector names ("'kafka', 'print', ..."). */
void rn_connector_list(rn_buf_t *out);

/* Validates opts (except 'connector') against c's option table and fills
 * conf (c->conf_size bytes, zeroed by the caller). On error returns
 * RN_ERR_CONFIG, writes a message to errbuf and the index of the offending
 * option to *bad (-1 when the problem is a missing option). */
rn_err_t rn_options_apply(const rn_connector_t *c, const rn_ast_option_t *opts, int nopts,
                          void *conf, int *bad /* out */, char *errbuf, size_t errbuf_size);

/* ---- readers and writers shared by connectors -------------------------- */

/* A reader of JSON lines from a file ("-" = stdin). Blank lines are
 * skipped; positions are 1-based line numbers. */
rn_err_t rn_file_reader_open(const char *path, rn_reader_t **out, char *errbuf,
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

/* A sink writing lines to path ("-" = stdout, NULL = discard). */
rn_err_t rn_file_sink_open(const char *path, rn_line_format format, rn_sink_io_t **out,
                           char *errbuf, size_t errbuf_size);

#endif
