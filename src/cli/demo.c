/*
 * demo.c - what `runnel demo` sets up around the five example pipelines
 * (docs/dashboard.md, "runnel demo"), with nothing installed or running:
 *
 * - librdkafka's mock cluster in this process (the embedded broker of
 *   `runnel gen --brokers embedded`) with the scenario topics (8
 *   partitions for S5's, as `runnel gen` creates them);
 * - one generator thread producing all five scenarios into it at a steady
 *   total rate, each scenario its share (S4, whose every campaign fans out
 *   to up to 30 subscribers, 1%); S4's campaigns are generated around the
 *   wall clock (`runnel gen s4 --start now`), since its pipeline keeps the
 *   campaigns active when processed;
 * - a temporary directory holding S4's SQLite database (the tables of
 *   examples/s4_sqlite_schema.sql, the generator's subscribers loaded by
 *   examples/s4_sqlite_load.sql) and the dead-letter file; removed at the
 *   end;
 * - the examples, compiled from the copies embedded in the binary
 *   (cli/embedded.h): S2's Redis sinks replaced by 'blackhole' (their
 *   'dashboard' = 'true' twins still show them on the page) unless
 *   REDIS_URL names a Redis; S4 on SQLite unless PGHOST names a
 *   PostgreSQL (whose tables and subscribers are then the user's).
 *
 * main.c runs the pipelines (rn_pipelines_run) and the console; this file
 * starts and stops what is around them.
 */
#include "cli/demo.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/embedded.h"
#include "connectors/kafka_client.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "gen/gen.h"
#include "runtime/run.h"

#define DEMO_NSCEN 5

/* One scenario's generator and where its records go. */
typedef struct demo_scen {
    const char *name;           /* "s1".."s5" */
    double share;               /* of the total rate */
    double rate;                /* records/s */
    rn_gen_t *gen;
    rd_kafka_topic_t *rkt[2];   /* per generator topic */
    rn_buf_t next;              /* the next record, already generated */
    int next_topic;             /* its topic index */
    int64_t sent;               /* records produced */
} demo_scen_t;

struct rn_demo {
    char dir[4096];             /* the temporary directory, "" when none */
    char bootstrap[512];        /* the embedded cluster's address */
    char setup[256];            /* where S2 and S4 write, for the header */
    bool kafka_started;         /* the embedded cluster runs */
    rn_kafka_t *producer;       /* the generator's */
    demo_scen_t sc[DEMO_NSCEN];
    pthread_t thread;           /* the generator thread */
    bool thread_started;
    volatile int gen_stop;      /* asks the generator thread to end */
    volatile sig_atomic_t *stop; /* the run's stop flag, set when the generator fails */
    rn_err_t gen_err;           /* how the generator thread ended */
    char gen_errbuf[1024];
    rn_pipeline_t *ps[DEMO_NSCEN]; /* the pipelines, owned */
    int nps;
};

static double demo_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Generates sc's next record into sc->next. Returns RN_OK, or the
 * generator's error (an endless generator never ends). */
static rn_err_t demo_advance(demo_scen_t *sc)
{
    rn_buf_clear(&sc->next);
    return rn_gen_next(sc->gen, &sc->next_topic, &sc->next);
}

/* The generator thread: produces every scenario's records at its rate,
 * the one most behind schedule first, until gen_stop; then waits for all
 * to be acknowledged. A Kafka failure ends it with gen_err and sets the
 * run's stop flag. */
static void *demo_gen_main(void *arg)
{
    rn_demo_t *d = arg;
    char err[1024] = "";
    rn_buf_t key;
    rn_buf_init(&key);
    double t0 = demo_wall();
    rn_err_t e = RN_OK;
    while (!__atomic_load_n(&d->gen_stop, __ATOMIC_ACQUIRE)) {
        int best = 0;
        double due = 0;
        for (int i = 0; i < DEMO_NSCEN; i++) {
            double t = t0 + (double)d->sc[i].sent / d->sc[i].rate;
            if (i == 0 || t < due) {
                due = t;
                best = i;
            }
        }
        double wait = due - demo_wall();
        if (wait > 0) {
            if (wait > 0.05) wait = 0.05; /* look at gen_stop often */
            struct timespec ts = {0, (long)(wait * 1e9)};
            nanosleep(&ts, NULL);
            continue;
        }
        demo_scen_t *sc = &d->sc[best];
        bool keyed = rn_cli_gen_key(sc->next.data, sc->next.len, &key);
        e = rn_kafka_produce(d->producer, sc->rkt[sc->next_topic], RD_KAFKA_PARTITION_UA, keyed ? key.data : NULL,
                             keyed ? key.len : 0, sc->next.data, sc->next.len, NULL, err, sizeof err);
        if (e == RN_OK) {
            __atomic_add_fetch(&sc->sent, 1, __ATOMIC_RELAXED);
            e = demo_advance(sc);
            if (e != RN_OK) snprintf(err, sizeof err, "generator %s: %s", sc->name, rn_err2str(e));
        }
        if (e != RN_OK) break;
    }
    if (e == RN_OK) e = rn_kafka_flush(d->producer, err, sizeof err);
    rn_buf_free(&key);
    d->gen_err = e;
    if (e != RN_OK) {
        snprintf(d->gen_errbuf, sizeof d->gen_errbuf, "%s", err);
        if (d->stop) *d->stop = 1;
    }
    return NULL;
}

