CREATE TABLE clicks (user_id INT, page STRING)
WITH ('connector' = 'kafka', 'topic' = 'clicks', 'key.format' = 'json', 'key.fields' = 'user_id;usr');
SELECT page FROM clicks;
