/*
 * kafka_client.c - Kafka plumbing shared by the Kafka connectors and
 * `runnel gen --brokers`; see kafka_client.h.
 *
 * Configuration is layered: runnel's defaults for the role (idempotent
 * producers, manual commits for consumers), then the caller's, then the
 * user's 'properties.*', so whatever the user writes wins. librdkafka
 * reports trouble through three channels, all routed here: the log
 * callback (from its own threads: kept as the handle's last error, printed
 * raw only with RUNNEL_KAFKA_DEBUG), the error callback and, for consumers,
 * error events (from the application thread: remembered, and once the
 * handle is connected, turned into at most one warning every 10 s). So a
 * broker outage yields a readable line now and then, not a log flood.
 *
 * Delivery reports are requested for failures only; the first failure is
 * kept and reported by every later produce, check and flush, so a pipeline
 * stops loudly instead of losing records.
 *
 * Closing is bounded: a consumer leaves its group through
 * rd_kafka_consumer_close_queue() for at most KAFKA_CLOSE_MS, and every
 * handle is destroyed by a helper thread that the caller waits for at most
 * KAFKA_DESTROY_MS, because librdkafka 2.0's rd_kafka_destroy() never
 * returns for a consumer whose subscribed topic was deleted. Before 2.2.1
 * it also aborts the process when it destroys a consumer that joined its
 * group with the cooperative-sticky assignor but was never handed an
 * assignment (librdkafka issue #4312): such a consumer first waits, within
 * the same bound, for its assignment, and is left undestroyed if none
 * comes. Once the process stops with its embedded cluster
 * (rn_kafka_embedded_closing), consumers of that cluster leave no group:
 * on the mock cluster each leave starts a rebalance that the group's
 * other member, closing next, waited out (5 s per pair of join readers).
 */
#include "connectors/kafka_client.h"

#include <librdkafka/rdkafka_mock.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

#include "core/buf.h"
#include "core/env.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/text.h"

#define KAFKA_WARN_EVERY_MS 10000 /* runtime warnings and flush waits */
#define KAFKA_POLL_EVERY 256      /* produce calls between serving callbacks */
#define KAFKA_CLOSE_MS 10000      /* longest wait for a consumer to leave its group */
#define KAFKA_DESTROY_MS 5000     /* longest wait for librdkafka to release a handle */
#define KAFKA_ASSIGNOR_FIXED 0x020201ff /* librdkafka 2.2.1, which fixed its issue #4312 */

static int64_t kafka_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* RUNNEL_KAFKA_DEBUG, or NULL when unset or empty. */
static const char *kafka_debug(void)
{
    const char *d = getenv("RUNNEL_KAFKA_DEBUG");
    return d && *d ? d : NULL;
}


/* Copies librdkafka's reason to out without the broker name it starts
 * with ("127.0.0.1:9092/bootstrap: ", "host:9093/2: ") and the state
 * details it ends with (" (after 0ms in state CONNECT)"). */
static void kafka_clean_reason(const char *in, char *out, size_t size)
{
    const char *colon = strstr(in, ": ");
    if (colon) {
        const char *slash = NULL;
        bool space = false;
        for (const char *p = in; p < colon; p++) {
            if (*p == ' ') space = true;
            if (*p == '/') slash = p;
        }
        if (!space && slash) {
            const char *id = slash + 1;
            bool named = (size_t)(colon - id) == 9 && !strncmp(id, "bootstrap", 9);
            bool numbered = colon > id;
            for (const char *p = id; p < colon; p++) numbered &= isdigit((unsigned char)*p) != 0;
            if (named || numbered) in = colon + 2;
        }
    }
    snprintf(out, size, "%s", in);
    char *after = strstr(out, " (after ");
    if (after) *after = '\0';
}

/* Copies the handle's last error to out ("" if none). */
static void kafka_last_error(rn_kafka_t *k, char *out, size_t size)
{
    pthread_mutex_lock(&k->lock);
    snprintf(out, size, "%s", k->last_error);
    pthread_mutex_unlock(&k->lock);
}

/* ---- callbacks ---------------------------------------------------------- */

/* log_cb, called from librdkafka's threads. */
static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    if (kafka_debug()) {
        fprintf(stderr, "rdkafka: %s: %d %s: %s\n", rd_kafka_name(rk), level, fac, buf);
        return;
    }
    rn_kafka_t *k = rd_kafka_opaque(rk);
    if (!k || level > LOG_ERR) return;
    char clean[sizeof k->last_error];
    kafka_clean_reason(buf, clean, sizeof clean);
    pthread_mutex_lock(&k->lock);
    snprintf(k->last_error, sizeof k->last_error, "%s", clean);
    pthread_mutex_unlock(&k->lock);
}

void rn_kafka_note_error(rn_kafka_t *k, rd_kafka_resp_err_t err, const char *reason)
{
    char clean[sizeof k->last_error];
    kafka_clean_reason(reason, clean, sizeof clean);
    pthread_mutex_lock(&k->lock);
    if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION) k->auth_failed = true;
    /* "1/1 brokers are down" says less than the error that took them down */
    if (err != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || !k->last_error[0])
        snprintf(k->last_error, sizeof k->last_error, "%s", clean);
    pthread_mutex_unlock(&k->lock);
    if (!k->connected || err == RD_KAFKA_RESP_ERR__FATAL) return; /* fatal: reported by check */
    int64_t now = kafka_now_ms();
    if (k->warned_ms && now - k->warned_ms < KAFKA_WARN_EVERY_MS) return;
    k->warned_ms = now;
    rn_log_warn("%s: Kafka at %s: %s", k->runtime_label, k->brokers, clean);
}

/* error_cb, served on the application thread. */
static void kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    rn_kafka_note_error(opaque, (rd_kafka_resp_err_t)err, reason);
}

/* dr_msg_cb (failures only), served on the application thread. */
static void kafka_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    rn_kafka_t *k = opaque;
    if (!m->err || k->delivery_error[0]) return;
    snprintf(k->delivery_error, sizeof k->delivery_error, "delivery to topic '%s' failed: %s",
             rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
    if (m->partition >= 0) {
        size_t n = strlen(k->delivery_error);
        snprintf(k->delivery_error + n, sizeof k->delivery_error - n, " (partition %d)", (int)m->partition);
    }
}

/* ---- configuration ---------------------------------------------------- */

