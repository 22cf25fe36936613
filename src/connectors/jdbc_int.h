/*
 * jdbc_int.h - what the parts of the 'jdbc' connector share: its options
 * (jdbc.c parses and checks them and dispatches on the url), the SQLite
 * client (jdbc_sqlite.c) and the PostgreSQL client (jdbc_pg.c, libpq).
 * Internal to src/connectors: nothing outside includes it.
 */
#ifndef RN_JDBC_INT_H
#define RN_JDBC_INT_H

#include "connectors/connector.h"

#define RN_JDBC_SQLITE "jdbc:sqlite:"
#define RN_JDBC_PG "jdbc:postgresql:"
#define RN_JDBC_COMMITS_TABLE "runnel_sink_commits" /* exactly-once: checkpoints committed (jdbc_pg.c) */

/* A 'jdbc' table's WITH options (the connector's config struct). */
typedef struct rn_jdbc_conf {
    const char *url;            /* 'url': jdbc:sqlite:<file> or jdbc:postgresql://host[:port]/db[?..] */
    const char *table;          /* 'table-name', for PostgreSQL maybe 'schema.table' */
    const char *username;       /* 'username' (PostgreSQL), "" = libpq's default */
    const char *password;       /* 'password' (PostgreSQL), "" = none; never printed */
    const char *sslmode;        /* 'sslmode' (PostgreSQL), "" = libpq's default */
    const char *sslrootcert;    /* 'sslrootcert' (PostgreSQL), "" = none */
    int64_t max_rows;           /* 'sink.buffer-flush.max-rows'; 0 = no limit */
    const char *interval;       /* 'sink.buffer-flush.interval' (a duration); '0' = none */
    int64_t fetch_size;         /* 'scan.fetch-size': rows read per round trip */
    const char *delivery;       /* 'sink.delivery-guarantee': at-least-once | exactly-once */
    rn_lookup_conf_t lookup;    /* 'lookup.*': the cache of a lookup join on the table */
} rn_jdbc_conf_t;

/* The parts of a 'jdbc:postgresql://host[:port]/db[?k=v&..]' url, each a
 * NUL-terminated copy (empty when absent). */
typedef struct rn_jdbc_pg_url {
    char host[256];
    char port[16];
    char db[256];
    char sslmode[32];           /* from '?sslmode=', overridden by the 'sslmode' option */
    char sslrootcert[1024];     /* from '?sslrootcert=' */
} rn_jdbc_pg_url_t;

/* Parses a PostgreSQL url. False with a message in errbuf (naming the
 * offending part, never a value that could be a secret) if it is not one. */
bool rn_jdbc_pg_url_parse(const char *url, rn_jdbc_pg_url_t *out /* out */, char *errbuf,
                          size_t errbuf_size);

/* 'sink.buffer-flush.interval' in ms; false if it is not a duration. */
bool rn_jdbc_interval_ms(const rn_jdbc_conf_t *c, int64_t *ms /* out */);

/* Appends name as one quoted SQL identifier ("a""b"). */
void rn_jdbc_ident(rn_buf_t *b, const char *name);

/* Hands row r of batch (as a JSON object of schema's columns) to the
 * sink's reject hook with error; without a hook writes "where: error" to
 * errbuf and returns RN_ERR_IO, which stops the pipeline. */
rn_err_t rn_jdbc_reject_json(rn_sink_io_t *io, const char *json, size_t len, const char *error,
                             const char *where, char *errbuf, size_t errbuf_size);

/* Converts a value's text as a database returns it (SQLite's or
 * PostgreSQL's text form) to a value of type t; strings are copied into
 * arena. BOOLEAN takes t/true/1 and f/false/0; TIMESTAMP an integer (epoch
 * ms) or a date-time text (UTC). False if the text is not of the type. */
bool rn_jdbc_text_value(rn_type_id t, const char *s, size_t len, rn_arena_t *arena,
                        rn_value_t *out /* out */);
/* Appends a value's database text as JSON of type t (as rn_json_write_value
 * writes values, but timestamps as 'YYYY-MM-DD HH:MM:SS.mmm' UTC strings,
 * which the JSON decoder reads back exactly); s NULL is SQL NULL. Text that is
 * not of the type is written as a JSON string (the decoder reports it). */
void rn_jdbc_text_json(rn_buf_t *b, rn_type_id t, const char *s, size_t len);
/* Text of a value to send as a parameter: BOOLEAN true/false, integers,
 * DOUBLE in round-trip form, STRING as is, TIMESTAMP as epoch ms digits or,
 * when ts_text, 'YYYY-MM-DD HH:MM:SS.mmm' (UTC). Appends to b with a NUL
 * after it; returns false for NULL (nothing appended). */
bool rn_jdbc_value_text(rn_buf_t *b, rn_type_id t, const rn_value_t *v, bool ts_text);

