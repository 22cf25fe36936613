/*
 * main.c - the runnel command line.
 *
 *   runnel gen s1..s5 [--count N] [--seed S] [--rate R] [--out DIR]
 *   runnel test PIPELINE.sql --input DIR --output DIR [--now EPOCH_S]
 *   runnel run PIPELINE.sql [--brokers LIST|embedded] [--workers N] [--dlq FILE]
 *                           [--console] [--commit-interval MS] [--max-memory SIZE]
 *                           [--http HOST:PORT [--http-token T] [--http-linger S]]
 *   runnel explain PIPELINE.sql
 *   runnel run A.sql B.sql ... [--set TABLE.OPTION=VALUE] [--connector TABLE=NAME]
 *   runnel demo [--rate R] [--seconds N]
 *
 * Exit status: 0 success, 1 the pipeline failed while running, 2 bad usage
 * or an invalid pipeline (nothing ran).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/demo.h"
#include "connectors/kafka_client.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/text.h"
#include "core/timeparse.h"
#include "gen/gen.h"
#include "http/http.h"
#include "op/lookup_join.h"
#include "plan/pipeline.h"
#include "runtime/run.h"
#include "runtime/workers.h"
#include "runnel.h"

#define RN_MAX_PIPELINES 64      /* files given to one `runnel run` */
#define RN_MAX_OVERRIDES 256     /* --set and --connector options */

static volatile sig_atomic_t stop_requested;

/* The first SIGINT/SIGTERM asks for a clean stop: finish the batch,
 * deliver, commit. Waiting for acknowledgements can take long when a broker
 * is down; a second signal stops at once, committing nothing more (what was
 * not committed is read again on restart: nothing is lost). */
static void on_signal(int sig)
{
    (void)sig;
    if (stop_requested) {
        static const char msg[] = "runnel: second stop signal: exiting at once; positions after the last "
                                  "commit are not committed and will be read again\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        _exit(130);
    }
    stop_requested = 1;
}

/* Installs on_signal for SIGINT and SIGTERM without SA_RESTART, so a
 * blocking system call returns and the run loop sees the request. */
static void catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: runnel <command> [options]\n"
            "\n"
            "commands:\n"
            "  gen s1|s2|s3|s4|s5 [--count N] [--seed S] [--rate R] [--out DIR]\n"
            "                      write realistic scenario data (see docs/generator.md)\n"
            "  test FILE.sql --input DIR --output DIR [--now EPOCH_S] [--max-memory SIZE]\n"
            "                      replay <DIR>/<topic>.jsonl through a pipeline, deterministically\n"
            "  run FILE.sql [FILE.sql ...] [--brokers LIST|embedded] [--workers N] [--dlq FILE]\n"
            "               [--console] [--commit-interval MS] [--max-memory SIZE] [--from-scratch]\n"
            "               [--set TABLE.OPTION=VALUE ...] [--connector TABLE=NAME ...]\n"
            "               [--http HOST:PORT [--http-token T] [--http-linger S]]\n"
            "                      run pipelines against their real connectors (docs/cli.md)\n"
            "  explain FILE.sql    print the operator graph\n"
            "  demo [--rate R] [--seconds N]\n"
            "                      the five example pipelines live on an embedded broker\n"
            "  version             print the version\n");
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Parses a whole-number option value in [lo, hi]; on anything else says
 * which option and what it expects, and returns false. */
