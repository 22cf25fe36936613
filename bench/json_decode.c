/*
 * json_decode.c - micro-benchmark of the JSON decoder on S5-shaped records.
 *
 * Generates ~2M lines like
 *   {"event_type": "page-view", "user_id": 7, "page_id": 42, "timestamp": 1714557600.123}
 * in memory (one buffer, each line followed by padding-safe bytes because
 * the next line follows it), then decodes event_type, user_id and page_id
 * into columns of RN_BATCH_MAX rows, resetting the arena per batch as the
 * engine does, and prints lines/s and MB/s (best of 5 passes). A second run
 * also decodes "timestamp" as TIMESTAMP_LTZ.
 *
 * Not built by CMake. Build and run from the repository root:
 *   mkdir -p /tmp/jb && g++ -std=c++17 -O2 -c -Iinclude -Isrc src/json/json_simd.cpp \
 *     -o /tmp/jb/simd.o && gcc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -Isrc src/core/[a-z]*.c \
 *     src/json/json_write.c bench/json_decode.c /tmp/jb/simd.o -o /tmp/jb/json_decode \
 *     -lsimdjson -lstdc++ -lm && /tmp/jb/json_decode [lines]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "core/mem.h"
#include "json/json.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Decodes every line of text with nfields of fields; returns seconds
 * taken, or a negative value on a decode error. */
static double run(const char *text, const size_t *off, size_t nlines, const rn_json_field_t *fields,
                  int nfields, long long *checksum)
{
    char err[256];
    rn_json_decoder_t *dec = rn_json_decoder_new(fields, nfields, err, sizeof err);
    if (!dec) {
        fprintf(stderr, "decoder: %s\n", err);
        return -1;
    }
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_value_t *cols[4];
    for (int i = 0; i < nfields; i++) cols[i] = rn_arena_alloc(&arena, sizeof(rn_value_t) * RN_BATCH_MAX);
    long long sum = 0;
    double t0 = now_s();
    for (size_t i = 0; i < nlines; i++) {
        int row = (int)(i % RN_BATCH_MAX);
        const char *line = text + off[i];
        size_t len = off[i + 1] - off[i] - 1; /* without the '\n' */
        if (rn_json_decode(dec, line, len, cols, row, &arena, err, sizeof err) != RN_OK) {
            fprintf(stderr, "line %zu: %s\n", i, err);
            return -1;
        }
        if (row == RN_BATCH_MAX - 1) sum += cols[1][row].i + cols[2][row].i + cols[0][row].len;
    }
    double t = now_s() - t0;
    *checksum = sum;
    rn_arena_free(&arena);
    rn_json_decoder_free(dec);
    return t;
}

int main(int argc, char **argv)
{
    size_t nlines = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000000;
    static const char *types[] = {"page-view", "click", "purchase"};
    size_t cap = nlines * 100 + RN_JSON_PADDING;
    char *text = malloc(cap);
    size_t *off = malloc((nlines + 1) * sizeof *off);
    if (!text || !off) return 1;
    size_t pos = 0;
    unsigned seed = 42;
    for (size_t i = 0; i < nlines; i++) {
        seed = seed * 1103515245u + 12345u;
        off[i] = pos;
        pos += (size_t)sprintf(text + pos,
                               "{\"event_type\": \"%s\", \"user_id\": %u, \"page_id\": %u, "
                               "\"timestamp\": %.3f}\n",
                               types[(seed >> 16) % 3], 1 + (seed >> 8) % 20, (seed >> 4) % 100,
                               1714557600.0 + (double)i * 0.137);
    }
    off[nlines] = pos;
    memset(text + pos, 0, RN_JSON_PADDING);
    double mb = (double)pos / 1e6;

    const char *p_et[] = {"event_type"}, *p_uid[] = {"user_id"}, *p_pid[] = {"page_id"},
               *p_ts[] = {"timestamp"};
    rn_json_field_t f3[] = {{1, p_et, RN_TYPE_STRING}, {1, p_uid, RN_TYPE_INT},
                            {1, p_pid, RN_TYPE_INT}, {1, p_ts, RN_TYPE_TIMESTAMP_LTZ}};
    for (int nf = 3; nf <= 4; nf++) {
        double best = 1e9;
        long long sum = 0;
        for (int pass = 0; pass < 5; pass++) {
            double t = run(text, off, nlines, f3, nf, &sum);
            if (t < 0) return 1;
            if (t < best) best = t;
        }
        printf("%d fields: %zu lines, %.1f MB in %.3f s: %.2f M lines/s, %.0f MB/s (checksum %lld)\n",
               nf, nlines, mb, best, (double)nlines / best / 1e6, mb / best, sum);
    }
    free(text);
    free(off);
    return 0;
}
