/*
 * file.c - the 'filesystem' (alias 'file'), 'print' and 'blackhole'
 * connectors, and the JSON-lines file reader and writer every connector
 * uses in `runnel test`.
 *
 * The reader fills a large buffer with read(2), keeps RN_JSON_PADDING
 * spare bytes after the data for simdjson, and hands out lines that point
 * straight into the buffer (zero copy). Records handed out stay valid until
 * the next call, so a batch never spans a refill: the unfinished tail line
 * is moved to the front before reading more.
 *
 * The keyed reader (the input of an upsert table in `runnel test`) splits
 * {"key": K, "value": V} lines into a record key and value that point
 * into the line, so that such a file reads like the upsert topic it
 * stands for, and an upsert sink's output file reads back as a source.
 */
#include "connectors/connector.h"
#include "core/mem.h"
#include "json/json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_READ_CHUNK (4u << 20)

typedef struct file_reader {
    rn_reader_t base;
    int fd;
    char *path;
    char *buf;                  /* data + RN_JSON_PADDING spare bytes */
    size_t cap;                 /* usable bytes (without padding) */
    size_t start, end;          /* unread data is buf[start..end) */
    int64_t line;               /* line number of the next line */
    bool eof;                   /* read(2) returned 0 */
    bool stream;                /* a pipe, FIFO or terminal (stdin): may block */
    bool keyed;                 /* split {"key":..,"value":..} lines (rn_file_reader_open_keyed) */
} file_reader_t;

/* ---- {"key": K, "value": V} lines ---------------------------------------- */

static size_t json_ws(const char *p, size_t i, size_t n)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n')) i++;
    return i;
}

/* The end of the JSON value that starts at p[i] (an object, array, string
 * or a literal such as a number or null), or 0 if none does. Only the
 * shape is scanned (strings, escapes, nesting); the JSON decoder checks
 * the rest. */
static size_t json_value_end(const char *p, size_t i, size_t n)
{
    if (i >= n) return 0;
    if (p[i] == '"') {
        for (i++; i < n; i++) {
            if (p[i] == '\\') i++;
            else if (p[i] == '"') return i + 1;
        }
        return 0;
    }
    if (p[i] == '{' || p[i] == '[') {
        int depth = 0;
        for (; i < n; i++) {
            char c = p[i];
            if (c == '"') {
                size_t e = json_value_end(p, i, n);
                if (!e) return 0;
                i = e - 1;
            } else if (c == '{' || c == '[') {
                depth++;
            } else if ((c == '}' || c == ']') && --depth == 0) {
                return i + 1;
            }
        }
        return 0;
    }
    size_t start = i;
    while (i < n && !strchr(",}] \t\r\n", p[i])) i++;
    return i > start ? i : 0;
}

/* Splits line p[0..n) into the spans of its "key" and "value" members if
 * it is {"key": K, "value": V} (either order, each an object or null).
 * A null member gets a NULL span. False for any other line. */
static bool keyed_split(const char *p, size_t n, const char **key, size_t *klen, const char **val,
                        size_t *vlen)
{
    size_t i = json_ws(p, 0, n);
    if (i >= n || p[i] != '{') return false;
    bool have_key = false, have_val = false;
    for (int m = 0; m < 2; m++) {
        i = json_ws(p, i + 1, n); /* past '{' or ',' */
        bool is_key = n - i >= 5 && !memcmp(p + i, "\"key\"", 5);
        bool is_val = n - i >= 7 && !memcmp(p + i, "\"value\"", 7);
        if ((!is_key && !is_val) || (is_key && have_key) || (is_val && have_val)) return false;
        i = json_ws(p, i + (is_key ? 5 : 7), n);
        if (i >= n || p[i] != ':') return false;
        i = json_ws(p, i + 1, n);
        size_t end = json_value_end(p, i, n);
        if (!end) return false;
        bool null = end - i == 4 && !memcmp(p + i, "null", 4);
        if (!null && p[i] != '{') return false;
        if (is_key) {
            have_key = true;
            *key = null ? NULL : p + i;
            *klen = null ? 0 : end - i;
        } else {
            have_val = true;
            *val = null ? NULL : p + i;
            *vlen = null ? 0 : end - i;
        }
        i = json_ws(p, end, n);
        if (i >= n || p[i] != (m == 0 ? ',' : '}')) return false;
    }
    return json_ws(p, i + 1, n) == n;
}

