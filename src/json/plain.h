/*
 * plain.h - where a plain run of a JSON string's bytes stops, 16 bytes at
 * a time: the one test that the record scanner (json_simd.cpp) and the
 * writer (json_write.c) both make. Private to the json module.
 *
 * A byte ends a plain run when it is '"', '\\', a control byte (below
 * 0x20) or not ASCII (over 0x7F): the scanner then leaves the string to
 * the general path, the writer escapes it or checks its UTF-8.
 */
#ifndef RN_JSON_PLAIN_H
#define RN_JSON_PLAIN_H

#if defined(__SSE2__)
#include <emmintrin.h>

#define RN_JSON_PLAIN_SSE2 1

/* Bit i (0..15) is set when byte p[i] ends a plain run. Reads exactly 16
 * bytes at p, unaligned. */
static inline unsigned rn_json_unplain16(const void *p)
{
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
    __m128i v = _mm_loadu_si128((const __m128i *)p);
    /* signed: bytes over 0x7F are negative, so below 0x20 too */
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                             _mm_cmplt_epi8(v, space));
    return (unsigned)_mm_movemask_epi8(m);
}
#endif

#endif
