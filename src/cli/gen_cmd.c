/*
 * gen_cmd.c - the `runnel gen` command: flags, writing the generator's
 * records to files or stdout, paced by --rate, or producing them to Kafka
 * (--brokers). The generator itself (src/gen) knows nothing of files or
 * Kafka; this file is where the two meet, in the command-line layer.
 */
#include "cli/cli.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connectors/kafka_client.h"
#include "core/fs.h"
#include "core/mem.h"
#include "core/timeparse.h"
#include "gen/gen.h"

/* ------------------------------------------------------------------ */
/* The `runnel gen` command                                            */

static const char gen_usage[] =
    "usage: runnel gen s1|s2|s3|s4|s5|nexmark [--count N] [--seed S] [--rate EVENTS_PER_SEC]\n"
    "                  [--out DIR] [--out-of-order FRACTION] [--late FRACTION]\n"
    "                  [--start ISO-or-epoch-seconds] [--event-rate EVENTS_PER_SEC]\n"
    "                  [--brokers LIST [--partitions N]]\n"
    "  --count N   records of the scenario's main topic, for nexmark events of all\n"
    "              three topics (default 100000; -1 = endless)\n"
    "  --out DIR   write DIR/<topic>.jsonl (required for s3, s4, s5, nexmark); else stdout\n"
    "  --event-rate R  nexmark: events per second of event time (default: --rate, else 10000)\n"
    "  --brokers   produce to Kafka at LIST (host:port,...; 'embedded': an in-process\n"
    "              cluster kept alive until Ctrl-C); missing topics are created\n"
    "  --partitions N  partitions of created topics (default: 8 for s5, else the broker's)\n";

/* --start: an ISO-8601 date-time ("2024-05-01T10:00:00Z", "2024-05-01
 * 10:00:00", "2024-05-01") or epoch seconds ("1714557600[.5]") into epoch
 * ms. Returns false if s is neither. */
static bool gen_parse_start(const char *s, int64_t *ms)
{
    return rn_time_parse(s, strlen(s), ms) || rn_epoch_seconds_parse(s, ms);
}

static double gen_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#define GEN_FLUSH_AT (1 << 20) /* bytes buffered per topic before a write */

/* Writes and empties b. Returns 0, or -1 on a write error. */
static int gen_flush(FILE *f, rn_buf_t *b)
{
    if (b->len && fwrite(b->data, 1, b->len, f) != b->len) return -1;
    rn_buf_clear(b);
    return 0;
}

/* ---- --brokers: producing to Kafka ---------------------------------- */

static volatile sig_atomic_t gen_stop; /* SIGINT or SIGTERM arrived */

static void gen_on_signal(int sig) { gen_stop = 1; }

/* The generator writes flat objects of strings and numbers, so the first
 * "user_id" is the top-level field (cli.h). */
bool rn_cli_gen_key(const char *json, size_t len, rn_buf_t *key)
{
    static const char field[] = "\"user_id\":";
    const char *v = memmem(json, len, field, sizeof field - 1);
    if (!v) return false;
    v += sizeof field - 1;
    const char *end = json + len, *e = v;
    if (e < end && *e == '"') {
        for (e++; e < end && *e != '"'; e++)
            if (*e == '\\') e++;
        e++;
    } else {
        while (e < end && *e != ',' && *e != '}') e++;
    }
    if (e > end || e == v) return false;
    rn_buf_clear(key);
    rn_buf_appends(key, "{\"user_id\":");
    rn_buf_append(key, v, (size_t)(e - v));
    rn_buf_appendc(key, '}');
    return !key->oom;
}

/* `runnel gen --brokers`: produces every record of g to its topic with the
 * murmur2 partitioner (keyed by user_id where there is one), creating
 * missing topics first (partitions: --partitions, else 8 for s5, else the
 * broker's default), paced to rate records/s when rate > 0. SIGINT stops
 * early; what was produced is still delivered. With "embedded" the
 * in-process cluster is kept until SIGINT. Returns the exit status: 1 with
 * a one-line message when Kafka fails. */
