-- Error case: GROUP BY SESSION(...) partitions by the other keys, which must
-- be columns.
CREATE TABLE events (
    user_id INT,
    page STRING,
    ts TIMESTAMP(3),
    other TIMESTAMP(3),
    WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'kafka', 'topic' = 'events', 'format' = 'json');

CREATE TABLE out_rows (user_id INT, n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'out', 'format' = 'json');

INSERT INTO out_rows
SELECT user_id + 1, COUNT(*)
FROM events
GROUP BY user_id + 1, SESSION(ts, INTERVAL '10' SECOND);
