CREATE TABLE clicks (
  user_id INT,
  off STRING METADATA FROM 'offset'
) WITH ('connector' = 'kafka', 'topic' = 'clicks');
SELECT user_id, off FROM clicks;
