/*
 * rn_test.h - the smallest useful unit-test harness.
 *
 * A test file defines `static void test_x(void)` functions and lists them
 * in main() with RN_RUN(test_x). RN_CHECK records a failure with file:line
 * and carries on; RN_REQUIRE stops the current test. main() returns
 * rn_test_summary(), which prints "N passed, N failed" and exits non-zero
 * on any failure.
 */
#ifndef RN_TEST_H
#define RN_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rn_test_failures_in_test;
static int rn_test_passed, rn_test_failed;

#define RN_CHECK(cond)                                                                 \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
            rn_test_failures_in_test++;                                                \
        }                                                                              \
    } while (0)

#define RN_REQUIRE(cond)                                                               \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: requirement failed: %s\n", __FILE__, __LINE__,     \
                    #cond);                                                            \
            rn_test_failures_in_test++;                                                \
            return;                                                                    \
        }                                                                              \
    } while (0)

#define RN_CHECK_EQ_INT(a, b)                                                          \
    do {                                                                               \
        long long rn_a_ = (long long)(a), rn_b_ = (long long)(b);                      \
        if (rn_a_ != rn_b_) {                                                          \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__,        \
                    __LINE__, #a, #b, rn_a_, rn_b_);                                   \
            rn_test_failures_in_test++;                                                \
        }                                                                              \
    } while (0)

#define RN_CHECK_EQ_STR(a, b)                                                          \
    do {                                                                               \
        const char *rn_a_ = (a), *rn_b_ = (b);                                         \
        if (!rn_a_ || !rn_b_ || strcmp(rn_a_, rn_b_) != 0) {                           \
            fprintf(stderr, "%s:%d: %s == %s failed:\n  got:  %s\n  want: %s\n",       \
                    __FILE__, __LINE__, #a, #b, rn_a_ ? rn_a_ : "(null)",              \
                    rn_b_ ? rn_b_ : "(null)");                                         \
            rn_test_failures_in_test++;                                                \
        }                                                                              \
    } while (0)

#define RN_RUN(fn)                                                                     \
    do {                                                                               \
        rn_test_failures_in_test = 0;                                                  \
        fn();                                                                          \
        if (rn_test_failures_in_test) {                                                \
            rn_test_failed++;                                                          \
            fprintf(stderr, "FAIL %s\n", #fn);                                         \
        } else {                                                                       \
            rn_test_passed++;                                                          \
        }                                                                              \
    } while (0)

static inline int rn_test_summary(void)
{
    printf("%d passed, %d failed\n", rn_test_passed, rn_test_failed);
    return rn_test_failed ? 1 : 0;
}

#endif
