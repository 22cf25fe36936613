-- Error case: INSERT INTO names a table that was never created.
CREATE TABLE events (
    event_type STRING,
    user_id INT,
    page_id INT
) WITH (
    'connector' = 'kafka',
    'topic' = 'events',
    'format' = 'json'
);

INSERT INTO no_such_sink
SELECT page_id FROM events;
