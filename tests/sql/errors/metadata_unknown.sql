CREATE TABLE clicks (
  user_id INT,
  lag BIGINT METADATA FROM 'leader-epoch'
) WITH ('connector' = 'kafka', 'topic' = 'clicks');
INSERT INTO clicks SELECT user_id FROM clicks;
