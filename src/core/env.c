/*
 * env.c - `${VAR}` and `${VAR:-default}` substitution in configuration
 * values (see env.h).
 */
#include "core/env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool rn_env_has_refs(const char *in) { return strstr(in, "${") != NULL; }

rn_err_t rn_env_expand(const char *in, rn_buf_t *out, char *errbuf, size_t errbuf_size)
{
    if (rn_buf_reserve(out, strlen(in) + 1) != 0) return RN_ERR_NOMEM;
    const char *p = in;
    while (*p) {
        if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
            rn_buf_appends(out, "${");
            p += 3;
            continue;
        }
        if (p[0] != '$' || p[1] != '{') {
            rn_buf_appendc(out, *p++);
            continue;
        }
        const char *close = strchr(p + 2, '}');
        if (!close) {
            snprintf(errbuf, errbuf_size, "'${' without a closing '}'");
            return RN_ERR_CONFIG;
        }
        char name[256];
        size_t len = (size_t)(close - (p + 2));
        const char *dflt = NULL; /* ${NAME:-default}: the text after ":-" */
        const char *sep = memchr(p + 2, ':', len);
        if (sep && sep[1] == '-') {
            dflt = sep + 2;
            len = (size_t)(sep - (p + 2));
        }
        if (len == 0 || len >= sizeof name) {
            size_t whole = (size_t)(close - (p + 2));
            snprintf(errbuf, errbuf_size, "bad variable reference '${%.*s}'",
                     (int)(whole < 64 ? whole : 64), p + 2);
            return RN_ERR_CONFIG;
        }
        memcpy(name, p + 2, len);
        name[len] = '\0';
        const char *v = getenv(name);
        if (dflt && (!v || !*v)) {
            rn_buf_append(out, dflt, (size_t)(close - dflt));
            p = close + 1;
            continue;
        }
        if (!v) {
            snprintf(errbuf, errbuf_size, "environment variable '%s' is not set", name);
            return RN_ERR_CONFIG;
        }
        rn_buf_appends(out, v);
        p = close + 1;
    }
    return out->oom ? RN_ERR_NOMEM : RN_OK;
}
