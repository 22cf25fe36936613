SET 'table.exec.state.ttl' = 'an hour';
CREATE TABLE clicks (user_id INT) WITH ('connector' = 'kafka', 'topic' = 'clicks', 'format' = 'json');
SELECT user_id, COUNT(*) FROM clicks GROUP BY user_id;
