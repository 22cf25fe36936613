-- Error case: a misspelt column.
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
    'topic' = 'out',
    'format' = 'json'
);

INSERT INTO out_rows
SELECT pag_id
FROM events;
