/*
 * checkpoint.c - checkpoint files; see checkpoint.h for the format and why
 * writing takes tmp + fsync + rename + directory fsync.
 *
 * Reading checks, in order: the magic, the version, then the layout with
 * every length bounded by the bytes that remain (a length past the end is
 * "truncated at byte X": the layout is self-delimiting, so every prefix of
 * a file fails there), then the CRC. A section count is checked against the
 * bytes left (each section takes at least 8) before anything is allocated
 * for it, so no input makes the reader allocate more than a few times its
 * size.
 */
#include "state/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/assert.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/mem.h"
#include "state/snapshot.h"

#define CKPT_HEADER 8u  /* magic + version */
#define CKPT_ID_DIGITS 20 /* digits of the id in a file name: UINT64_MAX has 20 */

static void ckpt_msg(char *errbuf, size_t errbuf_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void ckpt_msg(char *errbuf, size_t errbuf_size, const char *fmt, ...)
{
    if (!errbuf || !errbuf_size) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errbuf_size, fmt, ap);
    va_end(ap);
}

static uint32_t ckpt_get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void ckpt_set_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* ==== writing ================================================================ */

static rn_err_t builder_fail(rn_ckpt_builder_t *b, rn_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the builder's first failure; returns the sticky code. */
static rn_err_t builder_fail(rn_ckpt_builder_t *b, rn_err_t err, const char *fmt, ...)
{
    if (b->err == RN_OK) {
        b->err = err;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(b->why, sizeof b->why, fmt, ap);
        va_end(ap);
    }
    return b->err;
}

rn_err_t rn_ckpt_begin(rn_ckpt_builder_t *b, uint64_t id, const void *fp, size_t fplen)
{
    memset(b, 0, sizeof *b);
    rn_buf_init(&b->buf);
    if (fplen > UINT32_MAX) return builder_fail(b, RN_ERR_FATAL, "the fingerprint is over 4 GiB");
    rn_buf_append(&b->buf, RN_CKPT_MAGIC, 4);
    rn_snap_put_u32(&b->buf, RN_CKPT_VERSION);
    rn_snap_put_u64(&b->buf, id);
    rn_snap_put_bytes(&b->buf, fp, (uint32_t)fplen);
    b->count_at = b->buf.len;
    rn_snap_put_u32(&b->buf, 0); /* the section count, patched by rn_ckpt_finish */
    if (b->buf.oom) return builder_fail(b, RN_ERR_NOMEM, "out of memory building a checkpoint");
    return RN_OK;
}

/* Whether a closed section of b is named name[0..len). */
static bool builder_has(const rn_ckpt_builder_t *b, const char *name, size_t len)
{
    rn_snap_reader_t r;
    rn_snap_reader_init(&r, b->buf.data, b->buf.len);
    r.off = b->count_at + 4;
    for (uint32_t i = 0; i < b->nsections; i++) {
        uint32_t nlen, dlen;
        const void *n = rn_snap_bytes(&r, &nlen);
        rn_snap_bytes(&r, &dlen);
        RN_ASSERT(!r.bad); /* the builder wrote these */
        if (r.bad) return false;
        if (nlen == len && memcmp(n, name, len) == 0) return true;
    }
    return false;
}

rn_buf_t *rn_ckpt_section_open(rn_ckpt_builder_t *b, const char *name)
{
    if (b->err) return NULL;
    if (b->sealed) {
        builder_fail(b, RN_ERR_FATAL, "section \"%s\" added to a finished checkpoint", name);
        return NULL;
    }
    if (b->open_at) {
        builder_fail(b, RN_ERR_FATAL, "section \"%s\" opened while another is open", name);
        return NULL;
    }
    size_t nlen = strlen(name);
    if (nlen == 0 || nlen > UINT32_MAX) {
        builder_fail(b, RN_ERR_FATAL, "a checkpoint section needs a name");
        return NULL;
    }
    if (b->nsections == UINT32_MAX) {
        builder_fail(b, RN_ERR_FATAL, "too many checkpoint sections");
        return NULL;
    }
    if (builder_has(b, name, nlen)) {
        builder_fail(b, RN_ERR_FATAL, "checkpoint section \"%s\" added twice", name);
        return NULL;
    }
    rn_snap_put_bytes(&b->buf, name, (uint32_t)nlen);
    size_t at = b->buf.len;
    rn_snap_put_u32(&b->buf, 0); /* the data's length, patched by rn_ckpt_section_close */
    if (b->buf.oom) {
        builder_fail(b, RN_ERR_NOMEM, "out of memory building a checkpoint");
        return NULL;
    }
    b->open_at = at;
    return &b->buf;
}

rn_err_t rn_ckpt_section_close(rn_ckpt_builder_t *b)
{
    if (b->err) return b->err;
    if (!b->open_at) return builder_fail(b, RN_ERR_FATAL, "no checkpoint section is open");
    if (b->buf.oom) return builder_fail(b, RN_ERR_NOMEM, "out of memory building a checkpoint");
    if (b->buf.len < b->open_at + 4)
        return builder_fail(b, RN_ERR_FATAL, "a checkpoint section's buffer was shortened");
    size_t len = b->buf.len - (b->open_at + 4);
    if (len > UINT32_MAX) return builder_fail(b, RN_ERR_FATAL, "a checkpoint section is over 4 GiB");
    ckpt_set_u32((unsigned char *)b->buf.data + b->open_at, (uint32_t)len);
    b->open_at = 0;
    b->nsections++;
    return RN_OK;
}

rn_err_t rn_ckpt_add_section(rn_ckpt_builder_t *b, const char *name, const void *data, size_t len)
{
    if (b->err) return b->err;
    if (len > UINT32_MAX)
        return builder_fail(b, RN_ERR_FATAL, "checkpoint section \"%s\" is over 4 GiB", name);
    rn_buf_t *out = rn_ckpt_section_open(b, name);
    if (!out) return b->err;
    if (len) rn_buf_append(out, data, len);
    return rn_ckpt_section_close(b);
}

rn_err_t rn_ckpt_finish(rn_ckpt_builder_t *b, const void **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    if (b->err) return b->err;
    if (!b->sealed) {
        if (b->open_at) return builder_fail(b, RN_ERR_FATAL, "a checkpoint section is still open");
        if (!b->buf.data) return builder_fail(b, RN_ERR_FATAL, "a checkpoint finished before it began");
        ckpt_set_u32((unsigned char *)b->buf.data + b->count_at, b->nsections);
        rn_snap_put_u32(&b->buf, rn_crc32c(b->buf.data, b->buf.len));
        if (b->buf.oom) return builder_fail(b, RN_ERR_NOMEM, "out of memory building a checkpoint");
        b->sealed = true;
    }
    *data = b->buf.data;
    *len = b->buf.len;
    return RN_OK;
}

void rn_ckpt_builder_free(rn_ckpt_builder_t *b)
{
    rn_buf_free(&b->buf);
    memset(b, 0, sizeof *b);
}

bool rn_ckpt_name_ok(const char *name)
{
    size_t n = strlen(name);
    return n > 0 && n <= RN_CKPT_NAME_MAX && name[0] != '.' && !strchr(name, '/');
}

/* Writes len bytes at data to fd, through short writes and EINTR. Returns
 * 0, or -1 with errno set. */
static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* fsyncs directory dir. Filesystems that cannot sync a directory answer
 * EINVAL; there is nothing more to do on those, so that is success. */
static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0 && e == EINVAL) rc = 0;
    errno = e;
    return rc;
}

