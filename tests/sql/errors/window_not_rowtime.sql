-- Error case: a window over a column that is not the table's event time.
CREATE TABLE events (
    user_id INT,
    ts TIMESTAMP(3),
    other TIMESTAMP(3),
    WATERMARK FOR ts AS ts
) WITH ('connector' = 'kafka', 'topic' = 'events', 'format' = 'json');

CREATE TABLE out_rows (user_id INT, n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'out', 'format' = 'json');

INSERT INTO out_rows
SELECT user_id, COUNT(*)
FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(other), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, user_id;
