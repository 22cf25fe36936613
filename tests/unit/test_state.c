/*
 * test_state.c - unit tests for the keyed state store (state/store.h):
 * insert/find/remove against a reference array, deletion
 * under forced collisions, iteration, zeroed and address-stable value
 * slots, value_free calls, key serialization round trips, allocation
 * failure injection, TTL expiry and the incremental sweep, removal during
 * iteration, memory reuse under churn and entries too large for the slabs.
 */
#include "core/hash.h"
#include "core/mem.h"
#include "state/store.h"
#include "rn_test.h"

#include <math.h>

/* A deterministic 64-bit generator (splitmix64) for reproducible keys. */
static uint64_t rng_state = 0x1234567;
static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

typedef struct val {
    int64_t x;
    int64_t y;
} val_t;

static uint64_t key_hash(uint64_t k) { return rn_hash_bytes(&k, sizeof k, 0); }

static void test_store_random_ops_match_reference(void)
{
    enum { NKEYS = 100000, NOPS = 300000 };
    rn_store_t *st = rn_store_new("t", sizeof(val_t), NULL, NULL);
    RN_REQUIRE(st != NULL);
    uint64_t *keys = calloc(NKEYS, sizeof *keys);
    int64_t *ref = calloc(NKEYS, sizeof *ref); /* 0 = absent, else the stored x */
    RN_REQUIRE(keys && ref);
    for (int i = 0; i < NKEYS; i++) keys[i] = rng_next();
    size_t live = 0;
    int mismatches = 0;
    for (int op = 0; op < NOPS; op++) {
        int i = (int)(rng_next() % NKEYS);
        uint64_t k = keys[i];
        int what = (int)(rng_next() % 3);
        if (what < 2) {
            bool created;
            val_t *v = rn_store_upsert(st, &k, sizeof k, key_hash(k), &created);
            RN_REQUIRE(v != NULL);
            if (created != (ref[i] == 0)) mismatches++;
            if (created) {
                if (v->x != 0 || v->y != 0) mismatches++;
                live++;
            } else if (v->x != ref[i]) {
                mismatches++;
            }
            v->x = ref[i] = op + 1;
        } else {
            rn_store_remove(st, &k, sizeof k, key_hash(k));
            if (ref[i]) live--;
            ref[i] = 0;
        }
    }
    RN_CHECK_EQ_INT(mismatches, 0);
    RN_CHECK_EQ_INT(rn_store_count(st), live);
    /* Every key: find agrees with the reference. */
    int bad = 0;
    for (int i = 0; i < NKEYS; i++) {
        val_t *v = rn_store_find(st, &keys[i], sizeof keys[i], key_hash(keys[i]));
        if (ref[i] == 0 ? v != NULL : (v == NULL || v->x != ref[i])) bad++;
        if (v) {
            uint32_t klen;
            const void *kp = rn_store_key_of(st, v, &klen);
            if (klen != 8 || memcmp(kp, &keys[i], 8) != 0) bad++;
        }
    }
    RN_CHECK_EQ_INT(bad, 0);
    /* Remove everything; the store ends empty. */
    for (int i = 0; i < NKEYS; i++) rn_store_remove(st, &keys[i], sizeof keys[i], key_hash(keys[i]));
    RN_CHECK_EQ_INT(rn_store_count(st), 0);
    size_t pos = 0;
    RN_CHECK(rn_store_next(st, &pos) == NULL);
    rn_store_free(st);
    free(keys);
    free(ref);
}

/* All keys share one hash value, so they form one long probe run; every
 * removal must keep the rest reachable (backward-shift deletion). */
