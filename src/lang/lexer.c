/*
 * lexer.c - tokenizer for the SQL dialect; see lexer.h.
 *
 * Shaped like SQLite's tokenize.c: every byte maps to a character class
 * through a 256-entry table and one switch on the class of the first byte
 * scans a whole token. Bytes >= 0x80 count as identifier characters so
 * UTF-8 identifiers work unquoted. Newlines inside comments, strings and
 * quoted identifiers are tracked so that every token knows its line and
 * column. Nothing is allocated and nothing is unescaped here.
 */
#include "lang/lexer.h"

#include <string.h>

/* Character classes (two-letter names keep the table readable). */
enum {
    XX = 0, /* illegal: anything not listed below */
    SP,     /* space, \t, \r, \f, \v */
    NL,     /* \n */
    AL,     /* A-Z a-z _ and bytes >= 0x80 */
    DI,     /* 0-9 */
    DT,     /* . */
    QU,     /* ' */
    DQ,     /* " */
    BT,     /* ` */
    MI,     /* - */
    SL,     /* / */
    PI,     /* | */
    LT,     /* < */
    GT,     /* > */
    EQ,     /* = */
    BA,     /* ! */
    LP,     /* ( */
    RP,     /* ) */
    CO,     /* , */
    SE,     /* ; */
    PL,     /* + */
    ST,     /* * */
    PE,     /* % */
};

static const unsigned char lex_class[256] = {
    /* 0_ */ XX, XX, XX, XX, XX, XX, XX, XX, XX, SP, NL, SP, SP, SP, XX, XX,
    /* 1_ */ XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
    /* 2_ */ SP, BA, DQ, XX, XX, PE, XX, QU, LP, RP, ST, PL, CO, MI, DT, SL,
    /* 3_ */ DI, DI, DI, DI, DI, DI, DI, DI, DI, DI, XX, SE, LT, EQ, GT, XX,
    /* 4_ */ XX, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL,
    /* 5_ */ AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, XX, XX, XX, XX, AL,
    /* 6_ */ BT, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL,
    /* 7_ */ AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, XX, PI, XX, XX, XX,
    /* 8_ */ AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL,
    /* 9_ */ AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL,
    /* a_ */ AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL,
    /* b_ */ AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL,
    /* c_ */ AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL,
    /* d_ */ AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL,
    /* e_ */ AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL,
    /* f_ */ AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL,
};

#define CLS(c) (lex_class[(unsigned char)(c)])
#define IS_IDCHAR(c) (CLS(c) == AL || CLS(c) == DI)

/* ---- keywords --------------------------------------------------------- */

typedef struct lex_keyword {
    const char *name; /* upper-case spelling */
    bool reserved;    /* never a bare identifier */
} lex_keyword_t;

#define RN_KW_ROW_(name, res) {#name, (res) != 0},
static const lex_keyword_t lex_keywords[RN_KW__COUNT] = {
    {"", false}, /* RN_KW_NONE */
    RN_KEYWORDS(RN_KW_ROW_)};
#undef RN_KW_ROW_

#define LEX_KW_MAXLEN 32

rn_kw rn_lexer_keyword(const char *s, size_t n)
{
    char up[LEX_KW_MAXLEN + 1];
    if (n == 0 || n > LEX_KW_MAXLEN) return RN_KW_NONE;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        up[i] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
    }
    up[n] = '\0';
    int lo = 1, hi = RN_KW__COUNT - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int cmp = strcmp(up, lex_keywords[mid].name);
        if (cmp == 0) return (rn_kw)mid;
        if (cmp < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return RN_KW_NONE;
}

const char *rn_lexer_kw_name(rn_kw kw)
{
    if ((int)kw <= 0 || kw >= RN_KW__COUNT) return "";
    return lex_keywords[kw].name;
}

bool rn_lexer_kw_reserved(rn_kw kw)
{
    if ((int)kw <= 0 || kw >= RN_KW__COUNT) return false;
    return lex_keywords[kw].reserved;
}