rn_err_t rn_ckpt_write(rn_ckpt_builder_t *b, const char *dir, const char *file_name, char *errbuf,
                       size_t errbuf_size)
{
    if (!rn_ckpt_name_ok(file_name)) {
        ckpt_msg(errbuf, errbuf_size,
                 "checkpoint file name \"%s\" refused: it must be a plain name (not empty, no '/', "
                 "no leading '.', at most %d bytes)",
                 file_name, RN_CKPT_NAME_MAX);
        return RN_ERR_CONFIG;
    }
    const void *data;
    size_t len;
    rn_err_t err = rn_ckpt_finish(b, &data, &len);
    if (err) {
        ckpt_msg(errbuf, errbuf_size, "checkpoint %s/%s: %s", dir, file_name, b->why);
        return err;
    }
    char path[PATH_MAX], tmp[PATH_MAX];
    int n1 = snprintf(path, sizeof path, "%s/%s", dir, file_name);
    int n2 = snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, file_name);
    if (n1 < 0 || n2 < 0 || (size_t)n2 >= sizeof tmp || (size_t)n1 >= sizeof path) {
        ckpt_msg(errbuf, errbuf_size, "checkpoint %s/%s: path too long", dir, file_name);
        return RN_ERR_CONFIG;
    }
    if (rn_mkdir_p(dir) != 0) {
        ckpt_msg(errbuf, errbuf_size, "checkpoint directory %s: %s", dir, strerror(errno));
        return RN_ERR_IO;
    }
    const char *what;
    int e;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        ckpt_msg(errbuf, errbuf_size, "%s: open: %s", tmp, strerror(errno));
        return RN_ERR_IO;
    }
    if (write_all(fd, data, len) != 0) {
        what = "write";
        goto fail_open;
    }
    if (fsync(fd) != 0) {
        what = "fsync";
        goto fail_open;
    }
    if (close(fd) != 0) {
        what = "close";
        goto fail_closed;
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        ckpt_msg(errbuf, errbuf_size, "%s: rename to %s: %s", tmp, path, strerror(e));
        return RN_ERR_IO;
    }
    if (fsync_dir(dir) != 0) {
        ckpt_msg(errbuf, errbuf_size, "%s: fsync of the directory %s: %s", path, dir, strerror(errno));
        return RN_ERR_IO;
    }
    return RN_OK;