static void test_store_remove_under_collisions(void)
{
    enum { N = 200 };
    for (int hash_choice = 0; hash_choice < 3; hash_choice++) {
        /* Hashes that land in the middle, at the start and at the end of the
         * table (the last one makes runs wrap around). */
        uint64_t h = hash_choice == 0 ? 12345 : hash_choice == 1 ? 0 : UINT64_MAX;
        rn_store_t *st = rn_store_new("collide", sizeof(int64_t), NULL, NULL);
        RN_REQUIRE(st != NULL);
        bool present[N] = {0};
        for (int i = 0; i < N; i++) {
            bool created;
            int64_t *v = rn_store_upsert(st, &i, sizeof i, h, &created);
            RN_REQUIRE(v != NULL);
            RN_CHECK(created);
            *v = i * 10;
            present[i] = true;
        }
        /* Also some keys with neighbouring hashes interleaved in the run. */
        for (int i = 1000; i < 1050; i++) {
            bool created;
            int64_t *v = rn_store_upsert(st, &i, sizeof i, h + (uint64_t)(i % 5), &created);
            RN_REQUIRE(v != NULL);
            *v = i * 10;
        }
        /* Remove in a scrambled order, every other one by its value slot
         * (rn_store_remove_value: found by address among equal hashes),
         * checking all others after each. */
        int bad = 0;
        for (int step = 0; step < N; step++) {
            int i = (step * 37) % N;
            if (step % 2) {
                void *v = rn_store_find(st, &i, sizeof i, h);
                RN_REQUIRE(v != NULL);
                rn_store_remove_value(st, v);
            } else {
                rn_store_remove(st, &i, sizeof i, h);
            }
            present[i] = false;
            if (rn_store_find(st, &i, sizeof i, h) != NULL) bad++;
            for (int j = 0; j < N; j++) {
                int64_t *v = rn_store_find(st, &j, sizeof j, h);
                if (present[j] ? (!v || *v != j * 10) : v != NULL) bad++;
            }
            for (int j = 1000; j < 1050; j++) {
                int64_t *v = rn_store_find(st, &j, sizeof j, h + (uint64_t)(j % 5));
                if (!v || *v != j * 10) bad++;
            }
        }
        RN_CHECK_EQ_INT(bad, 0);
        RN_CHECK_EQ_INT(rn_store_count(st), 50);
        /* Removing an absent key with the same hash is a no-op. */
        int absent = 99999;
        rn_store_remove(st, &absent, sizeof absent, h);
        RN_CHECK_EQ_INT(rn_store_count(st), 50);
        rn_store_free(st);
    }
}

/* Keys of different lengths with equal hashes and common prefixes are distinct. */
static void test_store_key_length_matters(void)
{
    rn_store_t *st = rn_store_new("len", sizeof(int), NULL, NULL);
    RN_REQUIRE(st != NULL);
    const char *k = "abcdef";
    bool created;
    for (uint32_t len = 0; len <= 6; len++) {
        int *v = rn_store_upsert(st, k, len, 7, &created);
        RN_REQUIRE(v != NULL);
        RN_CHECK(created);
        *v = (int)len + 100;
    }
    for (uint32_t len = 0; len <= 6; len++) {
        int *v = rn_store_find(st, k, len, 7);
        RN_REQUIRE(v != NULL);
        RN_CHECK_EQ_INT(*v, len + 100);
    }
    RN_CHECK_EQ_INT(rn_store_count(st), 7);
    /* the empty key may be passed as NULL (a global aggregate's key buffer) */
    RN_CHECK(rn_store_find(st, NULL, 0, 7) == rn_store_find(st, k, 0, 7));
    int *v0 = rn_store_upsert(st, NULL, 0, 7, &created);
    RN_CHECK(v0 != NULL && !created && *v0 == 100);
    rn_store_remove(st, NULL, 0, 7);
    RN_CHECK(rn_store_find(st, NULL, 0, 7) == NULL);
    RN_CHECK_EQ_INT(rn_store_count(st), 6);
    rn_store_free(st);
}

