-- Error case: a WATERMARK on a column that is not a timestamp.
CREATE TABLE events (
    user_id INT,
    `timestamp` DOUBLE,
    WATERMARK FOR `timestamp` AS `timestamp`
) WITH ('connector' = 'kafka', 'topic' = 'events', 'format' = 'json');

CREATE TABLE out_rows (user_id INT) WITH ('connector' = 'kafka', 'topic' = 'out', 'format' = 'json');

INSERT INTO out_rows SELECT user_id FROM events;
