-- Error case: an aggregate (an updating result) into an append-only 'kafka' sink.
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
    'connector' = 'kafka',
    'topic' = 'out',
    'format' = 'json'
);

INSERT INTO counts_out
SELECT page_id, COUNT(*)
FROM events
GROUP BY page_id;