/* Sets key = value on conf. option is the key as the user wrote it (for
 * messages). Returns RN_ERR_CONFIG with a message that never shows a
 * sensitive value. */
static rn_err_t kafka_set(rd_kafka_conf_t *conf, const char *label, const char *option, const char *key,
                          const char *value, char *errbuf, size_t errbuf_size)
{
    char why[512];
    if (rd_kafka_conf_set(conf, key, value, why, sizeof why) == RD_KAFKA_CONF_OK) return RN_OK;
    if (rn_text_secret_key(key, strlen(key)))
        snprintf(errbuf, errbuf_size, "%s: option '%s' was not accepted by librdkafka (value not shown)",
                 label, option);
    else
        snprintf(errbuf, errbuf_size, "%s: option '%s': %s", label, option, why);
    return RN_ERR_CONFIG;
}

/* Sets every "key", "value" pair of the NULL-terminated list kv. */
static rn_err_t kafka_set_all(rd_kafka_conf_t *conf, const char *label, const char *const *kv, char *errbuf,
                              size_t errbuf_size)
{
    for (; kv && kv[0]; kv += 2) {
        rn_err_t err = kafka_set(conf, label, kv[0], kv[0], kv[1], errbuf, errbuf_size);
        if (err != RN_OK) return err;
    }
    return RN_OK;
}

/* RUNNEL_KAFKA_CONNECT_TIMEOUT_MS, default 10000. */
static int kafka_connect_timeout(void)
{
    const char *s = getenv("RUNNEL_KAFKA_CONNECT_TIMEOUT_MS");
    char *end;
    long v = s ? strtol(s, &end, 10) : 0;
    return s && *s && !*end && v > 0 && v <= 3600000 ? (int)v : 10000;
}

/* Fills k->auth from conf's SASL settings ("mechanism SCRAM-SHA-256, user
 * 'bob'"); leaves it NULL when SASL is not used. Returns false on OOM. */
static bool kafka_describe_auth(rn_kafka_t *k, rd_kafka_conf_t *conf)
{
    char proto[64] = "", mech[64] = "", user[256] = "";
    size_t n = sizeof proto;
    if (rd_kafka_conf_get(conf, "security.protocol", proto, &n) != RD_KAFKA_CONF_OK ||
        strncasecmp(proto, "sasl", 4))
        return true;
    n = sizeof mech;
    if (rd_kafka_conf_get(conf, "sasl.mechanisms", mech, &n) != RD_KAFKA_CONF_OK) mech[0] = '\0';
    n = sizeof user;
    if (rd_kafka_conf_get(conf, "sasl.username", user, &n) != RD_KAFKA_CONF_OK) user[0] = '\0';
    rn_buf_t b;
    rn_buf_init(&b);
    rn_buf_appendf(&b, "mechanism %s", mech);
    if (user[0]) rn_buf_appendf(&b, ", user '%s'", user);
    if (b.oom) return false;
    k->auth = b.data;
    return true;
}

static bool kafka_embedded_is(const char *bootstrap);
static bool kafka_embedded_closing(void);

/* Consumers of the embedded cluster get a short session unless the table
 * or the caller sets one. librdkafka's mock cluster, unlike a broker, ends
 * a rebalance only when a timer of session.timeout.ms - 1 s runs out,
 * however soon every member has rejoined, and holds each member's
 * JoinGroup (and whatever that member sends after it) until then. With
 * Kafka's 45 s default, a member joining a group that had already formed
 * (the second reader of a join, opened a few seconds after the first on a
 * busy machine) left the whole group without partitions for 44 s, and a
 * member that heard of another's leaving could not leave for 5 s. 10 s
 * bounds that wait to 9 s and still lets a member miss nine heartbeats
 * (3 s was too short: on a machine with 30 runnable threads per core,
 * members expired). */
/* clang-format off */
static const char *const embedded_consumer[] = {
    "session.timeout.ms", "10000",
    "heartbeat.interval.ms", "1000",
    NULL};
/* clang-format on */

/* True if spec sets librdkafka property key: among its defaults or as a
 * 'properties.' option. */
static bool kafka_spec_sets(const rn_kafka_spec_t *spec, const char *key)
{
    for (int i = 0; spec->defaults && spec->defaults[i]; i += 2)
        if (!strcmp(spec->defaults[i], key)) return true;
    for (int i = 0; i < spec->noptions; i++)
        if (!strncmp(spec->options[i].key, "properties.", 11) && !strcmp(spec->options[i].key + 11, key))
            return true;
    return false;
}

