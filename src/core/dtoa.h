/*
 * dtoa.h - the shortest decimal digits of a double that read back to it.
 *
 * JSON output, CAST(x AS STRING) and ROUND all need the fewest significant
 * digits D (1 to 17) such that strtod reads D back to the same bits; of
 * the D-digit decimals that do, the one nearest to x (what printf's
 * "%.{D-1}e" prints). The usual way, trying printf with 15, 16 and 17
 * digits and reading each back with strtod, costs about a microsecond per
 * value; rn_dtoa_shortest computes the same digits with 128-bit integer
 * arithmetic for 1e-5 <= |x| < 1e15 (prices, rates, ratios: what events
 * hold) and falls back to printf and strtod outside that range.
 */
#ifndef RN_DTOA_H
#define RN_DTOA_H

#include <stdbool.h>
#include <stdint.h>

/* For a finite x != 0: writes the shortest digits of |x| to digits (no
 * sign, no trailing zeros, no terminator; room for 17), sets *exp10 so
 * that |x| reads as digits[0].digits[1..] x 10^*exp10, and returns how
 * many digits it wrote. *neg says whether x is negative. */
int rn_dtoa_shortest(double x, char digits[17], int *exp10, bool *neg);

/* 10^k for k in 0..19 (also the integer writer's digit count, buf.c). */
extern const uint64_t rn_pow10_u64[20];

/* Room rn_dtoa_spell needs: a sign, 17 digits, "0." and four zeros, or
 * a point and an exponent "e-324". */
#define RN_DTOA_SPELL_MAX 32

/* Spells [-]digits x 10^exp10 (rn_dtoa_shortest's result) into out (no
 * terminator) and returns its length: in plain notation when plain
 * ("123.45", "0.00012", "100.0": a point and at least one digit after it;
 * only for -5 < exp10 < 17), else as d[.ddd]e[+-]XX (at least two
 * exponent digits, as printf's %e). JSON output and CAST AS STRING
 * differ only in when they choose plain. */
int rn_dtoa_spell(char *out, const char *digits, int nd, int exp10, bool neg, bool plain);

/* The same digits the slow way (printf "%.*e" for 1 to 17 digits, read
 * back with strtod): what rn_dtoa_shortest falls back to, and the unit
 * tests' reference. */
int rn_dtoa_shortest_slow(double x, char digits[17], int *exp10, bool *neg);

#endif