static bool parse_count(const char *cmd, const char *opt, const char *s, long long lo, long long hi,
                        long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi || (*s < '0' || *s > '9')) {
        fprintf(stderr, "runnel %s: %s '%s' must be a whole number from %lld to %lld\n", cmd, opt, s, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

/* --max-memory SIZE */
static bool parse_memory(const char *cmd, const char *s, size_t *out)
{
    if (rn_text_parse_size(s, out)) return true;
    fprintf(stderr, "runnel %s: --max-memory '%s' is not a size such as 512m, 2g or 1.5GiB\n", cmd, s);
    return false;
}

static int load_or_report(const char *path, rn_pipeline_t **p)
{
    char err[4096] = "";
    rn_err_t rc = rn_pipeline_load(path, p, err, sizeof err);
    if (rc == RN_OK) return 0;
    fprintf(stderr, "%s\n", err);
    return 2;
}

/* Prints per-source and per-sink counts to stderr. */
static void report_counts(const rn_pipeline_t *p, double seconds)
{
    uint64_t total = 0;
    for (int i = 0; i < rn_pipeline_nsources(p); i++) {
        const rn_op_t *s = rn_pipeline_source(p, i);
        total += rn_source_records(s);
        fprintf(stderr, "runnel: source %s: %llu records, %llu undecodable\n", rn_source_label(s),
                (unsigned long long)rn_source_records(s), (unsigned long long)rn_source_errors(s));
        if (rn_source_align_pauses(s))
            fprintf(stderr, "runnel: source %s: watermark alignment paused a partition %llu times\n",
                    rn_source_label(s), (unsigned long long)rn_source_align_pauses(s));
    }
    for (int i = 0; i < rn_pipeline_nops(p); i++) {
        const rn_op_t *op = rn_pipeline_op(p, i);
        if (strcmp(op->vt->kind, "WindowAggregate") && strcmp(op->vt->kind, "WindowRows")) continue;
        fprintf(stderr, "runnel: window #%d: %llu late rows, %zu windows still open, at most %zu\n", op->id,
                (unsigned long long)rn_window_late_rows(op), rn_window_open_windows(op),
                rn_window_peak_windows(op));
    }
    for (int i = 0; i < rn_pipeline_nops(p); i++) { /* what pre-aggregation saved a repartition topic */
        const rn_op_t *op = rn_pipeline_op(p, i);
        uint64_t rows = 0, sent = 0;
        if (!strcmp(op->vt->kind, "WindowCombine")) rn_window_combine_counts(op, &rows, &sent);
        else if (rn_is_group_combine(op)) rn_group_combine_counts(op, &rows, &sent);
        if (rows)
            fprintf(stderr, "runnel: %s #%d: %llu rows combined into %llu sent\n", op->vt->kind, op->id,
                    (unsigned long long)rows, (unsigned long long)sent);
    }
    for (int i = 0; i < rn_pipeline_nops(p); i++) {
        const rn_op_t *op = rn_pipeline_op(p, i);
        if (!rn_is_lookup_join(op)) continue;
        int nkeys;
        const int *key_cols;
        const char *table = rn_lookup_join_table(op, &nkeys, &key_cols);
        rn_lookup_join_stats_t st;
        rn_lookup_join_stats(op, &st);
        fprintf(stderr,
                "runnel: lookup join #%d on %s: %llu lookups, %llu cache hits, %llu misses, %llu rows "
                "looked up, %zu keys cached\n",
                op->id, table, (unsigned long long)st.lookups, (unsigned long long)st.hits,
                (unsigned long long)st.misses, (unsigned long long)st.rows_looked_up, st.cached_keys);
    }
    for (int i = 0; i < rn_pipeline_nsinks(p); i++)
        fprintf(stderr, "runnel: sink %s%s: %llu records written\n", rn_pipeline_sink_name(p, i),
                rn_pipeline_sink_is_dashboard_twin(p, i) ? " (dashboard)" : "",
                (unsigned long long)rn_sink_records(rn_pipeline_sink(p, i)));
    /* Peak memory is the process's peak resident size, what `ps` and the
     * OOM killer see; state is part of it (see --max-memory). */
    if (seconds > 0)
        fprintf(stderr, "runnel: %.3f s, %.0f records/s, peak memory %.1f MiB\n", seconds,
                (double)total / seconds, (double)rn_mem_rss_peak() / (1 << 20));
}

/* Parses `--set TABLE.OPTION=VALUE` (key != NULL) or `--connector
 * TABLE=NAME` of command cmd ("run", "test") into o, pointing into arg
 * (which it splits). Returns false after saying what is wrong. */
static bool parse_override(const char *cmd, const char *opt, char *arg, rn_table_override_t *o)
{
    char *eq = strchr(arg, '=');
    char *dot = !strcmp(opt, "--set") ? strchr(arg, '.') : NULL;
    if (!eq || eq == arg || (!strcmp(opt, "--set") && (!dot || dot > eq || dot == arg || dot + 1 == eq)) ||
        (strcmp(opt, "--set") && eq[1] == '\0')) {
        fprintf(stderr, "runnel %s: %s '%s': expected %s\n", cmd, opt, arg,
                !strcmp(opt, "--set") ? "TABLE.OPTION=VALUE" : "TABLE=CONNECTOR");
        return false;
    }
    *eq = '\0';
    if (dot) *dot = '\0';
    *o = (rn_table_override_t){.table = arg, .key = dot ? dot + 1 : NULL, .value = eq + 1};
    return true;
}

static int cmd_test(int argc, char **argv)
{
    const char *file = NULL, *in = NULL, *out = NULL;
    int64_t now_ms = 0;
    size_t max_memory = 0;
    int nov = 0;
    rn_table_override_t ov[RN_MAX_OVERRIDES];
    int used[RN_MAX_OVERRIDES] = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--max-memory") && i + 1 < argc) {
            if (!parse_memory("test", argv[++i], &max_memory)) return 2;
        } else if ((!strcmp(argv[i], "--set") || !strcmp(argv[i], "--connector")) && i + 1 < argc) {
            if (nov == RN_MAX_OVERRIDES) {
                fprintf(stderr, "runnel test: more than %d --set/--connector options\n", RN_MAX_OVERRIDES);
                return 2;
            }
            if (!parse_override("test", argv[i], argv[i + 1], &ov[nov++])) return 2;
            i++;
        } else if (!strcmp(argv[i], "--input") && i + 1 < argc) in = argv[++i];
        else if (!strcmp(argv[i], "--output") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--now") && i + 1 < argc) {
            if (!rn_epoch_seconds_parse(argv[++i], &now_ms)) {
                fprintf(stderr,
                        "runnel test: --now '%s' is not epoch seconds: expected an integer or decimal "
                        "number such as 1714550400 or -86400.5, between the years 1 and 9999\n",
                        argv[i]);
                return 2;
            }
        }
        else if (argv[i][0] != '-' && !file) file = argv[i];
        else {
            fprintf(stderr, "runnel test: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!file || !in || !out) {
        fprintf(stderr, "usage: runnel test FILE.sql --input DIR --output DIR [--now EPOCH_S] [--max-memory SIZE]\n"
                        "                   [--set TABLE.OPTION=VALUE ...] [--connector TABLE=NAME ...]\n");
        return 2;
    }
    rn_pipeline_t *p;
    char lerr[4096] = "";
    if (rn_pipeline_load_with(file, ov, nov, used, &p, lerr, sizeof lerr) != RN_OK) {
        fprintf(stderr, "%s\n", lerr);
        return 2;
    }
    for (int i = 0; i < nov; i++)
        if (!used[i]) {
            fprintf(stderr, "runnel test: %s %s: no table '%s' in %s\n", ov[i].key ? "--set" : "--connector",
                    ov[i].table, ov[i].table, file);
            rn_pipeline_free(p);
            return 2;
        }
    rn_run_opts_t opts = {.mode = RN_MODE_TEST, .input_dir = in, .output_dir = out, .now_ms = now_ms,
                          .max_memory = max_memory};
    char err[4096] = "";
    double t0 = now_seconds();
    rn_err_t e = rn_pipeline_run(p, &opts, err, sizeof err);
    double secs = now_seconds() - t0;
    if (e != RN_OK) {
        fprintf(stderr, "runnel test: %s\n", err[0] ? err : rn_err2str(e));
        rn_pipeline_free(p);
        return 1;
    }
    report_counts(p, secs);
    if (rn_pipeline_dlq_count(p))
        fprintf(stderr, "runnel: %llu undecodable records written to %s/%s\n",
                (unsigned long long)rn_pipeline_dlq_count(p), out, RN_TEST_DLQ_FILE);
    rn_pipeline_free(p);
    return 0;
}

static int cmd_explain(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: runnel explain FILE.sql\n");
        return 2;
    }
    rn_pipeline_t *p;
    int rc = load_or_report(argv[1], &p);
    if (rc) return rc;
    rn_buf_t b;
    rn_buf_init(&b);
    rn_pipeline_explain(p, &b);
    fputs(b.data ? b.data : "", stdout);
    rn_buf_free(&b);
    rn_pipeline_free(p);
    return 0;
}

/* ---- live console view (run --console, demo) ---------------------------- */

typedef struct console {
    double t0, last_t;
    uint64_t last_records;
    const rn_pipeline_t *first; /* the pipeline shown (the first worker's) */
    bool show;                  /* --console */
    rn_http_hub_t *hub;         /* --http: publishes every pipeline's snapshots, or NULL */
} console_t;

static void console_show(const rn_pipeline_t *p, bool final, console_t *c);

/* The progress callback of `runnel run`, on each pipeline's thread: the
 * dashboard's snapshot of every pipeline, the console view of the first. */
static void console_progress(const rn_pipeline_t *p, bool final, void *opaque)
{
    console_t *c = opaque;
    if (c->hub) rn_http_hub_publish(c->hub, p, final);
    if (c->show && p == c->first) console_show(p, final, c);
}

static void console_show(const rn_pipeline_t *p, bool final, console_t *c)
{
    double t = now_seconds();
    uint64_t records = 0, bad = 0;
    for (int i = 0; i < rn_pipeline_nsources(p); i++) {
        records += rn_source_records(rn_pipeline_source(p, i));
        bad += rn_source_errors(rn_pipeline_source(p, i));
    }
    double rate = t > c->last_t ? (double)(records - c->last_records) / (t - c->last_t) : 0;
    c->last_t = t;
    c->last_records = records;
    if (isatty(1)) fputs("\033[H\033[2J", stdout);
    printf("runnel %s  %s  up %.0f s\n\n", RN_VERSION_STRING, final ? "finished" : "running", t - c->t0);
    printf("  input records   %12llu   (%.0f/s now)\n", (unsigned long long)records, rate);
    printf("  undecodable     %12llu\n", (unsigned long long)bad);
    printf("  memory          %12.1f MiB\n\n", (double)rn_mem_used() / (1 << 20));
    printf("  %-4s %-16s %12s %12s  %-23s\n", "id", "operator", "rows in", "rows out", "watermark");
    for (int i = 0; i < rn_pipeline_nops(p); i++) {
        const rn_op_t *op = rn_pipeline_op(p, i);
        char wm[40] = "-";
        if (op->watermark == RN_WM_MAX) snprintf(wm, sizeof wm, "end");
        else if (op->watermark != RN_WM_MIN) rn_time_format(op->watermark, wm, sizeof wm);
        printf("  %-4d %-16s %12llu %12llu  %-23s", op->id, op->vt->kind, (unsigned long long)op->rows_in,
               (unsigned long long)op->rows_out, wm);
        if (!strcmp(op->vt->kind, "GroupAggregate")) printf("   %zu groups", rn_aggregate_groups(op));
        if (!strcmp(op->vt->kind, "WindowAggregate") || !strcmp(op->vt->kind, "WindowRows"))
            printf("   %zu windows, %llu late", rn_window_open_windows(op),
                   (unsigned long long)rn_window_late_rows(op));
        if (!strcmp(op->vt->kind, "Source")) printf("   %s", rn_source_label(op));
        printf("\n");
    }
    for (int i = 0; i < rn_pipeline_nsources(p); i++) {
        const rn_op_t *s = rn_pipeline_source(p, i);
        if (!rn_source_has_watermark(s)) continue;
        rn_buf_t b;
        rn_buf_init(&b);
        rn_source_describe_watermark(s, &b);
        printf("%s  watermark of %s: %s\n", i ? "" : "\n", rn_source_label(s), b.data ? b.data : "");
        rn_buf_clear(&b);
        rn_source_describe_partitions(s, &b);
        for (const char *line = b.data; line && *line;) {
            const char *end = strchr(line, '\n');
            printf("      %.*s\n", (int)(end ? end - line : (long)strlen(line)), line);
            line = end ? end + 1 : line + strlen(line);
        }
        rn_buf_free(&b);
    }
    printf("\n  Ctrl-C stops.\n");
    fflush(stdout);
}

/* --http: the server and what it shows. */
typedef struct http_opts {
    const char *listen;         /* HOST:PORT, or NULL: no server */
    const char *token;          /* --http-token / RUNNEL_HTTP_TOKEN, or NULL */
    long long linger_s;         /* --http-linger: keep serving after the run */
} http_opts_t;

/* The pipeline's name on the dashboard: the file's base name without
 * ".sql", each byte other than a letter, digit, '_' or '-' made '_';
 * "-wN" added for worker N of several. */
static void pipeline_name(const char *file, int worker, int nworkers, char *out, size_t outsz)
{
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    size_t n = strlen(base);
    if (n > 4 && !strcmp(base + n - 4, ".sql")) n -= 4;
    if (n > 100) n = 100;
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < outsz; i++) {
        char ch = base[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
        out[o++] = ok ? ch : '_';
    }
    out[o] = '\0';
    if (!o) snprintf(out, outsz, "pipeline");
    if (nworkers > 1) snprintf(out + strlen(out), outsz - strlen(out), "-w%d", worker);
}

/* Starts the dashboard server over ps[0..n) and prints its URL (or, when
 * url is not NULL, stores it there instead). ps[i] was read from
 * files[i] when nfiles > 1, else all from files[0] (workers). Returns 0
 * with *hub and *server set (both NULL without --http), or 2 after
 * reporting why it could not start. */
static int http_start(const http_opts_t *ho, const char *const *files, int nfiles, rn_pipeline_t *const *ps, int n,
                      rn_http_hub_t **hub, rn_http_t **server, char *url_out, size_t url_size)
{
    *hub = NULL;
    *server = NULL;
    if (!ho || !ho->listen) return 0;
    char err[1024], url[512], name[160], group[160];
    if (!(*hub = rn_http_hub_new(rn_pipeline_dashboard_tables_json))) {
        fprintf(stderr, "runnel run: out of memory\n");
        return 2;
    }
    for (int i = 0; i < n; i++) {
        const char *file = nfiles > 1 ? files[i] : files[0];
        pipeline_name(file, i + 1, nfiles > 1 ? 1 : n, name, sizeof name);
        pipeline_name(file, 1, 1, group, sizeof group); /* the workers' merged tables go by it */
        bool worker = nfiles == 1 && n > 1;
        if (rn_http_hub_add(*hub, ps[i], name, worker ? group : NULL, file) != RN_OK) {
            fprintf(stderr, "runnel run: out of memory\n");
            rn_http_hub_free(*hub);
            *hub = NULL;
            return 2;
        }
    }
    if (rn_http_start(*hub, ho->listen, ho->token, server, url, sizeof url, err, sizeof err) != RN_OK) {
        fprintf(stderr, "runnel run: %s\n", err);
        rn_http_hub_free(*hub);
        *hub = NULL;
        return 2;
    }
    if (url_out) snprintf(url_out, url_size, "%s", url);
    else fprintf(stderr, "runnel: dashboard at %s\n", url);
    return 0;
}

static void http_stop(rn_http_hub_t *hub, rn_http_t *server)
{
    rn_http_stop(server);
    rn_http_hub_free(hub);
}

/* --http-linger: the final state stays readable for linger_s seconds
 * after the run (a stop signal ends the wait). */
static void http_linger(rn_http_hub_t *hub, long long linger_s)
{
    for (double until = now_seconds() + (double)linger_s; hub && !stop_requested && now_seconds() < until;) {
        struct timespec ts = {0, 50 * 1000000};
        nanosleep(&ts, NULL);
    }
}

static bool from_scratch; /* runnel run --from-scratch: restore no checkpoint */

/* The options of `runnel run` and of the demo: progress (may be NULL)
 * every 500 ms when an HTTP hub publishes it, else every second. */
static rn_run_opts_t run_opts(const char *dlq, void (*progress)(const rn_pipeline_t *, bool, void *),
                              void *progress_opaque, bool hub, int64_t commit_ms, size_t max_memory)
{
    return (rn_run_opts_t){
        .mode = RN_MODE_RUN,
        .dlq_path = dlq,
        .stop = &stop_requested,
        .progress = progress,
        .progress_opaque = progress_opaque,
        .progress_ms = hub ? 500 : 1000,
        .commit_ms = commit_ms,
        .max_memory = max_memory,
        .from_scratch = from_scratch,
    };
}

static int run_pipelines(rn_pipeline_t *const *ps, int nworkers, bool console, const char *dlq, int64_t commit_ms,
                         size_t max_memory, rn_http_hub_t *hub, long long linger_s)
{
    catch_stop_signals();
    console_t con = {.t0 = now_seconds(), .first = ps[0], .show = console, .hub = hub};
    con.last_t = con.t0;
    rn_run_opts_t opts = run_opts(dlq, console || hub ? console_progress : NULL, &con, hub != NULL, commit_ms,
                                  max_memory);
    char err[4096] = "";
    double t0 = now_seconds();
    rn_err_t e = rn_workers_run(ps, nworkers, &opts, err, sizeof err);
    if (e != RN_OK) {
        fprintf(stderr, "runnel run: %s\n", err[0] ? err : rn_err2str(e));
        for (int i = 0; hub && i < nworkers; i++) rn_http_hub_set_failed(hub, ps[i], err[0] ? err : rn_err2str(e));
    }
    for (int i = 0; e == RN_OK && i < nworkers && !console; i++) {
        if (nworkers > 1) fprintf(stderr, "runnel: worker %d of %d:\n", i + 1, nworkers);
        report_counts(ps[i], i == nworkers - 1 ? now_seconds() - t0 : 0);
    }
    http_linger(hub, linger_s);
    return e != RN_OK ? 1 : 0;
}

/* ---- several pipelines (run a.sql b.sql, demo) -------------------------- */

/* What the console shows of one pipeline, copied on its own thread at
 * each progress tick (the counters belong to that thread). */
typedef struct multi_row {
    const rn_pipeline_t *p;
    char name[128];
    uint64_t records, bad, written;
    bool final;
} multi_row_t;

typedef struct multi_console {
    pthread_mutex_t lock;
    multi_row_t rows[RN_MAX_PIPELINES];
    int n;
    double t0, last_print;
    const char *header;         /* printed above the table (the demo's URL), or NULL */
    bool show;                  /* print the table (--console, the demo) */
    rn_http_hub_t *hub;         /* --http: publishes every pipeline's snapshots, or NULL */
} multi_console_t;

/* progress callback of rn_pipelines_run: records p's counts, and every
 * second redraws the table of all pipelines. Runs on p's thread. */
static void multi_progress(const rn_pipeline_t *p, bool final, void *opaque)
{
    multi_console_t *c = opaque;
    if (c->hub) rn_http_hub_publish(c->hub, p, final);
    if (!c->show) return;
    uint64_t records = 0, bad = 0, written = 0;
    for (int i = 0; i < rn_pipeline_nsources(p); i++) {
        records += rn_source_records(rn_pipeline_source(p, i));
        bad += rn_source_errors(rn_pipeline_source(p, i));
    }
    for (int i = 0; i < rn_pipeline_nsinks(p); i++) written += rn_sink_records(rn_pipeline_sink(p, i));
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < c->n; i++) {
        if (c->rows[i].p != p) continue;
        c->rows[i].records = records;
        c->rows[i].bad = bad;
        c->rows[i].written = written;
        c->rows[i].final = final;
    }
    double t = now_seconds();
    if (t - c->last_print >= 1.0) {
        c->last_print = t;
        if (isatty(1)) fputs("\033[H\033[2J", stdout);
        if (c->header) printf("%s\n", c->header);
        printf("runnel %s  up %.0f s\n\n", RN_VERSION_STRING, t - c->t0);
        printf("  %-24s %-9s %14s %12s %14s\n", "pipeline", "state", "records in", "undecodable", "rows written");
        for (int i = 0; i < c->n; i++)
            printf("  %-24s %-9s %14llu %12llu %14llu\n", c->rows[i].name, c->rows[i].final ? "finished" : "running",
                   (unsigned long long)c->rows[i].records, (unsigned long long)c->rows[i].bad,
                   (unsigned long long)c->rows[i].written);
        printf("\n  Ctrl-C stops.\n");
        fflush(stdout);
    }
    pthread_mutex_unlock(&c->lock);
}