rn_err_t rn_kafka_open(const rn_kafka_spec_t *spec, rn_kafka_t **out, char *errbuf, size_t errbuf_size)
{
    /* clang-format off */
    static const char *const common[] = {
        "client.id", "runnel",
        "log.connection.close", "false",
        NULL};
    static const char *const producer[] = {
        "acks", "all",
        "partitioner", "murmur2_random",           /* keyed records land where Java puts them */
        "delivery.report.only.error", "true",
        NULL};
    /* An at-least-once sink keeps each partition's order with one
     * request in flight per broker, not with idempotence: librdkafka 2.0's
     * idempotent producer sends one request per partition at a time (it
     * counts messages against the limit of 5 requests) and busy-polls
     * while one is in flight and the next batch is due, which cost up to
     * a core while a pipeline wrote many records (docs/kafka.md, "Sinks").
     * A retried request may then write its records twice, which the sink's
     * at-least-once allows. Repartition topics (whose duplicates would be
     * counted twice downstream), dead letters and transactions stay
     * idempotent: their records are few and large, or must be exact. */
    static const char *const producer_at_least_once[] = {
        "enable.idempotence", "false",
        "max.in.flight.requests.per.connection", "1",
        NULL};
    static const char *const producer_idempotent[] = {
        "enable.idempotence", "true",
        NULL};
    static const char *const consumer[] = {
        "enable.auto.commit", "false",              /* positions are committed by commit() */
        "enable.auto.offset.store", "false",
        "auto.offset.reset", "earliest",            /* 'group-offsets' without offsets */
        /* prefetch: bounded (docs/kafka.md, "Prefetch"); the count is
         * librdkafka's default, the bytes half of it, and fetch.max.bytes
         * follows them */
        "queued.min.messages", "100000",
        "queued.max.messages.kbytes", "32768",
        /* a fetch with nothing to return waits this long at the broker,
         * and every other request of this client to that broker (a
         * commit, a metadata or offsets lookup, DeleteRecords) waits
         * behind it: librdkafka's 500 ms made the end of a bounded read
         * and each synchronous lookup after the input went quiet half a
         * second slower (docs/kafka.md, "Prefetch") */
        "fetch.wait.max.ms", "100",
        /* a sink waiting for its destination (op/sink.c retries an outage
         * forever) stops the polling; after the default 5 min the group
         * would drop this member and its records, already counted in the
         * operators' state, would be read again from the last commit.
         * Liveness stays the session's: librdkafka heartbeats meanwhile */
        "max.poll.interval.ms", "86400000",
        NULL};
    /* clang-format on */
    *out = NULL;
    rn_err_t err = RN_ERR_NOMEM;
    rd_kafka_conf_t *conf = NULL;
    char *bootstrap = NULL; /* from 'properties.bootstrap.servers' */
    rn_buf_t val;
    rn_buf_init(&val);
    rn_kafka_t *k = rn_calloc(1, sizeof *k);
    if (!k) goto fail;
    pthread_mutex_init(&k->lock, NULL);
    k->role = spec->role;
    k->owner = spec->owner;
    k->connect_timeout_ms = kafka_connect_timeout();
    k->label = rn_strdup(spec->label);
    k->runtime_label = rn_strdup(spec->runtime_label ? spec->runtime_label : spec->label);
    if (!k->label || !k->runtime_label || !(conf = rd_kafka_conf_new())) goto fail;

    const char *debug = kafka_debug();
    const char *const quiet[] = {"log_level", "3", NULL};
    const char *const contexts[] = {"debug", debug, NULL};
    const char *const *logging = !debug ? quiet : strcmp(debug, "1") ? contexts : NULL;
    /* librdkafka 2.2+ waits fetch.queue.backoff.ms (1 s) before it looks
     * at a full queue again; the bounded prefetch lasts ~0.1 s of reading */
    const char *const backoff[] = {"fetch.queue.backoff.ms", "10", NULL};
    if (spec->role != RN_KAFKA_PRODUCER && rd_kafka_version() >= 0x020200ff &&
        (err = kafka_set_all(conf, spec->label, backoff, errbuf, errbuf_size)) != RN_OK)
        goto fail;
    if ((err = kafka_set_all(conf, spec->label, common, errbuf, errbuf_size)) != RN_OK ||
        (err = kafka_set_all(conf, spec->label, logging, errbuf, errbuf_size)) != RN_OK ||
        (err = kafka_set_all(conf, spec->label, spec->role == RN_KAFKA_PRODUCER ? producer : consumer, errbuf,
                             errbuf_size)) != RN_OK ||
        (spec->role == RN_KAFKA_PRODUCER &&
         (err = kafka_set_all(conf, spec->label,
                              spec->at_least_once && !kafka_spec_sets(spec, "transactional.id")
                                  ? producer_at_least_once
                                  : producer_idempotent,
                              errbuf, errbuf_size)) != RN_OK) ||
        (err = kafka_set_all(conf, spec->label, spec->defaults, errbuf, errbuf_size)) != RN_OK)
        goto fail;
    for (int i = 0; i < spec->noptions; i++) {
        const rn_option_t *o = &spec->options[i];
        if (strncmp(o->key, "properties.", 11)) continue;
        const char *key = o->key + 11;
        char why[256];
        rn_buf_clear(&val);
        rn_buf_appends(&val, ""); /* a C string even when the value is empty */
        if ((err = rn_env_expand(o->value, &val, why, sizeof why)) != RN_OK) {
            if (err == RN_ERR_CONFIG)
                snprintf(errbuf, errbuf_size, "%s: option '%s': %s", spec->label, o->key, why);
            goto fail;
        }
        /* An empty group.instance.id (typically '${INSTANCE}' left unset
         * on purpose) means dynamic membership, as if the option were not
         * there: librdkafka would take "" as an instance id. */
        if (!strcmp(key, "group.instance.id") && !val.data[0]) continue;
        if (!strcmp(key, "group.instance.id") && spec->worker > 0) rn_buf_appendf(&val, "-w%d", spec->worker);
        if (!strcmp(key, "group.instance.id") && spec->instance_suffix)
            rn_buf_appendf(&val, "-%s", spec->instance_suffix);
        if (val.oom) {
            err = RN_ERR_NOMEM;
            goto fail;
        }
        if (!strcmp(key, "bootstrap.servers")) {
            rn_free(bootstrap);
            err = RN_ERR_NOMEM;
            if (!(bootstrap = rn_strdup(val.data))) goto fail;
            continue;
        }
        if ((err = kafka_set(conf, spec->label, o->key, key, val.data, errbuf, errbuf_size)) != RN_OK)
            goto fail;
    }

    const char *bs = bootstrap ? bootstrap : spec->brokers ? spec->brokers : getenv("RUNNEL_BROKERS");
    char embedded[1024];
    if (!bs || !*bs) {
        snprintf(errbuf, errbuf_size,
                 "%s: no Kafka brokers: give --brokers, RUNNEL_BROKERS or 'properties.bootstrap.servers'",
                 spec->label);
        err = RN_ERR_CONFIG;
        goto fail;
    }
    if (!strcmp(bs, "embedded")) {
        err = rn_kafka_embedded_start(RN_KAFKA_EMBEDDED_BROKERS, embedded, sizeof embedded, errbuf,
                                      errbuf_size);
        if (err != RN_OK) goto fail;
        bs = embedded;
    }
    k->embedded = kafka_embedded_is(bs);
    if (k->embedded && spec->role != RN_KAFKA_PRODUCER) {
        for (int i = 0; embedded_consumer[i]; i += 2) {
            if (kafka_spec_sets(spec, embedded_consumer[i])) continue;
            if ((err = kafka_set(conf, spec->label, embedded_consumer[i], embedded_consumer[i],
                                 embedded_consumer[i + 1], errbuf, errbuf_size)) != RN_OK)
                goto fail;
        }
    }
    err = RN_ERR_NOMEM;
    if (!(k->brokers = rn_strdup(bs)) || !kafka_describe_auth(k, conf)) goto fail;
    if ((err = kafka_set(conf, spec->label, "properties.bootstrap.servers", "bootstrap.servers", bs, errbuf,
                         errbuf_size)) != RN_OK)
        goto fail;

    rd_kafka_conf_set_opaque(conf, k);
    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    rd_kafka_conf_set_error_cb(conf, kafka_error_cb);
    if (spec->role == RN_KAFKA_PRODUCER) rd_kafka_conf_set_dr_msg_cb(conf, kafka_dr_cb);
    if (spec->setup) spec->setup(conf);
    if (spec->role == RN_KAFKA_PRODUCER && !(k->probe_conf = rd_kafka_conf_dup(conf))) {
        err = RN_ERR_NOMEM;
        goto fail;
    }
    char why[512];
    k->rk = rd_kafka_new(spec->role == RN_KAFKA_PRODUCER ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER, conf, why,
                         sizeof why);
    if (!k->rk) {
        snprintf(errbuf, errbuf_size, "%s: cannot create the Kafka client: %s", spec->label, why);
        err = RN_ERR_CONFIG;
        goto fail;
    }
    rn_buf_free(&val);
    rn_free(bootstrap);
    *out = k;
    return RN_OK;

fail:
    if (err == RN_ERR_NOMEM) snprintf(errbuf, errbuf_size, "%s: out of memory", spec->label);
    if (conf) rd_kafka_conf_destroy(conf);
    rn_buf_free(&val);
    rn_free(bootstrap);
    rn_kafka_close(k);
    return err;
}

