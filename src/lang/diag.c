/*
 * diag.c - compiler-style diagnostics that quote the SQL text; see diag.h.
 *
 * The message is written straight into the caller's fixed-size buffer
 * (no heap: diagnostics are also produced after an allocation failed).
 * The quoted source line is found from pos.offset, not pos.line, so a
 * position is always shown against the right text. Columns count bytes,
 * but the caret line counts characters: UTF-8 continuation bytes take no
 * room, and tabs in the source are copied so the caret lines up whatever
 * the terminal's tab width. A very long line is cut to a window around
 * the caret, marked with "...". The values of secret options on the
 * quoted line ('properties.sasl.password' = '...') are shown as '*'.
 */
#include "lang/diag.h"
#include "core/text.h"
#include "lang/lexer.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DIAG_LEFT 60   /* bytes shown left of the caret on a long line */
#define DIAG_WIDTH 160 /* most bytes of a source line shown */

/* A bounded writer over errbuf; output past the end is dropped. */
typedef struct diag_out {
    char *buf;   /* errbuf */
    size_t size; /* its size, > 0 */
    size_t len;  /* bytes written, < size */
} diag_out_t;

static void diag_putc(diag_out_t *o, char c)
{
    if (o->len + 1 < o->size) {
        o->buf[o->len++] = c;
        o->buf[o->len] = '\0';
    }
}

static void diag_vprintf(diag_out_t *o, const char *fmt, va_list ap)
{
    size_t room = o->size - o->len;
    int n = vsnprintf(o->buf + o->len, room, fmt, ap);
    if (n < 0) return;
    o->len += (size_t)n < room ? (size_t)n : room - 1;
}

static void diag_printf(diag_out_t *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vprintf(o, fmt, ap);
    va_end(ap);
}

/* Byte ranges of secret option values on the quoted line. */
#define DIAG_MAX_SECRETS 16
typedef struct diag_secrets {
    size_t lo[DIAG_MAX_SECRETS], hi[DIAG_MAX_SECRETS];
    int n;
} diag_secrets_t;

/* Finds the values of secret options ('properties.sasl.password' = '...',
 * any key rn_text_secret_key calls secret) that overlap src[from..to),
 * with the SQL lexer (which never allocates), so string literals, quoted
 * identifiers and comments are read exactly as the parser reads them. An
 * unterminated value runs to the end of the text. A quoted line never
 * shows them. */
static void diag_find_secrets(const char *src, size_t srclen, size_t from, size_t to, diag_secrets_t *out)
{
    rn_lexer_t lx;
    rn_lexer_init(&lx, src, srclen);
    int state = 0; /* 1: after a secret key literal, 2: after its '=' */
    out->n = 0;
    for (;;) {
        rn_token_t t;
        rn_tok_type type = rn_lexer_next(&lx, &t);
        size_t at = (size_t)t.pos.offset, len = (size_t)t.pos.len;
        if (type == RN_TK_EOF || at >= to) break;
        bool string = type == RN_TK_STRING, open = type == RN_TK_ERROR && src[at] == '\'';
        if (state == 2 && (string || open)) {
            size_t hi = string ? at + len - 1 : srclen;
            if (hi > from && out->n < DIAG_MAX_SECRETS) {
                out->lo[out->n] = at + 1;
                out->hi[out->n++] = hi;
            }
        }
        if (string && state == 0 && rn_text_secret_key(src + at + 1, len - 2)) state = 1;
        else if (type == RN_TK_EQ && state == 1) state = 2;
        else state = 0;
    }
}

static bool diag_is_secret(const diag_secrets_t *s, size_t i)
{
    for (int k = 0; k < s->n; k++)
        if (i >= s->lo[k] && i < s->hi[k]) return true;
    return false;
}

/* True for a UTF-8 continuation byte (10xxxxxx). */
static int diag_is_cont(unsigned char c) { return (c & 0xc0) == 0x80; }

void rn_diag_format(char *errbuf, size_t errbuf_size, const char *filename, const char *src,
                    size_t srclen, rn_pos_t pos, const char *fmt, ...)
{
    if (!errbuf || errbuf_size == 0) return;
    diag_out_t o = {errbuf, errbuf_size, 0};
    errbuf[0] = '\0';

    diag_printf(&o, "%s:%d:%d: error: ", filename ? filename : "<input>", pos.line, pos.col);
    va_list ap;
    va_start(ap, fmt);
    diag_vprintf(&o, fmt, ap);
    va_end(ap);
    if (!src) return;

    size_t off = pos.offset < 0 ? 0 : (size_t)pos.offset;
    if (off > srclen) off = srclen;
    size_t bol = off, eol = off;
    while (bol > 0 && src[bol - 1] != '\n') bol--;
    while (eol < srclen && src[eol] != '\n') eol++;
    if (eol > bol && src[eol - 1] == '\r') eol--;
    if (off > eol) off = eol; /* pointing at a stripped \r */

    /* Very long lines (minified SQL) are shown as a window around pos. */
    size_t ws = bol, we = eol;
    if (off - bol > DIAG_LEFT) {
        ws = off - DIAG_LEFT;
        while (ws < off && diag_is_cont((unsigned char)src[ws])) ws++;
    }
    if (we - ws > DIAG_WIDTH) {
        we = ws + DIAG_WIDTH;
        while (we > off + 1 && diag_is_cont((unsigned char)src[we])) we--;
    }

    diag_secrets_t secrets;
    diag_find_secrets(src, srclen, ws, we, &secrets);
    diag_printf(&o, "\n%5d | %s", pos.line, ws > bol ? "..." : "");
    for (size_t i = ws; i < we; i++) {
        unsigned char c = (unsigned char)src[i];
        /* A secret shows as '*' per character, so the caret still lines up. */
        if (diag_is_secret(&secrets, i)) {
            if (!diag_is_cont(c)) diag_putc(&o, '*');
            continue;
        }
        /* Control bytes would garble a terminal; show them as '?'. */
        diag_putc(&o, (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c);
    }
    if (we < eol) diag_printf(&o, "...");

    diag_printf(&o, "\n%5s | %s", "", ws > bol ? "   " : "");
    for (size_t i = ws; i < off; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c == '\t')
            diag_putc(&o, '\t');
        else if (!diag_is_cont(c))
            diag_putc(&o, ' ');
    }
    diag_putc(&o, '^');
    size_t end = pos.len > 0 ? off + (size_t)pos.len : off + 1;
    if (end > we) end = we;
    for (size_t i = off + 1; i < end; i++)
        if (!diag_is_cont((unsigned char)src[i])) diag_putc(&o, '~');
}