static void test_store_iteration_visits_each_once(void)
{
    enum { N = 5000 };
    rn_store_t *st = rn_store_new("iter", sizeof(int32_t), NULL, NULL);
    RN_REQUIRE(st != NULL);
    for (int i = 0; i < N; i++) {
        bool created;
        int32_t *v = rn_store_upsert(st, &i, sizeof i, rn_hash_u64((uint64_t)i), &created);
        RN_REQUIRE(v != NULL);
        *v = i;
    }
    for (int i = 0; i < N; i += 3) rn_store_remove(st, &i, sizeof i, rn_hash_u64((uint64_t)i));
    int *seen = calloc(N, sizeof *seen);
    RN_REQUIRE(seen != NULL);
    size_t pos = 0;
    void *slot;
    size_t visited = 0;
    int bad = 0;
    while ((slot = rn_store_next(st, &pos))) {
        uint32_t klen;
        int key;
        const void *kp = rn_store_key_of(st, slot, &klen);
        RN_REQUIRE(klen == sizeof key);
        memcpy(&key, kp, sizeof key);
        if (key < 0 || key >= N || *(int32_t *)slot != key) {
            bad++;
            continue;
        }
        seen[key]++;
        visited++;
    }
    RN_CHECK_EQ_INT(bad, 0);
    RN_CHECK_EQ_INT(visited, rn_store_count(st));
    for (int i = 0; i < N; i++)
        if (seen[i] != (i % 3 == 0 ? 0 : 1)) bad++;
    RN_CHECK_EQ_INT(bad, 0);
    free(seen);
    rn_store_free(st);
}

/* Slots are zeroed, 8-byte aligned, and do not move when the table grows. */
static void test_store_slots_zeroed_and_stable(void)
{
    enum { N = 20000, VSIZE = 40 };
    rn_store_t *st = rn_store_new("stable", VSIZE, NULL, NULL);
    RN_REQUIRE(st != NULL);
    unsigned char **addr = calloc(N, sizeof *addr);
    RN_REQUIRE(addr != NULL);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        bool created;
        unsigned char *v = rn_store_upsert(st, &i, sizeof i, rn_hash_u64((uint64_t)i), &created);
        RN_REQUIRE(v != NULL);
        for (int b = 0; b < VSIZE; b++)
            if (v[b] != 0) bad++;
        if (((uintptr_t)v & 7) != 0) bad++;
        memset(v, 0xAB, VSIZE);
        addr[i] = v;
    }
    RN_CHECK_EQ_INT(bad, 0);
    for (int i = 0; i < N; i++) {
        bool created = true;
        unsigned char *v = rn_store_upsert(st, &i, sizeof i, rn_hash_u64((uint64_t)i), &created);
        if (v != addr[i] || created || v[VSIZE - 1] != 0xAB) bad++;
        if (rn_store_find(st, &i, sizeof i, rn_hash_u64((uint64_t)i)) != addr[i]) bad++;
    }
    RN_CHECK_EQ_INT(bad, 0);
    /* A removed and re-inserted key gets a zeroed slot again. */
    int k = 17;
    rn_store_remove(st, &k, sizeof k, rn_hash_u64(17));
    bool created;
    unsigned char *v = rn_store_upsert(st, &k, sizeof k, rn_hash_u64(17), &created);
    RN_REQUIRE(v != NULL);
    RN_CHECK(created);
    for (int b = 0; b < VSIZE; b++)
        if (v[b] != 0) bad++;
    RN_CHECK_EQ_INT(bad, 0);
    RN_CHECK(rn_store_bytes(st) > (size_t)N * VSIZE);
    RN_CHECK_EQ_STR(rn_store_name(st), "stable");
    free(addr);
    rn_store_free(st);
}

typedef struct free_log {
    int calls;
    int64_t sum;                /* sum of the values freed */
    void *last_opaque;
} free_log_t;

static void log_free(void *value, void *opaque)
{
    free_log_t *l = opaque;
    l->calls++;
    l->sum += *(int64_t *)value;
    l->last_opaque = opaque;
}

