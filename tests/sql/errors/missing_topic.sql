-- Error case: a 'kafka' table without its 'topic' option.
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
    'connector' = 'kafka',
    'format' = 'json'
);

INSERT INTO out_rows
SELECT page_id FROM events;
