/*
 * dtoa.c - the shortest decimal digits of a double; see dtoa.h.
 *
 * Why the fast path is exact. For a normal x = f * 2^-s (f the 53-bit
 * significand, 1e-5 <= x < 1e15 puts s in [3, 69]) and X the decimal
 * exponent of x, the p-digit decimal nearest to x is q / 10^k with
 * k = p - 1 - X and q = f * 10^k / 2^s rounded half to even (as printf
 * rounds): f * 10^k < 2^123 fits in 128 bits. That decimal reads back to
 * x exactly when it lies within half the gap to x's neighbours:
 * |q * 2^s - f * 10^k| < 10^k / 2 (a tie goes to the even significand;
 * below a power of two the gap is half as wide). The shortest digits are
 * those of the first p in 15, 16, 17 whose nearest decimal reads back,
 * trailing zeros dropped: a double has at most one 15-digit decimal that
 * reads back to it (DBL_DIG), so when a shorter one exists, the nearest
 * 15-digit one is it with zeros appended.
 */
#include "core/dtoa.h"

#include "core/assert.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__extension__ typedef unsigned __int128 dtoa_u128;

const uint64_t rn_pow10_u64[20] = {
    1ull,
    10ull,
    100ull,
    1000ull,
    10000ull,
    100000ull,
    1000000ull,
    10000000ull,
    100000000ull,
    1000000000ull,
    10000000000ull,
    100000000000ull,
    1000000000000ull,
    10000000000000ull,
    100000000000000ull,
    1000000000000000ull,
    10000000000000000ull,
    100000000000000000ull,
    1000000000000000000ull,
    10000000000000000000ull,
};

static dtoa_u128 pow10_u128(int k)
{
    return k < 20 ? rn_pow10_u64[k] : (dtoa_u128)rn_pow10_u64[19] * rn_pow10_u64[k - 19];
}

/* Digits and exponent of a "%.*e" spelling: [-]D[.DDD]e[+-]XX. */
static int parse_e(const char *t, char digits[17], int *exp10)
{
    int nd = 0;
    if (*t == '-') t++;
    for (; *t && *t != 'e'; t++)
        if (*t != '.' && nd < 17) digits[nd++] = *t;
    *exp10 = atoi(*t ? t + 1 : t);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    return nd;
}

int rn_dtoa_shortest_slow(double x, char digits[17], int *exp10, bool *neg)
{
    char tmp[48];
    double a = fabs(x);
    *neg = signbit(x) != 0;
    /* A normal double's shortest digits are its 15-digit ones without the
     * trailing zeros when those read back (see the head note); subnormals
     * carry fewer digits, so they try every precision. */
    int p = a < DBL_MIN ? 1 : 15;
    for (; p <= 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, a);
        if (p == 17 || strtod(tmp, NULL) == a) break;
    }
    return parse_e(tmp, digits, exp10);
}

int rn_dtoa_shortest(double x, char digits[17], int *exp10, bool *neg)
{
    double a = fabs(x);
    if (!(a >= 1e-5 && a < 1e15)) return rn_dtoa_shortest_slow(x, digits, exp10, neg);
    *neg = x < 0;
    uint64_t bits;
    memcpy(&bits, &a, sizeof bits);
    uint64_t f = (bits & ((1ull << 52) - 1)) | (1ull << 52);
    int s = 1075 - (int)(bits >> 52); /* a = f * 2^-s, s in [3, 69] */

    /* X: the decimal exponent of a, from its integer part or, below 1,
     * the first power of ten that lifts it to 1 or more. */
    int X;
    uint64_t ip = s < 64 ? f >> s : 0;
    if (ip) {
        X = 0;
        while (X < 19 && ip >= rn_pow10_u64[X + 1]) X++;
    } else {
        X = -1;
        while (X > -6 && (((dtoa_u128)f * rn_pow10_u64[-X]) >> s) == 0) X--;
    }
    dtoa_u128 mask = ((dtoa_u128)1 << s) - 1, half = (dtoa_u128)1 << (s - 1);
    for (int p = 15; p <= 17; p++) {
        int k = p - 1 - X; /* in [0, 21] */
        dtoa_u128 lim = pow10_u128(k);
        dtoa_u128 n = (dtoa_u128)f * lim;
        dtoa_u128 r = n & mask;
        uint64_t q = (uint64_t)(n >> s);
        if (r > half || (r == half && (q & 1))) q++;
        dtoa_u128 back = (dtoa_u128)q << s;
        dtoa_u128 diff = back >= n ? back - n : n - back;
        bool ok = f == 1ull << 52 && back < n ? 4 * diff <= lim
                                              : 2 * diff < lim || (2 * diff == lim && !(f & 1));
        if (!ok) continue;
        int e = X;
        if (q == rn_pow10_u64[p]) { /* rounded up to the next power of ten */
            q = rn_pow10_u64[p - 1];
            e++;
        }
        for (int i = p - 1; i >= 0; i--) {
            digits[i] = (char)('0' + q % 10);
            q /= 10;
        }
        int nd = p;
        while (nd > 1 && digits[nd - 1] == '0') nd--;
        *exp10 = e;
        return nd;
    }
    return rn_dtoa_shortest_slow(x, digits, exp10, neg);
}

int rn_dtoa_spell(char *out, const char *digits, int nd, int exp10, bool neg, bool plain)
{
    int n = 0;
    if (neg) out[n++] = '-';
    if (plain && exp10 >= 0) {
        RN_ASSERT(exp10 < 17);
        for (int i = 0; i <= exp10; i++) out[n++] = i < nd ? digits[i] : '0';
        out[n++] = '.';
        if (nd > exp10 + 1) {
            memcpy(out + n, digits + exp10 + 1, (size_t)(nd - exp10 - 1));
            n += nd - exp10 - 1;
        } else {
            out[n++] = '0';
        }
    } else if (plain) {
        RN_ASSERT(exp10 > -5);
        out[n++] = '0';
        out[n++] = '.';
        for (int i = 0; i < -exp10 - 1; i++) out[n++] = '0';
        memcpy(out + n, digits, (size_t)nd);
        n += nd;
    } else {
        out[n++] = digits[0];
        if (nd > 1) {
            out[n++] = '.';
            memcpy(out + n, digits + 1, (size_t)nd - 1);
            n += nd - 1;
        }
        unsigned e = (unsigned)(exp10 < 0 ? -exp10 : exp10);
        out[n++] = 'e';
        out[n++] = exp10 < 0 ? '-' : '+';
        if (e >= 100) out[n++] = (char)('0' + e / 100);
        out[n++] = (char)('0' + e / 10 % 10);
        out[n++] = (char)('0' + e % 10);
    }
    return n;
}