int rn_kafka_prefetch_nudge(const rn_kafka_t *k, int64_t *bytes)
{
    *bytes = 0;
    if (k->role == RN_KAFKA_PRODUCER || rd_kafka_version() >= 0x020200ff) return 0;
    const rd_kafka_conf_t *conf = rd_kafka_conf(k->rk);
    char v[64];
    size_t n = sizeof v;
    long msgs = 100000, kbytes = 65536;
    if (rd_kafka_conf_get(conf, "queued.min.messages", v, &n) == RD_KAFKA_CONF_OK) msgs = atol(v);
    n = sizeof v;
    if (rd_kafka_conf_get(conf, "queued.max.messages.kbytes", v, &n) == RD_KAFKA_CONF_OK) kbytes = atol(v);
    *bytes = (int64_t)kbytes * 1000 / 2; /* (librdkafka counts 1000 bytes a kbyte) */
    return (int)(msgs / 2);
}

/* ---- connecting and topics -------------------------------------------- */

static rn_err_t kafka_embedded_create(const char *topic, int partitions, char *errbuf, size_t errbuf_size);

/* Creates topic through the Admin API with the given partitions and
 * replication factor (-1: broker defaults) and topic configs ("key",
 * "value", ..., NULL; may be NULL). *retry is set when the broker
 * rejected -1 (older than Kafka 2.4). */
static rn_err_t kafka_admin_create(rn_kafka_t *k, const char *topic, int partitions, int replication,
                                   const char *const *configs, bool *retry, char *errbuf, size_t errbuf_size)
{
    char why[512];
    *retry = false;
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, replication, why, sizeof why);
    if (!nt) {
        snprintf(errbuf, errbuf_size, "%s: cannot create topic '%s': %s", k->label, topic, why);
        return RN_ERR_CONFIG;
    }
    for (const char *const *kv = configs; kv && kv[0]; kv += 2) {
        rd_kafka_resp_err_t ce = rd_kafka_NewTopic_set_config(nt, kv[0], kv[1]);
        if (ce) {
            snprintf(errbuf, errbuf_size, "%s: cannot create topic '%s': config '%s': %s", k->label, topic,
                     kv[0], rd_kafka_err2str(ce));
            rd_kafka_NewTopic_destroy(nt);
            return RN_ERR_CONFIG;
        }
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(k->rk);
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(k->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opts, k->connect_timeout_ms, why, sizeof why);
    rd_kafka_AdminOptions_set_request_timeout(opts, k->connect_timeout_ms, why, sizeof why);
    rd_kafka_CreateTopics(k->rk, &nt, 1, opts, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, k->connect_timeout_ms + 1000);
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__TIMED_OUT;
    const char *msg = NULL;
    if (ev && (e = rd_kafka_event_error(ev))) {
        msg = rd_kafka_event_error_string(ev);
    } else if (ev) {
        size_t cnt = 0;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        if (cnt > 0 && (e = rd_kafka_topic_result_error(res[0])))
            msg = rd_kafka_topic_result_error_string(res[0]);
    }
    rn_err_t err = RN_OK;
    if (e == RD_KAFKA_RESP_ERR_INVALID_PARTITIONS || e == RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR ||
        e == RD_KAFKA_RESP_ERR_INVALID_REQUEST || e == RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION)
        *retry = partitions < 0 || replication < 0;
    if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS && !*retry) {
        snprintf(errbuf, errbuf_size, "%s: cannot create topic '%s' on %s: %s", k->label, topic, k->brokers,
                 msg && *msg ? msg : rd_kafka_err2str(e));
        err = RN_ERR_IO;
    } else if (!e) {
        rn_log_info("%s: created topic '%s' on %s", k->label, topic, k->brokers);
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    return err;
}

/* Creates a missing topic: on the embedded cluster directly (configs are
 * not applied there), else with the Admin API, asking for the broker's
 * defaults first and, on brokers older than 2.4, 1 partition (or the
 * number asked for) and a replication factor of min(3, brokers). */
static rn_err_t kafka_create(rn_kafka_t *k, const char *topic, int partitions, int nbrokers,
                             const char *const *configs, char *errbuf, size_t errbuf_size)
{
    if (k->embedded) return kafka_embedded_create(topic, partitions, errbuf, errbuf_size);
    bool retry;
    rn_err_t err = kafka_admin_create(k, topic, partitions, -1, configs, &retry, errbuf, errbuf_size);
    if (err == RN_OK && retry)
        err = kafka_admin_create(k, topic, partitions > 0 ? partitions : 1, nbrokers < 3 ? nbrokers : 3,
                                 configs, &retry, errbuf, errbuf_size);
    return err;
}

#define KAFKA_TOPIC_NOT_READY (-2)

/* Looks topic up in md: its partition count, 0 if it does not exist (yet),
 * KAFKA_TOPIC_NOT_READY while a partition has no leader, -1 with errbuf
 * filled if the broker refuses to describe it. */