static void test_store_value_free_called(void)
{
    free_log_t log = {0};
    rn_store_t *st = rn_store_new(NULL, sizeof(int64_t), log_free, &log);
    RN_REQUIRE(st != NULL);
    RN_CHECK_EQ_STR(rn_store_name(st), "state");
    for (int64_t i = 1; i <= 100; i++) {
        bool created;
        int64_t *v = rn_store_upsert(st, &i, sizeof i, (uint64_t)i * 31, &created);
        RN_REQUIRE(v != NULL);
        *v = i;
    }
    int64_t k = 10;
    rn_store_remove(st, &k, sizeof k, 310);
    RN_CHECK_EQ_INT(log.calls, 1);
    RN_CHECK_EQ_INT(log.sum, 10);
    RN_CHECK(log.last_opaque == &log);
    rn_store_remove(st, &k, sizeof k, 310); /* absent now: no call */
    RN_CHECK_EQ_INT(log.calls, 1);
    rn_store_free(st);
    RN_CHECK_EQ_INT(log.calls, 100);
    RN_CHECK_EQ_INT(log.sum, 5050);
}

static void test_key_round_trip_all_types(void)
{
    static const rn_type_id types[] = {RN_TYPE_BOOLEAN,  RN_TYPE_INT,       RN_TYPE_BIGINT,
                                       RN_TYPE_DOUBLE,   RN_TYPE_STRING,    RN_TYPE_TIMESTAMP,
                                       RN_TYPE_TIMESTAMP_LTZ};
    enum { NT = sizeof types / sizeof *types };
    rn_value_t vals[NT], nulls[NT];
    vals[0] = rn_value_bool(true);
    vals[1] = rn_value_int(-2147483648LL);
    vals[2] = rn_value_int(INT64_MAX);
    vals[3] = rn_value_double(-1.5e300);
    vals[4] = rn_value_str("h\0llo", 5); /* embedded NUL */
    vals[5] = rn_value_int(1700000000123LL);
    vals[6] = rn_value_int(-1);
    for (int i = 0; i < NT; i++) nulls[i] = RN_VALUE_NULL;

    rn_buf_t key;
    rn_buf_init(&key);
    /* values, then NULLs, then an empty string */
    for (int i = 0; i < NT; i++) rn_key_append(&key, types[i], &vals[i]);
    for (int i = 0; i < NT; i++) rn_key_append(&key, types[i], &nulls[i]);
    rn_value_t empty = rn_value_str("", 0);
    rn_key_append(&key, RN_TYPE_STRING, &empty);
    RN_REQUIRE(!key.oom);
    /* 6 fixed-width columns of 9 bytes, a 10-byte string, 7 NULL tags, a 5-byte empty string */
    RN_CHECK_EQ_INT(key.len, 6 * 9 + (1 + 4 + 5) + NT + 5);

    uint32_t off = 0;
    rn_value_t out;
    for (int i = 0; i < NT; i++) {
        RN_REQUIRE(rn_key_read(key.data, (uint32_t)key.len, &off, types[i], &out));
        RN_CHECK(!out.null);
        RN_CHECK(rn_value_equal(types[i], &out, &vals[i]));
    }
    for (int i = 0; i < NT; i++) {
        RN_REQUIRE(rn_key_read(key.data, (uint32_t)key.len, &off, types[i], &out));
        RN_CHECK(out.null);
    }
    RN_REQUIRE(rn_key_read(key.data, (uint32_t)key.len, &off, RN_TYPE_STRING, &out));
    RN_CHECK(!out.null && out.len == 0);
    RN_CHECK_EQ_INT(off, key.len);
    RN_CHECK(!rn_key_read(key.data, (uint32_t)key.len, &off, RN_TYPE_INT, &out)); /* at the end */

    /* Truncated keys are rejected, never over-read. */
    rn_buf_clear(&key);
    rn_key_append(&key, RN_TYPE_STRING, &vals[4]);
    for (uint32_t cut = 1; cut < key.len; cut++) {
        off = 0;
        RN_CHECK(!rn_key_read(key.data, cut, &off, RN_TYPE_STRING, &out));
    }
    rn_buf_clear(&key);
    rn_key_append(&key, RN_TYPE_BIGINT, &vals[2]);
    off = 0;
    RN_CHECK(!rn_key_read(key.data, 5, &off, RN_TYPE_BIGINT, &out));
    rn_buf_free(&key);
}

