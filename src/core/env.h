/*
 * env.h - `${VAR}` substitution in configuration values, so that secrets
 * (passwords, keys) stay out of pipeline files: 'properties.sasl.password'
 * = '${KAFKA_PASSWORD}', 'url' = 'redis://${REDIS_HOST:-localhost}:6379'.
 * `$${` writes a literal `${`.
 */
#ifndef RN_ENV_H
#define RN_ENV_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "runnel.h"

/* Appends `in` to out with every ${NAME} replaced by the environment
 * variable NAME, and every ${NAME:-default} by NAME when it is set and not
 * empty, else by the text default (taken as written, up to the first '}'). Returns RN_OK; RN_ERR_CONFIG when a variable is unset or a
 * `${` is not closed (errbuf names the variable, never a value);
 * RN_ERR_NOMEM when out ran out of memory. */
rn_err_t rn_env_expand(const char *in, rn_buf_t *out, char *errbuf, size_t errbuf_size);

/* True if in contains a ${...} reference. */
bool rn_env_has_refs(const char *in);

#endif
