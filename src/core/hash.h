/*
 * hash.h - fast non-cryptographic hashing for keyed state and group-by.
 *
 * rn_hash_bytes is a wyhash-style 64-bit hash: a few multiplies per 16
 * bytes, good distribution for short keys. Not for partitioning: Kafka's
 * murmur2 lives with the Kafka connector so keys land where Java clients
 * would put them.
 */
#ifndef RN_HASH_H
#define RN_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t rn_hash_bytes(const void *data, size_t len, uint64_t seed);

static inline uint64_t rn_hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

#endif