/* Runs distinct pipelines side by side until all end or a stop signal;
 * prints each one's counts at the end (or the console table while
 * running). Returns the exit status: 1 when one failed (its message on
 * stderr). */
static int run_several_with(rn_pipeline_t *const *ps, int n, bool console, const char *dlq, int64_t commit_ms,
                            size_t max_memory, const char *header, rn_http_hub_t *hub)
{
    catch_stop_signals();
    multi_console_t con = {.n = n, .t0 = now_seconds(), .header = header, .show = console, .hub = hub};
    pthread_mutex_init(&con.lock, NULL);
    for (int i = 0; i < n; i++) {
        con.rows[i].p = ps[i];
        rn_pipeline_name(ps[i], con.rows[i].name, sizeof con.rows[i].name);
    }
    rn_run_opts_t opts = run_opts(dlq, console || hub ? multi_progress : NULL, &con, hub != NULL, commit_ms,
                                  max_memory);
    char err[4096] = "";
    double t0 = now_seconds();
    rn_err_t e = rn_pipelines_run(ps, n, &opts, err, sizeof err);
    pthread_mutex_destroy(&con.lock);
    if (e != RN_OK) {
        fprintf(stderr, "runnel run: %s\n", err[0] ? err : rn_err2str(e));
        for (int i = 0; hub && i < n; i++) rn_http_hub_set_failed(hub, ps[i], err[0] ? err : rn_err2str(e));
        return 1;
    }
    for (int i = 0; i < n; i++) {
        fprintf(stderr, "runnel: pipeline %s:\n", con.rows[i].name);
        report_counts(ps[i], 0);
    }
    double secs = now_seconds() - t0;
    fprintf(stderr, "runnel: %d pipelines, %.3f s, peak memory %.1f MiB\n", n, secs,
            (double)rn_mem_rss_peak() / (1 << 20));
    return 0;
}

