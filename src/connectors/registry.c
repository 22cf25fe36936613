/*
 * registry.c - the table of connectors and the generic option parser.
 */
#include "connectors/connector.h"
#include "core/env.h"
#include "core/mem.h"
#include "core/text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern const rn_connector_t rn_connector_filesystem, rn_connector_print, rn_connector_blackhole,
    rn_connector_datagen, rn_connector_kafka, rn_connector_upsert_kafka, rn_connector_jdbc, rn_connector_redis;

static const rn_connector_t *const connectors[] = {
    &rn_connector_kafka,  &rn_connector_upsert_kafka, &rn_connector_filesystem,
    &rn_connector_print,  &rn_connector_blackhole,    &rn_connector_datagen,
    &rn_connector_jdbc,   &rn_connector_redis,
};

const rn_connector_t *rn_connector_find(const char *name)
{
    for (size_t i = 0; i < sizeof connectors / sizeof *connectors; i++) {
        const rn_connector_t *c = connectors[i];
        if (!strcmp(c->name, name) || (c->alias && !strcmp(c->alias, name))) return c;
    }
    return NULL;
}

void rn_connector_list(rn_buf_t *out)
{
    for (size_t i = 0; i < sizeof connectors / sizeof *connectors; i++)
        rn_buf_appendf(out, "%s'%s'", i ? ", " : "", connectors[i]->name);
}

static bool opt_choice_ok(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, v, n)) return true;
        if (!bar) break;
        p = bar + 1;
    }
    return false;
}

/* Sets option o from value. shown is how errors quote the value: the text
 * quoted, as written when it came from ${VAR}, so that an expanded environment
 * variable is never printed. */
static rn_err_t opt_set(const rn_option_spec_t *o, const char *value, const char *shown, void *conf,
                        char *errbuf, size_t errbuf_size)
{
    char *field = (char *)conf + o->offset;
    switch (o->type) {
    case RN_OPT_STRING:
        *(const char **)field = value;
        return RN_OK;
    case RN_OPT_ENUM:
        if (!opt_choice_ok(o->choices, value)) {
            snprintf(errbuf, errbuf_size, "option '%s' must be one of %s, not %s", o->key,
                     o->choices, shown);
            return RN_ERR_CONFIG;
        }
        *(const char **)field = value;
        return RN_OK;
    case RN_OPT_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end) {
            snprintf(errbuf, errbuf_size, "option '%s' must be an integer, not %s", o->key, shown);
            return RN_ERR_CONFIG;
        }
        *(int64_t *)field = v;
        return RN_OK;
    }
    case RN_OPT_BOOL:
        if (!strcasecmp(value, "true")) *(bool *)field = true;
        else if (!strcasecmp(value, "false")) *(bool *)field = false;
        else {
            snprintf(errbuf, errbuf_size, "option '%s' must be 'true' or 'false', not %s", o->key,
                     shown);
            return RN_ERR_CONFIG;
        }
        return RN_OK;
    }
    return RN_OK;
}

rn_err_t rn_options_apply(const rn_connector_t *c, const rn_option_t *opts, int nopts,
                          void *conf, rn_arena_t *arena, int *bad, char *errbuf, size_t errbuf_size)
{
    *bad = -1;
    /* defaults first */
    for (const rn_option_spec_t *o = c->options; o && o->key; o++)
        if (o->def && opt_set(o, o->def, "its default", conf, errbuf, errbuf_size) != RN_OK) return RN_ERR_CONFIG;
    for (int i = 0; i < nopts; i++) {
        const char *key = opts[i].key;
        if (!strcmp(key, "connector")) continue;
        if (c->passthrough && !strncmp(key, c->passthrough, strlen(c->passthrough))) continue;
        const rn_option_spec_t *o = c->options;
        while (o && o->key && strcmp(o->key, key)) o++;
        if ((!o || !o->key) && !strcmp(key, "sink.max-retries") && (c->roles & RN_ROLE_SINK)) {
            /* every sink's: read by the runtime for the sink operator */
            int64_t v;
            if (rn_sink_max_retries(opts, nopts, &v, errbuf, errbuf_size) != RN_OK) {
                *bad = i;
                return RN_ERR_CONFIG;
            }
            continue;
        }
        if (!o || !o->key) {
            *bad = i;
            const rn_option_spec_t *best = NULL;
            int bestd = 4;
            for (const rn_option_spec_t *p = c->options; p && p->key; p++) {
                int d = rn_text_distance(key, p->key);
                if (d < bestd) {
                    bestd = d;
                    best = p;
                }
            }
            if (best)
                snprintf(errbuf, errbuf_size, "unknown option '%s' for connector '%s'; did you mean '%s'?",
                         key, c->name, best->key);
            else
                snprintf(errbuf, errbuf_size, "unknown option '%s' for connector '%s'", key, c->name);
            return RN_ERR_CONFIG;
        }
        const char *value = opts[i].value;
        if (rn_env_has_refs(value)) {
            rn_buf_t b;
            rn_buf_init(&b);
            char why[256];
            rn_err_t err = rn_env_expand(value, &b, why, sizeof why);
            if (err == RN_OK && !(value = rn_arena_strndup(arena, b.data, b.len))) err = RN_ERR_NOMEM;
            rn_buf_free(&b);
            if (err != RN_OK) {
                *bad = i;
                if (err == RN_ERR_NOMEM) snprintf(errbuf, errbuf_size, "out of memory");
                else snprintf(errbuf, errbuf_size, "option '%s': %s", key, why);
                return err;
            }
        }
        char shown[300];
        if (value == opts[i].value) snprintf(shown, sizeof shown, "'%s'", value);
        else snprintf(shown, sizeof shown, "'%s' (from the environment, value not shown)", opts[i].value);
        if (opt_set(o, value, shown, conf, errbuf, errbuf_size) != RN_OK) {
            *bad = i;
            return RN_ERR_CONFIG;
        }
    }
    for (const rn_option_spec_t *o = c->options; o && o->key; o++) {
        if (!o->required) continue;
        bool given = false;
        for (int i = 0; i < nopts && !given; i++) given = !strcmp(opts[i].key, o->key);
        if (!given) {
            snprintf(errbuf, errbuf_size, "connector '%s' needs option '%s' (%s)", c->name, o->key,
                     o->help);
            return RN_ERR_CONFIG;
        }
    }
    return RN_OK;
}

rn_err_t rn_sink_max_retries(const rn_option_t *opts, int nopts, int64_t *out, char *errbuf, size_t errbuf_size)
{
    *out = -1;
    for (int i = 0; i < nopts; i++) {
        if (strcmp(opts[i].key, "sink.max-retries")) continue;
        char *end;
        errno = 0;
        long long v = strtoll(opts[i].value, &end, 10);
        if (errno || end == opts[i].value || *end || v < -1) {
            snprintf(errbuf, errbuf_size,
                     "option 'sink.max-retries' must be an integer >= -1 (-1: retry until delivered), not '%s'",
                     opts[i].value);
            return RN_ERR_CONFIG;
        }
        *out = v;
    }
    return RN_OK;
}
