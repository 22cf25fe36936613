/*
 * text.h - small string helpers shared by the SQL analyzer and option
 * parsing ("did you mean" hints, topic names, secret option keys).
 */
#ifndef RN_TEXT_H
#define RN_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Levenshtein distance between a and b; strings longer than 64 bytes
 * count as far apart (returns 99). */
int rn_text_distance(const char *a, const char *b);

/* Checks a Kafka topic name as Kafka does: 1 to 249 characters from
 * [A-Za-z0-9._-], and neither "." nor "..". Such a name is also a safe file
 * base name (no '/', never outside a directory), which is how `runnel test`
 * uses it. n is the name's length (names in a ';'-list are not
 * terminated). Returns NULL when valid, else why it is not. */
const char *rn_text_topic_invalid(const char *name, size_t n);

/* Parses a memory size: a number, optionally with a decimal part, then an
 * optional unit: B, K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB (any case,
 * blanks allowed before it; all binary multiples, as the JVM's -Xmx), e.g.
 * "512m", "1.5 GiB", "1048576". Returns false otherwise or for 0. */
bool rn_text_parse_size(const char *s, size_t *bytes /* out */);

/* True if an option key names a secret ("password", "secret",
 * "sasl.jaas", "key.pem", "ssl.key" anywhere in it, any case): its value
 * is never printed, and diagnostics that quote the SQL mask it. */
bool rn_text_secret_key(const char *key, size_t n);

#endif