static void test_key_negative_zero_equals_zero(void)
{
    rn_buf_t a, b;
    rn_buf_init(&a);
    rn_buf_init(&b);
    rn_value_t pz = rn_value_double(0.0), nz = rn_value_double(-0.0);
    rn_key_append(&a, RN_TYPE_DOUBLE, &pz);
    rn_key_append(&b, RN_TYPE_DOUBLE, &nz);
    RN_REQUIRE(a.len == b.len);
    RN_CHECK(memcmp(a.data, b.data, a.len) == 0);
    /* and they land on one store entry */
    rn_store_t *st = rn_store_new("dbl", sizeof(int), NULL, NULL);
    RN_REQUIRE(st != NULL);
    bool c1, c2;
    int *v1 = rn_store_upsert(st, a.data, (uint32_t)a.len, rn_hash_bytes(a.data, a.len, 0), &c1);
    int *v2 = rn_store_upsert(st, b.data, (uint32_t)b.len, rn_hash_bytes(b.data, b.len, 0), &c2);
    RN_CHECK(v1 != NULL && v1 == v2 && c1 && !c2);
    uint32_t off = 0;
    rn_value_t out;
    RN_REQUIRE(rn_key_read(b.data, (uint32_t)b.len, &off, RN_TYPE_DOUBLE, &out));
    RN_CHECK(out.d == 0.0 && !signbit(out.d));
    /* NULL differs from 0 */
    rn_buf_clear(&b);
    rn_value_t n = RN_VALUE_NULL;
    rn_key_append(&b, RN_TYPE_DOUBLE, &n);
    RN_CHECK(a.len != b.len);
    rn_store_free(st);
    rn_buf_free(&a);
    rn_buf_free(&b);
}

/* Failure injection: every allocation point of new/upsert/grow fails in
 * turn; the store stays consistent and nothing leaks (ASan checks). */
static void test_store_allocation_failures(void)
{
    enum { N = 200 };
    bool completed = false;
    for (long fail = 0; fail < 2000 && !completed; fail++) {
        free_log_t log = {0};
        rn_mem_fail_after(fail);
        rn_store_t *st = rn_store_new("oom", sizeof(int64_t), log_free, &log);
        if (!st) {
            rn_mem_fail_after(-1);
            continue;
        }
        int inserted = 0;
        bool failed = false;
        for (int64_t i = 0; i < N; i++) {
            bool created;
            int64_t *v = rn_store_upsert(st, &i, sizeof i, rn_hash_u64((uint64_t)i), &created);
            if (!v) {
                failed = true;
                /* the key was not added */
                if (rn_store_find(st, &i, sizeof i, rn_hash_u64((uint64_t)i)) != NULL) inserted = -1000;
                break;
            }
            *v = 1;
            inserted++;
        }
        rn_mem_fail_after(-1);
        RN_CHECK(inserted >= 0);
        RN_CHECK_EQ_INT(rn_store_count(st), inserted);
        /* everything inserted before the failure is still there */
        for (int64_t i = 0; i < inserted; i++)
            RN_CHECK(rn_store_find(st, &i, sizeof i, rn_hash_u64((uint64_t)i)) != NULL);
        /* and the store still works once memory is back */
        bool created;
        int64_t k = N + 1;
        RN_CHECK(rn_store_upsert(st, &k, sizeof k, rn_hash_u64((uint64_t)k), &created) != NULL);
        rn_store_free(st);
        RN_CHECK_EQ_INT(log.calls, inserted + 1);
        completed = !failed;
    }
    RN_CHECK(completed);
}


/* TTL: an entry not found or upserted for ttl ms is gone; find and upsert
 * refresh it, peek does not; expiry calls value_free. */