fail_open:
    e = errno;
    close(fd);
    errno = e;
fail_closed:
    e = errno;
    unlink(tmp);
    ckpt_msg(errbuf, errbuf_size, "%s: %s: %s", tmp, what, strerror(e));
    return RN_ERR_IO;
}

/* ==== reading ================================================================ */

struct rn_ckpt {
    unsigned char *data;        /* the whole file (owned) */
    size_t len;                 /* its length */
    uint64_t id;                /* checkpoint id */
    const unsigned char *fp;    /* fingerprint, inside data */
    uint32_t fplen;             /* its length */
    uint32_t nsections;         /* section count */
    rn_ckpt_section_t *sections; /* nsections entries pointing into data (owned array) */
};

/* A layout walk that remembers how far the bytes would have had to reach
 * when one runs out. */
typedef struct ckpt_walk {
    rn_snap_reader_t r;         /* over the whole file */
    size_t need;                /* on failure: the length the file would have needed */
} ckpt_walk_t;

/* Whether n more bytes are there; records the need otherwise. */
static bool walk_have(ckpt_walk_t *w, uint64_t n)
{
    if (n > w->r.len - w->r.off) {
        w->need = w->r.off + (size_t)n;
        w->r.bad = true;
        return false;
    }
    return true;
}

/* A length-prefixed byte string, or NULL when it runs past the end. */
static const unsigned char *walk_bytes(ckpt_walk_t *w, uint32_t *len /* out */)
{
    *len = 0;
    if (!walk_have(w, 4)) return NULL;
    uint32_t n = rn_snap_u32(&w->r);
    if (!walk_have(w, n)) return NULL;
    const unsigned char *p = w->r.p + w->r.off;
    w->r.off += n;
    *len = n;
    return p;
}

