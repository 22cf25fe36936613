/*
 * datagen.c - the 'datagen' connector: a scenario generator (src/gen) as a
 * source table, so pipelines can run with no external services at all.
 *
 * WITH ('connector' = 'datagen', 'scenario' = 's5', 'topic' = 'user-events',
 *       'seed' = '7', 'number-of-rows' = '100000', 'rows-per-second' = '5000')
 * The generator yields every topic of the scenario; the reader keeps the
 * records of its table's topic. Pacing uses the wall clock.
 */
#include "connectors/connector.h"
#include "core/mem.h"
#include "gen/gen.h"
#include "json/json.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct datagen_conf {
    const char *scenario;       /* s1..s5, nexmark */
    const char *topic;          /* which of the scenario's topics */
    int64_t seed;
    int64_t rows;               /* main-topic records; -1 = unbounded */
    int64_t rows_per_second;    /* 0 = as fast as possible */
} datagen_conf_t;

static const rn_option_spec_t datagen_options[] = {
    {"scenario", RN_OPT_ENUM, "s5", offsetof(datagen_conf_t, scenario), "s1|s2|s3|s4|s5|nexmark", false,
     "scenario whose data to generate"},
    {"topic", RN_OPT_STRING, NULL, offsetof(datagen_conf_t, topic), NULL, false,
     "scenario topic to read (default: the scenario's first topic)"},
    {"seed", RN_OPT_INT, "1", offsetof(datagen_conf_t, seed), NULL, false, "random seed"},
    {"number-of-rows", RN_OPT_INT, "-1", offsetof(datagen_conf_t, rows), NULL, false,
     "records of the scenario's main topic (nexmark: events of all its topics), -1 for unbounded"},
    {"rows-per-second", RN_OPT_INT, "0", offsetof(datagen_conf_t, rows_per_second), NULL, false,
     "rate limit, 0 for none"},
    {NULL},
};

typedef struct gen_reader {
    rn_reader_t base;
    rn_gen_t *gen;
    int topic;                  /* index of the wanted topic */
    rn_buf_t buf;               /* this call's records, back to back */
    rn_buf_t line;
    size_t *offsets;            /* start of each record in buf */
    size_t *lens;
    int cap;
    double rate;                /* records per second, 0 = unlimited */
    uint64_t produced;
    struct timespec t0;
    char where[96];
} gen_reader_t;

