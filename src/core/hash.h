/*
 * hash.h - fast non-cryptographic hashing for keyed state and group-by.
 *
 * rn_hash_bytes is a wyhash-style 64-bit hash: a few multiplies per 16
 * bytes, good distribution for short keys. Not for partitioning: that is
 * rn_hash_murmur2, Kafka's, so keys land where Java clients put them.
 *
 * rn_crc32c is the CRC-32C (Castagnoli) checksum that checkpoint files end
 * with (state/checkpoint.h): the polynomial of iSCSI, ext4 and Kafka's
 * record batches, which detects every burst error up to 32 bits: by the
 * SSE4.2 crc32 instruction where the CPU has it (several GB/s), else by a
 * 256-entry table, a byte per step.
 */
#ifndef RN_HASH_H
#define RN_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t rn_hash_bytes(const void *data, size_t len, uint64_t seed);

/* Kafka's murmur2 (Java's Utils.murmur2): the partition of a key among n is
 * (rn_hash_murmur2(key) & 0x7fffffff) % n, as the Java producer computes. */
uint32_t rn_hash_murmur2(const void *data, size_t len);

/* The CRC-32C of len bytes (reflected polynomial 0x82F63B78, initial and
 * final XOR 0xFFFFFFFF): rn_crc32c("123456789", 9) == 0xE3069283. */
uint32_t rn_crc32c(const void *data, size_t len);

/* Continues a CRC-32C: rn_crc32c_update(rn_crc32c(a, n), b, m) is the CRC
 * of a followed by b; rn_crc32c_update(0, d, n) == rn_crc32c(d, n). */
uint32_t rn_crc32c_update(uint32_t crc, const void *data, size_t len);
/* The same CRC one byte at a time, by table (what rn_crc32c_update does on
 * a CPU without SSE4.2's crc32 instruction). */
uint32_t rn_crc32c_bytewise(uint32_t crc, const void *data, size_t len);

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
