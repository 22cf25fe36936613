-- Error case: TUMBLE_END with other arguments than the GROUP BY TUMBLE(...).
CREATE TABLE events (
    user_id INT,
    page STRING,
    ts TIMESTAMP(3),
    other TIMESTAMP(3),
    WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'kafka', 'topic' = 'events', 'format' = 'json');

CREATE TABLE out_rows (user_id INT, n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'out', 'format' = 'json');

CREATE TABLE ends (e TIMESTAMP(3), n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'ends', 'format' = 'json');

INSERT INTO ends
SELECT TUMBLE_END(ts, INTERVAL '5' SECOND), COUNT(*)
FROM events
GROUP BY TUMBLE(ts, INTERVAL '10' SECOND);
