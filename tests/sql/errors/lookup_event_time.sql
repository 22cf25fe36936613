-- Error case: a lookup join AS OF an event-time attribute (Flink needs processing time).
CREATE TABLE events (
    user_id BIGINT,
    page_id BIGINT,
    ts TIMESTAMP(3),
    proc_time AS PROCTIME(),
    WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH (
    'connector' = 'kafka',
    'topic' = 'events',
    'format' = 'json'
);

CREATE TABLE users (
    id BIGINT,
    name STRING
) WITH (
    'connector' = 'jdbc',
    'url' = 'jdbc:sqlite:users.db',
    'table-name' = 'users'
);

CREATE TABLE named_events (
    user_id BIGINT,
    name STRING
) WITH (
    'connector' = 'print'
);

INSERT INTO named_events SELECT e.user_id, u.name FROM events AS e
JOIN users FOR SYSTEM_TIME AS OF e.ts AS u ON u.id = e.user_id;