static int kafka_topic_partitions(rn_kafka_t *k, const struct rd_kafka_metadata *md, const char *topic,
                                  char *errbuf, size_t errbuf_size)
{
    for (int i = 0; i < md->topic_cnt; i++) {
        const struct rd_kafka_metadata_topic *t = &md->topics[i];
        if (strcmp(t->topic, topic)) continue;
        if (t->err && t->err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART &&
            t->err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE) {
            snprintf(errbuf, errbuf_size, "%s: topic '%s' on %s: %s", k->label, topic, k->brokers,
                     rd_kafka_err2str(t->err));
            return -1;
        }
        /* A topic counts once every partition has a leader: right after
         * a topic is created the brokers may list it before that, and a
         * producer that sees such metadata fails records with "unknown
         * partition". */
        if (t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) return 0;
        if (t->err || !t->partition_cnt) return KAFKA_TOPIC_NOT_READY;
        for (int p = 0; p < t->partition_cnt; p++)
            if (t->partitions[p].err || t->partitions[p].leader < 0) return KAFKA_TOPIC_NOT_READY;
        return t->partition_cnt;
    }
    return 0;
}

/* "10 s" or "1.5 s". */
static void kafka_format_secs(int ms, char *out, size_t size)
{
    if (ms % 1000 == 0)
        snprintf(out, size, "%d s", ms / 1000);
    else
        snprintf(out, size, "%.1f s", ms / 1000.0);
}

#define KAFKA_PROPAGATION_MS 30000 /* how long a new topic may take to reach every broker */

/* True when the broker at addr itself lists every topic with leaders. A
 * fresh client bootstrapped with that one address sends its first metadata
 * request there. */
static bool kafka_broker_lists(rn_kafka_t *k, const char *addr, const char *const *topics, int ntopics)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_dup(k->probe_conf);
    char why[256];
    if (!conf) return false;
    if (rd_kafka_conf_set(conf, "bootstrap.servers", addr, why, sizeof why) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return false;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return false;
    }
    const struct rd_kafka_metadata *md = NULL;
    bool ok = rd_kafka_metadata(rk, 1, NULL, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR;
    char ignored[256];
    for (int i = 0; ok && i < ntopics; i++) ok = kafka_topic_partitions(k, md, topics[i], ignored, sizeof ignored) > 0;
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return ok;
}

/* After creating topics, waits until every broker lists them. Kafka tells
 * the brokers about a new topic one by one, and librdkafka (2.0) treats a
 * topic it already knows as deleted, failing the records queued for it with
 * "unknown partition", when a broker that has not heard of it yet answers a
 * metadata request (librdkafka issue #4904). */
static rn_err_t kafka_wait_propagated(rn_kafka_t *k, const char *const *topics, int ntopics, char *errbuf,
                                      size_t errbuf_size)
{
    if (k->embedded || !k->probe_conf) return RN_OK;
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(k->rk, 0, NULL, &md, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR) return RN_OK;
    int64_t deadline = kafka_now_ms() + KAFKA_PROPAGATION_MS;
    rn_err_t err = RN_OK;
    for (int b = 0; b < md->broker_cnt && err == RN_OK; b++) {
        char addr[300];
        snprintf(addr, sizeof addr, "%s:%d", md->brokers[b].host, md->brokers[b].port);
        while (!kafka_broker_lists(k, addr, topics, ntopics)) {
            if (kafka_now_ms() >= deadline) {
                snprintf(errbuf, errbuf_size, "%s: topic '%s' was created on %s but broker %s does not list it",
                         k->label, topics[0], k->brokers, addr);
                err = RN_ERR_IO;
                break;
            }
            struct timespec pause = {0, 100 * 1000 * 1000};
            nanosleep(&pause, NULL); /* the next poll of the broker's metadata */
        }
    }
    rd_kafka_metadata_destroy(md);
    return err;
}

/* rn_kafka_connect, creating missing topics with configs (may be NULL). */
static rn_err_t kafka_connect(rn_kafka_t *k, const char *const *topics, int ntopics, int create,
                              const char *const *configs, int32_t *partitions, char *errbuf, size_t errbuf_size)
{
    int64_t deadline = kafka_now_ms() + k->connect_timeout_ms;
    bool created = false;
    int64_t missing_until = 0; /* when a missing topic is taken as missing */
    rd_kafka_resp_err_t err;
    char last[sizeof k->last_error];
    for (;;) {
        const struct rd_kafka_metadata *md = NULL;
        int64_t left = deadline - kafka_now_ms();
        err = rd_kafka_metadata(k->rk, 1, NULL, &md, (int)(left < 100 ? 100 : left > 500 ? 500 : left));
        rd_kafka_poll(k->rk, err ? 100 : 0); /* serves the error callback */
        pthread_mutex_lock(&k->lock);
        bool auth_failed = k->auth_failed;
        pthread_mutex_unlock(&k->lock);
        if (auth_failed) {
            if (md) rd_kafka_metadata_destroy(md);
            kafka_last_error(k, last, sizeof last);
            snprintf(errbuf, errbuf_size, "%s: Kafka authentication failed at %s (%s): %s", k->label,
                     k->brokers, k->auth ? k->auth : "no SASL configured", last);
            return RN_ERR_IO;
        }
        if (!err) {
            int missing = -1, not_ready = -1;
            for (int i = 0; i < ntopics && missing < 0; i++) {
                int n = kafka_topic_partitions(k, md, topics[i], errbuf, errbuf_size);
                if (n == -1) {
                    rd_kafka_metadata_destroy(md);
                    return RN_ERR_IO;
                }
                if (partitions) partitions[i] = n > 0 ? n : 0;
                if (n == 0) missing = i;
                if (n == KAFKA_TOPIC_NOT_READY && not_ready < 0) not_ready = i;
            }
            int nbrokers = md->broker_cnt;
            rd_kafka_metadata_destroy(md);
            if (missing < 0 && not_ready < 0) {
                if (created) {
                    rn_err_t perr = kafka_wait_propagated(k, topics, ntopics, errbuf, errbuf_size);
                    if (perr != RN_OK) return perr;
                }
                k->connected = true;
                return RN_OK;
            }
            if (missing < 0) { /* exists, but a partition has no leader yet */
                if (kafka_now_ms() >= deadline) {
                    snprintf(errbuf, errbuf_size, "%s: topic '%s' on %s has partitions without a leader",
                             k->label, topics[not_ready], k->brokers);
                    return RN_ERR_IO;
                }
                rd_kafka_poll(k->rk, 100);
                continue;
            }
            if (!created && (create != RN_KAFKA_NO_CREATE || k->embedded)) {
                for (int i = missing; i < ntopics; i++) {
                    rn_err_t cerr = kafka_create(k, topics[i], create, nbrokers, configs, errbuf, errbuf_size);
                    if (cerr != RN_OK) return cerr;
                }
                created = true;
                continue; /* and wait until the new topics show in the metadata */
            }
            if (!created) {
                /* A broker that lags behind a topic created a moment ago
                 * answers "unknown topic": ask again for a few seconds
                 * before calling it missing. */
                if (!missing_until) missing_until = kafka_now_ms() + 3000;
                if (kafka_now_ms() < missing_until) {
                    rd_kafka_poll(k->rk, 200);
                    continue;
                }
                snprintf(errbuf, errbuf_size, "%s: topic '%s' does not exist on %s", k->label,
                         topics[missing], k->brokers);
                return RN_ERR_IO;
            }
            if (kafka_now_ms() >= deadline) {
                snprintf(errbuf, errbuf_size, "%s: topic '%s' was created on %s but did not show up",
                         k->label, topics[missing], k->brokers);
                return RN_ERR_IO;
            }
            rd_kafka_poll(k->rk, 100);
            continue;
        }
        if (kafka_now_ms() >= deadline) break;
    }
    char secs[32];
    kafka_format_secs(k->connect_timeout_ms, secs, sizeof secs);
    kafka_last_error(k, last, sizeof last);
    snprintf(errbuf, errbuf_size, "%s: cannot reach Kafka at %s (tried for %s: %s)", k->label, k->brokers,
             secs, last[0] ? last : rd_kafka_err2str(err));
    return RN_ERR_IO;
}

