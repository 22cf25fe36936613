-- Error case: SESSION windows over processing time (only TUMBLE and HOP take it).
CREATE TABLE events (
    user_id INT,
    pt AS PROCTIME()
) WITH ('connector' = 'kafka', 'topic' = 'events', 'format' = 'json');

CREATE TABLE out_rows (user_id INT, n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'out', 'format' = 'json');

INSERT INTO out_rows
SELECT user_id, COUNT(*)
FROM TABLE(SESSION(TABLE events PARTITION BY user_id, DESCRIPTOR(pt), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, user_id;
