-- Error case: TUMBLE_START with other arguments than the GROUP BY TUMBLE(...).
CREATE TABLE events (
    user_id INT,
    page STRING,
    ts TIMESTAMP(3),
    other TIMESTAMP(3),
    WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'kafka', 'topic' = 'events', 'format' = 'json');

CREATE TABLE out_rows (user_id INT, n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'out', 'format' = 'json');

INSERT INTO out_rows
SELECT user_id, COUNT(*)
FROM events
WHERE TUMBLE_START(ts, INTERVAL '5' SECOND) IS NOT NULL
GROUP BY TUMBLE(ts, INTERVAL '10' SECOND), user_id;
