/*
 * kafka.c - the 'kafka' and 'upsert-kafka' connectors' options, as in
 * Flink's Kafka SQL connector.
 *
 * Options are parsed and validated now, so pipelines written for Kafka can
 * be explained and replayed from files with `runnel test`. Producing and
 * consuming through librdkafka arrives with the Kafka issue; until then
 * `runnel run` reports that clearly instead of pretending.
 */
#include "connectors/connector.h"

#include <stdio.h>
#include <string.h>

typedef struct kafka_conf {
    const char *topic;          /* 'topic' (a ';'-separated list for sources) */
    const char *topic_pattern;  /* 'topic-pattern' */
    const char *bootstrap;      /* 'properties.bootstrap.servers' (pass-through) */
    const char *group_id;       /* 'properties.group.id' (pass-through) */
    const char *startup_mode;   /* 'scan.startup.mode' */
    int64_t startup_ts;         /* 'scan.startup.timestamp-millis' */
    const char *format;         /* 'format' */
    const char *key_format;     /* 'key.format' */
    const char *key_fields;     /* 'key.fields' */
    const char *value_format;   /* 'value.format' */
    const char *fields_include; /* 'value.fields-include' */
    const char *dlq_topic;      /* 'dlq.topic' */
    const char *sink_partitioner; /* 'sink.partitioner' */
} kafka_conf_t;

static const rn_option_spec_t kafka_options[] = {
    {"topic", RN_OPT_STRING, NULL, offsetof(kafka_conf_t, topic), NULL, false, "topic name(s), ';'-separated"},
    {"topic-pattern", RN_OPT_STRING, NULL, offsetof(kafka_conf_t, topic_pattern), NULL, false, "regular expression of topics to read"},
    {"scan.startup.mode", RN_OPT_ENUM, "group-offsets", offsetof(kafka_conf_t, startup_mode),
     "earliest-offset|latest-offset|group-offsets|timestamp", false, "where a new consumer group starts"},
    {"scan.startup.timestamp-millis", RN_OPT_INT, "0", offsetof(kafka_conf_t, startup_ts), NULL, false, "start time for 'timestamp' mode"},
    {"format", RN_OPT_ENUM, "json", offsetof(kafka_conf_t, format), "json", false, "value format"},
    {"key.format", RN_OPT_ENUM, NULL, offsetof(kafka_conf_t, key_format), "json|raw", false, "key format"},
    {"key.fields", RN_OPT_STRING, NULL, offsetof(kafka_conf_t, key_fields), NULL, false, "columns read from the key, ';'-separated"},
    {"value.format", RN_OPT_ENUM, NULL, offsetof(kafka_conf_t, value_format), "json", false, "value format"},
    {"value.fields-include", RN_OPT_ENUM, "ALL", offsetof(kafka_conf_t, fields_include), "ALL|EXCEPT_KEY", false, "whether key columns are in the value"},
    {"dlq.topic", RN_OPT_STRING, "dlq", offsetof(kafka_conf_t, dlq_topic), NULL, false, "dead-letter topic for undecodable records"},
    {"sink.partitioner", RN_OPT_ENUM, "default", offsetof(kafka_conf_t, sink_partitioner), "default|fixed|round-robin", false, "how records map to partitions"},
    {NULL},
};

static rn_err_t kafka_not_yet(char *errbuf, size_t errbuf_size)
{
    snprintf(errbuf, errbuf_size,
             "the Kafka connector can be explained and replayed with `runnel test` but does not "
             "run against a broker in this version");
    return RN_ERR_UNSUPPORTED;
}

static rn_err_t kafka_open_reader(const void *conf, const char *table, rn_reader_t **out,
                                  char *errbuf, size_t errbuf_size)
{
    return kafka_not_yet(errbuf, errbuf_size);
}

static rn_err_t kafka_open_sink(const void *conf, const char *table, rn_sink_io_t **out,
                                char *errbuf, size_t errbuf_size)
{
    return kafka_not_yet(errbuf, errbuf_size);
}

static void kafka_describe(const void *conf, rn_buf_t *out)
{
    const kafka_conf_t *c = conf;
    if (c->topic) rn_buf_appendf(out, "topic=%s", c->topic);
    else if (c->topic_pattern) rn_buf_appendf(out, "topic-pattern=%s", c->topic_pattern);
    rn_buf_appendf(out, ", format=%s", c->value_format ? c->value_format : c->format);
}

static rn_err_t kafka_validate(const void *conf, char *errbuf, size_t errbuf_size)
{
    const kafka_conf_t *c = conf;
    if (c->topic || c->topic_pattern) return RN_OK;
    snprintf(errbuf, errbuf_size, "a Kafka table needs option 'topic' (or 'topic-pattern')");
    return RN_ERR_CONFIG;
}

static const char *kafka_test_name(const void *conf)
{
    const kafka_conf_t *c = conf;
    return c->topic;
}

const rn_connector_t rn_connector_kafka = {
    .name = "kafka",
    .roles = RN_ROLE_SOURCE | RN_ROLE_SINK,
    .sink_mode = RN_SINK_APPEND,
    .forbids_pk = true,
    .passthrough = "properties.",
    .options = kafka_options,
    .conf_size = sizeof(kafka_conf_t),
    .open_reader = kafka_open_reader,
    .open_sink = kafka_open_sink,
    .describe = kafka_describe,
    .validate = kafka_validate,
    .test_name = kafka_test_name,
};

const rn_connector_t rn_connector_upsert_kafka = {
    .name = "upsert-kafka",
    .roles = RN_ROLE_SOURCE | RN_ROLE_SINK,
    .sink_mode = RN_SINK_UPSERT,
    .needs_pk = true,
    .passthrough = "properties.",
    .options = kafka_options,
    .conf_size = sizeof(kafka_conf_t),
    .open_reader = kafka_open_reader,
    .open_sink = kafka_open_sink,
    .describe = kafka_describe,
    .validate = kafka_validate,
    .test_name = kafka_test_name,
};