/* `--brokers embedded`: starts an in-process Kafka cluster that other
 * processes can reach while this one runs, creates the scenario topics on
 * it (its Admin API cannot create them for `runnel gen --brokers`), prints
 * its address and makes it every table's default. Returns 0, or 1 after
 * reporting why it could not start. */
static int start_embedded_kafka(void)
{
    char list[512], err[512];
    if (rn_kafka_embedded_start(RN_KAFKA_EMBEDDED_BROKERS, list, sizeof list, err, sizeof err) != RN_OK) {
        fprintf(stderr, "runnel run: %s\n", err);
        return 1;
    }
    static const char *const scenarios[] = {"s1", "s2", "s3", "s4", "s5"};
    for (size_t s = 0; s < sizeof scenarios / sizeof *scenarios; s++) {
        rn_gen_opts_t gopts;
        rn_gen_opts_default(&gopts);
        rn_gen_t *g = rn_gen_new(scenarios[s], &gopts, err, sizeof err);
        for (int t = 0; g && t < rn_gen_ntopics(g); t++)
            if (rn_kafka_embedded_topic(rn_gen_topic(g, t), 0, err, sizeof err) != RN_OK)
                fprintf(stderr, "runnel run: %s\n", err);
        rn_gen_free(g);
    }
    fprintf(stderr, "runnel: embedded Kafka at %s (in memory, gone when runnel exits; see docs/kafka.md)\n", list);
    setenv("RUNNEL_BROKERS", list, 1);
    return 0;
}

