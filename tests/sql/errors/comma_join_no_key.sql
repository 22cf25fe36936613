-- Error case: a comma join without an equality between its tables (a cross
-- join) is refused.
CREATE TABLE events (
    user_id INT,
    page STRING,
    ts TIMESTAMP(3),
    other TIMESTAMP(3),
    WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'kafka', 'topic' = 'events', 'format' = 'json');

CREATE TABLE out_rows (user_id INT, n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'out', 'format' = 'json');

INSERT INTO out_rows
SELECT a.user_id, COUNT(*)
FROM events a, events b
WHERE a.ts > b.ts AND a.page = 'x'
GROUP BY a.user_id;
