/*
 * fuzz_checkpoint.c - libFuzzer target for the checkpoint file reader
 * (state/checkpoint.h): a checkpoint directory is shared between processes
 * and hosts, and a file in it may be truncated by a crash, damaged by the
 * disk, written by another runnel version or not a checkpoint at all.
 *
 * Each input is parsed from an exact-size heap copy (so ASan catches any
 * read past the end). The reader walks the layout before it checks the
 * CRC, so inputs with a wrong checksum still exercise every length check;
 * the seeds are valid files for the mutator to start from. Invariants,
 * else abort(): a failure is RN_ERR_DECODE (or RN_ERR_NOMEM) with a
 * message naming the input and no checkpoint; a success yields sections
 * that lie inside the checkpoint's copy, found by name (the first of that
 * name), and building the same id, fingerprint and sections again gives
 * the input byte for byte (the format has one encoding per content);
 * every proper prefix of an accepted input is refused.
 *
 * Built by CMake with RUNNEL_FUZZ=ON (make fuzz-smoke); run:
 *   cp -r tests/fuzz/fuzz_checkpoint /tmp/corpus && build-fuzz/fuzz_checkpoint -max_total_time=60 /tmp/corpus
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "state/checkpoint.h"

/* Whether section i's name is usable as a C string and not taken by an
 * earlier section (the builder takes only such names). */
static int rebuildable(const rn_ckpt_t *c, uint32_t i)
{
    const rn_ckpt_section_t *s = rn_ckpt_section_at(c, i);
    if (s->name_len == 0 || memchr(s->name, '\0', s->name_len)) return 0;
    for (uint32_t j = 0; j < i; j++) {
        const rn_ckpt_section_t *t = rn_ckpt_section_at(c, j);
        if (t->name_len == s->name_len && memcmp(t->name, s->name, s->name_len) == 0) return 0;
    }
    return 1;
}

static void check_accepted(const rn_ckpt_t *c, const uint8_t *data, size_t size)
{
    size_t fplen;
    const void *fp = rn_ckpt_fingerprint(c, &fplen);
    uint32_t n = rn_ckpt_section_count(c);
    if (rn_ckpt_section_at(c, n) != NULL) abort();
    rn_ckpt_builder_t b;
    int same = rn_ckpt_begin(&b, rn_ckpt_id(c), fp, fplen) == RN_OK;
    for (uint32_t i = 0; i < n; i++) {
        const rn_ckpt_section_t *s = rn_ckpt_section_at(c, i);
        if (!s || (s->name_len && !s->name) || (s->len && !s->data)) abort();
        char *name = malloc((size_t)s->name_len + 1);
        if (!name) abort();
        memcpy(name, s->name, s->name_len);
        name[s->name_len] = '\0';
        if (rebuildable(c, i)) {
            const rn_ckpt_section_t *f = rn_ckpt_find(c, name);
            if (f != s) abort(); /* the first of that name */
            same = same && rn_ckpt_add_section(&b, name, s->data, s->len) == RN_OK;
        } else {
            same = 0;
        }
        free(name);
    }
    const void *out;
    size_t len;
    if (same && rn_ckpt_finish(&b, &out, &len) == RN_OK)
        if (len != size || memcmp(out, data, size) != 0) abort();
    rn_ckpt_builder_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);
    rn_ckpt_t *c = NULL;
    char msg[256] = "";
    rn_err_t err = rn_ckpt_parse(copy, size, "in", &c, msg, sizeof msg);
    if (err == RN_OK) {
        if (!c) abort();
        check_accepted(c, data, size);
        rn_ckpt_free(c);
        /* The layout is self-delimiting: no proper prefix is a checkpoint. */
        for (size_t cut = 0; cut < size; cut += 1 + cut / 4) {
            rn_ckpt_t *p = NULL;
            if (rn_ckpt_parse(copy, cut, "in", &p, NULL, 0) != RN_ERR_DECODE || p) abort();
        }
    } else {
        if (c) abort();
        if (err != RN_ERR_DECODE && err != RN_ERR_NOMEM) abort();
        if (strncmp(msg, "in: ", 4) != 0 || !msg[4]) abort(); /* names the input, explains */
    }
    free(copy);
    return 0;
}