static void test_store_ttl_expiry(void)
{
    free_log_t log = {0};
    rn_store_t *st = rn_store_new("ttl", sizeof(int64_t), log_free, &log);
    RN_REQUIRE(st != NULL);
    RN_CHECK(rn_store_set_ttl(st, 100));
    RN_CHECK_EQ_INT(rn_store_ttl(st), 100);
    rn_store_set_now(st, 1000);
    for (int64_t i = 1; i <= 3; i++) {
        bool created;
        int64_t *v = rn_store_upsert(st, &i, sizeof i, rn_hash_u64((uint64_t)i), &created);
        RN_REQUIRE(v != NULL);
        RN_CHECK(created);
        RN_CHECK(((uintptr_t)v & 7) == 0);
        *v = i;
    }
    RN_CHECK(!rn_store_set_ttl(st, 5)); /* only on an empty store */
    int64_t k1 = 1, k2 = 2, k3 = 3;
    rn_store_set_now(st, 1050);
    RN_CHECK(rn_store_find(st, &k1, sizeof k1, rn_hash_u64(1)) != NULL);  /* refreshed at 1050 */
    RN_CHECK(rn_store_peek(st, &k2, sizeof k2, rn_hash_u64(2)) != NULL);  /* not refreshed */
    rn_store_set_now(st, 1099);
    RN_CHECK(rn_store_peek(st, &k3, sizeof k3, rn_hash_u64(3)) != NULL);  /* 99 ms: still live */
    rn_store_set_now(st, 1100);
    RN_CHECK(rn_store_peek(st, &k2, sizeof k2, rn_hash_u64(2)) == NULL);  /* 100 ms: expired */
    RN_CHECK_EQ_INT(rn_store_count(st), 3);                               /* peek removes nothing */
    RN_CHECK(rn_store_find(st, &k2, sizeof k2, rn_hash_u64(2)) == NULL);
    RN_CHECK_EQ_INT(rn_store_count(st), 2);
    RN_CHECK_EQ_INT(log.calls, 1);
    RN_CHECK_EQ_INT(log.sum, 2);
    bool created = false;
    int64_t *v3 = rn_store_upsert(st, &k3, sizeof k3, rn_hash_u64(3), &created);
    RN_REQUIRE(v3 != NULL);
    RN_CHECK(created);          /* expired: a fresh zeroed slot */
    RN_CHECK_EQ_INT(*v3, 0);
    RN_CHECK_EQ_INT(log.calls, 2);
    int64_t *v1 = rn_store_upsert(st, &k1, sizeof k1, rn_hash_u64(1), &created);
    RN_REQUIRE(v1 != NULL);
    RN_CHECK(!created);         /* accessed at 1050: live until 1150 */
    RN_CHECK_EQ_INT(*v1, 1);
    rn_store_free(st);
    RN_CHECK_EQ_INT(log.calls, 4);
}

static bool keep_even(void *value, void *opaque)
{
    (void)opaque;
    return *(int64_t *)value % 2 == 0;
}

/* The sweep examines a bounded number of slots per call, resumes where it
 * stopped, and removes expired entries and those keep rejects. */
static void test_store_sweep_incremental(void)
{
    enum { N = 5000 };
    rn_store_t *st = rn_store_new("sweep", sizeof(int64_t), NULL, NULL);
    RN_REQUIRE(st != NULL);
    RN_CHECK_EQ_INT(rn_store_sweep(st, 100, NULL, NULL), 0); /* no TTL, no keep: nothing */
    RN_CHECK(rn_store_set_ttl(st, 10));
    rn_store_set_now(st, 0);
    for (int64_t i = 0; i < N; i++) {
        bool created;
        int64_t *v = rn_store_upsert(st, &i, sizeof i, rn_hash_u64((uint64_t)i), &created);
        RN_REQUIRE(v != NULL);
        *v = i;
    }
    rn_store_set_now(st, 5);
    RN_CHECK_EQ_INT(rn_store_sweep(st, (size_t)-1, NULL, NULL), 0); /* none expired yet */
    /* keep: odd values go, at most 64 slots per call */
    size_t total = 0, calls = 0, r;
    do {
        r = rn_store_sweep(st, 64, keep_even, NULL);
        RN_CHECK(r <= 64);
        total += r;
        calls++;
    } while (calls < 100000 && rn_store_count(st) > N / 2);
    RN_CHECK_EQ_INT(total, N / 2);
    RN_CHECK_EQ_INT(rn_store_count(st), N / 2);
    /* then everything expires; the sweep removes it a bounded piece at a time */
    rn_store_set_now(st, 10);
    r = rn_store_sweep(st, 100, NULL, NULL);
    RN_CHECK(r > 0 && r <= 100);
    for (calls = 0; rn_store_count(st) > 0 && calls < 100000; calls++) rn_store_sweep(st, 100, NULL, NULL);
    RN_CHECK_EQ_INT(rn_store_count(st), 0);
    rn_store_free(st);
}