static rn_err_t file_reader_fill(file_reader_t *f, char *errbuf, size_t errbuf_size)
{
    if (f->start > 0) {
        memmove(f->buf, f->buf + f->start, f->end - f->start);
        f->end -= f->start;
        f->start = 0;
    }
    if (f->end == f->cap) { /* a single line longer than the buffer: grow */
        if (f->cap >= RN_FILE_MAX_LINE) {
            snprintf(errbuf, errbuf_size,
                     "%s:%lld: line longer than %d MiB, the most one record may have "
                     "(is this a file of JSON lines?)",
                     f->path, (long long)f->line, RN_FILE_MAX_LINE >> 20);
            return RN_ERR_IO;
        }
        size_t ncap = f->cap * 2;
        char *nb = rn_realloc(f->buf, ncap + RN_JSON_PADDING);
        if (!nb) return RN_ERR_NOMEM;
        f->buf = nb;
        f->cap = ncap;
    }
    while (f->end < f->cap && !f->eof) {
        /* A stream that has nothing now must not block the run loop (it
         * would never see a stop request, nor serve other sources): wait
         * at most wait_ms, then hand back "nothing right now". */
        if (f->stream) {
            struct pollfd pfd = {.fd = f->fd, .events = POLLIN};
            int ready = poll(&pfd, 1, f->base.wait_ms);
            if (ready < 0 && errno != EINTR) {
                snprintf(errbuf, errbuf_size, "%s: poll failed: %s", f->path, strerror(errno));
                return RN_ERR_IO;
            }
            if (ready <= 0) break;
        }
        ssize_t n = read(f->fd, f->buf + f->end, f->cap - f->end);
        if (n < 0) {
            if (errno == EINTR) continue;
            snprintf(errbuf, errbuf_size, "%s: read failed: %s", f->path, strerror(errno));
            return RN_ERR_IO;
        }
        if (n == 0) f->eof = true;
        f->end += (size_t)n;
        if (f->stream && n > 0) break; /* hand out what we have */
    }
    memset(f->buf + f->end, 0, RN_JSON_PADDING);
    return RN_OK;
}

static rn_err_t file_reader_next(rn_reader_t *r, rn_record_t *recs, int max, int *n, bool *eof,
                                 char *errbuf, size_t errbuf_size)
{
    file_reader_t *f = (file_reader_t *)r;
    *n = 0;
    *eof = false;
    for (;;) {
        while (*n < max && f->start < f->end) {
            char *p = f->buf + f->start;
            size_t avail = f->end - f->start;
            char *nl = memchr(p, '\n', avail);
            if (!nl && !f->eof) break; /* partial line: needs a refill */
            size_t len = nl ? (size_t)(nl - p) : avail;
            f->start += len + (nl ? 1 : 0);
            int64_t lineno = f->line++;
            if (len && p[len - 1] == '\r') len--;
            size_t i = 0;
            while (i < len && (p[i] == ' ' || p[i] == '\t')) i++;
            if (i == len) continue; /* blank line */
            rn_record_set(&recs[*n], p, len, lineno);
            const char *k = NULL, *v = NULL;
            size_t kl = 0, vl = 0;
            if (f->keyed && keyed_split(p, len, &k, &kl, &v, &vl)) {
                recs[*n].key = k;
                recs[*n].klen = kl;
                recs[*n].data = v;
                recs[*n].len = vl;
            }
            (*n)++;
        }
        if (*n > 0) return RN_OK;
        if (f->eof && f->start == f->end) {
            *eof = true;
            return RN_OK;
        }
        /* Nothing complete is buffered and nothing was handed out in this
         * call, so moving the buffer invalidates no live record. */
        size_t pending = f->end - f->start;
        rn_err_t err = file_reader_fill(f, errbuf, errbuf_size);
        if (err != RN_OK) return err;
        if (f->end - f->start == pending && !f->eof) return RN_OK; /* a stream with nothing new */
    }
}

static void file_reader_close(rn_reader_t *r)
{
    file_reader_t *f = (file_reader_t *)r;
    if (f->fd > 0) close(f->fd);
    rn_free(f->buf);
    rn_free(f->path);
    rn_free(f);
}

static rn_err_t file_reader_open(const char *path, bool keyed, rn_reader_t **out, char *errbuf,
                                 size_t errbuf_size)
{
    int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : 0;
    if (fd < 0) {
        snprintf(errbuf, errbuf_size, "cannot open %s: %s", path, strerror(errno));
        return RN_ERR_IO;
    }
    file_reader_t *f = rn_calloc(1, sizeof *f);
    if (f) {
        f->path = rn_strdup(path);
        f->cap = FILE_READ_CHUNK;
        f->buf = rn_malloc(f->cap + RN_JSON_PADDING);
    }
    if (!f || !f->path || !f->buf) {
        if (f) {
            rn_free(f->path);
            rn_free(f->buf);
            rn_free(f);
        }
        if (fd > 0) close(fd);
        snprintf(errbuf, errbuf_size, "out of memory opening %s", path);
        return RN_ERR_NOMEM;
    }
    f->fd = fd;
    struct stat st;
    f->stream = fstat(fd, &st) != 0 || !S_ISREG(st.st_mode);
    f->line = 1;
    f->keyed = keyed;
    f->base.next = file_reader_next;
    f->base.wait_ms = RN_IDLE_WAIT_MS;
    f->base.close = file_reader_close;
    f->base.where = f->path;
    *out = &f->base;
    return RN_OK;
}