rn_err_t rn_kafka_connect(rn_kafka_t *k, const char *const *topics, int ntopics, int create,
                          int32_t *partitions, char *errbuf, size_t errbuf_size)
{
    return kafka_connect(k, topics, ntopics, create, NULL, partitions, errbuf, errbuf_size);
}

rn_err_t rn_kafka_ensure_topic(rn_kafka_t *k, const char *topic, int partitions, const char *const *configs,
                               int32_t *actual, char *errbuf, size_t errbuf_size)
{
    return kafka_connect(k, &topic, 1, partitions, configs, actual, errbuf, errbuf_size);
}

/* ---- producing -------------------------------------------------------- */

rn_err_t rn_kafka_check(rn_kafka_t *k, char *errbuf, size_t errbuf_size)
{
    char why[512];
    if (k->role == RN_KAFKA_PRODUCER) rd_kafka_poll(k->rk, 0);
    if (k->delivery_error[0]) {
        snprintf(errbuf, errbuf_size, "%s: %s", k->runtime_label, k->delivery_error);
        return RN_ERR_IO;
    }
    if (rd_kafka_fatal_error(k->rk, why, sizeof why)) {
        snprintf(errbuf, errbuf_size, "%s: Kafka client failed: %s", k->runtime_label, why);
        return RN_ERR_IO;
    }
    return RN_OK;
}

/* Before n more records: serves the delivery reports every
 * KAFKA_POLL_EVERY records, and at once after a failed delivery. */
static rn_err_t kafka_before_produce(rn_kafka_t *k, int n, char *errbuf, size_t errbuf_size)
{
    k->unpolled += (unsigned)n;
    if (!k->delivery_error[0] && k->unpolled < KAFKA_POLL_EVERY) return RN_OK;
    k->unpolled = 0;
    return rn_kafka_check(k, errbuf, errbuf_size);
}

rn_err_t rn_kafka_produce(rn_kafka_t *k, rd_kafka_topic_t *rkt, int32_t partition, const void *key,
                          size_t klen, const void *value, size_t vlen, rd_kafka_headers_t *headers,
                          char *errbuf, size_t errbuf_size)
{
    rn_err_t err = kafka_before_produce(k, 1, errbuf, errbuf_size);
    if (err != RN_OK) goto fail;
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            k->rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY((void *)key, klen),
            RD_KAFKA_V_VALUE((void *)value, vlen), RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
        if (!e) return RN_OK;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            snprintf(errbuf, errbuf_size, "%s: cannot produce to topic '%s': %s", k->runtime_label,
                     rd_kafka_topic_name(rkt), rd_kafka_err2str(e));
            err = RN_ERR_IO;
            goto fail;
        }
        /* Backpressure: let librdkafka deliver, then try again. */
        rd_kafka_poll(k->rk, 100);
        if ((err = rn_kafka_check(k, errbuf, errbuf_size)) != RN_OK) goto fail;
    }
fail:
    if (headers) rd_kafka_headers_destroy(headers);
    return err;
}

rn_err_t rn_kafka_produce_batch(rn_kafka_t *k, rd_kafka_topic_t *rkt, rd_kafka_message_t *msgs, int n,
                                char *errbuf, size_t errbuf_size)
{
    rn_err_t err = kafka_before_produce(k, n, errbuf, errbuf_size);
    if (err != RN_OK) return err;
    while (n > 0) {
        for (int i = 0; i < n; i++) msgs[i]._private = NULL;
        int good = rd_kafka_produce_batch(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY | RD_KAFKA_MSG_F_PARTITION,
                                          msgs, n);
        if (good == n) return RN_OK;
        /* A full queue refuses a record and every one after it: those are
         * produced again, in order, once librdkafka has delivered some.
         * Any other error fails as rn_kafka_produce does. */
        int left = 0;
        for (int i = 0; i < n; i++) {
            if (!msgs[i].err) continue;
            if (msgs[i].err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                snprintf(errbuf, errbuf_size, "%s: cannot produce to topic '%s': %s", k->runtime_label,
                         rd_kafka_topic_name(rkt), rd_kafka_err2str(msgs[i].err));
                return RN_ERR_IO;
            }
            msgs[left++] = msgs[i];
        }
        n = left;
        rd_kafka_poll(k->rk, 100);
        if ((err = rn_kafka_check(k, errbuf, errbuf_size)) != RN_OK) return err;
    }
    return RN_OK;
}