/* Removing the slot just returned by rn_store_next is allowed and the
 * iteration still visits every other entry once. */
static void test_store_remove_during_iteration(void)
{
    enum { N = 3000 };
    rn_store_t *st = rn_store_new("iter", sizeof(int64_t), NULL, NULL);
    RN_REQUIRE(st != NULL);
    for (int64_t i = 0; i < N; i++) {
        bool created;
        int64_t *v = rn_store_upsert(st, &i, sizeof i, rn_hash_u64((uint64_t)i), &created);
        RN_REQUIRE(v != NULL);
        *v = i;
    }
    size_t pos = 0, seen = 0;
    int64_t *v;
    while ((v = rn_store_next(st, &pos))) {
        seen++;
        if (*v % 3 == 0) {
            int64_t k = *v;
            rn_store_remove(st, &k, sizeof k, rn_hash_u64((uint64_t)k));
        }
    }
    RN_CHECK_EQ_INT(seen, N);
    RN_CHECK_EQ_INT(rn_store_count(st), N - (N + 2) / 3);
    for (int64_t i = 0; i < N; i++)
        RN_CHECK((rn_store_find(st, &i, sizeof i, rn_hash_u64((uint64_t)i)) != NULL) == (i % 3 != 0));
    rn_store_free(st);
}

/* rn_store_remove_iterated removes the slot just returned, with its
 * value_free and without allocating, and the iteration goes on over every
 * other entry once; the store then works as before. */
static void test_store_remove_iterated(void)
{
    enum { N = 3000 };
    free_log_t log = {0};
    rn_store_t *st = rn_store_new("iter", sizeof(int64_t), log_free, &log);
    RN_REQUIRE(st != NULL);
    for (int64_t i = 0; i < N; i++) {
        bool created;
        int64_t *v = rn_store_upsert(st, &i, sizeof i, rn_hash_u64((uint64_t)i), &created);
        RN_REQUIRE(v != NULL);
        *v = i;
    }
    size_t pos = 0, seen = 0;
    int64_t *v, sum = 0;
    rn_mem_fail_after(0);
    while ((v = rn_store_next(st, &pos))) {
        seen++;
        if (*v % 3 == 0) {
            sum += *v;
            rn_store_remove_iterated(st, pos);
        }
    }
    rn_mem_fail_after(-1);
    RN_CHECK_EQ_INT(seen, N);
    RN_CHECK_EQ_INT(log.calls, (N + 2) / 3);
    RN_CHECK_EQ_INT(log.sum, sum);
    RN_CHECK_EQ_INT(rn_store_count(st), N - (N + 2) / 3);
    for (int64_t i = 0; i < N; i++)
        RN_CHECK((rn_store_find(st, &i, sizeof i, rn_hash_u64((uint64_t)i)) != NULL) == (i % 3 != 0));
    for (int64_t i = 0; i < N; i += 3) { /* the removed keys come back */
        bool created;
        RN_CHECK(rn_store_upsert(st, &i, sizeof i, rn_hash_u64((uint64_t)i), &created) != NULL && created);
    }
    RN_CHECK_EQ_INT(rn_store_count(st), N);
    rn_store_free(st);
}

/* A sliding window of live keys (insert one, remove the oldest) reuses the
 * removed entries' bytes and the DELETED table slots: memory stays flat. */