/* Validates data[0..len) (taking ownership: freed on failure) into *out. */
static rn_err_t ckpt_parse_owned(unsigned char *data, size_t len, const char *what,
                                 rn_ckpt_t **out, char *errbuf, size_t errbuf_size)
{
    rn_ckpt_t *c = NULL;
    ckpt_walk_t w = {.need = 0};
    *out = NULL;
    if (len == 0) {
        ckpt_msg(errbuf, errbuf_size, "%s: truncated at byte 0 (the file is empty)", what);
        goto decode;
    }
    if (memcmp(data, RN_CKPT_MAGIC, len < 4 ? len : 4) != 0) {
        ckpt_msg(errbuf, errbuf_size, "%s: not a checkpoint file (no %s magic)", what, RN_CKPT_MAGIC);
        goto decode;
    }
    if (len < CKPT_HEADER) {
        ckpt_msg(errbuf, errbuf_size, "%s: truncated at byte %zu (expected at least %u bytes)", what,
                 len, CKPT_HEADER);
        goto decode;
    }
    uint32_t version = ckpt_get_u32(data + 4);
    if (version != RN_CKPT_VERSION) {
        /* Every format keeps the trailing CRC: with it intact the header
         * is what was written, without it the version may be a flipped bit. */
        bool crc_ok = len >= CKPT_HEADER + 4 &&
                      rn_crc32c(data, len - 4) == ckpt_get_u32(data + len - 4);
        if (crc_ok && version > RN_CKPT_VERSION)
            ckpt_msg(errbuf, errbuf_size,
                     "%s: written by a newer runnel (format %u); this runnel reads format %u", what,
                     version, RN_CKPT_VERSION);
        else if (crc_ok)
            ckpt_msg(errbuf, errbuf_size, "%s: unknown checkpoint format %u", what, version);
        else
            ckpt_msg(errbuf, errbuf_size,
                     "%s: checksum mismatch (the header says format %u, this runnel reads format %u: "
                     "the file is corrupt or written by a newer runnel)",
                     what, version, RN_CKPT_VERSION);
        goto decode;
    }

    c = rn_calloc(1, sizeof *c);
    if (!c) goto nomem;
    c->data = data;
    c->len = len;
    rn_snap_reader_init(&w.r, data, len);
    w.r.off = CKPT_HEADER;
    if (!walk_have(&w, 8)) goto truncated;
    c->id = rn_snap_u64(&w.r);
    c->fp = walk_bytes(&w, &c->fplen);
    if (!c->fp) goto truncated;
    if (!walk_have(&w, 4)) goto truncated;
    c->nsections = rn_snap_u32(&w.r);
    /* Each section takes at least its two lengths: check before allocating. */
    if (!walk_have(&w, (uint64_t)c->nsections * 8)) goto truncated;
    if (c->nsections) {
        c->sections = rn_calloc(c->nsections, sizeof *c->sections);
        if (!c->sections) goto nomem;
    }
    for (uint32_t i = 0; i < c->nsections; i++) {
        rn_ckpt_section_t *s = &c->sections[i];
        s->name = (const char *)walk_bytes(&w, &s->name_len);
        if (!s->name) goto truncated;
        s->data = walk_bytes(&w, &s->len);
        if (!s->data) goto truncated;
    }
    size_t end = w.r.off;
    if (!walk_have(&w, 4)) goto truncated;
    uint32_t stored = ckpt_get_u32(data + end), computed = rn_crc32c(data, end);
    if (stored != computed) {
        ckpt_msg(errbuf, errbuf_size, "%s: checksum mismatch (stored %08x, computed %08x)", what,
                 stored, computed);
        goto decode;
    }
    if (end + 4 != len) {
        ckpt_msg(errbuf, errbuf_size, "%s: %zu trailing bytes after the checksum at byte %zu", what,
                 len - end - 4, end);
        goto decode;
    }
    *out = c;
    return RN_OK;

truncated:
    ckpt_msg(errbuf, errbuf_size, "%s: truncated at byte %zu (expected at least %zu bytes)", what,
             len, w.need);
decode:
    if (c) rn_ckpt_free(c); /* frees data too */
    else rn_free(data);
    return RN_ERR_DECODE;
nomem:
    ckpt_msg(errbuf, errbuf_size, "%s: out of memory reading %zu bytes of checkpoint", what, len);
    if (c) rn_ckpt_free(c);
    else rn_free(data);
    return RN_ERR_NOMEM;
}

rn_err_t rn_ckpt_parse(const void *data, size_t len, const char *what, rn_ckpt_t **ckpt,
                       char *errbuf, size_t errbuf_size)
{
    *ckpt = NULL;
    unsigned char *copy = rn_malloc(len ? len : 1);
    if (!copy) {
        ckpt_msg(errbuf, errbuf_size, "%s: out of memory reading %zu bytes of checkpoint", what, len);
        return RN_ERR_NOMEM;
    }
    if (len) memcpy(copy, data, len);
    return ckpt_parse_owned(copy, len, what, ckpt, errbuf, errbuf_size);
}

rn_err_t rn_ckpt_read(const char *path, rn_ckpt_t **ckpt, char *errbuf, size_t errbuf_size)
{
    *ckpt = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        ckpt_msg(errbuf, errbuf_size, "%s: open: %s", path, strerror(e));
        errno = e;
        return RN_ERR_IO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        ckpt_msg(errbuf, errbuf_size, "%s: stat: %s", path, strerror(e));
        errno = e;
        return RN_ERR_IO;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        int e = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
        ckpt_msg(errbuf, errbuf_size, "%s: not a regular file", path);
        errno = e;
        return RN_ERR_IO;
    }
    /* Read to the end, whatever fstat said: the size is only a first guess. */
    size_t cap = (size_t)st.st_size + 1, len = 0;
    unsigned char *data = rn_malloc(cap);
    if (!data) goto nomem;
    for (;;) {
        if (len == cap) {
            unsigned char *p = cap > SIZE_MAX / 2 ? NULL : rn_realloc(data, cap * 2);
            if (!p) goto nomem;
            data = p;
            cap *= 2;
        }
        ssize_t r = read(fd, data + len, cap - len);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            rn_free(data);
            close(fd);
            ckpt_msg(errbuf, errbuf_size, "%s: read: %s", path, strerror(e));
            errno = e;
            return RN_ERR_IO;
        }
        if (r == 0) break;
        len += (size_t)r;
    }
    close(fd);
    return ckpt_parse_owned(data, len, path, ckpt, errbuf, errbuf_size);