/* Writes the SQLite tables of examples/s4_sqlite_schema.sql into path.
 * Returns RN_OK or RN_ERR_IO with the reason. */
static rn_err_t demo_sqlite_schema(const char *path, char *errbuf, size_t errbuf_size)
{
    const rn_embedded_file_t *schema = rn_example_find("s4_sqlite_schema.sql");
    sqlite3 *db = NULL;
    char *msg = NULL;
    rn_err_t err = RN_OK;
    if (sqlite3_open(path, &db) != SQLITE_OK || sqlite3_exec(db, schema->data, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(errbuf, errbuf_size, "S4's SQLite database %s: %s", path, msg ? msg : sqlite3_errmsg(db));
        err = RN_ERR_IO;
    }
    sqlite3_free(msg);
    sqlite3_close(db);
    return err;
}

/* Takes S4's subscribers (the generator sends them all before the first
 * campaign) out of sc into DIR/subscribers_restaurants.jsonl, leaving the
 * first campaign in sc->next, and loads them into the database with
 * examples/s4_sqlite_load.sql. Returns RN_OK or the error, described. */
static rn_err_t demo_s4_subscribers(rn_demo_t *d, demo_scen_t *sc, char *errbuf, size_t errbuf_size)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/subscribers_restaurants.jsonl", d->dir);
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(errbuf, errbuf_size, "cannot create %s: %s", path, strerror(errno));
        return RN_ERR_IO;
    }
    rn_err_t err = RN_OK;
    int64_t n = 0;
    while ((err = demo_advance(sc)) == RN_OK && !strcmp(rn_gen_topic(sc->gen, sc->next_topic), "subscribers_restaurants")) {
        fwrite(sc->next.data, 1, sc->next.len, f);
        fputc('\n', f);
        n++;
    }
    if (fclose(f) != 0 && err == RN_OK) err = RN_ERR_IO;
    if (err != RN_OK) {
        snprintf(errbuf, errbuf_size, "writing %s: %s", path, rn_err2str(err));
        return err;
    }
    const rn_embedded_file_t *load = rn_example_find("s4_sqlite_load.sql");
    rn_pipeline_t *p = NULL;
    char e[4096] = "";
    if ((err = rn_pipeline_compile(load->data, load->len, "examples/s4_sqlite_load.sql", &p, e, sizeof e)) == RN_OK) {
        char dlq[4200];
        snprintf(dlq, sizeof dlq, "%s/dlq-load.jsonl", d->dir);
        rn_run_opts_t o = {.mode = RN_MODE_RUN, .dlq_path = dlq};
        err = rn_pipeline_run(p, &o, e, sizeof e);
    }
    if (err == RN_OK && rn_sink_records(rn_pipeline_sink(p, 0)) != (uint64_t)n) {
        snprintf(e, sizeof e, "%llu of %lld subscribers loaded", (unsigned long long)rn_sink_records(rn_pipeline_sink(p, 0)),
                 (long long)n);
        err = RN_ERR_IO;
    }
    rn_pipeline_free(p);
    if (err != RN_OK) snprintf(errbuf, errbuf_size, "loading S4's subscribers into SQLite: %s", e);
    return err;
}

/* Compiles the embedded example file as examples/<file> with overrides.
 * Returns RN_OK or the compiler's error. */
static rn_err_t demo_compile(rn_demo_t *d, const char *file, const rn_table_override_t *ov, int nov, char *errbuf,
                             size_t errbuf_size)
{
    const rn_embedded_file_t *f = rn_example_find(file);
    char name[256];
    snprintf(name, sizeof name, "examples/%s", file);
    rn_err_t err = rn_pipeline_compile_with(f->data, f->len, name, ov, nov, NULL, &d->ps[d->nps], errbuf, errbuf_size);
    if (err == RN_OK) rn_pipeline_no_checkpoints(d->ps[d->nps++]);
    return err;
}