static int gen_kafka(rn_gen_t *g, const char *scenario, const char *brokers, int partitions,
                     double rate)
{
    char err[1024];
    int nt = rn_gen_ntopics(g), rc = 1;
    const char *topics[RN_GEN_MAX_TOPICS] = {NULL};
    for (int t = 0; t < nt; t++) topics[t] = rn_gen_topic(g, t);
    rd_kafka_topic_t *rkts[RN_GEN_MAX_TOPICS] = {NULL};
    int64_t counts[RN_GEN_MAX_TOPICS] = {0}, total = 0;
    bool embedded = !strcmp(brokers, "embedded");
    rn_buf_t line, key;
    rn_buf_init(&line);
    rn_buf_init(&key);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = gen_on_signal;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C stops at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    rn_kafka_spec_t spec = {.role = RN_KAFKA_PRODUCER, .label = "runnel gen", .brokers = brokers};
    rn_kafka_t *k = NULL;
    if (rn_kafka_open(&spec, &k, err, sizeof err) != RN_OK) goto fail;
    if (embedded) fprintf(stderr, "runnel gen: embedded Kafka cluster at %s\n", k->brokers);
    int create = partitions ? partitions : !strcmp(scenario, "s5") ? 8 : RN_KAFKA_BROKER_DEFAULT;
    if (rn_kafka_connect(k, topics, nt, create, NULL, err, sizeof err) != RN_OK) goto fail;
    for (int t = 0; t < nt; t++) {
        if (!(rkts[t] = rd_kafka_topic_new(k->rk, topics[t], NULL))) {
            snprintf(err, sizeof err, "runnel gen: topic '%s': %s", topics[t],
                     rd_kafka_err2str(rd_kafka_last_error()));
            goto fail;
        }
    }

    double t0 = gen_wall();
    while (!gen_stop) {
        int topic;
        rn_buf_clear(&line);
        rn_err_t e = rn_gen_next(g, &topic, &line);
        if (e == RN_ERR_EOF) break;
        if (e != RN_OK) {
            snprintf(err, sizeof err, "runnel gen: %s", rn_err2str(e));
            goto fail;
        }
        bool keyed = rn_cli_gen_key(line.data, line.len, &key);
        if (rn_kafka_produce(k, rkts[topic], RD_KAFKA_PARTITION_UA, keyed ? key.data : NULL,
                             keyed ? key.len : 0, line.data, line.len, NULL, err, sizeof err) != RN_OK)
            goto fail;
        counts[topic]++;
        total++;
        if (rate > 0) {
            double wait = t0 + (double)total / rate - gen_wall();
            if (wait > 0) {
                struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
                nanosleep(&ts, NULL);
            }
        }
    }
    if (rn_kafka_flush(k, err, sizeof err) != RN_OK) goto fail;
    double el = gen_wall() - t0;
    fprintf(stderr, "runnel gen: %s:", scenario);
    for (int t = 0; t < nt; t++) fprintf(stderr, " %s=%lld", topics[t], (long long)counts[t]);
    fprintf(stderr, " to Kafka at %s in %.3f s (%.0f records/s)\n", k->brokers, el,
            el > 0 ? (double)total / el : 0.0);
    if (embedded && !gen_stop) {
        fprintf(stderr, "runnel gen: the embedded cluster keeps the data until this process stops "
                        "(Ctrl-C); use RUNNEL_BROKERS=%s\n", k->brokers);
        while (!gen_stop) {
            struct timespec ts = {0, 200 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "%s\n", err);
done:
    for (int t = 0; t < nt; t++)
        if (rkts[t]) rd_kafka_topic_destroy(rkts[t]);
    rn_kafka_close(k);
    if (embedded) rn_kafka_embedded_stop();
    rn_buf_free(&line);
    rn_buf_free(&key);
    return rc;
}

static int gen_bad_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "runnel gen: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", gen_usage);
    return 2;
}

