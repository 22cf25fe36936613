-- Error case: a processing-time window TVF without a GROUP BY.
CREATE TABLE events (
    user_id INT
) WITH ('connector' = 'kafka', 'topic' = 'events', 'format' = 'json');

CREATE VIEW e AS SELECT user_id, PROCTIME() AS pt FROM events;

CREATE TABLE out_rows (user_id INT, ws TIMESTAMP(3)) WITH ('connector' = 'kafka', 'topic' = 'out', 'format' = 'json');

INSERT INTO out_rows
SELECT user_id, window_start
FROM TABLE(TUMBLE(TABLE e, DESCRIPTOR(pt), INTERVAL '10' SECOND));
