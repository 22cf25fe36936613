CREATE TABLE clicks (page STRING) WITH ('connector' = 'kafka', 'topic' = 'clicks', 'format' = 'json');
CREATE TABLE counts (page STRING, views BIGINT, PRIMARY KEY (page) NOT ENFORCED)
WITH ('connector' = 'upsert-kafka', 'topic' = 'counts', 'key.format' = 'json', 'value.format' = 'json',
      'dashboard' = 'true', 'dashboard.sort' = 'view DESC');
INSERT INTO counts SELECT page, COUNT(*) FROM clicks GROUP BY page;
