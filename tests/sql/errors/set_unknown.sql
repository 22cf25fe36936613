-- Error case: a SET key runnel does not implement is an error (with a
-- "did you mean"), never accepted silently.
SET 'table.exec.emit.allow-latenes' = '5 s';

CREATE TABLE events (user_id INT) WITH ('connector' = 'kafka', 'topic' = 'events');
CREATE TABLE out_rows (user_id INT) WITH ('connector' = 'print');
INSERT INTO out_rows SELECT user_id FROM events;