/* Removes the (flat) temporary directory and what is in it. */
static void demo_remove_dir(const char *dir)
{
    DIR *dp = opendir(dir);
    if (dp) {
        struct dirent *de;
        while ((de = readdir(dp))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            char path[4400];
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            if (unlink(path) != 0) rn_log_warn("cannot remove %s: %s", path, strerror(errno));
        }
        closedir(dp);
    }
    if (rmdir(dir) != 0) rn_log_warn("cannot remove %s: %s", dir, strerror(errno));
}

rn_err_t rn_demo_start(const rn_demo_opts_t *opts, rn_demo_t **out, char *errbuf, size_t errbuf_size)
{
    static const struct {
        const char *name;
        double share;
    } scen[DEMO_NSCEN] = {{"s1", 0.24}, {"s2", 0.25}, {"s3", 0.25}, {"s4", 0.01}, {"s5", 0.25}};
    *out = NULL;
    rn_err_t err = RN_ERR_NOMEM;
    rn_demo_t *d = rn_calloc(1, sizeof *d);
    if (!d) {
        snprintf(errbuf, errbuf_size, "out of memory");
        return RN_ERR_NOMEM;
    }
    d->stop = opts->stop;
    for (int i = 0; i < DEMO_NSCEN; i++) rn_buf_init(&d->sc[i].next);

    /* the temporary directory: S4's database, dead letters */
    const char *tmp = getenv("TMPDIR");
    snprintf(d->dir, sizeof d->dir, "%s/runnel-demo-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(d->dir)) {
        snprintf(errbuf, errbuf_size, "cannot create a temporary directory %s: %s", d->dir, strerror(errno));
        d->dir[0] = '\0';
        err = RN_ERR_IO;
        goto fail;
    }

    /* the generators, S4's around now */
    for (int i = 0; i < DEMO_NSCEN; i++) {
        demo_scen_t *sc = &d->sc[i];
        rn_gen_opts_t g;
        rn_gen_opts_default(&g);
        g.count = -1;
        g.seed = opts->seed + (uint64_t)i;
        if (!strcmp(scen[i].name, "s4")) g.start_ms = (int64_t)time(NULL) * 1000;
        sc->name = scen[i].name;
        sc->share = scen[i].share;
        sc->rate = opts->rate * scen[i].share;
        if (sc->rate < 1) sc->rate = 1;
        if (!(sc->gen = rn_gen_new(sc->name, &g, errbuf, errbuf_size))) goto fail;
    }

    /* S4's tables: SQLite in the temporary directory, or PostgreSQL */
    bool pg = getenv("PGHOST") && *getenv("PGHOST");
    char db[4200];
    snprintf(db, sizeof db, "%s/s4.db", d->dir);
    setenv("S4_DB", db, 1);
    setenv("S4_DATA", d->dir, 1);
    if (!pg) {
        if ((err = demo_sqlite_schema(db, errbuf, errbuf_size)) != RN_OK) goto fail;
        if ((err = demo_s4_subscribers(d, &d->sc[3], errbuf, errbuf_size)) != RN_OK) goto fail;
    }
    for (int i = 0; i < DEMO_NSCEN; i++)
        if (!d->sc[i].next.len && (err = demo_advance(&d->sc[i])) != RN_OK) {
            snprintf(errbuf, errbuf_size, "generator %s: %s", d->sc[i].name, rn_err2str(err));
            goto fail;
        }

    /* the pipelines */
    /* The Redis tables carry 'dashboard' = 'true' (with 'dashboard.key'):
     * their rows still reach the page through that in-memory twin. */
    const char *s2_sink = "blackhole";
    rn_table_override_t s2_ov[] = {{"active_users", NULL, s2_sink}, {"top_pages", NULL, s2_sink},
                                   {"user_views_1h", NULL, s2_sink}};
    bool redis = getenv("REDIS_URL") && *getenv("REDIS_URL");
    if (redis) snprintf(d->setup, sizeof d->setup, "S2 writes the Redis at $REDIS_URL");
    else snprintf(d->setup, sizeof d->setup, "S2's Redis tables are dashboard tables only");
    snprintf(d->setup + strlen(d->setup), sizeof d->setup - strlen(d->setup), ", S4 uses %s",
             pg ? "the PostgreSQL at $PGHOST" : "an SQLite file");
    /* The replaced connectors are the demo's design, said in its header:
     * the log's note on each is left out. */
    rn_log_level_t level = rn_log_get_level();
    if (level == RN_LOG_WARN) rn_log_set_level(RN_LOG_ERROR);
    if ((err = demo_compile(d, "s1_logins.sql", NULL, 0, errbuf, errbuf_size)) != RN_OK ||
        (err = demo_compile(d, "s2_activity.sql", s2_ov, redis ? 0 : 3, errbuf, errbuf_size)) != RN_OK ||
        (err = demo_compile(d, "s3_corp.sql", NULL, 0, errbuf, errbuf_size)) != RN_OK ||
        (err = demo_compile(d, pg ? "s4_campaigns.sql" : "s4_campaigns_sqlite.sql", NULL, 0, errbuf, errbuf_size)) !=
            RN_OK ||
        (err = demo_compile(d, "s5_sessions.sql", NULL, 0, errbuf, errbuf_size)) != RN_OK) {
        rn_log_set_level(level);
        goto fail;
    }
    rn_log_set_level(level);

    /* the embedded cluster, its topics, the producer */
    err = RN_ERR_IO;
    if (rn_kafka_embedded_start(RN_KAFKA_EMBEDDED_BROKERS, d->bootstrap, sizeof d->bootstrap, errbuf, errbuf_size) !=
        RN_OK)
        goto fail;
    d->kafka_started = true;
    setenv("RUNNEL_BROKERS", d->bootstrap, 1);
    for (int i = 0; i < DEMO_NSCEN; i++)
        for (int t = 0; t < rn_gen_ntopics(d->sc[i].gen); t++)
            if (rn_kafka_embedded_topic(rn_gen_topic(d->sc[i].gen, t), !strcmp(d->sc[i].name, "s5") ? 8 : 0, errbuf,
                                        errbuf_size) != RN_OK)
                goto fail;
    rn_kafka_spec_t spec = {.role = RN_KAFKA_PRODUCER, .label = "runnel demo", .brokers = d->bootstrap};
    if (rn_kafka_open(&spec, &d->producer, errbuf, errbuf_size) != RN_OK) goto fail;
    for (int i = 0; i < DEMO_NSCEN; i++)
        for (int t = 0; t < rn_gen_ntopics(d->sc[i].gen); t++)
            if (!(d->sc[i].rkt[t] = rd_kafka_topic_new(d->producer->rk, rn_gen_topic(d->sc[i].gen, t), NULL))) {
                snprintf(errbuf, errbuf_size, "topic '%s': %s", rn_gen_topic(d->sc[i].gen, t),
                         rd_kafka_err2str(rd_kafka_last_error()));
                goto fail;
            }
    if (pthread_create(&d->thread, NULL, demo_gen_main, d) != 0) {
        snprintf(errbuf, errbuf_size, "cannot start the generator thread");
        goto fail;
    }
    d->thread_started = true;
    *out = d;
    return RN_OK;
fail:
    rn_demo_free(d, NULL, 0);
    return err == RN_OK ? RN_ERR_IO : err;
}

