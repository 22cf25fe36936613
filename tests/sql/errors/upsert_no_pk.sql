-- Error case: an 'upsert-kafka' sink without a PRIMARY KEY.
CREATE TABLE events (
    event_type STRING,
    user_id INT,
    page_id INT
) WITH (
    'connector' = 'kafka',
    'topic' = 'events',
    'format' = 'json'
);

CREATE TABLE counts_out (
    page_id INT,
    n BIGINT
) WITH (
    'connector' = 'upsert-kafka',
    'topic' = 'out',
    'key.format' = 'json',
    'value.format' = 'json'
);

INSERT INTO counts_out
SELECT page_id, COUNT(*)
FROM events
GROUP BY page_id;