rn_err_t rn_kafka_flush(rn_kafka_t *k, char *errbuf, size_t errbuf_size)
{
    for (;;) {
        rd_kafka_flush(k->rk, KAFKA_WARN_EVERY_MS);
        int left = rd_kafka_outq_len(k->rk);
        rn_err_t err = rn_kafka_check(k, errbuf, errbuf_size);
        if (left == 0 || err != RN_OK) return err;
        char last[sizeof k->last_error];
        kafka_last_error(k, last, sizeof last);
        rn_log_warn("%s: still waiting for Kafka at %s to acknowledge %d records%s%s%s", k->runtime_label,
                    k->brokers, left, last[0] ? " (last error: " : "", last, last[0] ? ")" : "");
    }
}

/* True if destroying consumer k would abort the process, given proto,
 * its rd_kafka_rebalance_protocol(): librdkafka before 2.2.1 asserts on
 * destroy that the cooperative-sticky assignor has state, which only the
 * member's first assignment creates, while the assignor itself is chosen
 * by the earlier JoinGroup response (librdkafka issue #4312). proto is
 * "NONE" before that response. */
static bool kafka_destroy_aborts(const rn_kafka_t *k, const char *proto)
{
    return !k->group_assigned && proto && !strcmp(proto, "COOPERATIVE") &&
           rd_kafka_version() < KAFKA_ASSIGNOR_FIXED;
}

/* Leaves the consumer group, serving the rebalance and commit callbacks
 * that closing triggers, for at most KAFKA_CLOSE_MS. A member that joined
 * but has no assignment yet is first served until the assignment arrives
 * (the owner's rebalance callback sets group_assigned), within the same
 * bound. Returns false if destroying the handle would abort the process
 * (kafka_destroy_aborts: no assignment came in time); a group that could
 * not be left in time is only reported. */
