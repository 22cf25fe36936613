-- A column declared NOT NULL is required: a record in which it is missing
-- or JSON null goes to the dead letters, named by the column, even when no
-- query reads that column (page_id here). Columns without NOT NULL stay
-- NULL as before (event_type on line 5).
CREATE TABLE events (
    event_type STRING,
    user_id INT NOT NULL,
    page_id INT NOT NULL
) WITH (
    'connector' = 'kafka',
    'topic' = 'clicks',
    'format' = 'json'
);

CREATE TABLE users (
    user_id INT,
    event_type STRING
) WITH (
    'connector' = 'kafka',
    'topic' = 'users',
    'format' = 'json'
);

INSERT INTO users SELECT user_id, event_type FROM events;