int rn_demo_pipelines(rn_demo_t *d, rn_pipeline_t *const **ps)
{
    *ps = d->ps;
    return d->nps;
}

const char *rn_demo_brokers(const rn_demo_t *d) { return d->bootstrap; }

const char *rn_demo_dir(const rn_demo_t *d) { return d->dir; }

const char *rn_demo_setup(const rn_demo_t *d) { return d->setup; }

int64_t rn_demo_generated(const rn_demo_t *d)
{
    int64_t n = 0;
    for (int i = 0; i < DEMO_NSCEN; i++) n += __atomic_load_n(&d->sc[i].sent, __ATOMIC_RELAXED);
    return n;
}

rn_err_t rn_demo_free(rn_demo_t *d, char *errbuf, size_t errbuf_size)
{
    if (!d) return RN_OK;
    rn_err_t err = RN_OK;
    if (d->thread_started) {
        __atomic_store_n(&d->gen_stop, 1, __ATOMIC_RELEASE);
        pthread_join(d->thread, NULL);
        err = d->gen_err;
        if (err != RN_OK && errbuf) snprintf(errbuf, errbuf_size, "%s", d->gen_errbuf);
        else if (errbuf && errbuf_size) errbuf[0] = '\0';
    }
    /* the pipelines' consumers leave no groups: the cluster ends with them */
    if (d->kafka_started) rn_kafka_embedded_closing();
    for (int i = 0; i < d->nps; i++) rn_pipeline_free(d->ps[i]);
    for (int i = 0; i < DEMO_NSCEN; i++) {
        for (int t = 0; t < 2; t++)
            if (d->sc[i].rkt[t]) rd_kafka_topic_destroy(d->sc[i].rkt[t]);
        rn_gen_free(d->sc[i].gen);
        rn_buf_free(&d->sc[i].next);
    }
    rn_kafka_close(d->producer);
    if (d->kafka_started) rn_kafka_embedded_stop();
    if (d->dir[0]) demo_remove_dir(d->dir);
    rn_free(d);
    return err;
}

const rn_embedded_file_t *rn_example_find(const char *name)
{
    for (const rn_embedded_file_t *f = rn_examples; f->name; f++)
        if (!strcmp(f->name, name)) return f;
    return NULL;
}