static const char run_usage[] =
    "usage: runnel run FILE.sql [FILE.sql ...] [--brokers LIST|embedded] [--workers N] [--dlq FILE]\n"
    "                  [--console] [--commit-interval MS] [--max-memory SIZE] [--from-scratch]\n"
    "                  [--set TABLE.OPTION=VALUE ...] [--connector TABLE=NAME ...]\n";

static int cmd_run(int argc, char **argv)
{
    const char *files[RN_MAX_PIPELINES], *dlq = NULL, *brokers = NULL;
    int nfiles = 0, nov = 0;
    rn_table_override_t ov[RN_MAX_OVERRIDES];
    int used[RN_MAX_OVERRIDES] = {0};
    bool console = false;
    long long commit_ms = 0, workers = 0;
    size_t max_memory = 0;
    http_opts_t ho = {.token = getenv("RUNNEL_HTTP_TOKEN")};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--brokers") && i + 1 < argc) brokers = argv[++i];
        else if (!strcmp(argv[i], "--http") && i + 1 < argc) ho.listen = argv[++i];
        else if (!strcmp(argv[i], "--http-token") && i + 1 < argc) ho.token = argv[++i];
        else if (!strcmp(argv[i], "--http-linger") && i + 1 < argc) {
            if (!parse_count("run", "--http-linger", argv[++i], 0, 86400, &ho.linger_s)) return 2;
        }
        else if (!strcmp(argv[i], "--workers") && i + 1 < argc) {
            if (!parse_count("run", "--workers", argv[++i], 1, RN_MAX_WORKERS, &workers)) return 2;
        }
        else if (!strcmp(argv[i], "--max-memory") && i + 1 < argc) {
            if (!parse_memory("run", argv[++i], &max_memory)) return 2;
        } else if (!strcmp(argv[i], "--commit-interval") && i + 1 < argc) {
            if (!parse_count("run", "--commit-interval", argv[++i], 1, 86400000, &commit_ms)) return 2;
        }
        else if ((!strcmp(argv[i], "--set") || !strcmp(argv[i], "--connector")) && i + 1 < argc) {
            if (nov == RN_MAX_OVERRIDES) {
                fprintf(stderr, "runnel run: more than %d --set/--connector options\n", RN_MAX_OVERRIDES);
                return 2;
            }
            if (!parse_override("run", argv[i], argv[i + 1], &ov[nov++])) return 2;
            i++;
        }
        else if (!strcmp(argv[i], "--dlq") && i + 1 < argc) dlq = argv[++i];
        else if (!strcmp(argv[i], "--console")) console = true;
        else if (!strcmp(argv[i], "--from-scratch")) from_scratch = true;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(run_usage, stdout);
            return 0;
        }
        else if (argv[i][0] != '-' && nfiles < RN_MAX_PIPELINES) files[nfiles++] = argv[i];
        else {
            fprintf(stderr, "runnel run: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!nfiles) {
        fputs(run_usage, stderr);
        return 2;
    }
    if (nfiles > 1 && workers > 1) {
        fprintf(stderr, "runnel run: --workers runs one pipeline on several threads; give one file\n");
        return 2;
    }
    rn_pipeline_t *ps[RN_MAX_WORKERS > RN_MAX_PIPELINES ? RN_MAX_WORKERS : RN_MAX_PIPELINES];
    int loaded = 0, rc = 0, nworkers = 1;
    rn_http_hub_t *hub = NULL;
    rn_http_t *server = NULL;
    char err[4096] = "";
    for (; loaded < nfiles; loaded++) {
        if (rn_pipeline_load_with(files[loaded], ov, nov, used, &ps[loaded], err, sizeof err) != RN_OK) {
            fprintf(stderr, "%s\n", err);
            rc = 2;
            goto done;
        }
    }
    for (int i = 0; i < nov; i++)
        if (!used[i]) {
            fprintf(stderr, "runnel run: %s %s: no table '%s' in %s\n", ov[i].key ? "--set" : "--connector",
                    ov[i].table, ov[i].table, nfiles == 1 ? files[0] : "any of the pipelines");
            rc = 2;
            goto done;
        }
    if (nfiles > 1) {
        if (rn_pipelines_check(ps, nfiles, err, sizeof err) != RN_OK) {
            fprintf(stderr, "runnel run: %s\n", err);
            rc = 2;
            goto done;
        }
    } else {
        nworkers = workers ? (int)workers : rn_pipeline_parallelism(ps[0]) ? rn_pipeline_parallelism(ps[0]) : 1;
        if (rn_workers_check(ps, nworkers, err, sizeof err) != RN_OK) {
            fprintf(stderr, "runnel run: %s\n", err);
            rc = 2;
            goto done;
        }
        for (; loaded < nworkers; loaded++)
            if (rn_pipeline_load_with(files[0], ov, nov, NULL, &ps[loaded], err, sizeof err) != RN_OK) {
                fprintf(stderr, "%s\n", err);
                rc = 2;
                goto done;
            }
    }
    if ((rc = http_start(&ho, files, nfiles, ps, nfiles > 1 ? nfiles : nworkers, &hub, &server, NULL, 0)) != 0)
        goto done;
    if (brokers && !strcmp(brokers, "embedded")) {
        if (start_embedded_kafka() != 0) {
            rc = 1;
            goto done;
        }
        /* its offsets are gone at exit: a checkpoint could never be restored */
        for (int i = 0; i < loaded; i++) rn_pipeline_no_checkpoints(ps[i]);
    } else if (brokers) {
        setenv("RUNNEL_BROKERS", brokers, 1);
    }
    rc = nfiles > 1 ? run_several_with(ps, nfiles, console, dlq, commit_ms, max_memory, NULL, hub)
                    : run_pipelines(ps, nworkers, console, dlq, commit_ms, max_memory, hub, ho.linger_s);
    if (nfiles > 1) http_linger(hub, ho.linger_s);
    if (rc != 0) rn_kafka_abandon_groups(); /* a failed run ends like a crash: no more commits */
    rn_kafka_embedded_stop();
done:
    http_stop(hub, server);
    for (int i = 0; i < loaded; i++) rn_pipeline_free(ps[i]);
    return rc;
}

