-- Kafka integration test: SASL_SSL with SCRAM-SHA-512 and a self-signed CA.
-- Secrets come from the environment, never from this file.
CREATE TABLE events (
  event_type STRING, user_id INT
) WITH ('connector' = 'kafka', 'topic' = '${IN_TOPIC}',
        'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset',
        'properties.bootstrap.servers' = '${KAFKA_SASL_BOOTSTRAP}',
        'properties.security.protocol' = 'SASL_SSL',
        'properties.sasl.mechanism' = 'SCRAM-SHA-512',
        'properties.sasl.username' = '${KAFKA_SASL_USER}',
        'properties.sasl.password' = '${KAFKA_SASL_PASSWORD}',
        'properties.ssl.ca.location' = '${KAFKA_CA}');
CREATE TABLE counts (
  event_type STRING, n BIGINT, PRIMARY KEY (event_type) NOT ENFORCED
) WITH ('connector' = 'upsert-kafka', 'topic' = '${OUT_TOPIC}',
        'properties.bootstrap.servers' = '${KAFKA_SASL_BOOTSTRAP}',
        'properties.security.protocol' = 'SASL_SSL',
        'properties.sasl.mechanism' = 'SCRAM-SHA-512',
        'properties.sasl.username' = '${KAFKA_SASL_USER}',
        'properties.sasl.password' = '${KAFKA_SASL_PASSWORD}',
        'properties.ssl.ca.location' = '${KAFKA_CA}');
INSERT INTO counts SELECT event_type, COUNT(*) FROM events GROUP BY event_type;
