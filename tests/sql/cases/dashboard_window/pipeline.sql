-- Clicks per minute into an append 'dashboard' table: its window_end and
-- count make it a line chart. In `runnel test` every window is written to
-- OUT/per_minute.jsonl ('dashboard.max-rows' bounds only the in-memory
-- table). The 10:00:59.999 click comes after the watermark passed
-- 10:01:09 and is late (left out).
CREATE TABLE clicks (
    user_id BIGINT,
    ts TIMESTAMP(3),
    WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'kafka', 'topic' = 'clicks', 'format' = 'json');

CREATE TABLE per_minute (
    window_end TIMESTAMP(3),
    clicks BIGINT
) WITH ('connector' = 'dashboard', 'dashboard.max-rows' = '1');

INSERT INTO per_minute
SELECT window_end, COUNT(*)
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end;