nomem:
    rn_free(data);
    close(fd);
    ckpt_msg(errbuf, errbuf_size, "%s: out of memory reading %lld bytes of checkpoint", path,
             (long long)st.st_size);
    return RN_ERR_NOMEM;
}

void rn_ckpt_free(rn_ckpt_t *ckpt)
{
    if (!ckpt) return;
    rn_free(ckpt->sections);
    rn_free(ckpt->data);
    rn_free(ckpt);
}

uint64_t rn_ckpt_id(const rn_ckpt_t *ckpt) { return ckpt->id; }

const void *rn_ckpt_fingerprint(const rn_ckpt_t *ckpt, size_t *len)
{
    *len = ckpt->fplen;
    return ckpt->fp;
}

uint32_t rn_ckpt_section_count(const rn_ckpt_t *ckpt) { return ckpt->nsections; }

const rn_ckpt_section_t *rn_ckpt_section_at(const rn_ckpt_t *ckpt, uint32_t i)
{
    return i < ckpt->nsections ? &ckpt->sections[i] : NULL;
}

const rn_ckpt_section_t *rn_ckpt_find(const rn_ckpt_t *ckpt, const char *name)
{
    size_t n = strlen(name);
    for (uint32_t i = 0; i < ckpt->nsections; i++) {
        const rn_ckpt_section_t *s = &ckpt->sections[i];
        if (s->name_len == n && memcmp(s->name, name, n) == 0) return s;
    }
    return NULL;
}

/* ==== the directory ========================================================== */

rn_err_t rn_ckpt_file_name(char *out, size_t out_size, const char *tag, uint64_t id)
{
    if (out_size) out[0] = '\0';
    if (!tag[0] || strchr(tag, '/')) return RN_ERR_CONFIG;
    int n = snprintf(out, out_size, "ckpt-%s-%020llu%s", tag, (unsigned long long)id,
                     RN_CKPT_SUFFIX);
    if (n < 0 || (size_t)n >= out_size || n > RN_CKPT_NAME_MAX) {
        if (out_size) out[0] = '\0';
        return RN_ERR_CONFIG;
    }
    return RN_OK;
}

/* The id of name if it is prefix + 20 digits + RN_CKPT_SUFFIX. */
static bool ckpt_name_id(const char *name, const char *prefix, size_t plen, uint64_t *id /* out */)
{
    if (strncmp(name, prefix, plen) != 0) return false;
    const char *p = name + plen;
    if (strlen(p) != CKPT_ID_DIGITS + strlen(RN_CKPT_SUFFIX)) return false;
    if (strcmp(p + CKPT_ID_DIGITS, RN_CKPT_SUFFIX) != 0) return false;
    uint64_t v = 0;
    for (int i = 0; i < CKPT_ID_DIGITS; i++) {
        if (p[i] < '0' || p[i] > '9') return false;
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return false; /* above UINT64_MAX: not a name we write */
        v = v * 10 + d;
    }
    *id = v;
    return true;
}

static int entry_newest_first(const void *a, const void *b)
{
    const rn_ckpt_entry_t *x = a, *y = b;
    if (x->id != y->id) return x->id > y->id ? -1 : 1;
    return strcmp(x->name, y->name);
}

void rn_ckpt_list_free(rn_ckpt_list_t *list)
{
    for (size_t i = 0; i < list->n; i++) rn_free(list->entries[i].name);
    rn_free(list->entries);
    list->entries = NULL;
    list->n = 0;
}

