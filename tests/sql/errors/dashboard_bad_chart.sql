CREATE TABLE clicks (page STRING) WITH ('connector' = 'kafka', 'topic' = 'clicks', 'format' = 'json');
CREATE TABLE counts (page STRING, views BIGINT, PRIMARY KEY (page) NOT ENFORCED)
WITH ('connector' = 'dashboard', 'dashboard.chart' = 'pie');
INSERT INTO counts SELECT page, COUNT(*) FROM clicks GROUP BY page;