const char *rn_lexer_tok_name(rn_tok_type t)
{
    static const char *const names[RN_TK__COUNT] = {
        [RN_TK_EOF] = "end of input",   [RN_TK_ERROR] = "invalid token",
        [RN_TK_IDENT] = "identifier",   [RN_TK_QIDENT] = "quoted identifier",
        [RN_TK_STRING] = "string",      [RN_TK_INTEGER] = "integer",
        [RN_TK_FLOAT] = "number",       [RN_TK_PLUS] = "'+'",
        [RN_TK_MINUS] = "'-'",          [RN_TK_STAR] = "'*'",
        [RN_TK_SLASH] = "'/'",          [RN_TK_PERCENT] = "'%'",
        [RN_TK_CONCAT] = "'||'",        [RN_TK_EQ] = "'='",
        [RN_TK_NE] = "'<>'",            [RN_TK_LT] = "'<'",
        [RN_TK_LE] = "'<='",            [RN_TK_GT] = "'>'",
        [RN_TK_GE] = "'>='",            [RN_TK_LPAREN] = "'('",
        [RN_TK_RPAREN] = "')'",         [RN_TK_COMMA] = "','",
        [RN_TK_DOT] = "'.'",            [RN_TK_SEMI] = "';'",
    };
    if ((int)t < 0 || t >= RN_TK__COUNT) return "token";
    return names[t];
}

/* ---- scanning --------------------------------------------------------- */

void rn_lexer_init(rn_lexer_t *lx, const char *src, size_t len)
{
    lx->src = src;
    lx->len = len;
    lx->off = 0;
    lx->line = 1;
    lx->line_off = 0;
}

/* Notes a newline at offset i (the byte after it starts a new line). */
static void lex_newline(rn_lexer_t *lx, size_t i)
{
    lx->line++;
    lx->line_off = i + 1;
}

/* Fills tok's position for a token starting at offset start, line/col as
 * the lexer stood there. */
static void lex_pos(rn_token_t *tok, size_t start, int line, size_t line_off, size_t end)
{
    tok->pos.line = line;
    tok->pos.col = (int)(start - line_off) + 1;
    tok->pos.offset = (int)start;
    tok->pos.len = (int)(end - start);
}

/* Scans a quoted run starting at src[start] == q, where qq escapes q.
 * Returns the offset just past the closing quote, or 0 if unterminated
 * (the lexer then stands at the end of input). Tracks newlines. */
static size_t lex_quoted(rn_lexer_t *lx, size_t start, char q)
{
    const char *s = lx->src;
    size_t i = start + 1;
    while (i < lx->len) {
        if (s[i] == q) {
            if (i + 1 < lx->len && s[i + 1] == q) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        if (s[i] == '\n') lex_newline(lx, i);
        i++;
    }
    return 0;
}

/* Scans a number starting at src[i]; returns the end offset and sets
 * *is_float; returns 0 when an exponent has no digits or the number runs
 * into identifier characters ("12abc"). */
static size_t lex_number(const rn_lexer_t *lx, size_t i, bool *is_float)
{
    const char *s = lx->src;
    size_t n = lx->len;
    *is_float = false;
    while (i < n && CLS(s[i]) == DI) i++;
    if (i < n && s[i] == '.') {
        *is_float = true;
        i++;
        while (i < n && CLS(s[i]) == DI) i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (s[j] == '+' || s[j] == '-')) j++;
        if (j >= n || CLS(s[j]) != DI) return 0;
        while (j < n && CLS(s[j]) == DI) j++;
        *is_float = true;
        i = j;
    }
    if (i < n && IS_IDCHAR(s[i])) return 0;
    return i;
}