rn_err_t rn_file_reader_open(const char *path, rn_reader_t **out, char *errbuf, size_t errbuf_size)
{
    return file_reader_open(path, false, out, errbuf, errbuf_size);
}

rn_err_t rn_file_reader_open_keyed(const char *path, rn_reader_t **out, char *errbuf, size_t errbuf_size)
{
    return file_reader_open(path, true, out, errbuf, errbuf_size);
}

/* ---- output files, one writer per file ------------------------------- */

#define FILE_OUT_BUFFER (1 << 20) /* bytes written per write(2) */

/* One open output file, shared by every sink that writes to it. */
typedef struct file_out {
    struct file_out *next;
    char *path;
    FILE *fp;
    char *buf;                  /* fp's buffer (FILE_OUT_BUFFER bytes; glibc ignores a size without one) */
    dev_t dev;                  /* identity, to find the same file under */
    ino_t ino;                  /* another spelling of its path */
    bool created;               /* did not exist before the run */
    int refs;                   /* sinks using it, plus one for the registry */
} file_out_t;

struct rn_file_outs {
    file_out_t *list;
    bool started;               /* rn_file_outs_start done: files were truncated */
};

rn_file_outs_t *rn_file_outs_new(void) { return rn_calloc(1, sizeof(rn_file_outs_t)); }

static void file_out_unref(file_out_t *f)
{
    if (--f->refs > 0) return;
    if (f->fp) fclose(f->fp);
    rn_free(f->buf);
    rn_free(f->path);
    rn_free(f);
}

rn_err_t rn_file_outs_start(rn_file_outs_t *files, char *errbuf, size_t errbuf_size)
{
    for (file_out_t *f = files->list; f; f = f->next) {
        if (ftruncate(fileno(f->fp), 0) != 0 || fseeko(f->fp, 0, SEEK_SET) != 0) {
            snprintf(errbuf, errbuf_size, "cannot truncate %s: %s", f->path, strerror(errno));
            return RN_ERR_IO;
        }
    }
    files->started = true;
    return RN_OK;
}

void rn_file_outs_free(rn_file_outs_t *files)
{
    if (!files) return;
    file_out_t *next;
    for (file_out_t *f = files->list; f; f = next) {
        next = f->next;
        /* A run that never started leaves no empty file behind it. */
        if (!files->started && f->created) unlink(f->path);
        file_out_unref(f);
    }
    rn_free(files);
}

/* Opens path for writing without truncating it (that waits for
 * rn_file_outs_start), or finds it already open under any spelling. */
static rn_err_t file_out_get(rn_file_outs_t *files, const char *path, file_out_t **out, char *errbuf,
                             size_t errbuf_size)
{
    struct stat st;
    bool existed = stat(path, &st) == 0;
    if (existed) {
        for (file_out_t *f = files->list; f; f = f->next) {
            if (f->dev == st.st_dev && f->ino == st.st_ino) {
                f->refs++;
                *out = f;
                return RN_OK;
            }
        }
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (files->started ? O_TRUNC : 0), 0666);
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(errbuf, errbuf_size, "cannot create %s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return RN_ERR_IO;
    }
    file_out_t *f = rn_calloc(1, sizeof *f);
    if (f && !(f->path = rn_strdup(path))) {
        rn_free(f);
        f = NULL;
    }
    if (!f || !(f->fp = fdopen(fd, "w"))) {
        if (f) rn_free(f->path);
        rn_free(f);
        close(fd);
        if (!existed) unlink(path);
        return RN_ERR_NOMEM;
    }
    if ((f->buf = rn_malloc(FILE_OUT_BUFFER))) setvbuf(f->fp, f->buf, _IOFBF, FILE_OUT_BUFFER);
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->created = !existed;
    f->refs = 2; /* the registry's and the caller's */
    f->next = files->list;
    files->list = f;
    *out = f;
    return RN_OK;
}

/* ---- JSON-lines writer ------------------------------------------------ */