int rn_cli_gen(int argc, char **argv)
{
    rn_gen_opts_t opts;
    rn_gen_opts_default(&opts);
    const char *scenario = NULL, *out = NULL, *brokers = NULL;
    int partitions = 0;
    double rate = 0, event_rate = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(gen_usage, stdout);
            return 0;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (scenario) return gen_bad_usage("unexpected argument '%s'", a);
            scenario = a;
            continue;
        }
        /* Every flag takes a value, as "--flag V" or "--flag=V". */
        char name[32];
        const char *val = NULL, *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        if (nlen >= sizeof name) return gen_bad_usage("unknown flag '%s'", a);
        memcpy(name, a, nlen);
        name[nlen] = '\0';
        static const char *const known[] = {"--count", "--seed", "--rate", "--out", "--out-of-order",
                                            "--late", "--start", "--brokers", "--partitions",
                                            "--event-rate"};
        bool ok = false;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) ok |= !strcmp(name, known[k]);
        if (!ok) return gen_bad_usage("unknown flag '%s'", a);
        if (eq) val = eq + 1;
        else if (i + 1 < argc) val = argv[++i];
        else return gen_bad_usage("%s needs a value", name);
        char *end = NULL;
        errno = 0;
        if (!strcmp(name, "--brokers")) {
            if (*val == '\0') return gen_bad_usage("%s", "empty --brokers");
            brokers = val;
        } else if (!strcmp(name, "--partitions")) {
            long p = strtol(val, &end, 10);
            if (*val == '\0' || *end || errno || p < 1 || p > 100000)
                return gen_bad_usage("bad --partitions '%s'", val);
            partitions = (int)p;
        } else if (!strcmp(name, "--count")) {
            long long c = strtoll(val, &end, 10);
            if (*val == '\0' || *end || errno || c < -1) return gen_bad_usage("bad --count '%s'", val);
            opts.count = c;
        } else if (!strcmp(name, "--seed")) {
            unsigned long long s = strtoull(val, &end, 10);
            if (*val == '\0' || *val == '-' || *end || errno) return gen_bad_usage("bad --seed '%s'", val);
            opts.seed = s;
        } else if (!strcmp(name, "--rate")) {
            rate = strtod(val, &end);
            if (*val == '\0' || *end || errno || !(rate > 0)) return gen_bad_usage("bad --rate '%s'", val);
        } else if (!strcmp(name, "--event-rate")) {
            event_rate = strtod(val, &end);
            if (*val == '\0' || *end || errno || !(event_rate > 0) || event_rate > 1e9)
                return gen_bad_usage("bad --event-rate '%s'", val);
        } else if (!strcmp(name, "--out")) {
            out = val;
        } else if (!strcmp(name, "--out-of-order") || !strcmp(name, "--late")) {
            double f = strtod(val, &end);
            if (*val == '\0' || *end || errno || !(f >= 0 && f <= 1))
                return gen_bad_usage("bad fraction '%s' (expected 0..1)", val);
            if (name[2] == 'o') opts.out_of_order = f;
            else opts.late_fraction = f;
        } else if (!strcmp(name, "--start")) {
            if (!gen_parse_start(val, &opts.start_ms))
                return gen_bad_usage("bad --start '%s' (expected ISO-8601 or epoch seconds)", val);
        }
    }
    if (!scenario) return gen_bad_usage("%s", "missing scenario");
    if (brokers && out) return gen_bad_usage("%s", "give either --out or --brokers");
    if (partitions && !brokers) return gen_bad_usage("%s", "--partitions goes with --brokers");

    /* Nexmark spaces its events in event time by the rate it is run at. */
    opts.event_rate = event_rate > 0 ? event_rate : rate > 0 ? rate : opts.event_rate;

    char err[256];
    rn_gen_t *g = rn_gen_new(scenario, &opts, err, sizeof err);
    if (!g) return gen_bad_usage("%s", err);
    int nt = rn_gen_ntopics(g);
    if (brokers) {
        int status = gen_kafka(g, scenario, brokers, partitions, rate);
        rn_gen_free(g);
        return status;
    }
    if (!out && nt > 1) {
        fprintf(stderr, "runnel gen: %s writes %d topics (%s, %s%s%s): use --out DIR\n%s", scenario, nt,
                rn_gen_topic(g, 0), rn_gen_topic(g, 1), nt > 2 ? ", " : "", nt > 2 ? rn_gen_topic(g, 2) : "",
                gen_usage);
        rn_gen_free(g);
        return 2;
    }

    int rc = 1;
    FILE *files[RN_GEN_MAX_TOPICS] = {NULL};
    rn_buf_t bufs[RN_GEN_MAX_TOPICS];
    int64_t counts[RN_GEN_MAX_TOPICS] = {0};
    for (int t = 0; t < RN_GEN_MAX_TOPICS; t++) rn_buf_init(&bufs[t]);
    rn_buf_t line; /* one record, before it joins its topic's buffer */
    rn_buf_init(&line);
    if (out) {
        if (rn_mkdir_p(out) != 0) {
            fprintf(stderr, "runnel gen: cannot create %s: %s\n", out, strerror(errno));
            goto done;
        }
        for (int t = 0; t < nt; t++) {
            char path[4200];
            snprintf(path, sizeof path, "%s/%s.jsonl", out, rn_gen_topic(g, t));
            files[t] = fopen(path, "wb");
            if (!files[t]) {
                fprintf(stderr, "runnel gen: cannot open %s: %s\n", path, strerror(errno));
                goto done;
            }
        }
    } else {
        files[0] = stdout;
    }

    double t0 = gen_wall();
    int64_t total = 0;
    for (;;) {
        int topic;
        rn_buf_clear(&line);
        rn_err_t e = rn_gen_next(g, &topic, &line);
        if (e == RN_ERR_EOF) break;
        rn_buf_t *b = &bufs[topic];
        if (e == RN_OK) {
            rn_buf_append(b, line.data, line.len);
            rn_buf_appendc(b, '\n');
            if (b->oom) e = RN_ERR_NOMEM;
        }
        if (e != RN_OK) {
            fprintf(stderr, "runnel gen: %s\n", rn_err2str(e));
            goto done;
        }
        counts[topic]++;
        total++;
        if (b->len >= GEN_FLUSH_AT && gen_flush(files[topic], b) != 0) goto write_error;
        if (rate > 0) {
            double due = t0 + (double)total / rate, now = gen_wall();
            if (due > now) {
                /* Ahead of schedule: hand what we have to the consumer first. */
                for (int t = 0; t < nt; t++)
                    if (gen_flush(files[t], &bufs[t]) != 0 || fflush(files[t]) != 0) goto write_error;
                double wait = due - gen_wall();
                if (wait > 0) {
                    struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
                    nanosleep(&ts, NULL);
                }
            }
        }
    }
    for (int t = 0; t < nt; t++)
        if (gen_flush(files[t], &bufs[t]) != 0 || fflush(files[t]) != 0) goto write_error;
    double el = gen_wall() - t0;
    fprintf(stderr, "runnel gen: %s:", scenario);
    for (int t = 0; t < nt; t++)
        fprintf(stderr, " %s=%lld", rn_gen_topic(g, t), (long long)counts[t]);
    fprintf(stderr, " in %.3f s (%.0f lines/s)\n", el, el > 0 ? (double)total / el : 0.0);
    rc = 0;
    goto done;
write_error:
    fprintf(stderr, "runnel gen: write failed: %s\n", strerror(errno));
done:
    for (int t = 0; t < nt; t++) {
        if (files[t] && files[t] != stdout && fclose(files[t]) != 0 && rc == 0) {
            fprintf(stderr, "runnel gen: write failed: %s\n", strerror(errno));
            rc = 1;
        }
        rn_buf_free(&bufs[t]);
    }
    rn_buf_free(&line);
    rn_gen_free(g);
    return rc;
}
