-- Error case: processing-time group windows (..._PROCTIME) are not supported.
CREATE TABLE events (
    user_id INT,
    page STRING,
    ts TIMESTAMP(3),
    other TIMESTAMP(3),
    WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'kafka', 'topic' = 'events', 'format' = 'json');

CREATE TABLE out_rows (user_id INT, n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'out', 'format' = 'json');

CREATE TABLE times (t TIMESTAMP(3), n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'times', 'format' = 'json');

INSERT INTO times
SELECT TUMBLE_PROCTIME(ts, INTERVAL '10' SECOND), COUNT(*)
FROM events
GROUP BY TUMBLE(ts, INTERVAL '10' SECOND);