rn_tok_type rn_lexer_next(rn_lexer_t *lx, rn_token_t *tok)
{
    const char *s = lx->src;
    size_t n = lx->len;
    size_t i = lx->off;

    tok->kw = RN_KW_NONE;
    tok->err = NULL;
    /* Skip blanks and comments. */
    for (;;) {
        if (i >= n) break;
        int c = CLS(s[i]);
        if (c == SP) {
            i++;
        } else if (c == NL) {
            lex_newline(lx, i);
            i++;
        } else if (c == MI && i + 1 < n && s[i + 1] == '-') {
            while (i < n && s[i] != '\n') i++;
        } else if (c == SL && i + 1 < n && s[i + 1] == '*') {
            size_t start = i;
            int line = lx->line;
            size_t line_off = lx->line_off;
            i += 2;
            while (i < n && !(s[i] == '*' && i + 1 < n && s[i + 1] == '/')) {
                if (s[i] == '\n') lex_newline(lx, i);
                i++;
            }
            if (i >= n) {
                lex_pos(tok, start, line, line_off, start + 2);
                tok->type = RN_TK_ERROR;
                tok->err = "unterminated comment";
                lx->off = n;
                return tok->type;
            }
            i += 2;
        } else {
            break;
        }
    }

    size_t start = i;
    int line = lx->line;
    size_t line_off = lx->line_off;
    size_t end = i + 1;
    rn_tok_type t;

    if (i >= n) {
        lex_pos(tok, n, line, line_off, n);
        lx->off = n;
        tok->type = RN_TK_EOF;
        return RN_TK_EOF;
    }
    switch (CLS(s[i])) {
    case AL:
        while (end < n && IS_IDCHAR(s[end])) end++;
        t = RN_TK_IDENT;
        tok->kw = rn_lexer_keyword(s + start, end - start);
        break;
    case DI: {
        bool is_float;
        size_t e = lex_number(lx, i, &is_float);
        if (e == 0) {
            end = i;
            while (end < n && (IS_IDCHAR(s[end]) || s[end] == '.')) end++;
            t = RN_TK_ERROR;
            tok->err = "malformed number";
        } else {
            end = e;
            t = is_float ? RN_TK_FLOAT : RN_TK_INTEGER;
        }
        break;
    }
    case DT:
        if (i + 1 < n && CLS(s[i + 1]) == DI) {
            bool is_float;
            size_t e = lex_number(lx, i, &is_float);
            if (e == 0) {
                end = i + 1;
                while (end < n && (IS_IDCHAR(s[end]) || s[end] == '.')) end++;
                t = RN_TK_ERROR;
                tok->err = "malformed number";
            } else {
                end = e;
                t = RN_TK_FLOAT;
            }
        } else {
            t = RN_TK_DOT;
        }
        break;
    case QU:
    case DQ:
    case BT: {
        char q = s[i];
        size_t e = lex_quoted(lx, i, q);
        if (e == 0) {
            t = RN_TK_ERROR;
            tok->err = q == '\'' ? "unterminated string literal" : "unterminated quoted identifier";
            end = i + 1;
            lex_pos(tok, start, line, line_off, end);
            tok->type = t;
            lx->off = n;
            return t;
        }
        end = e;
        t = q == '\'' ? RN_TK_STRING : RN_TK_QIDENT;
        if (t == RN_TK_QIDENT && end - start == 2) {
            t = RN_TK_ERROR;
            tok->err = "empty quoted identifier";
        }
        break;
    }
    case MI: t = RN_TK_MINUS; break;
    case SL: t = RN_TK_SLASH; break;
    case PL: t = RN_TK_PLUS; break;
    case ST: t = RN_TK_STAR; break;
    case PE: t = RN_TK_PERCENT; break;
    case LP: t = RN_TK_LPAREN; break;
    case RP: t = RN_TK_RPAREN; break;
    case CO: t = RN_TK_COMMA; break;
    case SE: t = RN_TK_SEMI; break;
    case EQ:
        t = RN_TK_EQ;
        break;
    case PI:
        if (end < n && s[end] == '|') {
            end++;
            t = RN_TK_CONCAT;
        } else {
            t = RN_TK_ERROR;
            tok->err = "unexpected character";
        }
        break;
    case BA:
        if (end < n && s[end] == '=') {
            end++;
            t = RN_TK_NE;
        } else {
            t = RN_TK_ERROR;
            tok->err = "unexpected character";
        }
        break;
    case LT:
        t = RN_TK_LT;
        if (end < n && s[end] == '=') {
            end++;
            t = RN_TK_LE;
        } else if (end < n && s[end] == '>') {
            end++;
            t = RN_TK_NE;
        }
        break;
    case GT:
        t = RN_TK_GT;
        if (end < n && s[end] == '=') {
            end++;
            t = RN_TK_GE;
        }
        break;
    default:
        t = RN_TK_ERROR;
        tok->err = "unexpected character";
        break;
    }
    lex_pos(tok, start, line, line_off, end);
    tok->type = t;
    lx->off = end;
    return t;
}