rn_err_t rn_ckpt_list(const char *dir, const char *prefix, rn_ckpt_list_t *list, char *errbuf,
                      size_t errbuf_size)
{
    list->entries = NULL;
    list->n = 0;
    if (!rn_ckpt_name_ok(prefix)) {
        ckpt_msg(errbuf, errbuf_size, "checkpoint prefix \"%s\" refused: it must be a plain name",
                 prefix);
        return RN_ERR_CONFIG;
    }
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return RN_OK;
        ckpt_msg(errbuf, errbuf_size, "checkpoint directory %s: %s", dir, strerror(errno));
        return RN_ERR_IO;
    }
    size_t plen = strlen(prefix), cap = 0;
    rn_err_t err = RN_OK;
    struct dirent *de;
    for (errno = 0; (de = readdir(d)) != NULL; errno = 0) {
        uint64_t id;
        if (!ckpt_name_id(de->d_name, prefix, plen, &id)) continue;
        if (list->n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            rn_ckpt_entry_t *e = rn_realloc(list->entries, ncap * sizeof *e);
            if (!e) {
                err = RN_ERR_NOMEM;
                break;
            }
            list->entries = e;
            cap = ncap;
        }
        char *name = rn_strdup(de->d_name);
        if (!name) {
            err = RN_ERR_NOMEM;
            break;
        }
        list->entries[list->n].name = name;
        list->entries[list->n].id = id;
        list->n++;
    }
    if (err == RN_OK && errno != 0) {
        ckpt_msg(errbuf, errbuf_size, "checkpoint directory %s: readdir: %s", dir, strerror(errno));
        err = RN_ERR_IO;
    } else if (err == RN_ERR_NOMEM) {
        ckpt_msg(errbuf, errbuf_size, "checkpoint directory %s: out of memory listing it", dir);
    }
    closedir(d);
    if (err) {
        rn_ckpt_list_free(list);
        return err;
    }
    if (list->n > 1) qsort(list->entries, list->n, sizeof *list->entries, entry_newest_first);
    return RN_OK;
}

/* Deletes dir/name; a file already gone is not an error. Returns 0, or -1
 * with the failure described in errbuf (unless one is there already). */
static int prune_unlink(const char *dir, const char *name, bool *first, char *errbuf,
                        size_t errbuf_size)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof path) {
        errno = ENAMETOOLONG;
    } else if (unlink(path) == 0) {
        return 0;
    } else if (errno == ENOENT) {
        return 1; /* someone else removed it */
    }
    if (*first) ckpt_msg(errbuf, errbuf_size, "%s/%s: unlink: %s", dir, name, strerror(errno));
    *first = false;
    return -1;
}

static bool kept(const char *name, const char *const *keep_names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (keep_names[i] && strcmp(name, keep_names[i]) == 0) return true;
    return false;
}

rn_err_t rn_ckpt_prune(const char *dir, const char *prefix, size_t keep, const char *const *keep_names,
                       size_t nkeep_names, size_t *removed, char *errbuf, size_t errbuf_size)
{
    if (removed) *removed = 0;
    rn_ckpt_list_t list;
    rn_err_t err = rn_ckpt_list(dir, prefix, &list, errbuf, errbuf_size);
    if (err) return err;
    bool first = true;
    size_t count = 0;
    for (size_t i = keep; i < list.n; i++) {
        if (kept(list.entries[i].name, keep_names, nkeep_names)) continue;
        int rc = prune_unlink(dir, list.entries[i].name, &first, errbuf, errbuf_size);
        if (rc == 0) count++;
        else if (rc < 0) err = err ? err : RN_ERR_IO;
    }
    rn_ckpt_list_free(&list);

    /* Stray temporary files: ".<prefix>...tmp", left by a crash between
     * the tmp write and the rename. */
    DIR *d = opendir(dir);
    if (d) {
        size_t plen = strlen(prefix);
        time_t now = time(NULL);
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            const char *name = de->d_name;
            size_t n = strlen(name);
            if (name[0] != '.' || strncmp(name + 1, prefix, plen) != 0 || n < plen + 1 + 4 ||
                strcmp(name + n - 4, ".tmp") != 0)
                continue;
            struct stat st;
            if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
                continue;
            if (st.st_mtime > now - RN_CKPT_TMP_AGE_S) continue; /* maybe a write in progress */
            int rc = prune_unlink(dir, name, &first, errbuf, errbuf_size);
            if (rc == 0) count++;
            else if (rc < 0) err = err ? err : RN_ERR_IO;
        }
        closedir(d);
    }
    if (removed) *removed = count;
    return err;
}
