/*
 * hash.h - fast non-cryptographic hashing for keyed state and group-by.
 *
 * rn_hash_bytes is a wyhash-style 64-bit hash: a few multiplies per 16
 * bytes, good distribution for short keys. Not for partitioning: that is
 * rn_hash_murmur2, Kafka's, so keys land where Java clients put them.
 */
#ifndef RN_HASH_H
#define RN_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t rn_hash_bytes(const void *data, size_t len, uint64_t seed);

/* Kafka's murmur2 (Java's Utils.murmur2): the partition of a key among n is
 * (rn_hash_murmur2(key) & 0x7fffffff) % n, as the Java producer computes. */
uint32_t rn_hash_murmur2(const void *data, size_t len);

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
