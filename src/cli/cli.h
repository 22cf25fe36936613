/*
 * cli.h - commands of the `runnel` binary that live outside main.c, so
 * tests can call them in-process.
 */
#ifndef RN_CLI_H
#define RN_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

/* `runnel gen`: argv[0] is "gen". Returns a process exit status. */
int rn_cli_gen(int argc, char **argv);

/* Sets key to a generated record's Kafka key, {"user_id":<value>}, when
 * the rendered JSON object has a top-level "user_id" (as `runnel gen
 * --brokers` keys them). Returns false when there is none (or on OOM). */
bool rn_cli_gen_key(const char *json, size_t len, rn_buf_t *key);

#endif