typedef struct file_sink {
    rn_sink_io_t base;
    FILE *fp;                   /* NULL discards */
    file_out_t *out;            /* the shared file, or NULL (stdout, stderr, discard) */
    char *path;
    rn_line_format format;
    rn_buf_t line;
} file_sink_t;

static rn_err_t file_sink_write(rn_sink_io_t *io, const char *key, size_t klen, const char *value,
                                size_t vlen, rn_rowkind_t kind, char *errbuf, size_t errbuf_size)
{
    file_sink_t *s = (file_sink_t *)io;
    if (!s->fp) return RN_OK;
    rn_buf_clear(&s->line);
    switch (s->format) {
    case RN_LINES_VALUE:
        if (!value) return RN_OK;
        rn_buf_append(&s->line, value, vlen);
        break;
    case RN_LINES_KEYED:
        rn_buf_appends(&s->line, "{\"key\":");
        if (key) rn_buf_append(&s->line, key, klen);
        else rn_buf_appends(&s->line, "null");
        rn_buf_appends(&s->line, ",\"value\":");
        if (value) rn_buf_append(&s->line, value, vlen);
        else rn_buf_appends(&s->line, "null");
        rn_buf_appendc(&s->line, '}');
        break;
    case RN_LINES_CHANGELOG:
        rn_buf_appendf(&s->line, "{\"op\":\"%s\",\"value\":", rn_rowkind_str(kind));
        if (value) rn_buf_append(&s->line, value, vlen);
        else rn_buf_appends(&s->line, "null");
        rn_buf_appendc(&s->line, '}');
        break;
    }
    rn_buf_appendc(&s->line, '\n');
    if (s->line.oom) return RN_ERR_NOMEM;
    /* One fwrite per line: sinks sharing the file never interleave inside
     * a line, and lines keep the order the sinks were given them in. */
    if (fwrite(s->line.data, 1, s->line.len, s->fp) != s->line.len) {
        snprintf(errbuf, errbuf_size, "%s: write failed: %s", s->path, strerror(errno));
        return RN_ERR_IO;
    }
    return RN_OK;
}

static rn_err_t file_sink_flush(rn_sink_io_t *io, char *errbuf, size_t errbuf_size)
{
    file_sink_t *s = (file_sink_t *)io;
    if (s->fp && (s->fp == stdout || s->out) && fflush(s->fp) != 0) {
        snprintf(errbuf, errbuf_size, "%s: write failed: %s", s->path, strerror(errno));
        return RN_ERR_IO;
    }
    return RN_OK;
}

static void file_sink_close(rn_sink_io_t *io)
{
    file_sink_t *s = (file_sink_t *)io;
    if (s->out) file_out_unref(s->out);
    else if (s->fp) fflush(s->fp);
    rn_buf_free(&s->line);
    rn_free(s->path);
    rn_free(s);
}

/* The discarding writer's typed path: rows are taken and dropped without
 * being formatted (as Flink's blackhole sink drops its rows). */
static rn_err_t discard_write_rows(rn_sink_io_t *io, const rn_batch_t *batch, const int *rows, int n,
                                   const rn_sink_layout_t *layout, char *errbuf, size_t errbuf_size)
{
    (void)io, (void)batch, (void)rows, (void)n, (void)layout, (void)errbuf, (void)errbuf_size;
    return RN_OK;
}

rn_err_t rn_file_sink_open(rn_file_outs_t *files, const char *path, rn_line_format format,
                           rn_sink_io_t **out, char *errbuf, size_t errbuf_size)
{
    file_sink_t *s = rn_calloc(1, sizeof *s);
    if (!s) return RN_ERR_NOMEM;
    s->path = rn_strdup(path ? path : "(discard)");
    if (!s->path) {
        rn_free(s);
        return RN_ERR_NOMEM;
    }
    if (path && !strcmp(path, "-")) {
        s->fp = stdout;
    } else if (path) {
        rn_err_t err = file_out_get(files, path, &s->out, errbuf, errbuf_size);
        if (err != RN_OK) {
            rn_free(s->path);
            rn_free(s);
            return err;
        }
        s->fp = s->out->fp;
    }
    s->format = format;
    rn_buf_init(&s->line);
    s->base.write = file_sink_write;
    if (!path) s->base.write_rows = discard_write_rows;
    s->base.flush = file_sink_flush;
    s->base.close = file_sink_close;
    *out = &s->base;
    return RN_OK;
}

