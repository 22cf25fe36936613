-- Error case: FOR SYSTEM_TIME AS OF on a table that is not the right side of a join.
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

INSERT INTO named_events SELECT u.id, u.name FROM users FOR SYSTEM_TIME AS OF PROCTIME() AS u;