static double gen_elapsed(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static rn_err_t gen_reader_next(rn_reader_t *r, rn_record_t *recs, int max, int *n, bool *eof,
                                char *errbuf, size_t errbuf_size)
{
    gen_reader_t *g = (gen_reader_t *)r;
    *n = 0;
    *eof = false;
    if (max > g->cap) {
        size_t *o = rn_realloc(g->offsets, sizeof *o * (size_t)max);
        if (o) g->offsets = o;
        size_t *l = o ? rn_realloc(g->lens, sizeof *l * (size_t)max) : NULL;
        if (!o || !l) return RN_ERR_NOMEM;
        g->lens = l;
        g->cap = max;
    }
    if (g->rate > 0) {
        /* Pace: produce only what the rate allows so far (at least one). */
        double allowed = gen_elapsed(&g->t0) * g->rate - (double)g->produced;
        if (allowed < 1) {
            double wait = (1 - allowed) / g->rate;
            struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
            nanosleep(&ts, NULL);
            allowed = 1;
        }
        if (allowed < max) max = (int)allowed;
    }
    rn_buf_clear(&g->buf);
    int count = 0;
    while (count < max) {
        int topic;
        rn_buf_clear(&g->line);
        rn_err_t err = rn_gen_next(g->gen, &topic, &g->line);
        if (err == RN_ERR_EOF) {
            if (count == 0) *eof = true;
            break;
        }
        if (err != RN_OK) {
            snprintf(errbuf, errbuf_size, "%s: generator failed: %s", g->where, rn_err2str(err));
            return err;
        }
        if (topic != g->topic) continue;
        g->offsets[count] = g->buf.len;
        g->lens[count] = g->line.len;
        rn_buf_append(&g->buf, g->line.data, g->line.len);
        rn_buf_appendc(&g->buf, '\n');
        count++;
    }
    if (rn_buf_reserve(&g->buf, RN_JSON_PADDING) != 0 || g->buf.oom) return RN_ERR_NOMEM;
    memset(g->buf.data + g->buf.len, 0, RN_JSON_PADDING);
    for (int i = 0; i < count; i++) {
        rn_record_set(&recs[i], g->buf.data + g->offsets[i], g->lens[i],
                      (int64_t)(g->produced + (uint64_t)i + 1));
    }
    g->produced += (uint64_t)count;
    *n = count;
    return RN_OK;
}

static void gen_reader_close(rn_reader_t *r)
{
    gen_reader_t *g = (gen_reader_t *)r;
    rn_gen_free(g->gen);
    rn_buf_free(&g->buf);
    rn_buf_free(&g->line);
    rn_free(g->offsets);
    rn_free(g->lens);
    rn_free(g);
}

rn_err_t rn_gen_reader_open(const char *scenario, const char *topic, uint64_t seed, int64_t rows,
                            double rows_per_second, rn_reader_t **out, char *errbuf,
                            size_t errbuf_size)
{
    rn_gen_opts_t opts;
    rn_gen_opts_default(&opts);
    opts.seed = seed;
    opts.count = rows;
    gen_reader_t *g = rn_calloc(1, sizeof *g);
    if (!g) return RN_ERR_NOMEM;
    g->gen = rn_gen_new(scenario, &opts, errbuf, errbuf_size);
    if (!g->gen) {
        rn_free(g);
        return RN_ERR_CONFIG;
    }
    g->topic = topic ? -1 : 0;
    for (int i = 0; topic && i < rn_gen_ntopics(g->gen); i++)
        if (!strcmp(rn_gen_topic(g->gen, i), topic)) g->topic = i;
    if (g->topic < 0) {
        rn_buf_t names;
        rn_buf_init(&names);
        for (int i = 0; i < rn_gen_ntopics(g->gen); i++)
            rn_buf_appendf(&names, "%s'%s'", i ? ", " : "", rn_gen_topic(g->gen, i));
        snprintf(errbuf, errbuf_size, "scenario %s has no topic '%s' (it has %s)", scenario, topic,
                 names.data ? names.data : "none");
        rn_buf_free(&names);
        rn_gen_free(g->gen);
        rn_free(g);
        return RN_ERR_CONFIG;
    }
    rn_buf_init(&g->buf);
    rn_buf_init(&g->line);
    g->rate = rows_per_second;
    clock_gettime(CLOCK_MONOTONIC, &g->t0);
    snprintf(g->where, sizeof g->where, "datagen %s/%s", scenario, rn_gen_topic(g->gen, g->topic));
    g->base.next = gen_reader_next;
    g->base.wait_ms = RN_IDLE_WAIT_MS;
    g->base.close = gen_reader_close;
    g->base.where = g->where;
    *out = &g->base;
    return RN_OK;
}

static rn_err_t datagen_open_reader(const void *conf, const rn_open_ctx_t *ctx, rn_reader_t **out,
                                    char *errbuf, size_t errbuf_size)
{
    const datagen_conf_t *c = conf;
    return rn_gen_reader_open(c->scenario, c->topic, (uint64_t)c->seed, c->rows,
                              (double)c->rows_per_second, out, errbuf, errbuf_size);
}

static void datagen_describe(const void *conf, rn_buf_t *out)
{
    const datagen_conf_t *c = conf;
    rn_buf_appendf(out, "scenario=%s, topic=%s, seed=%lld", c->scenario, c->topic ? c->topic : "(main)",
                   (long long)c->seed);
    if (c->rows >= 0) rn_buf_appendf(out, ", rows=%lld", (long long)c->rows);
    if (c->rows_per_second > 0) rn_buf_appendf(out, ", rows/s=%lld", (long long)c->rows_per_second);
}

const rn_connector_t rn_connector_datagen = {
    .name = "datagen",
    .roles = RN_ROLE_SOURCE,
    .options = datagen_options,
    .conf_size = sizeof(datagen_conf_t),
    .open_reader = datagen_open_reader,
    .describe = datagen_describe,
    .self_contained = true,
};