static bool kafka_leave_group(rn_kafka_t *k)
{
    int64_t deadline = kafka_now_ms() + KAFKA_CLOSE_MS;
    /* Asked only before the close: once the group is left, librdkafka
     * purges its pending requests, and rd_kafka_rebalance_protocol() would
     * wait forever for an answer. A JoinGroup response handled between the
     * last answer and the close (microseconds) goes unseen. */
    bool aborts;
    while ((aborts = kafka_destroy_aborts(k, rd_kafka_rebalance_protocol(k->rk))) && kafka_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k->rk, 100);
        if (m) rd_kafka_message_destroy(m);
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(k->rk);
    rd_kafka_error_t *error = rd_kafka_consumer_close_queue(k->rk, q);
    if (error) {
        rn_log_warn("%s: cannot leave the consumer group at %s: %s", k->runtime_label, k->brokers,
                    rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else {
        /* The consumer queue, prefetched messages and all, now leads to q.
         * Serving it like rd_kafka_consumer_close() does calls the
         * callbacks and returns messages and consumer errors, which are
         * dropped (rd_kafka_queue_poll_callback() would abort on them). */
        bool closed;
        while (!(closed = rd_kafka_consumer_closed(k->rk)) && kafka_now_ms() < deadline) {
            rd_kafka_message_t *m = rd_kafka_consume_queue(q, 100);
            if (m) rd_kafka_message_destroy(m);
        }
        if (!closed)
            rn_log_warn("%s: leaving the consumer group at %s did not finish within %d s; closing anyway",
                        k->runtime_label, k->brokers, KAFKA_CLOSE_MS / 1000);
    }
    rd_kafka_queue_destroy(q);
    return !aborts;
}

/* rd_kafka_destroy in a thread of its own, so that the caller can stop
 * waiting for it. */
typedef struct kafka_destroyer {
    pthread_mutex_t lock; /* guards done */
    pthread_cond_t cond;  /* signalled when done is set */
    bool done;            /* rd_kafka_destroy_flags returned */
    bool abandoned;       /* the caller gave up: the thread frees this struct */
    rd_kafka_t *rk;       /* the handle to destroy */
    int flags;            /* rd_kafka_destroy_flags flags */
} kafka_destroyer_t;

static void *kafka_destroy_thread(void *arg)
{
    kafka_destroyer_t *d = arg;
    rd_kafka_destroy_flags(d->rk, d->flags);
    pthread_mutex_lock(&d->lock);
    d->done = true;
    bool abandoned = d->abandoned;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
    if (abandoned) {
        pthread_mutex_destroy(&d->lock);
        pthread_cond_destroy(&d->cond);
        free(d);
    }
    return NULL;
}

/* Destroys rk, waiting at most KAFKA_DESTROY_MS. librdkafka's destroy
 * blocks until every reference to the handle's objects is gone, and
 * librdkafka 2.0 itself keeps one forever after a subscribed topic was
 * deleted (librdkafka issues #4187, #4362, #4724): then the handle is
 * left behind, still being destroyed, and false is returned. */
static bool kafka_destroy_bounded(rd_kafka_t *rk, int flags)
{
    kafka_destroyer_t *d = calloc(1, sizeof *d); /* may outlive this call: not counted by rn_malloc */
    pthread_t thread;
    if (!d) {
        rd_kafka_destroy_flags(rk, flags);
        return true;
    }
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->cond, NULL);
    d->rk = rk;
    d->flags = flags;
    if (pthread_create(&thread, NULL, kafka_destroy_thread, d) != 0) {
        rd_kafka_destroy_flags(rk, flags);
        d->done = true;
    } else {
        pthread_detach(thread);
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += KAFKA_DESTROY_MS / 1000;
    pthread_mutex_lock(&d->lock);
    while (!d->done && pthread_cond_timedwait(&d->cond, &d->lock, &until) == 0) continue;
    bool done = d->done;
    d->abandoned = !done;
    pthread_mutex_unlock(&d->lock);
    if (done) {
        pthread_mutex_destroy(&d->lock);
        pthread_cond_destroy(&d->cond);
        free(d);
    }
    return done;
}

/* rn_kafka_abandon_groups was called. */
static volatile bool kafka_abandoned;

void rn_kafka_abandon_groups(void) { kafka_abandoned = true; }

void rn_kafka_close(rn_kafka_t *k)
{
    if (!k) return;
    int flags = 0;
    if (k->rk && k->role == RN_KAFKA_PRODUCER) {
        rd_kafka_flush(k->rk, k->connect_timeout_ms);
        int left = rd_kafka_outq_len(k->rk);
        if (left > 0) {
            rn_log_error("%s: %d records were not acknowledged by Kafka at %s before closing",
                         k->runtime_label, left, k->brokers);
            rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            rd_kafka_poll(k->rk, 0);
        }
    } else if (k->rk && ((k->embedded && kafka_embedded_closing()) || kafka_abandoned) &&
               !kafka_destroy_aborts(k, rd_kafka_rebalance_protocol(k->rk))) {
        /* The cluster goes away with the process: leaving the group would
         * only start a rebalance that the group's other members, closing
         * next, would have to wait out. Or the run failed: it ends like a
         * crash, committing nothing more (rn_kafka_abandon_groups). */
        flags = RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE;
    } else if (k->rk) {
        if (!kafka_leave_group(k)) {
            /* librdkafka's threads may still call back with k: leave it be. */
            rn_log_warn("%s: the consumer group at %s gave this member no partition assignment within %d s; "
                        "exiting without destroying the Kafka client (librdkafka %s would abort)",
                        k->runtime_label, k->brokers, KAFKA_CLOSE_MS / 1000, rd_kafka_version_str());
            return;
        }
        flags = RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE; /* done above, within a bound */
    }
    if (k->rk && !kafka_destroy_bounded(k->rk, flags)) {
        /* librdkafka's threads may still call back with k: leave it be. */
        rn_log_warn("%s: the Kafka client did not shut down within %d s (a known librdkafka %s bug after a "
                    "topic is deleted); exiting without waiting for it",
                    k->runtime_label, KAFKA_DESTROY_MS / 1000, rd_kafka_version_str());
        return;
    }
    if (k->probe_conf) rd_kafka_conf_destroy(k->probe_conf);
    pthread_mutex_destroy(&k->lock);
    rn_free(k->label);
    rn_free(k->runtime_label);
    rn_free(k->brokers);
    rn_free(k->auth);
    rn_free(k);
}

/* ---- the embedded cluster --------------------------------------------- */

static struct {
    pthread_mutex_t lock;        /* guards the fields below */
    rd_kafka_t *rk;              /* the handle owning the cluster */
    rd_kafka_mock_cluster_t *mc; /* the cluster, NULL when not running */
    int nbrokers;                /* its brokers */
    char bootstrap[1024];        /* its bootstrap list */
    bool closing;                /* rn_kafka_embedded_closing() was called */
} kafka_embedded = {.lock = PTHREAD_MUTEX_INITIALIZER};

rn_err_t rn_kafka_embedded_start(int nbrokers, char *bootstrap, size_t size, char *errbuf, size_t errbuf_size)
{
    rn_err_t err = RN_OK;
    pthread_mutex_lock(&kafka_embedded.lock);
    if (!kafka_embedded.mc) {
        char why[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
        if (!kafka_debug()) rd_kafka_conf_set(conf, "log_level", "3", why, sizeof why);
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
        rd_kafka_mock_cluster_t *mc = NULL;
        if (!rk)
            rd_kafka_conf_destroy(conf);
        else if (!(mc = rd_kafka_mock_cluster_new(rk, nbrokers)))
            rd_kafka_destroy(rk);
        if (!mc) {
            snprintf(errbuf, errbuf_size, "cannot start the embedded Kafka cluster%s%s", rk ? "" : ": ",
                     rk ? "" : why);
            err = RN_ERR_IO;
        } else {
            kafka_embedded.rk = rk;
            kafka_embedded.mc = mc;
            kafka_embedded.nbrokers = nbrokers;
            snprintf(kafka_embedded.bootstrap, sizeof kafka_embedded.bootstrap, "%s",
                     rd_kafka_mock_cluster_bootstraps(mc));
        }
    }
    if (err == RN_OK) snprintf(bootstrap, size, "%s", kafka_embedded.bootstrap);
    pthread_mutex_unlock(&kafka_embedded.lock);
    return err;
}

void rn_kafka_embedded_closing(void)
{
    pthread_mutex_lock(&kafka_embedded.lock);
    kafka_embedded.closing = kafka_embedded.mc != NULL;
    pthread_mutex_unlock(&kafka_embedded.lock);
}

/* True between rn_kafka_embedded_closing() and rn_kafka_embedded_stop(). */
static bool kafka_embedded_closing(void)
{
    pthread_mutex_lock(&kafka_embedded.lock);
    bool closing = kafka_embedded.closing;
    pthread_mutex_unlock(&kafka_embedded.lock);
    return closing;
}

void rn_kafka_embedded_stop(void)
{
    pthread_mutex_lock(&kafka_embedded.lock);
    kafka_embedded.closing = false;
    if (kafka_embedded.mc) {
        rd_kafka_mock_cluster_destroy(kafka_embedded.mc);
        rd_kafka_destroy(kafka_embedded.rk);
        kafka_embedded.mc = NULL;
        kafka_embedded.rk = NULL;
        kafka_embedded.bootstrap[0] = '\0';
    }
    pthread_mutex_unlock(&kafka_embedded.lock);
}

/* True if bootstrap is the running embedded cluster's list. */
static bool kafka_embedded_is(const char *bootstrap)
{
    pthread_mutex_lock(&kafka_embedded.lock);
    bool is = kafka_embedded.mc && !strcmp(bootstrap, kafka_embedded.bootstrap);
    pthread_mutex_unlock(&kafka_embedded.lock);
    return is;
}

/* Creates topic on the embedded cluster (partitions <= 0: the embedded
 * default); an existing topic is left alone. */
rn_err_t rn_kafka_embedded_topic(const char *topic, int partitions, char *errbuf, size_t errbuf_size)
{
    return kafka_embedded_create(topic, partitions, errbuf, errbuf_size);
}

static rn_err_t kafka_embedded_create(const char *topic, int partitions, char *errbuf, size_t errbuf_size)
{
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__STATE;
    pthread_mutex_lock(&kafka_embedded.lock);
    if (kafka_embedded.mc) {
        int n = kafka_embedded.nbrokers;
        e = rd_kafka_mock_topic_create(kafka_embedded.mc, topic,
                                       partitions > 0 ? partitions : RN_KAFKA_EMBEDDED_PARTITIONS,
                                       n < 3 ? n : 3);
    }
    pthread_mutex_unlock(&kafka_embedded.lock);
    if (!e || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) return RN_OK;
    snprintf(errbuf, errbuf_size, "cannot create topic '%s' on the embedded Kafka cluster: %s", topic,
             rd_kafka_err2str(e));
    return RN_ERR_IO;
}