static void test_store_churn_memory_flat(void)
{
    enum { LIVE = 100, N = 200000 };
    rn_store_t *st = rn_store_new("churn", 24, NULL, NULL);
    RN_REQUIRE(st != NULL);
    size_t bytes_at_live = 0;
    for (int64_t i = 0; i < N; i++) {
        bool created;
        RN_REQUIRE(rn_store_upsert(st, &i, sizeof i, rn_hash_u64((uint64_t)i), &created) != NULL);
        if (i >= LIVE) {
            int64_t old = i - LIVE;
            rn_store_remove(st, &old, sizeof old, rn_hash_u64((uint64_t)old));
        }
        if (i == 2 * LIVE) bytes_at_live = rn_store_bytes(st);
    }
    RN_CHECK_EQ_INT(rn_store_count(st), LIVE);
    RN_CHECK(rn_store_bytes(st) <= bytes_at_live * 2);
    for (int64_t i = N - LIVE; i < N; i++)
        RN_CHECK(rn_store_find(st, &i, sizeof i, rn_hash_u64((uint64_t)i)) != NULL);
    rn_store_free(st);
}

/* Keys too large for the slabs get their own allocation, mixed with slab
 * entries; removal and free release them (ASan checks for leaks). */
static void test_store_large_entries(void)
{
    enum { N = 300, BIG = 1000 };
    rn_store_t *st = rn_store_new("big", sizeof(int64_t), NULL, NULL);
    RN_REQUIRE(st != NULL);
    size_t mem0 = rn_mem_used();
    unsigned char key[BIG];
    for (int i = 0; i < N; i++) {
        uint32_t klen = i % 2 ? BIG : 8;
        memset(key, 0, sizeof key);
        memcpy(key, &i, sizeof i);
        bool created;
        int64_t *v = rn_store_upsert(st, key, klen, rn_hash_bytes(key, klen, 0), &created);
        RN_REQUIRE(v != NULL);
        *v = i;
    }
    for (int i = 0; i < N; i += 4) {
        uint32_t klen = i % 2 ? BIG : 8;
        memset(key, 0, sizeof key);
        memcpy(key, &i, sizeof i);
        rn_store_remove(st, key, klen, rn_hash_bytes(key, klen, 0));
        i++;
        klen = i % 2 ? BIG : 8;
        memset(key, 0, sizeof key);
        memcpy(key, &i, sizeof i);
        rn_store_remove(st, key, klen, rn_hash_bytes(key, klen, 0));
        i--;
    }
    RN_CHECK_EQ_INT(rn_store_count(st), N / 2);
    for (int i = 0; i < N; i++) {
        uint32_t klen = i % 2 ? BIG : 8;
        memset(key, 0, sizeof key);
        memcpy(key, &i, sizeof i);
        int64_t *v = rn_store_find(st, key, klen, rn_hash_bytes(key, klen, 0));
        RN_CHECK((v != NULL) == (i % 4 >= 2));
        if (v) RN_CHECK_EQ_INT(*v, i);
    }
    RN_CHECK(rn_mem_used() > mem0);
    rn_store_free(st);
}

int main(void)
{
    RN_RUN(test_store_random_ops_match_reference);
    RN_RUN(test_store_remove_under_collisions);
    RN_RUN(test_store_key_length_matters);
    RN_RUN(test_store_iteration_visits_each_once);
    RN_RUN(test_store_slots_zeroed_and_stable);
    RN_RUN(test_store_value_free_called);
    RN_RUN(test_key_round_trip_all_types);
    RN_RUN(test_key_negative_zero_equals_zero);
    RN_RUN(test_store_allocation_failures);
    RN_RUN(test_store_ttl_expiry);
    RN_RUN(test_store_sweep_incremental);
    RN_RUN(test_store_remove_during_iteration);
    RN_RUN(test_store_remove_iterated);
    RN_RUN(test_store_churn_memory_flat);
    RN_RUN(test_store_large_entries);
    return rn_test_summary();
}
