-- Error case: a lookup join without an equality on a column of the table.
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
JOIN users FOR SYSTEM_TIME AS OF e.proc_time AS u ON u.id > e.user_id;
