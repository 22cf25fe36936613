-- Error case: a doubled comma in the select list.
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
    event_type STRING
) WITH (
    'connector' = 'kafka',
    'topic' = 'out',
    'format' = 'json'
);

INSERT INTO out_rows
SELECT page_id,, event_type FROM events;