bool rn_file_same(const char *a, const char *b)
{
    if (!strcmp(a, b)) return true;
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* ---- connectors ------------------------------------------------------- */

typedef struct fs_conf {
    const char *path;           /* file path ('-' = stdin/stdout) */
    const char *format;         /* json */
    const char *json_ts;        /* 'json.timestamp-format.standard', or NULL */
} fs_conf_t;

static const rn_option_spec_t fs_options[] = {
    {"path", RN_OPT_STRING, NULL, offsetof(fs_conf_t, path), NULL, true, "file of JSON lines"},
    {"format", RN_OPT_ENUM, "json", offsetof(fs_conf_t, format), "json", false, "record format"},
    {"json.timestamp-format.standard", RN_OPT_ENUM, NULL, offsetof(fs_conf_t, json_ts), "SQL|ISO-8601", false,
     "timestamps in written records as strings (default: epoch ms)"},
    {NULL},
};

static rn_err_t fs_open_reader(const void *conf, const rn_open_ctx_t *ctx, rn_reader_t **out, char *errbuf,
                               size_t errbuf_size)
{
    return rn_file_reader_open(((const fs_conf_t *)conf)->path, out, errbuf, errbuf_size);
}

static rn_err_t fs_open_sink(const void *conf, const rn_open_ctx_t *ctx, rn_sink_io_t **out, char *errbuf,
                             size_t errbuf_size)
{
    return rn_file_sink_open(ctx->files, ((const fs_conf_t *)conf)->path, RN_LINES_VALUE, out, errbuf,
                             errbuf_size);
}

static const char *fs_file_path(const void *conf)
{
    const char *path = ((const fs_conf_t *)conf)->path;
    return strcmp(path, "-") ? path : NULL;
}

static void fs_describe(const void *conf, rn_buf_t *out)
{
    const fs_conf_t *c = conf;
    rn_buf_appendf(out, "path=%s, format=%s", c->path, c->format);
}

static void fs_json_timestamps(const void *conf, rn_json_ts_format *key, rn_json_ts_format *value)
{
    (void)key;
    const fs_conf_t *c = conf;
    if (c->json_ts) rn_json_ts_format_parse(c->json_ts, value);
}

const rn_connector_t rn_connector_filesystem = {
    .name = "filesystem",
    .alias = "file",
    .roles = RN_ROLE_SOURCE | RN_ROLE_SINK,
    .sink_mode = RN_SINK_APPEND,
    .forbids_pk = true,
    .options = fs_options,
    .conf_size = sizeof(fs_conf_t),
    .open_reader = fs_open_reader,
    .open_sink = fs_open_sink,
    .describe = fs_describe,
    .file_path = fs_file_path,
    .json_timestamps = fs_json_timestamps,
};

typedef struct print_conf {
    const char *prefix;         /* 'print-identifier' */
    bool standard_error;        /* 'standard-error' */
} print_conf_t;

static const rn_option_spec_t print_options[] = {
    {"print-identifier", RN_OPT_STRING, NULL, offsetof(print_conf_t, prefix), NULL, false,
     "accepted for Flink compatibility"},
    {"standard-error", RN_OPT_BOOL, "false", offsetof(print_conf_t, standard_error), NULL, false,
     "print to stderr instead of stdout"},
    {NULL},
};

static rn_err_t print_open_sink(const void *conf, const rn_open_ctx_t *ctx, rn_sink_io_t **out,
                                char *errbuf, size_t errbuf_size)
{
    rn_err_t err = rn_file_sink_open(NULL, "-", RN_LINES_CHANGELOG, out, errbuf, errbuf_size);
    if (err == RN_OK && ((const print_conf_t *)conf)->standard_error) ((file_sink_t *)*out)->fp = stderr;
    return err;
}

const rn_connector_t rn_connector_print = {
    .name = "print",
    .roles = RN_ROLE_SINK,
    .sink_mode = RN_SINK_CHANGELOG,
    .options = print_options,
    .conf_size = sizeof(print_conf_t),
    .open_sink = print_open_sink,
};

typedef struct blackhole_conf {
    int unused;
} blackhole_conf_t;

static const rn_option_spec_t blackhole_options[] = {{NULL}};

static rn_err_t blackhole_open_sink(const void *conf, const rn_open_ctx_t *ctx, rn_sink_io_t **out,
                                    char *errbuf, size_t errbuf_size)
{
    return rn_file_sink_open(NULL, NULL, RN_LINES_VALUE, out, errbuf, errbuf_size); /* discards */
}

const rn_connector_t rn_connector_blackhole = {
    .name = "blackhole",
    .shared = true,
    .roles = RN_ROLE_SINK,
    .sink_mode = RN_SINK_CHANGELOG,
    .options = blackhole_options,
    .conf_size = sizeof(blackhole_conf_t),
    .open_sink = blackhole_open_sink,
};
