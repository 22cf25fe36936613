-- Error case: a selected column that is neither grouped nor aggregated.
CREATE TABLE events (
    event_type STRING,
    user_id INT,
    page_id INT
) WITH (
    'connector' = 'kafka',
    'topic' = 'events',
    'format' = 'json'
);

CREATE TABLE out_rows (
    page_id INT,
    user_id INT,
    n BIGINT,
    PRIMARY KEY (page_id) NOT ENFORCED
) WITH (
    'connector' = 'upsert-kafka',
    'topic' = 'out',
    'key.format' = 'json',
    'value.format' = 'json'
);

INSERT INTO out_rows
SELECT page_id,
       user_id,
       COUNT(*)
FROM events
GROUP BY page_id;
