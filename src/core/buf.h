/*
 * buf.h - growable byte buffer (a small cousin of Redis sds) used for
 * output lines, serialized keys and error messages.
 *
 * The buffer keeps a NUL after the data so buf.data can be used as a C
 * string. Appends report RN_ERR_NOMEM by setting buf.oom, so a sequence of
 * appends can be checked once at the end.
 */
#ifndef RN_BUF_H
#define RN_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct rn_buf {
    char *data;   /* bytes, NUL-terminated; NULL until first append */
    size_t len;   /* bytes in use, excluding the NUL */
    size_t cap;   /* allocated bytes */
    int oom;      /* set when an append failed for lack of memory */
} rn_buf_t;

void rn_buf_init(rn_buf_t *b);
void rn_buf_free(rn_buf_t *b);
/* Empties the buffer, keeping its memory, and clears oom. */
void rn_buf_clear(rn_buf_t *b);
/* Makes room for at least extra more bytes; 0 on success, -1 on OOM. */
int rn_buf_reserve(rn_buf_t *b, size_t extra);
/* The out-of-line halves of rn_buf_append and rn_buf_appendc (growth). */
void rn_buf_append_grow(rn_buf_t *b, const void *data, size_t len);
void rn_buf_appendc_grow(rn_buf_t *b, char c);

/* Appends len bytes (inline when they fit: serializers call this per value). */
static inline void rn_buf_append(rn_buf_t *b, const void *data, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        rn_buf_append_grow(b, data, len);
        return;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

static inline void rn_buf_appendc(rn_buf_t *b, char c)
{
    if (b->len + 2 > b->cap) {
        rn_buf_appendc_grow(b, c);
        return;
    }
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}
void rn_buf_appends(rn_buf_t *b, const char *s);
void rn_buf_appendf(rn_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void rn_buf_vappendf(rn_buf_t *b, const char *fmt, va_list ap);
void rn_buf_append_i64(rn_buf_t *b, int64_t v);

#endif
