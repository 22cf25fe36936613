-- Malformed input lines go to dlq.jsonl (and are reported on stderr as
-- file:line:), never dropped silently; good lines around them are processed.
-- Missing fields and JSON null are NULL, not errors.
CREATE TABLE events (
    event_type STRING,
    user_id INT,
    page_id INT
) WITH (
    'connector' = 'kafka',
    'topic' = 'clicks',
    'format' = 'json'
);

CREATE TABLE click_rows (
    user_id INT,
    page_id INT
) WITH (
    'connector' = 'kafka',
    'topic' = 'click-rows',
    'format' = 'json'
);

INSERT INTO click_rows
SELECT user_id, page_id FROM events WHERE event_type = 'click';
