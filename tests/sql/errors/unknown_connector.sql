-- Error case: a connector that does not exist.
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
    page_id INT
) WITH (
    'connector' = 'nosuch',
    'topic' = 'out'
);

INSERT INTO out_rows
SELECT page_id FROM events;
