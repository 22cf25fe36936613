/*
 * assert.h - RN_ASSERT: invariants checked in Debug, sanitizer and fuzz
 * builds (RN_ASSERTS=1, set by CMake), compiled out of release builds.
 *
 * For what the code relies on but cannot show in types: a batch's row count
 * within its capacity and its change kinds valid, watermarks that only move
 * forward, a heap in order. A failed check prints the expression and where,
 * then aborts, so a sanitizer or fuzzer run stops at the first broken
 * invariant instead of far downstream. Conditions must have no side effects.
 */
#ifndef RN_ASSERT_H
#define RN_ASSERT_H

#if defined(RN_ASSERTS) && RN_ASSERTS
/* Prints "file:line: invariant failed: expr" to stderr and aborts. */
_Noreturn void rn_assert_fail(const char *expr, const char *file, int line);
#define RN_ASSERT(cond) ((cond) ? (void)0 : rn_assert_fail(#cond, __FILE__, __LINE__))
#else
#define RN_ASSERT(cond) ((void)sizeof(!(cond)))
#endif

#endif