/* The rows a lookup query answered for a batch of keys, held so that a
 * fan-out larger than the output batch is handed out over several
 * lookup() calls (op/io.h: *done). Values are kept as text. */
typedef struct rn_jdbc_answer {
    int ncols;                  /* values per row */
    int nrows;                  /* rows held */
    int next;                   /* next row to hand out */
    int *key;                   /* nrows: the key index of each row (in the asked batch) */
    int64_t *off;               /* nrows * ncols: offset of each value's text in text, -1 = NULL */
    rn_buf_t text;              /* the values' text, each followed by a NUL */
    int nkeys;                  /* keys in the asked batch */
    uint64_t *key_hash;         /* nkeys: the hash of each asked key (to recognize a call
                                 * for the rest of the same keys) */
    int cap_rows, cap_keys;     /* allocated */
} rn_jdbc_answer_t;

void rn_jdbc_answer_init(rn_jdbc_answer_t *a, int ncols);
void rn_jdbc_answer_free(rn_jdbc_answer_t *a);
/* Starts an answer for keys (the hashes of their values are kept); false
 * on OOM. */
bool rn_jdbc_answer_begin(rn_jdbc_answer_t *a, const rn_batch_t *keys);
/* Adds one row: its key index and ncols values' text (vals[c] NULL = NULL,
 * lens[c] its length). False on OOM. */
bool rn_jdbc_answer_add(rn_jdbc_answer_t *a, int key, const char *const *vals, const size_t *lens);
/* True if keys asks for what a holds rows for yet: the same batch again
 * (*base = 0) or the keys from the first key not yet completed on
 * (*base = that key's index in the first batch). */
bool rn_jdbc_answer_resumes(const rn_jdbc_answer_t *a, const rn_batch_t *keys, int *base /* out */);
/* Appends the held rows of whole keys to out (schema's types; room for
 * out->cap rows) with key_of[row] = the key's index minus base, and stops
 * before a key whose rows do not all fit (the next call resumes there);
 * sets *done to the number of keys of the call completed (all when every
 * row was handed out; 0 when the first key's rows exceed out). False
 * with errbuf set when a value's text is not of its column's type. */
bool rn_jdbc_answer_emit(rn_jdbc_answer_t *a, const rn_schema_t *schema, int base, rn_batch_t *out,
                         int *key_of, int *done, rn_arena_t *arena, const char *where, char *errbuf,
                         size_t errbuf_size);

/* A reader handing out JSON object records built by a fill callback (the
 * bounded scan source of both clients). fill appends each row's JSON
 * object to *rows (one NUL-terminated object after another) and sets *eof
 * at the end of the table; it is called when every record was handed out. */
typedef struct rn_jdbc_reader rn_jdbc_reader_t;
typedef rn_err_t (*rn_jdbc_fill_fn)(void *client, rn_buf_t *rows, int *nrows /* out */, bool *eof /* out */,
                                   char *errbuf, size_t errbuf_size);
/* Takes ownership of client (freed by close_client on close). where is
 * copied. NULL on OOM (client is closed then). */
rn_reader_t *rn_jdbc_reader_new(void *client, rn_jdbc_fill_fn fill, void (*close_client)(void *),
                                const char *where);

/* The openers of each client: as rn_connector_t's, for a conf whose url
 * is theirs (validated). Same ownership and failures. */
rn_err_t rn_jdbc_sqlite_open_sink(const rn_jdbc_conf_t *c, const rn_open_ctx_t *ctx,
                                  rn_sink_io_t **out, char *errbuf, size_t errbuf_size);
rn_err_t rn_jdbc_sqlite_open_lookup(const rn_jdbc_conf_t *c, const rn_open_ctx_t *ctx,
                                    const int *key_cols, int nkeys, rn_lookup_t **out,
                                    char *errbuf, size_t errbuf_size);
rn_err_t rn_jdbc_sqlite_open_reader(const rn_jdbc_conf_t *c, const rn_open_ctx_t *ctx,
                                    rn_reader_t **out, char *errbuf, size_t errbuf_size);
rn_err_t rn_jdbc_pg_open_sink(const rn_jdbc_conf_t *c, const rn_open_ctx_t *ctx, rn_sink_io_t **out,
                              char *errbuf, size_t errbuf_size);
rn_err_t rn_jdbc_pg_open_lookup(const rn_jdbc_conf_t *c, const rn_open_ctx_t *ctx,
                                const int *key_cols, int nkeys, rn_lookup_t **out, char *errbuf,
                                size_t errbuf_size);
rn_err_t rn_jdbc_pg_open_reader(const rn_jdbc_conf_t *c, const rn_open_ctx_t *ctx,
                                rn_reader_t **out, char *errbuf, size_t errbuf_size);

#endif