/* SIGALRM of `runnel demo --seconds`: time is up, stop cleanly. */
static void on_alarm(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static const char demo_usage[] =
    "usage: runnel demo [--rate R] [--seconds N] [--http HOST:PORT [--http-token T]]\n"
    "  --http  where the dashboard listens (default 127.0.0.1:0, a free port)\n";

/* `runnel demo`: the five example pipelines over generated data on the
 * embedded broker (cli/demo.c, docs/dashboard.md), with the console view,
 * until Ctrl-C or --seconds. Exit 0 after a clean stop, 1 when something
 * failed (its message on stderr). */
static int cmd_demo(int argc, char **argv)
{
    long long rate = 5000, seconds = -1;
    http_opts_t ho = {.listen = "127.0.0.1:0", .token = getenv("RUNNEL_HTTP_TOKEN")};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--http") && i + 1 < argc) ho.listen = argv[++i];
        else if (!strcmp(argv[i], "--http-token") && i + 1 < argc) ho.token = argv[++i];
        else if (!strcmp(argv[i], "--rate") && i + 1 < argc) {
            if (!parse_count("demo", "--rate", argv[++i], 1, 10000000, &rate)) return 2;
        } else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            if (!parse_count("demo", "--seconds", argv[++i], 1, 100000000, &seconds)) return 2;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(demo_usage, stdout);
            return 0;
        } else {
            fprintf(stderr, "runnel demo: unexpected argument '%s'\n%s", argv[i], demo_usage);
            return 2;
        }
    }
    catch_stop_signals();
    char err[4096] = "";
    rn_demo_opts_t o = {.rate = (double)rate, .seed = 1, .stop = &stop_requested};
    rn_demo_t *d;
    if (rn_demo_start(&o, &d, err, sizeof err) != RN_OK) {
        fprintf(stderr, "runnel demo: %s\n", err);
        return 1;
    }
    rn_pipeline_t *const *ps;
    int n = rn_demo_pipelines(d, &ps);
    char files[8][300], url[512];
    const char *fp[8];
    for (int i = 0; i < n && i < 8; i++) {
        char name[256];
        rn_pipeline_name(ps[i], name, sizeof name);
        snprintf(files[i], sizeof files[i], "examples/%s.sql", name);
        fp[i] = files[i];
    }
    rn_http_hub_t *hub;
    rn_http_t *server;
    if (http_start(&ho, fp, n, ps, n, &hub, &server, url, sizeof url) != 0) {
        rn_demo_free(d, NULL, 0);
        return 1;
    }
    char header[1536];
    snprintf(header, sizeof header,
             "runnel demo: dashboard at %s\n"
             "runnel demo: %d example pipelines over %lld generated records/s on an embedded Kafka at %s\n"
             "             (%s; temporary files in %s)",
             url, n, rate, rn_demo_brokers(d), rn_demo_setup(d), rn_demo_dir(d));
    fprintf(stderr, "%s\n", header);
    if (seconds > 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGALRM, &sa, NULL);
        alarm((unsigned)seconds);
    }
    char dlq[4200];
    snprintf(dlq, sizeof dlq, "%s/dlq.jsonl", rn_demo_dir(d));
    int rc = run_several_with(ps, n, true, dlq, 0, 0, header, hub);
    alarm(0);
    http_stop(hub, server);
    int64_t generated = rn_demo_generated(d);
    if (rn_demo_free(d, err, sizeof err) != RN_OK) {
        fprintf(stderr, "runnel demo: %s\n", err);
        rc = 1;
    }
    fprintf(stderr, "runnel demo: %lld records generated; %s\n", (long long)generated,
            rc ? "failed" : "stopped cleanly");
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "gen")) return rn_cli_gen(argc - 1, argv + 1);
    if (!strcmp(cmd, "test")) return cmd_test(argc - 1, argv + 1);
    if (!strcmp(cmd, "run")) return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "explain")) return cmd_explain(argc - 1, argv + 1);
    if (!strcmp(cmd, "demo")) return cmd_demo(argc - 1, argv + 1);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("runnel %s\n", RN_VERSION_STRING);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "runnel: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
